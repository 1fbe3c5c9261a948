"""Curse of symmetry (docs/theory.md §7): trajectories on f = (uv − 1)² + ¼(u² + v²) of K = 4
workers started two in each mirror basin, for asynchronous EASGD (workers, center) and LSGD
(workers, leader); drawn from the evidence of claim lsgd.curse_of_symmetry (one run, seed 0,
η = 0.05, τ = 4, α = λ = 0.1, isotropic gradient noise σ = 0.02). Open circles: starts; filled
circles: ends; star: the final model; crosses: the two minima; square: the saddle (0, 0).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from paper_figs import style

CLAIMS = ("lsgd.curse_of_symmetry",)


def draw(evidence, out_dir) -> list[Path]:
    style.apply()
    import matplotlib.pyplot as plt
    d = evidence[CLAIMS[0]].data
    u = np.asarray(d["contour"]["u"])
    U, V = np.meshgrid(u, u)
    F = np.asarray(d["contour"]["F"])
    fig, axes = plt.subplots(1, 2, figsize=(9.4, 4.5), sharey=True)
    for ax, name, label, title in zip(axes, ("easgd", "lsgd"), ("center", "leader"), ("EASGD (asynchronous)", "LSGD")):
        ax.contour(U, V, F, levels=np.linspace(0.44, 3, 14), colors="0.75", linewidths=0.7)
        xs, ms = np.asarray(d["trajectories"][name]["x"]), np.asarray(d["trajectories"][name]["model"])
        for k in range(xs.shape[1]):
            col = style.OKABE_ITO[k % 4]
            ax.plot(xs[:, k, 0], xs[:, k, 1], "-", color=col, lw=1, alpha=0.8, label="workers" if k == 0 else None)
            ax.plot(*xs[0, k], "o", color=col, mfc="none")
            ax.plot(*xs[-1, k], "o", color=col)
        ax.plot(ms[:, 0], ms[:, 1], "-", color="k", lw=2, label=label)
        ax.plot(*ms[-1], "*", color="k", ms=14, label=f"final {label}")
        mins = np.asarray(d["minima"])
        ax.plot(mins[:, 0], mins[:, 1], "X", color="#D55E00", ms=10, ls="", label="minima")
        ax.plot([0], [0], "s", color="0.3", ms=7, label="saddle (0, 0)")
        w = d["fractions"]["lsgd" if name == "lsgd" else "easgd"]
        ax.set_title(f"{title}: {label} at a minimum in {100 * w['value']:.0f}% of runs", fontsize=9)
        ax.set_xlabel("u")
        ax.set_aspect("equal")
        ax.legend(loc="lower right", fontsize=7)
    axes[0].set_ylabel("v")
    fig.suptitle("f = (uv − 1)² + ¼(u² + v²): 4 workers from both mirror basins (○ start, ● end)", fontsize=10)
    return style.save(fig, Path(out_dir), "lsgd_symmetric_trajectories")
