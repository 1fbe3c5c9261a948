"""LSGD vs multi-leader LSGD vs EASGD vs periodic averaging at equal τ = 4 (THEORY.md §7):
f(model) − f* (model = leader / center / average; mean over replicas, band = 95% interval)
against steps and against bytes sent (comm vectors/step · d · 8 bytes, cumulative), on
Rastrigin and Styblinski–Tang (d = 4, K = 8, isotropic noise; verify.claims_leader.speed_runs,
seed 0)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from verify.claims_leader import SPEED_SETUP, speed_runs

from .style import save


def make(out_dir, quick: bool = False) -> list[Path]:
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(2, 2, figsize=(9.5, 6.5))
    for row, name in enumerate(SPEED_SETUP):
        res = speed_runs(name, quick, 0)
        d = SPEED_SETUP[name]["d"]
        for mname, (ts, fm, fb, comm) in res.items():
            mu = fm.mean(1)
            se = 1.96 * fm.std(1, ddof=1) / np.sqrt(fm.shape[1])
            for col, xaxis in enumerate((ts, ts * comm * d * 8)):
                ln, = axes[row, col].plot(np.maximum(xaxis, 1), mu, label=mname)
                axes[row, col].fill_between(np.maximum(xaxis, 1), mu - se, mu + se,
                                            color=ln.get_color(), alpha=0.2)
        for col in range(2):
            ax = axes[row, col]
            ax.set_yscale("log")
            ax.set_xscale("log")
            ax.set_ylabel(f"{name}: f(model) − f*")
            ax.set_xlabel("steps" if col == 0 else "bytes sent (all workers, float64)")
        axes[row, 0].legend()
    fig.suptitle("Loss of the model vs steps and vs bytes (K = 8, τ = 4, d = 4)")
    return save(fig, out_dir, "lsgd_loss_vs_steps")
