"""python -m dynamics: the registered algorithms with their hyper-parameters and defaults.

    python -m dynamics [NAME ...]      one line per algorithm (all, or the named ones)
"""
from __future__ import annotations

import sys

from . import base


def describe(name: str) -> str:
    """'name  lr=<required>, beta=0.9  -- first docstring line' for one algorithm."""
    hp = base.hyper_parameters(name)
    args = ", ".join(f"{k}=<required>" if v is None and k == "lr" else f"{k}={v!r}" for k, v in hp.items())
    doc = (base.ALGORITHMS.builder(name).__doc__ or "").strip().splitlines()
    return f"{name}  ({args})" + (f"\n    {doc[0].strip()}" if doc else "")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if any(a in ("-h", "--help") for a in argv):
        print(__doc__.strip())
        return 0
    names = argv or base.names()
    try:
        lines = [describe(n) for n in names]
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print("\n".join(lines))
    print(f"\n{len(lines)} algorithm(s); build one with dynamics.make(name, topology, **hyper-parameters)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
