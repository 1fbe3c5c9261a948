"""Round-robin ADMM: largest |eigenvalue| of the cycle map — Fig. 1 of the EASGD paper
(Zhang, Choromanska, LeCun, arXiv 1412.6651).

Grid η ∈ (0, 0.01), ρ ∈ (0, 10), h = 1, p = 3 and p = 8, with the ADMM reconstruction of
THEORY.md §6 (the paper's equations were images, so the map is ours; the paper's own colour
scale is not reproduced). Values lie in about [0.990, 1.003] (above 1 by at most 0.003), so
the colormap is centred at 1 with separate slopes (TwoSlopeNorm); the black contour is radius = 1 and the cross the paper's divergent example
η = 0.001, ρ = 2.5. Run time: ~2 s (quick: <1 s).
"""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import TwoSlopeNorm

from analysis import stability as st
from paper_figs import style

PS = (3, 8)



def make(out_dir, quick: bool = False) -> list[Path]:
    """Two panels (p = 3, 8) of the composite spectral radius over (η, ρ)."""
    n = 40 if quick else 120
    etas, rhos = st.admm_grid_axes(n, n)
    radii = {p: st.admm_radius_grid(p, etas, rhos) for p in PS}
    lo = min(float(r.min()) for r in radii.values())
    hi = max(float(r.max()) for r in radii.values())
    norm = TwoSlopeNorm(vcenter=1.0, vmin=lo, vmax=hi)  # separate slopes below / above 1
    fig, axes = plt.subplots(1, len(PS), figsize=(5.0 * len(PS), 3.9), sharey=True)
    for ax, p in zip(axes, PS):
        r = radii[p]
        im = ax.pcolormesh(etas, rhos, r, cmap="RdBu_r", norm=norm, shading="nearest",
                           rasterized=True)
        ax.contour(etas, rhos, r, levels=[1.0], colors="k", linewidths=1)
        ax.plot(0.001, 2.5, "kx", ms=8, mew=2)
        ax.set_title(f"p = {p}: max |eig| (unstable cells {100 * np.mean(r > 1):.1f}%)",
                     fontsize=9)
        ax.set_xlabel("η")
    axes[0].set_ylabel("ρ")
    fig.colorbar(im, ax=list(axes), label="spectral radius of the cycle map")
    fig.suptitle("Round-robin ADMM (h = 1): spectral radius, colour centred at 1", fontsize=10)
    return list(style.save(fig, Path(out_dir), "admm_spectral_radius"))


if __name__ == "__main__":
    print(make(Path("results/paper_figs")))
