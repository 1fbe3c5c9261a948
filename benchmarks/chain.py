"""Benchmark: exact 2-D chains at scale (analysis/markov_free.py) against the sparse chain
(analysis/markov.py), plus the Kolmogorov (PDE) solver with its second-moment path.

Problem: centralised SGD x' = x - eta grad f(x) + s xi on f = landscapes.get('double_well_2d')
((x^2 - 1)^2 + y^2), eta = 0.05, D = 0.2, s = sqrt(2 eta D) = 0.1414, from (-1, 0); cells on
[-2, 0.2] x [-1.5, 1.5] (the box [-2, 0] of the left well plus an absorbing strip x > 0 of
width 0.2 ~ 1.4 s, so the absorbing boundary x = 0 lies on cell edges of both Richardson
grids). Cell width Delta = s / ratio. Rows: cells of the finest grid, wall seconds, peak
resident memory of a fresh process per row (ru_maxrss), mean exit steps (Richardson when
asked), GMRES iterations, and the relative difference to the sparse solver where it runs.
Kolmogorov: `analysis.kolmogorov.mfpt_2d` on the same potential and box (node spacing h = 1/round(ratio/s) ~ s/ratio, dividing both sides),
with and without `second=True`; its times are SDE times (divide by eta for steps).

Run (full size, quiet machine, ~2-4 min): .venv/bin/python benchmarks/chain.py --write
Small check (~1 min):  .venv/bin/python benchmarks/chain.py --small
--write replaces the marked 'chain' section of benchmarks/RESULTS.md.
"""
from __future__ import annotations

import os

for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")   # oversubscribed BLAS threads cost ~10x on a shared box

import argparse
import datetime
import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # benchmarks/_results.py
import _results

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).with_name("RESULTS.md")
BEGIN, END = "<!-- chain:begin -->", "<!-- chain:end -->"
ETA, DIFF = 0.05, 0.2


def _one(kind, ratio, richardson, second):
    """Run one solver in this process; print a JSON line."""
    import resource
    import time
    import warnings

    import numpy as np
    sys.path.insert(0, str(ROOT))
    from analysis.kolmogorov import as_numpy_fn
    from landscapes import get
    land = get("double_well_2d")
    grad = as_numpy_fn(land.grad)
    s = float(np.sqrt(2 * ETA * DIFF))
    out = {"kind": kind, "ratio": ratio, "richardson": richardson, "second": second}
    warnings.simplefilter("ignore")
    t0 = time.perf_counter()
    if kind == "kolmogorov":
        from analysis.kolmogorov import mfpt_2d
        h = 1.0 / max(2, round(ratio / s))   # ~ s/ratio, dividing both box sides
        r = mfpt_2d(lambda p: grad(p), DIFF, [(-2.0, 0.0), (-1.5, 1.5)], lambda p: p[:, 0] >= 0.0, h,
                    (-1.0, 0.0), richardson=richardson, second=second)
        out.update(mean_steps=r.mean / ETA, err_steps=r.err / ETA,
                   second_steps2=None if r.second is None else r.second / ETA ** 2,
                   cells=int(r.info.get("nodes_fine", r.info.get("nodes", 0)) or 0), info=str(r.info)[:200])
    else:
        d = s / ratio
        xs, ys = np.arange(-2 + d / 2, 0.2, d), np.arange(-1.5 + d / 2, 1.5, d)
        if kind == "sparse":
            from analysis.markov import markov_chain_2d as solve
        else:
            import analysis.markov_free as mf
            from analysis.markov_free import markov_chain_2d_free as solve
            its = []
            orig = mf._Level.solve

            def counted(self, b, guess=None):
                u = orig(self, b, guess)
                if not self.direct:
                    its.append(self.iterations[-1])
                return u
            mf._Level.solve = counted
        r = solve(xs, ys, ETA, grad, s, lambda p: p[:, 0] > 0, (-1.0, 0.0), richardson=richardson,
                  second=second)
        out.update(mean_steps=r.mean, err_steps=None if r.err != r.err else r.err, second_steps2=r.second,
                   cells=int(r.info.get("cells_fine", r.info["cells"])), coarse=r.info["coarse"],
                   fine=r.info.get("fine"))
        if kind == "free":
            out["iterations"] = its
    out["seconds"] = time.perf_counter() - t0
    out["peak_rss_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
    print("RESULT " + json.dumps(out))


def run_row(kind, ratio, richardson, second, timeout):
    cmd = [sys.executable, __file__, "--one", kind, str(ratio), str(int(richardson)), str(int(second))]
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=ROOT, check=False)
    except subprocess.TimeoutExpired:
        return {"kind": kind, "ratio": ratio, "richardson": richardson, "second": second,
                "failed": f"over {timeout} s"}
    for line in p.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    tail = (p.stderr.strip().splitlines() or ["?"])[-1]
    return {"kind": kind, "ratio": ratio, "richardson": richardson, "second": second, "failed": tail[:160]}


