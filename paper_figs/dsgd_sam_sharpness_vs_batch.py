"""½Tr(HΞ) of D-SGD against total batch KB under the linear scaling rule η ∝ KB (K=16; ring, grid,
exponential), prediction (lines, analysis/linear.py) vs simulation (markers, 95% CI), and the flat
centralised term ½Tr(HP) of C-SGD (THEORY.md §4; Zhu et al., ICML 2023)."""
from __future__ import annotations

from pathlib import Path

from verify.claims_sam import experiment_batch, one_thread

from .style import save


def make(out_dir, quick: bool = False) -> list[Path]:
    import matplotlib.pyplot as plt
    with one_thread():
        ex = experiment_batch(quick, 0)
    fig, ax = plt.subplots()
    for name, rows in ex.items():
        kb = [r["KB"] for r in rows]
        line, = ax.plot(kb, [r["pred"] for r in rows], "-", label=name if name != "csgd" else "C-SGD ½Tr(HP)")
        m = [r["meas"]["value"] for r in rows]
        err = [[v - r["meas"]["ci_low"] for v, r in zip(m, rows)], [r["meas"]["ci_high"] - v for v, r in zip(m, rows)]]
        ax.errorbar(kb, m, yerr=err, fmt="o", color=line.get_color(), mfc="none")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("total batch KB (η = 0.02·B)")
    ax.set_ylabel("½Tr(HΞ)")
    ax.set_title("Sharpness regulariser vs total batch (linear scaling)")
    ax.legend()
    return save(fig, out_dir, "dsgd_sam_sharpness_vs_batch")
