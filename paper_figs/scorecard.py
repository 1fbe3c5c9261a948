"""Scorecard figure: one row per algorithm, four panels (heterogeneity bias with the theory's
prediction, stability radius, sharpness penalty ½Tr(HΞ), escape ratio against C-SGD with 95%
intervals), drawn only from a `verify.scorecard` table (scorecard.json).

Not a claim figure (no `make`/`draw`): `render(table, out_dir)` is called by
`python -m verify.scorecard`, or on a stored run: `python -m paper_figs.scorecard RUN_DIR`.
"""
from __future__ import annotations

import json
import math
import sys
from pathlib import Path

from . import style

LABELS = {"csgd": "C-SGD", "local_sgd": "Local SGD", "dsgd": "D-SGD", "atc": "ATC", "cta": "CTA",
          "dsgdm": "DSGDm", "qg_dsgdm": "QG-DSGDm", "decentlam": "DecentLaM", "gt": "GT", "d2": "D²",
          "mt": "Momentum Tracking", "easgd": "EASGD", "easgd_async": "EASGD (async)",
          "easgd_rr": "EASGD (round robin)", "eamsgd": "EAMSGD", "downpour": "DOWNPOUR",
          "admm_rr": "ADMM (round robin)", "lsgd": "Leader SGD", "extra": "EXTRA (example plug-in)"}


def _val(row, key):
    c = row.get("checks", {}).get(key, {})
    v = c.get("value")
    return float(v) if isinstance(v, (int, float)) else math.nan


def render(table: dict, out_dir) -> list[Path]:
    style.apply()
    import matplotlib.pyplot as plt
    import numpy as np
    rows = [r for r in table["rows"] if "checks" in r]
    names = [LABELS.get(r["algorithm"], r["algorithm"]) for r in rows]
    y = np.arange(len(rows))
    fig, axes = plt.subplots(1, 4, figsize=(13, 0.32 * len(rows) + 1.6), sharey=True)
    floor = 1e-16
    bias = [max(_val(r, "bias"), floor) for r in rows]
    th = [(r.get("theory") or {}).get("bias") for r in rows]
    ax = axes[0]
    ax.barh(y, bias, color=style.OKABE_ITO[0], label="measured (fixed point of the step)")
    ty = [i for i, t in enumerate(th) if t is not None]
    ax.plot([max(th[i], floor) for i in ty], ty, "k|", markersize=12, mew=2,
            label="theory (per-method fixed-point equation)")
    ax.set_xscale("log")
    ax.set_xlim(floor / 2, 10)
    ax.set_title("heterogeneity bias at lr 0.1")
    ax.set_xlabel("rms distance to x* (floor 1e-16)")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.09), fontsize=7)
    ax = axes[1]
    rad = [_val(r, "radius") for r in rows]
    ax.barh(y, rad, color=style.OKABE_ITO[2])
    ax.axvline(1.0, color="k", lw=1, ls="--", label="stability limit 1")
    ax.set_xlim(min([v for v in rad if math.isfinite(v)] + [0.5]) - 0.05, 1.02)
    ax.set_title("spectral radius per step")
    ax.set_xlabel("radius of the linearised step")
    ax.legend(loc="lower left", fontsize=7)
    ax = axes[2]
    pen = [_val(r, "penalty") for r in rows]
    mc = [r["checks"].get("penalty", {}).get("detail", {}).get("method") == "monte_carlo" for r in rows]
    ax.barh(y, pen, color=[style.OKABE_ITO[3] if m else style.OKABE_ITO[1] for m in mc])
    ax.set_title("sharpness penalty ½Tr(HΞ)")
    ax.set_xlabel("exact moments (pink: Monte Carlo)")
    ax = axes[3]
    esc = [_val(r, "escape") for r in rows]
    ci = [r["checks"].get("escape", {}).get("detail", {}).get("ci", [None, None]) for r in rows]
    for i, (v, (lo, hi)) in enumerate(zip(esc, ci)):
        if math.isfinite(v) and lo is not None and hi is not None:
            ax.errorbar(v, i, xerr=[[v - lo], [hi - v]], fmt="o", color=style.OKABE_ITO[4], capsize=2)
    ax.axvline(1.0, color="k", lw=1, ls="--", label="C-SGD (ratio 1)")
    ax.set_xscale("log")
    ax.set_title("escape time / C-SGD's (quartic)")
    ax.set_xlabel("ratio with 95% interval")
    ax.legend(loc="lower right", fontsize=7)
    axes[0].set_yticks(y, names)
    axes[0].invert_yaxis()
    fig.suptitle(f"Scorecard ({'quick' if table.get('quick') else 'full'}): ring of 8 workers")
    return style.save(fig, out_dir, "scorecard")


if __name__ == "__main__":
    run_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else None
    if run_dir is None:
        print("usage: python -m paper_figs.scorecard RUN_DIR (with scorecard.json)", file=sys.stderr)
        sys.exit(2)
    for p in render(json.loads((run_dir / "scorecard.json").read_text()), run_dir):
        print(p)
