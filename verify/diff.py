"""python -m verify.diff RUN_A RUN_B: are two runs' results the same, bit for bit?

For every claim in either run's claims.json: 'same' when verdict, predicted, measured,
reported, data, headline and finding are equal as stored (JSON numbers compared exactly, no
tolerance), else the keys that differ with the largest relative change of any number under
them. Timing, figure paths and notes are not compared. Exit 0 when every claim in both runs is
the same, 1 when any differs or is missing from one run, 2 for an unreadable run folder."""
from __future__ import annotations

import argparse
import math
import sys

from .runner import load_claims_json

FIELDS = ("verdict", "predicted", "measured", "reported", "data", "headline", "finding")


def _numbers(x, path=""):
    """(path, number) for every number in a JSON-like structure."""
    if isinstance(x, dict):
        for k, v in x.items():
            yield from _numbers(v, f"{path}/{k}")
    elif isinstance(x, list):
        for i, v in enumerate(x):
            yield from _numbers(v, f"{path}[{i}]")
    elif isinstance(x, (int, float)) and not isinstance(x, bool):
        yield path, float(x)


def largest_change(a, b) -> float:
    """Largest |a - b| / max(|a|, |b|) over numbers at the same place (inf when the structures
    differ in shape or in a non-number)."""
    na, nb = dict(_numbers(a)), dict(_numbers(b))
    if na.keys() != nb.keys():
        return math.inf
    worst = 0.0
    for k, u in na.items():
        v = nb[k]
        if u == v or (math.isnan(u) and math.isnan(v)):
            continue
        scale = max(abs(u), abs(v))
        worst = max(worst, abs(u - v) / scale if math.isfinite(scale) and scale > 0 else math.inf)
    return worst


def compare(run_a, run_b) -> dict[str, dict]:
    """claim id -> {'status': 'same' | 'differs' | 'only in A' | 'only in B', 'fields':
    {field: largest relative change}} ('verdict', 'headline', 'finding' differences as inf)."""
    _, ea = load_claims_json(run_a)
    _, eb = load_claims_json(run_b)
    out = {}
    for cid in list(ea) + [c for c in eb if c not in ea]:
        if cid not in eb or cid not in ea:
            out[cid] = {"status": "only in A" if cid in ea else "only in B", "fields": {}}
            continue
        da, db = ea[cid].to_dict(), eb[cid].to_dict()
        diff = {f: largest_change(da[f], db[f]) if f in ("predicted", "measured", "reported", "data")
                else math.inf for f in FIELDS if da[f] != db[f]}
        out[cid] = {"status": "differs" if diff else "same", "fields": diff,
                    "verdicts": (da["verdict"], db["verdict"])}
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m verify.diff", description=__doc__.split("\n\n")[0])
    p.add_argument("run_a")
    p.add_argument("run_b")
    args = p.parse_args(argv)
    try:
        res = compare(args.run_a, args.run_b)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for cid, r in res.items():
        extra = ""
        if r["fields"]:
            extra = "  " + ", ".join(f"{f} ({'changed' if math.isinf(c) else f'≤ {c:.2g} relative'})"
                                     for f, c in r["fields"].items())
            va, vb = r["verdicts"]
            extra += f"  verdict {va} -> {vb}" if va != vb else f"  verdict {va} both"
        print(f"{r['status']:9s}  {cid}{extra}")
    n_same = sum(r["status"] == "same" for r in res.values())
    print(f"{n_same} of {len(res)} claims the same bit for bit")
    return 0 if n_same == len(res) else 1


if __name__ == "__main__":
    sys.exit(main())
