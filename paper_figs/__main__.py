"""python -m paper_figs [NAME ... | all] [--quick] [--out DIR]: regenerate figures (PNG + PDF
each) and an index.md gallery in DIR (default figs/). Exit 2 for an unknown figure name, 1 when
a figure raised (the others are still made)."""
from __future__ import annotations

import argparse
import sys
import time
import traceback
from pathlib import Path

from verify.claims import one_thread

from . import style
from .registry import figures as discover
from .registry import summary


def write_index(out: Path, made: dict, mods: dict) -> Path:
    lines = ["# decentlab figures", ""]
    for name, paths in made.items():
        lines += [f"## {name}", "", summary(mods[name]), ""]
        if isinstance(paths, str):
            lines += [f"**failed:** `{paths}`", ""]
            continue
        for p in paths:
            rel = Path(p).resolve().relative_to(out.resolve()).as_posix() \
                if Path(p).resolve().is_relative_to(out.resolve()) else str(p)
            lines.append(f"![{name}]({rel})" if rel.endswith(".png") else f"[{Path(rel).name}]({rel})")
        lines.append("")
    idx = out / "index.md"
    idx.write_text("\n".join(lines))
    return idx


def main(argv: list[str] | None = None, figures: dict | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m paper_figs", description=__doc__.split("\n\n")[0])
    p.add_argument("names", nargs="*", default=[], help="figure names, or 'all' (default)")
    p.add_argument("--quick", action="store_true", help="small sizes")
    p.add_argument("--out", type=Path, default=Path("figs"))
    p.add_argument("--list", action="store_true", help="list the figures and exit")
    try:
        args = p.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    mods = discover() if figures is None else figures
    if args.list:
        for name, mod in mods.items():
            print(f"{name}: {summary(mod)}")
        return 0
    names = list(mods) if not args.names or args.names == ["all"] else args.names
    unknown = [n for n in names if n not in mods]
    if unknown:
        print(f"error: unknown figure(s) {', '.join(unknown)}; known: {', '.join(mods) or '(none)'}",
              file=sys.stderr)
        return 2
    style.apply()
    args.out.mkdir(parents=True, exist_ok=True)
    made, failed = {}, False
    for name in names:
        t0 = time.perf_counter()
        try:
            with one_thread():
                made[name] = [Path(x) for x in mods[name].make(args.out, quick=args.quick)]
            print(f"{name}: {', '.join(x.name for x in made[name])} ({time.perf_counter() - t0:.1f}s)")
        except Exception as exc:  # noqa: BLE001 - one broken figure must not stop the others
            failed = True
            made[name] = f"{type(exc).__name__}: {exc}"
            traceback.print_exc()
    print(f"index: {write_index(args.out, made, mods)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
