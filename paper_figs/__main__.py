"""python -m paper_figs [NAME ... | all] [--from RUN_DIR] [--out DIR] [--quick] [--list]:
draw the figures (PNG + PDF each) and an index.md gallery in DIR.

With --from RUN_DIR (DIR defaults to RUN_DIR/figs): every figure module with `CLAIMS` and
`draw(evidence, out_dir)` is drawn from RUN_DIR/claims.json (a figure whose claims are absent or
errored there is skipped, with a line saying so); modules with only `make(out_dir, quick)` are
made as before (theory figures; old modules that re-run their experiment are marked
'recomputes'), with quick taken from RUN_DIR/config.json unless --quick is given. Then
RUN_DIR/report.md and report.html are re-written with each claim's figures in its section.
Without --from (DIR defaults to figs/), a data figure runs its claims first
(paper_figs/_evidence.py), then draws.

Exit 2 for an unknown figure name or an unreadable RUN_DIR, 1 when a figure raised (the others
are still made), else 0."""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback
from pathlib import Path

from dynamics.runfolder import write_json, write_text
from verify.claims import one_thread

from . import style
from .registry import claims_of, kind, summary
from .registry import figures as discover

KIND_NOTE = {"data": "from the run's data", "theory": "theory", "recompute": "recomputes"}


def write_index(out: Path, made: dict, mods: dict) -> Path:
    lines = ["# decentlab figures", ""]
    for name, paths in made.items():
        lines += [f"## {name}", "", summary(mods[name]), ""]
        if isinstance(paths, str):
            lines += [f"**{'skipped' if paths.startswith('skipped') else 'failed'}:** `{paths}`", ""]
            continue
        for p in paths:
            rel = Path(p).resolve().relative_to(out.resolve()).as_posix() \
                if Path(p).resolve().is_relative_to(out.resolve()) else str(p)
            lines.append(f"![{name}]({rel})" if rel.endswith(".png") else f"[{Path(rel).name}]({rel})")
        lines.append("")
    return write_text(out / "index.md", "\n".join(lines))


def _read_run(run_dir: Path):
    from verify.runner import load_claims_json
    metas, evidence = load_claims_json(run_dir)
    cfg = run_dir / "config.json"
    config = json.loads(cfg.read_text()) if cfg.is_file() else {}
    return metas, evidence, config


def _skip_reason(mod, evidence: dict, run_dir: Path) -> str:
    cids = claims_of(mod)
    absent = [c for c in cids if c not in evidence]
    if absent:
        return f"skipped: claims absent from {run_dir / 'claims.json'}: {', '.join(absent)}"
    bad = [c for c in cids if evidence[c].verdict == "error"]
    if bad:
        return f"skipped: claim errored in {run_dir}: {', '.join(bad)}"
    return ""


def render(name: str, mod, out: Path, quick: bool, evidence: dict | None, run_dir: Path | None):
    """(paths, note) for one figure; raises what the figure raises; ([], 'skipped: ...') when
    it cannot be drawn here."""
    k = kind(mod, name)
    if k == "data":
        if evidence is None:  # no run folder: run the figure's claims here, then draw
            from ._evidence import run_claims
            return [Path(x) for x in mod.draw(run_claims(claims_of(mod), quick), out)], "ran its claims"
        why = _skip_reason(mod, evidence, run_dir)
        if why:
            return [], why
        ev = {c: evidence[c] for c in claims_of(mod)}
        return [Path(x) for x in mod.draw(ev, out)], KIND_NOTE[k]
    return [Path(x) for x in mod.make(out, quick=quick)], KIND_NOTE[k]


def report_figures(made: dict, mods: dict, run_dir: Path) -> dict:
    """claim id -> [{'path' (relative to run_dir), 'name', 'caption', 'claims'}] of the PNGs
    made; figures declaring no claim go under ''."""
    out: dict[str, list] = {}
    for name, paths in made.items():
        if isinstance(paths, str):
            continue
        cids = list(claims_of(mods[name]))
        cap = summary(mods[name])
        if kind(mods[name], name) == "recompute":
            cap += " (re-computed by the figure's make(), not drawn from this run's data)"
        for p in paths:
            if Path(p).suffix != ".png":
                continue
            rel = Path(os.path.relpath(Path(p).resolve(), run_dir.resolve())).as_posix()
            entry = {"path": rel, "name": name, "caption": cap, "claims": cids}
            for cid in cids or [""]:
                out.setdefault(cid, []).append(entry)
    return out


