"""python -m verify [CLAIM_OR_PREFIX ...] [--quick | --full] [--out DIR] [--device cpu|cuda]
[--seed N] [--jobs N] [--strict] [--resume DIR] [--list [PREFIX ...]] [--plugin MOD ...]
python -m verify scorecard ARGS     (the algorithm scorecard, verify/scorecard.py)

Without --quick or --full the quick check runs (seconds per claim) and says how to get the full
run. Exit codes: 0 run completed (whatever the verdicts), 1 with --strict when a verdict is 'fails'
or 'error', 2 bad command line (unknown claim id, a resume under other settings, ...), 130
interrupted (partial report written)."""
from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

from dynamics import runfolder

from .claims import Registry
from .runner import default_run_dir, env_info, load_claims_json, run_claims, run_controls, write_json

FULL_RUN = "python -m verify --full  (paper sizes; about 20-30 min on 2 CPU cores)"
# settings a resumed run must share with the run it continues (verify --resume)
RESUME_KEYS = ("quick", "seed", "device")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m verify", description=__doc__.split("\n\n")[0])
    p.add_argument("claims", nargs="*", help="claim ids or id prefixes (default: all)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--quick", dest="quick", action="store_true", default=None,
                      help="small sizes (seconds per claim)")
    mode.add_argument("--full", dest="quick", action="store_false",
                      help="paper sizes (about 20-30 min on 2 CPU cores); default: --quick")
    p.add_argument("--out", type=Path, help="run folder (default runs/<time>-verify)")
    p.add_argument("--device", choices=["cpu", "cuda"], help="default: cuda if available, else cpu")
    p.add_argument("--seed", type=int, help="base seed (default 0)")
    p.add_argument("--jobs", type=int, default=1, help="claims run in parallel processes")
    p.add_argument("--strict", action="store_true", help="exit 1 if a verdict is fails or error")
    p.add_argument("--resume", type=Path, metavar="DIR", help="continue the run in DIR")
    p.add_argument("--list", action="store_true",
                   help="list the claims (those matching the CLAIM_OR_PREFIX arguments) with their "
                        "one-line statements and exit")
    p.add_argument("--plugin", action="append", default=[], metavar="MOD",
                   help="import module MOD before the registry is used (repeatable): algorithm "
                        "plug-ins (verify/plugins.py) or modules that register claims")
    p.add_argument("--controls", action="store_true",
                   help="run each claim as it is and under each of its negative controls "
                        "(sabotaged worlds); prints whether each control flips the verdict")
    return p


def _default_device() -> str:
    import torch
    return "cuda" if torch.cuda.is_available() else "cpu"


def _err(msg: str) -> int:
    print(f"error: {msg}", file=sys.stderr)
    return 2


def _load_plugins(mods: list[str]) -> None:
    """Import each --plugin module (verify.plugins.load_plugin when that module exists)."""
    try:
        plugins = importlib.import_module("verify.plugins")
    except ImportError:
        plugins = None
    for mod in mods:
        if plugins is not None and hasattr(plugins, "load_plugin"):
            try:
                plugins.load_plugin(mod)
            except ValueError as exc:  # PluginError; a module that registers claims only is fine
                if "registers no algorithm" not in str(exc):
                    raise
        else:
            try:
                importlib.import_module(mod)
            except ImportError as exc:
                raise ValueError(f"--plugin {mod!r} cannot be imported: {exc}") from None


