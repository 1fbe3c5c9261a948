"""Round-robin ADMM: largest |eigenvalue| of the cycle map over (η, ρ), h = 1, p = 3 and 8 —
Fig. 1 of the EASGD paper (Zhang, Choromanska, LeCun, arXiv 1412.6651) — with the simulated
norms of ADMM and EASGD at η = 0.001, ρ = 2.5; drawn from the evidence of claim
easgd.admm_unstable.

The ADMM map is the reconstruction of docs/theory.md §6 (the paper's equations were images).
Radii lie within a few 1e-3 of 1, so the colour scale is centred at 1 (blue below, red above)
and the black contour marks radius = 1; the diamond is the paper's divergent example.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from paper_figs import style

CLAIMS = ("easgd.admm_unstable",)


def draw(evidence, out_dir) -> list[Path]:
    style.apply()
    import matplotlib.pyplot as plt
    d = evidence[CLAIMS[0]].data
    etas, rhos = np.asarray(d["etas"]), np.asarray(d["rhos"])
    radii = {p: np.asarray(r, float) for p, r in d["radius"].items()}
    lo = min(float(r.min()) for r in radii.values())
    hi = max(float(r.max()) for r in radii.values())
    norm = style.diverging_norm([lo, hi], 1.0)
    fig, axes = plt.subplots(1, len(radii) + 1, figsize=(4.6 * (len(radii) + 1), 3.9))
    for ax, (p, r) in zip(axes, radii.items()):
        im = ax.pcolormesh(etas, rhos, r, cmap=style.DIVERGING_CMAP, norm=norm, shading="nearest", rasterized=True)
        ax.contour(etas, rhos, r, levels=[1.0], colors="k", linewidths=1)
        ax.plot(d["point"]["eta"], d["point"]["rho"], "D", color="k", mfc="w", ms=6,
                label="η = 0.001, ρ = 2.5 (paper's divergent example)")
        ax.plot([], [], "k-", lw=1, label="radius = 1")
        ax.legend(fontsize=7, loc="upper right")
        ax.set_title(f"ADMM, {p} workers: unstable share {100 * np.mean(r > 1):.1f}%", fontsize=9)
        ax.set_xlabel("step size η")
        ax.set_ylabel("ρ (penalty)")
    fig.colorbar(im, ax=list(axes[:-1]), label="spectral radius of the cycle map (1 = boundary)")
    ax = axes[-1]
    for j, (p, tr) in enumerate(d["trajectories"].items()):
        c = style.OKABE_ITO[j]
        ax.plot(tr["cycles"], np.asarray(tr["admm_norm"], float) / tr["admm_norm"][0], "-", color=c,
                label=f"ADMM, {p} workers")
        en = np.array([np.nan if v is None else v for v in tr["easgd_norm"]], float)
        ax.plot(tr["easgd_cycles"], en / en[0], "--", color=c, label=f"EASGD, {p} workers")
    ax.set_yscale("log")
    ax.set_xlabel("cycles (one step per worker)")
    ax.set_ylabel("‖state‖ / ‖state at start‖")
    ax.set_title("η = 0.001, ρ = 2.5 from x = x̃ = 1000", fontsize=9)
    ax.legend(fontsize=8)
    fig.suptitle("Round-robin ADMM can be unstable where EASGD is stable (h = 1)", fontsize=11)
    return style.save(fig, Path(out_dir), "easgd_admm_spectral_radius")
