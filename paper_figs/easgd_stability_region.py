"""Round-robin EASGD stability region in the (ηh, α) plane (EASGD paper, arXiv 1412.6651, §4):
drawn from the evidence of claim easgd.rr_stability_region.

Per panel (p = 1, 2, 8 workers): cells whose composite cycle map (analysis.stability) has
spectral radius < 1 in blue, unstable cells in light grey, the paper's stated region
0 ≤ ηh ≤ 2, 0 ≤ α ≤ (4 − 2ηh)/(4 − ηh) as a black line, and the point η = 0.001, ρ = 2.5 (h = 1)
where EASGD is stable while round-robin ADMM diverges for p = 3, 8 (paper Fig. 1 example).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from paper_figs import style

CLAIMS = ("easgd.rr_stability_region",)
STABLE, UNSTABLE = "#0072B2", "#E8E8E8"


def _grid(bits):
    return np.array([[c == "1" for c in row] for row in bits])


def draw(evidence, out_dir) -> list[Path]:
    style.apply()
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch
    d = evidence[CLAIMS[0]].data
    a, al = np.asarray(d["a"]), np.asarray(d["alpha"])
    ps = list(d["stable"])
    fig, axes = plt.subplots(1, len(ps), figsize=(4.3 * len(ps), 4.0), sharey=True)
    cmap = ListedColormap([UNSTABLE, STABLE])
    for ax, p in zip(np.atleast_1d(axes), ps):
        st = _grid(d["stable"][p])
        ax.pcolormesh(a, al, st.astype(float), cmap=cmap, vmin=0, vmax=1, shading="nearest", rasterized=True)
        ax.plot(d["boundary"]["a"], d["boundary"]["alpha"], "k-", lw=1.8)
        ax.plot(d["admm_point"]["a"], d["admm_point"]["alpha"], "D", color="#D55E00", ms=7, clip_on=False)
        share = d["share_stable_outside"][p]
        ax.set_title(f"{p} worker{'s' if p != '1' else ''}: stable cells outside the stated "
                     f"region {100 * share:.2f}%", fontsize=9)
        ax.set_xlabel("ηh (step size × curvature)")
        ax.set_xlim(a.min(), a.max())
        ax.set_ylim(al.min(), al.max())
    np.atleast_1d(axes)[0].set_ylabel("α = ηρ (elastic coupling)")
    handles = [Patch(color=STABLE, label="stable: cycle-map spectral radius < 1"),
               Patch(color=UNSTABLE, label="unstable: radius ≥ 1"),
               plt.Line2D([], [], color="k", lw=1.8, label="paper's stated region boundary"),
               plt.Line2D([], [], marker="D", color="#D55E00", ls="", label="η = 0.001, ρ = 2.5: EASGD stable, ADMM diverges")]
    fig.legend(handles=handles, loc="lower center", ncol=4, fontsize=8, bbox_to_anchor=(0.5, -0.06))
    fig.suptitle("Round-robin EASGD on h x²/2: where the update is stable", fontsize=11)
    return style.save(fig, Path(out_dir), "easgd_stability_region")