def _scorecard(argv: list[str]) -> int:
    try:
        mod = importlib.import_module("verify.scorecard")
    except ImportError as exc:
        return _err(f"python -m verify scorecard: the scorecard (verify/scorecard.py) is not available ({exc})")
    return int(mod.main(argv) or 0)


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def main(argv: list[str] | None = None, registry: Registry | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["scorecard"]:
        return _scorecard(argv[1:])
    try:
        args = parser().parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    if args.jobs < 1:
        return _err(f"--jobs must be >= 1, got {args.jobs}")
    if args.seed is not None and args.seed < 0:
        return _err(f"--seed must be >= 0, got {args.seed}")
    try:
        _load_plugins(args.plugin)
    except ValueError as exc:
        return _err(f"--plugin: {exc}")
    if registry is None:
        from .catalog import load
        registry = load()
    if args.list:
        try:
            listed = registry.select(args.claims)
        except ValueError as exc:
            return _err(str(exc))
        for c in listed:
            print(f"{c.id}  [{', '.join(c.tags)}]  {c.paper}\n    {_one_line(c.statement)}")
        return 0

    if args.controls:
        return _controls(args, registry)

    stored, order, previous = {}, None, {}
    if args.resume is not None:
        if args.out is not None and Path(args.out).resolve() != args.resume.resolve():
            return _err("--resume writes into DIR; do not combine it with another --out")
        try:
            order, previous = load_claims_json(args.resume)
            cfg = args.resume / "config.json"
            stored = runfolder.read_json(cfg, "resume: run config") if cfg.is_file() else {}
        except ValueError as exc:
            return _err(str(exc))
        run_dir = args.resume
    else:
        run_dir = args.out or default_run_dir()

    patterns = args.claims or stored.get("claims") or []
    try:
        selected = registry.select(patterns)
    except ValueError as exc:
        return _err(str(exc))
    default_mode = args.quick is None and not stored
    config = {
        "claims": patterns,
        "selected": [c.id for c in selected],
        "quick": args.quick if args.quick is not None else stored.get("quick", True),
        "seed": args.seed if args.seed is not None else stored.get("seed", 0),
        "device": args.device or stored.get("device") or _default_device(),
        "jobs": args.jobs, "strict": args.strict,
        "resumed_from": str(args.resume) if args.resume else None,
        "command": "python -m verify " + " ".join(argv),
    }
    if args.resume is not None:  # a resume continues the same run: refuse other settings
        try:
            runfolder.check_resume({k: stored.get(k) for k in RESUME_KEYS},
                                   {k: config[k] for k in RESUME_KEYS}, f"--resume {args.resume}")
        except ValueError as exc:
            return _err(f"{exc} (start a new run folder instead, or resume with the stored settings)")
    if default_mode:
        print(f"no --quick/--full given: running the quick check (seconds per claim). The full run: "
              f"{FULL_RUN}", flush=True)
    run_dir = Path(run_dir)
    write_json(run_dir / "config.json", config)
    write_json(run_dir / "env.json", env_info(config["device"], config["seed"]))
    skipped = [c.id for c in selected if c.id in previous and previous[c.id].verdict != "error"]
    if skipped:
        print(f"resume: {len(skipped)} finished claim(s) kept: {', '.join(skipped)}")

    interrupted = False
    try:
        evidence = run_claims(selected, run_dir, quick=config["quick"], seed=config["seed"],
                              device=config["device"], jobs=args.jobs, previous=previous, order=order)
    except KeyboardInterrupt:
        interrupted = True
    from .report import table, write_reports
    order, evidence = load_claims_json(run_dir)
    md, ht = write_reports(run_dir, interrupted=interrupted)
    print(table(order, evidence))
    print(f"\nrun folder: {run_dir}  (report: {md.name}, {ht.name}, claims.json)")
    if config["quick"] and not interrupted:
        print(f"this was the quick check; the full run: {FULL_RUN}")
    if interrupted:
        print(f"interrupted: partial report written; continue with --resume {run_dir}", file=sys.stderr)
        return 130
    if args.strict and any(evidence[c.id].verdict in ("fails", "error") for c in selected if c.id in evidence):
        return 1
    return 0


def _controls(args, registry) -> int:
    """--controls: every selected claim (non-recorded ones) with and without its sabotage."""
    try:
        selected = registry.select(args.claims)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    quick = True if args.quick is None else args.quick
    run_dir = Path(args.out) if args.out else default_run_dir()
    missing = [c.id for c in selected if not c.controls]
    res = run_controls(selected, run_dir, quick=quick, seed=args.seed or 0,
                       device=args.device or "cpu")
    n_ctrl = sum(len(c.controls) for c in selected)
    flipped = sum(1 for c in selected for k, ev in res[c.id].items() if k and ev.verdict != "holds")
    print(f"\n{len(selected)} claims, {len(selected) - len(missing)} with controls, {n_ctrl} controls, "
          f"{flipped} flip the verdict away from holds; controls.json in {run_dir}")
    if missing:
        print(f"claims without a control: {', '.join(missing)}")
    return 0 if not missing and flipped == n_ctrl else 1


if __name__ == "__main__":
    sys.exit(main())
