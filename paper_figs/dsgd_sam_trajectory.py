"""Gap between D-SGD's averaged model and the SAM trajectory fed D-SGD's Ξ(t) (and the GD trajectory),
against the theorem's accumulated third-order bound G(t), medians over replicas (docs/theory.md §4;
Zhu et al., ICML 2023, main theorem)."""
from __future__ import annotations

from pathlib import Path

from .style import save

CLAIMS = ("dsgd_sam.trajectory_equivalence",)


def draw(evidence, out_dir) -> list[Path]:
    import matplotlib.pyplot as plt
    ev = evidence[CLAIMS[0]]
    d = ev.data
    fig, ax = plt.subplots()
    ax.plot(d["t"], d["gap_sam_median"], label="|w_a − w_SAM| (SAM fed Ξ(t))")
    ax.plot(d["t"], d["gap_gd_median"], label="|w_a − w_GD| (plain gradient descent)")
    ax.plot(d["t"], d["bound_median"], "--", color="k", label="theorem's bound G(t)")
    ax.set_yscale("log")
    tail = [v for v in d["gap_sam_median"][len(d["t"]) // 10:] if v > 0]  # first steps: no spread yet, gaps ~0
    if tail:
        ax.set_ylim(bottom=0.1 * min(tail))
    ax.set_xlabel("step t")
    ax.set_ylabel("gap to D-SGD's averaged model (median over replicas)")
    worst = ev.measured["max_gap_over_bound/sam"]
    ax.set_title(f"Trajectory equivalence (max SAM gap / bound {worst:.2g}; verdict: {ev.verdict})", fontsize=9)
    ax.legend(fontsize=7)
    return save(fig, out_dir, "dsgd_sam_trajectory")
