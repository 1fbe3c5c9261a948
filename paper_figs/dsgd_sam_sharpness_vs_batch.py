"""½Tr(HΞ) of D-SGD against total batch KB under the linear scaling rule η ∝ KB (K=16; ring, grid,
exponential): closed form (lines, per-mode sums) vs simulation (markers, 95% CI), and the centralised
term ½Tr(HP) of C-SGD (docs/theory.md §4; Zhu et al., ICML 2023)."""
from __future__ import annotations

from pathlib import Path

from .style import finish, save

CLAIMS = ("dsgd_sam.sharpness_vs_batch",)
LABELS = {"ring": "D-SGD ring", "grid": "D-SGD grid", "exponential": "D-SGD exponential",
          "csgd": "C-SGD ½Tr(HP)"}


def draw(evidence, out_dir) -> list[Path]:
    import matplotlib.pyplot as plt
    ev = evidence[CLAIMS[0]]
    fig, ax = plt.subplots()
    for name, rows in ev.data["rows"].items():
        kb = [r["KB"] for r in rows]
        line, = ax.plot(kb, [r["pred"] for r in rows], "-", label=LABELS.get(name, name))
        m = [r["meas"]["value"] for r in rows]
        err = [[v - r["meas"]["ci_low"] for v, r in zip(m, rows)], [r["meas"]["ci_high"] - v for v, r in zip(m, rows)]]
        ax.errorbar(kb, m, yerr=err, fmt="o", color=line.get_color(), mfc="none", capsize=3)
    ax.plot([], [], "-", color="0.3", label="closed form")
    ax.plot([], [], "o", color="0.3", mfc="none", label="simulation, 95% CI")
    ax.set_xscale("log", base=2)
    finish(ax, "total batch KB (η = 0.02·B)", "½Tr(HΞ)  (C-SGD: ½Tr(HP))",
           f"Sharpness regulariser vs total batch, linear scaling (verdict: {ev.verdict})", log="y")
    return save(fig, out_dir, "dsgd_sam_sharpness_vs_batch")
