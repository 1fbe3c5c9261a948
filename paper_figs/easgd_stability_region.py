"""Round-robin EASGD stability region in the (ηh, α) plane (EASGD paper, arXiv 1412.6651, §4).

Regenerates the paper's stated region 0 ≤ ηh ≤ 2, 0 ≤ α ≤ (4 − 2ηh)/(4 − ηh) (THEORY.md §6)
and overlays the cells whose composite cycle map (``analysis.stability``) has spectral radius
< 1 for p = 1, 2, 8. The paper states the region in text only; this figure is ours. The cross
marks (ηh, α) = (0.001, 0.0025), i.e. η = 0.001, ρ = 2.5, h = 1: EASGD is stable there while
round-robin ADMM diverges for p = 3, 8 (paper Fig. 1 example).
Run time: ~5 s (quick: ~1 s).
"""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from analysis import stability as st
from paper_figs import style

PS = (1, 2, 8)
ADMM_POINT = (0.001, 0.0025)  # (ηh, α) for η = 0.001, ρ = 2.5, h = 1



def make(out_dir, quick: bool = False) -> list[Path]:
    """Three panels (p = 1, 2, 8): stable cells, closed-form boundary, ADMM-unstable marker."""
    n = 101 if quick else 251
    A, AL = st.default_grid(n, a_max=3.0, alpha_max=1.5)
    fig, axes = plt.subplots(1, len(PS), figsize=(4.2 * len(PS), 3.8), sharey=True, layout="constrained")
    ab = np.linspace(0, 2, 200)
    for ax, p in zip(axes, PS):
        stable = st.easgd_rr_radius(p, A, AL) < 1
        outside = ~st.easgd_rr_region_closed_form(A, AL)
        ax.pcolormesh(A, AL, stable, cmap="Greens", vmin=-0.3, vmax=1.3, shading="nearest",
                      rasterized=True)
        ax.plot(ab, (4 - 2 * ab) / (4 - ab), "k-", lw=1.5, label="closed form (paper)")
        ax.plot(*ADMM_POINT, "rx", ms=9, mew=2, clip_on=False,
                label="η=0.001, ρ=2.5: ADMM diverges")
        ax.annotate("ADMM (p=3, 8) unstable,\nEASGD stable", ADMM_POINT, xytext=(0.35, 0.2),
                    fontsize=7, color="r", bbox={"fc": "white", "ec": "r", "lw": 0.5},
                    arrowprops={"arrowstyle": "->", "color": "r"})
        share = float(np.mean(stable[outside]))
        ax.set_title(f"p = {p}: radius < 1 (green); stable outside: {100 * share:.2f}%",
                     fontsize=9)
        ax.set_xlabel("ηh")
    axes[0].set_ylabel("α = ηρ")
    axes[0].legend(loc="upper right", fontsize=7)
    fig.suptitle("Round-robin EASGD: stability of the composite cycle map", fontsize=10)
    return list(style.save(fig, Path(out_dir), "easgd_stability_region"))


if __name__ == "__main__":
    print(make(Path("results/paper_figs")))
