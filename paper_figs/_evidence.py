"""Evidence for a figure drawn without a run folder (`python -m paper_figs NAME` without
--from): runs the named claims (quick or full, seed 0, one torch thread) and returns
{claim id: Evidence} for the figure's `draw(evidence, out_dir)`."""
from __future__ import annotations

import tempfile
from pathlib import Path


def run_claims(ids, quick: bool = True, seed: int = 0) -> dict:
    from verify.catalog import load
    from verify.claims import Context, one_thread
    reg = load()
    out = {}
    with one_thread(), tempfile.TemporaryDirectory() as tmp:
        for cid in ids:
            out[cid] = reg[cid].run(Context(quick=quick, seed=seed, out_dir=Path(tmp)))
    return out