def scorecard_figures(run_dir: Path, out: Path) -> list[dict]:
    """The scorecard figure, drawn from RUN_DIR/scorecard/scorecard.json when a scorecard was run
    into the run folder (`python -m verify scorecard --out RUN_DIR/scorecard`)."""
    src = Path(run_dir) / "scorecard" / "scorecard.json"
    if not src.is_file():
        return []
    import json
    from .scorecard import render as render_scorecard
    table = json.loads(src.read_text())
    paths = [p for p in render_scorecard(table, out) if Path(p).suffix == ".png"]
    print(f"scorecard: {', '.join(Path(p).name for p in paths)} (from {src})", flush=True)
    md = Path(run_dir) / "scorecard" / "scorecard.md"
    cap = ("Scorecard: every registered algorithm through the property checks on fixed problems "
           f"(table: {os.path.relpath(md, run_dir)})")
    return [{"path": Path(os.path.relpath(Path(p).resolve(), Path(run_dir).resolve())).as_posix(),
             "name": "scorecard", "caption": cap, "claims": []} for p in paths]


def main(argv: list[str] | None = None, figures: dict | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m paper_figs", description=__doc__.split("\n\n")[0])
    p.add_argument("names", nargs="*", default=[], help="figure names, or 'all' (default)")
    p.add_argument("--quick", action="store_true", default=None,
                   help="small sizes for make() figures (default: the run's mode with --from)")
    p.add_argument("--out", type=Path, help="figure folder (default RUN_DIR/figs, or figs/)")
    p.add_argument("--from", dest="run_dir", type=Path, metavar="RUN_DIR",
                   help="draw from this run folder's claims.json and re-write its report")
    p.add_argument("--list", action="store_true", help="list the figures and exit")
    try:
        args = p.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    mods = discover() if figures is None else figures
    if args.list:
        for name, mod in mods.items():
            cids = claims_of(mod)
            print(f"{name} [{kind(mod, name)}{': ' + ', '.join(cids) if cids else ''}]: {summary(mod)}")
        return 0
    names = list(mods) if not args.names or args.names == ["all"] else args.names
    unknown = [n for n in names if n not in mods]
    if unknown:
        print(f"error: unknown figure(s) {', '.join(unknown)}; known: {', '.join(mods) or '(none)'}",
              file=sys.stderr)
        return 2
    evidence, metas, config = None, [], {}
    if args.run_dir is not None:
        try:
            metas, evidence, config = _read_run(args.run_dir)
        except ValueError as exc:
            print(f"error: --from {args.run_dir}: {exc}", file=sys.stderr)
            return 2
    quick = bool(args.quick) if args.quick is not None else bool(config.get("quick", False))
    out = args.out or (args.run_dir / "figs" if args.run_dir is not None else Path("figs"))
    style.apply()
    out.mkdir(parents=True, exist_ok=True)
    made, manifest, failed = {}, {}, False
    t_all = time.perf_counter()
    for i, name in enumerate(names, 1):
        t0 = time.perf_counter()
        mod = mods[name]
        head = f"[{i}/{len(names)}] {name}"
        try:
            with one_thread():
                paths, note = render(name, mod, out, quick, evidence, args.run_dir)
            dt = time.perf_counter() - t0
            if note.startswith("skipped"):
                made[name] = note
                print(f"{head}: {note}", flush=True)
            else:
                made[name] = paths
                print(f"{head} ({note}): {', '.join(x.name for x in paths) or 'no files'} ({dt:.1f}s)",
                      flush=True)
        except Exception as exc:  # noqa: BLE001 - one broken figure must not stop the others
            failed, dt = True, time.perf_counter() - t0
            made[name] = f"{type(exc).__name__}: {exc}"
            traceback.print_exc()
            print(f"{head}: FAILED {made[name]} ({dt:.1f}s)", flush=True)
        manifest[name] = {"kind": kind(mod, name), "claims": list(claims_of(mod)), "seconds": round(dt, 3),
                          "files": [str(x) for x in made[name]] if not isinstance(made[name], str) else [],
                          "status": made[name] if isinstance(made[name], str) else "made"}
    print(f"index: {write_index(out, made, mods)}  ({time.perf_counter() - t_all:.1f}s in all)")
    write_json(out / "figures.json", manifest)
    if args.run_dir is not None:
        from verify.report import write_reports
        interrupted = any(m["id"] not in evidence for m in metas)
        figs = report_figures(made, mods, args.run_dir)
        figs.setdefault("", []).extend(scorecard_figures(args.run_dir, out))
        md, ht = write_reports(args.run_dir, interrupted=interrupted, figures=figs)
        print(f"report: {md}, {ht}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