def write_section(text):
    _results.write_section(RESULTS, BEGIN, END, text)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--small", action="store_true")
    p.add_argument("--write", action="store_true")
    p.add_argument("--timeout", type=float, default=300.0, help="seconds per row")
    p.add_argument("--one", nargs=4, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.one:
        kind, ratio, rich, sec = a.one
        return _one(kind, float(ratio), rich == "1", sec == "1")
    # (solver, s/Delta, Richardson, second moment); 2.2 x 3 box -> cells ~ 6.6 (ratio/s)^2
    if a.small:
        plan = [("sparse", 3, False, True), ("free", 3, False, True), ("free", 7, False, True),
                ("free", 8.7, True, True), ("kolmogorov", 2, True, False), ("kolmogorov", 2, True, True)]
    else:
        plan = [("sparse", 2, True, True), ("free", 2, True, True),
                ("sparse", 3, False, True), ("free", 3, False, True),
                ("sparse", 5, False, True), ("free", 5, False, True),
                ("free", 7, False, True), ("free", 17.4, False, True), ("free", 8.7, True, True),
                ("free", 24.6, False, True), ("free", 12.3, True, True),
                ("kolmogorov", 4, True, False), ("kolmogorov", 4, True, True),
                ("kolmogorov", 8, True, False), ("kolmogorov", 8, True, True)]
    load = subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()
    when = f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC"
    rows = []
    for kind, ratio, rich, sec in plan:
        r = run_row(kind, ratio, rich, sec, a.timeout)
        rows.append(r)
        print(json.dumps(r), flush=True)
    sparse = {(r["ratio"], r["richardson"]): r for r in rows if r["kind"] == "sparse" and "failed" not in r}
    lines = ["## Exact 2-D chains at scale (matrix-free) and the Kolmogorov solver\n",
             f"Command: `.venv/bin/python benchmarks/chain.py{' --small' if a.small else ''}`, run {when}; "
             f"`uptime`: {load}; one BLAS thread, each row a fresh process (peak RSS includes the "
             f"~0.3 GB of the imported torch/scipy). Problem: benchmarks/chain.py docstring "
             f"(double_well_2d, eta = {ETA}, D = {DIFF}, s = 0.1414, box [-2, 0.2] x [-1.5, 1.5], "
             f"absorbing x > 0, from (-1, 0)).\n",
             "| solver | s/Delta | cells (finest) | Richardson | second moment | wall s | peak RSS GB | "
             "mean exit steps | Richardson err | GMRES its | rel. diff to sparse |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if "failed" in r:
            lines.append(f"| {r['kind']} | {r['ratio']} | - | {r['richardson']} | {r['second']} | "
                         f"failed: {r['failed']} | | | | | |")
            continue
        sp_ = sparse.get((r["ratio"], r["richardson"]))
        rel = "-" if sp_ is None or r["kind"] != "free" else f"{abs(r['mean_steps'] / sp_['mean_steps'] - 1):.1e}"
        if sp_ is not None and r["kind"] == "free" and r.get("second_steps2") and sp_.get("second_steps2"):
            rel += f" (2nd: {abs(r['second_steps2'] / sp_['second_steps2'] - 1):.1e})"
        err = "-" if not r.get("err_steps") else f"{r['err_steps']:.3g}"
        lines.append(f"| {'Kolmogorov mfpt_2d (h = s/ratio)' if r['kind'] == 'kolmogorov' else r['kind']} | "
                     f"{r['ratio']} | {r.get('cells') or '-'} | {r['richardson']} | {r['second']} | "
                     f"{r['seconds']:.2f} | {r['peak_rss_gb']:.2f} | {r['mean_steps']:.6g} | {err} | "
                     f"{r.get('iterations', '-')} | {rel} |")
    text = "\n".join(lines) + "\n"
    _results.publish(text, a.write, write_section, f"the chain section of {RESULTS}")


if __name__ == "__main__":
    main()
