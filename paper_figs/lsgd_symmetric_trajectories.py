"""Curse of symmetry (THEORY.md §7): trajectories on f = (uv − 1)² + ¼(u² + v²) of K = 4 workers
started two in each mirror basin, for asynchronous EASGD (workers, center) and LSGD (workers,
leader). EASGD's center stays at the saddle (0, 0); LSGD's leader reaches a minimum.
Seed 0, η = 0.05, τ = 4, α = λ = 0.1, isotropic gradient noise σ = 0.02."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

import landscapes
from dynamics import make as make_method
from landscapes.noise import oracle as make_oracle
from landscapes.rng import Streams

from .style import OKABE_ITO, save

START = [[0.7, 1.1], [-0.9, -0.6], [1.2, 0.5], [-0.5, -1.3]]


def trajectories(name, steps, seed=0):
    """(steps+1, K, 2) workers and (steps+1, 2) model of one run."""
    land = landscapes.get("symmetric", d=2, lam=0.5)
    orc = make_oracle(land, noise="isotropic", sigma=0.02)
    K = len(START)
    m = (make_method("easgd_async", lr=0.05, alpha=0.1, tau=4, K=K) if name == "easgd"
         else make_method("lsgd", lr=0.05, lam=0.0, lam_global=0.1, tau=4, K=K))
    rng = Streams(seed, 1)
    s = m.init(torch.tensor([START], dtype=torch.float64), orc, rng)
    xs, ms = [s.x[0].numpy().copy()], [m.model(s)[0].numpy().copy()]
    for t in range(steps):
        s = m.step(s, orc, t, rng)
        xs.append(s.x[0].numpy().copy())
        ms.append(m.model(s)[0].numpy().copy())
    return np.array(xs), np.array(ms)


def make(out_dir, quick: bool = False) -> list[Path]:
    import matplotlib.pyplot as plt
    steps = 300 if quick else 1500
    land = landscapes.get("symmetric", d=2, lam=0.5)
    u = np.linspace(-1.6, 1.6, 161)
    U, V = np.meshgrid(u, u)
    F = land.f(torch.tensor(np.stack([U, V], -1))).numpy()
    fig, axes = plt.subplots(1, 2, figsize=(9.0, 4.3), sharey=True)
    for ax, name, label in zip(axes, ("easgd", "lsgd"), ("center", "leader")):
        ax.contour(U, V, F, levels=np.linspace(0.44, 3, 14), colors="0.75", linewidths=0.7)
        xs, ms = trajectories(name, steps)
        for k in range(xs.shape[1]):
            ax.plot(xs[:, k, 0], xs[:, k, 1], "-", color=OKABE_ITO[k % 4], lw=1, alpha=0.8,
                    label="workers" if k == 0 else None)
            ax.plot(*xs[0, k], "o", color=OKABE_ITO[k % 4], mfc="none")
            ax.plot(*xs[-1, k], "o", color=OKABE_ITO[k % 4])
        ax.plot(ms[:, 0], ms[:, 1], "-", color="k", lw=2, label=label)
        ax.plot(*ms[-1], "*", color="k", ms=14)
        mn = np.sqrt(0.75)
        ax.plot([mn, -mn], [mn, -mn], "X", color="#D55E00", ms=10, label="minima")
        ax.plot([0], [0], "s", color="0.3", ms=7, label="saddle (0, 0)")
        ax.set_title(f"{'EASGD (async)' if name == 'easgd' else 'LSGD'}: final f({label}) = "
                     f"{float(land.f(torch.tensor(ms[-1]))):.3f}")
        ax.set_xlabel("u")
        ax.set_aspect("equal")
        ax.legend(loc="lower right")
    axes[0].set_ylabel("v")
    fig.suptitle("f = (uv − 1)² + ¼(u² + v²): 4 workers from both mirror basins (○ start, ● end)")
    return save(fig, out_dir, "lsgd_symmetric_trajectories")
