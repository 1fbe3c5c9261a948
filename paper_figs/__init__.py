"""paper_figs: one module per figure, drawn from a run's saved evidence.

A figure module declares `CLAIMS = ("claim.id", ...)` and `draw(evidence, out_dir) -> list[Path]`
(evidence: claim id -> verify.claims.Evidence; only predicted / measured / data are read, no
experiment is re-run), or, for a figure of closed forms only, `make(out_dir, quick=False)`.
Both write PNG + PDF through `style.save`. `python -m paper_figs all --from RUN_DIR` draws them
from RUN_DIR/claims.json into RUN_DIR/figs and re-writes RUN_DIR's report with each claim's
figures (see `registry` for the kinds and `__main__` for the command line)."""
