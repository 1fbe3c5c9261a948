"""python -m verify.scorecard [--plugin MODULE ...] [--quick] [--out DIR] [--only NAME ...]

Every registered algorithm (`dynamics.names()`), plus the plug-ins' (verify/plugins.py, and the
installed `decentlab.algorithms` entry points), through the property checks of
analysis/properties.py on fixed problems. Writes scorecard.json and scorecard.md
into the run folder (default runs/<time>-scorecard); `python -m paper_figs.scorecard DIR` draws
scorecard.png/.pdf from the json (verify never imports paper_figs).

Fixed problems (the same for every algorithm; seeds fixed):
  topology       ring of K = 8 workers (W = (I + shifts)/3, λ_min(W) = −1/3)
  reference lr   LR = 0.1 for the linear checks, LR_ESCAPE = 0.05 for the escape ratio
  average        zero gradients, x0 ~ N(0, I) (seed 0), d = 3, 10 steps: max ‖x̄_t − x̄_0‖_∞
  bias           hetero_quadratics(K = 8, d = 2, ζ = 1, hess_spread = 1, μ = 1, seed 0):
                 sqrt((1/K) Σ_k ‖x*_k − x*‖²) at the exact-gradient fixed point (docs/theory.md §5)
  stationary     double_well_2d: workers in consensus at each of its 3 critical points stay there
  radius         spectral radius per step of the linearised step on f = ½xᵀHx, H = diag(0.5, 2)
  ½Tr(HΞ)        stationary consensus covariance on that quadratic, gradient noise N(0, I) per
                 worker (exact moments; Monte Carlo for steps that are not affine)
  escape         quartic double well, D = dV/2, batch 1: mean escape time / C-SGD's (Monte Carlo,
                 quick: 128 replicas, cap 800 steps; full: 1024 replicas, cap 3000)
  vectors/step   declared Method.comm vs counted by the communication hooks (24 steps, d = 3)
Hyper-parameters: lr plus `HP[name]` (admm_rr: rho = 1) or a plug-in's SCORECARD_HP.
Theory column: where a paper's claim gives the fixed point (docs/theory.md §5) the row carries
the predicted bias from analysis.heterogeneity.predicted_fixed_point (a direct linear solve of
the per-method fixed-point equation, independent of the step's Jacobian).

Exit codes: 0 written, 2 bad command line or a plug-in refused (the message names the problem).
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

from dynamics.runfolder import write_text

K = 8
LR = 0.1
LR_ESCAPE = 0.05
H = np.diag([0.5, 2.0])
SIGMA2 = 1.0
HETERO = dict(K=K, d=2, zeta=1.0, hess_spread=1.0, mu=1.0, seed=0)
HP = {"admm_rr": {"rho": 1.0}}
ESCAPE = {True: dict(replicas=128, steps=800), False: dict(replicas=1024, steps=3000)}
COLUMNS = [("average", "average preserved"), ("bias", "heterogeneity bias"),
           ("stationary", "stationary points kept"), ("radius", f"stability radius (lr={LR})"),
           ("penalty", "½Tr(HΞ)"), ("escape", "escape ratio vs C-SGD"),
           ("vectors", "vectors/step counted (declared)")]


def _hp(name):
    from .plugins import _HP
    if name in _HP:
        return {k: v for k, v in _HP[name].items() if k != "lr"}
    return dict(HP.get(name, {}))


def _theory_bias(name, method, prob):
    """Predicted bias where docs/theory.md §5 states the fixed point (None elsewhere)."""
    from analysis.heterogeneity import METHODS, predicted_fixed_point
    if name not in METHODS:
        return None
    X = predicted_fixed_point(name, method.topology.W().numpy(), prob.A.numpy(), prob.b.numpy(),
                              LR, method.hp.get("beta", 0.0))
    return float(np.sqrt(((X - prob.x_star.numpy()) ** 2).sum(-1).mean()))


CHECKS = tuple(k for k, _ in COLUMNS)


def score(name: str, quick: bool = True, seed: int = 0, checks=CHECKS) -> dict:
    """One row: every check's `Check.as_dict()` (or {'error': ...}) plus seconds; `checks` a
    subset of CHECKS."""
    bad = [c for c in checks if c not in CHECKS]
    if bad:
        raise ValueError(f"checks: unknown check {bad[0]!r}; choose from {', '.join(CHECKS)}")
    import torch

    import dynamics
    import landscapes
    from analysis import properties as P
    torch.set_num_threads(1)
    top = dynamics.topology.ring(K)
    row = {"algorithm": name, "hp": {}, "checks": {}}
    t0 = time.perf_counter()
    try:
        m = dynamics.make(name, top, lr=LR, **_hp(name))
        m_esc = dynamics.make(name, top, lr=LR_ESCAPE, **_hp(name))
    except Exception as exc:  # noqa: BLE001 - a row that cannot be built says why
        row["error"] = f"{type(exc).__name__}: {exc}"
        return row
    row["hp"] = {k: v for k, v in m.hp.items() if isinstance(v, (int, float, str, bool)) or v is None}
    prob = landscapes.hetero_quadratics(**HETERO)
    todo = {
        "average": lambda: P.preserves_average(m, seed=seed),
        "bias": lambda: P.exact_fixed_point(m, prob, iterate_steps=1500),
        "stationary": lambda: P.stationary_points(m, landscapes.get("double_well_2d")),
        "radius": lambda: P.stability(m, H),
        "penalty": lambda: P.sharpness_penalty(m, H, SIGMA2, seed=seed),
        "escape": lambda: P.escape_ratio(m_esc, seed=seed, **ESCAPE[bool(quick)]),
        "vectors": lambda: P.communication(m, seed=seed),
    }
    for key, fn in todo.items():
        if key not in checks:
            continue
        t = time.perf_counter()
        try:
            c = fn().as_dict()
        except Exception as exc:  # noqa: BLE001
            c = {"error": f"{type(exc).__name__}: {exc}"}
        c["seconds"] = round(time.perf_counter() - t, 3)
        if key == "bias":
            c.get("detail", {}).pop("X", None)
            c.get("detail", {}).pop("Xi", None)
        if key == "penalty":
            c.get("detail", {}).pop("Xi", None)
        row["checks"][key] = c
    try:
        row["theory"] = {"bias": _theory_bias(name, m, prob)}
    except Exception as exc:  # noqa: BLE001
        row["theory"] = {"bias": None, "error": str(exc)}
    row["period"] = (row["checks"].get("radius", {}).get("detail") or {}).get("period")
    row["seconds"] = round(time.perf_counter() - t0, 3)
    return row


def _fmt(v, digits=3):
    if v is None:
        return "—"
    if isinstance(v, str):
        return v
    if not math.isfinite(v):
        return "inf" if v > 0 else "nan"
    return f"{v:.{digits}g}"


def cell(row: dict, key: str) -> str:
    c = row["checks"].get(key)
    if not c:
        return "—"
    if "error" in c:
        return "error"
    v, ok = c.get("value"), c.get("ok")
    if key in ("average", "stationary"):
        return ("yes" if ok else "no") + f" ({_fmt(v, 2)})"
    if key == "bias":
        th = (row.get("theory") or {}).get("bias")
        s = _fmt(v) + (" (exact)" if ok else "")
        return s + (f" [theory {_fmt(th)}]" if th is not None else "")
    if key == "escape":
        ci = c.get("detail", {}).get("ci", [None, None])
        return f"{_fmt(v)} [{_fmt(ci[0])}, {_fmt(ci[1])}]"
    if key == "vectors":
        d = c.get("detail", {})
        return f"{_fmt(d.get('counted'))} ({_fmt(d.get('declared'))})" + ("" if ok else " ≠")
    if key == "penalty":
        return _fmt(v) + (" (MC)" if c.get("detail", {}).get("method") == "monte_carlo" else "")
    return _fmt(v)


def markdown(table: dict) -> str:
    rows = table["rows"]
    head = "| algorithm | " + " | ".join(t for _, t in COLUMNS) + " |"
    summary = (f"{'quick' if table['quick'] else 'full'} run, {len(rows)} algorithms, "
               f"{table['seconds']:.1f} s (one torch thread). Problems: `python -m verify.scorecard --help`.")
    lines = ["# Scorecard", "", summary, "", head, "|" + "---|" * (len(COLUMNS) + 1)]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['algorithm']} | " + " | ".join(["error"] * len(COLUMNS)) + " |")
            continue
        lines.append(f"| {r['algorithm']} | " + " | ".join(cell(r, k) for k, _ in COLUMNS) + " |")
    lines += ["", ("Escape ratio: mean escape time over C-SGD's (< 1 escapes faster), 95% bootstrap "
                   "interval. Vectors: ≠ marks a count that differs from the declared `Method.comm` (an "
                   "exchange outside the communication hooks, or a different counting convention). (MC): "
                   "Monte Carlo estimate for a step that is not affine on quadratics.")]
    errs = [(r["algorithm"], k, c["error"]) for r in rows for k, c in r.get("checks", {}).items() if "error" in c]
    errs += [(r["algorithm"], "build", r["error"]) for r in rows if "error" in r]
    if errs:
        lines += ["", "## Errors", ""] + [f"- {a} / {k}: {e}" for a, k, e in errs]
    return "\n".join(lines) + "\n"


def run(names=None, quick: bool = True, out: Path | None = None, seed: int = 0) -> dict:
    import dynamics
    t0 = time.perf_counter()
    names = list(names) if names else dynamics.names()
    rows = []
    for n in names:
        rows.append(score(n, quick=quick, seed=seed))
        print(f"{n:14s} {rows[-1].get('seconds', 0):6.2f} s", file=sys.stderr, flush=True)
    table = {"quick": bool(quick), "seed": seed, "rows": rows, "seconds": time.perf_counter() - t0,
             "problems": {"K": K, "topology": "ring", "lr": LR, "lr_escape": LR_ESCAPE, "H": H.tolist(),
                          "sigma2": SIGMA2, "hetero": HETERO, "escape": ESCAPE[bool(quick)], "hp": HP}}
    if out is not None:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        write_text(out / "scorecard.json", json.dumps(table, indent=1, default=_json))
        write_text(out / "scorecard.md", markdown(table))
        # the figure is drawn from the saved table by paper_figs (verify never imports it):
        # `python -m paper_figs.scorecard OUT`, or `python -m paper_figs all --from OUT`
    return table


def _json(v):
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, (np.floating, np.integer)):
        return v.item()
    return str(v)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m verify.scorecard", description=__doc__.split("\n\n")[0])
    p.add_argument("--plugin", action="append", default=[], metavar="MODULE",
                   help="import MODULE (registers algorithms with dynamics.register); repeatable")
    p.add_argument("--no-entry-points", action="store_true",
                   help="do not load the installed 'decentlab.algorithms' entry points")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--quick", dest="quick", action="store_true", default=True, help="small sizes (default)")
    mode.add_argument("--full", dest="quick", action="store_false", help="larger escape ensembles")
    p.add_argument("--out", type=Path, help="run folder (default runs/<time>-scorecard)")
    p.add_argument("--only", nargs="+", metavar="NAME", help="score only these algorithms")
    p.add_argument("--seed", type=int, default=0)
    return p


def main(argv: list[str] | None = None) -> int:
    try:
        args = parser().parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    import torch
    torch.set_num_threads(1)
    from .plugins import PluginError, load_entry_points, load_plugin
    try:
        if not args.no_entry_points:
            load_entry_points()
        for mod in args.plugin:
            print(f"plugin {mod}: {', '.join(load_plugin(mod))}", file=sys.stderr)
    except PluginError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    import dynamics
    if args.only:
        bad = [n for n in args.only if n not in dynamics.names()]
        if bad:
            print(f"error: unknown algorithm {bad[0]!r}; choose from: {', '.join(dynamics.names())}",
                  file=sys.stderr)
            return 2
    out = args.out or Path("runs") / (time.strftime("%Y%m%d-%H%M%S") + "-scorecard")
    table = run(args.only, quick=args.quick, out=out, seed=args.seed)
    print(markdown(table))
    print(f"run folder: {out}  (scorecard.json, scorecard.md; figure: python -m paper_figs.scorecard {out})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
