"""Diffusion vs consensus on the teacher–student MLP (K = 8, fixed η and steps): per
initialisation, consensus − diffusion differences of the test loss (the judged quantity), the
Hessian trace and the training excess loss, averaged over matched (graph, batch) cells (dots),
with their means and 95% Student-t intervals (black). Above 0: consensus larger. Data:
flatness.diffusion_better_balance."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .style import OKABE_ITO, save

CLAIMS = ("flatness.diffusion_better_balance",)
PANELS = (("test", "test loss (judged)"), ("trace", "Hessian trace (reported)"),
          ("excess", "training excess loss (reported)"))


def draw(evidence, out_dir) -> list[Path]:
    import matplotlib.pyplot as plt
    d = evidence[CLAIMS[0]].data
    fig, axes = plt.subplots(1, 3, figsize=(10.5, 3.6))
    rng = np.random.default_rng(0)
    for ax, (k, title), c in zip(axes, PANELS, OKABE_ITO):
        y = np.asarray(d["per_initialisation"][k])
        ax.scatter(rng.uniform(-0.15, 0.15, y.size), y, s=14, color=c, alpha=0.7, label="one initialisation")
        m, lo, hi = d[k]
        ax.errorbar([0.45], [m], yerr=[[m - lo], [hi - m]], fmt="o", color="k", capsize=4, label="mean, 95% interval")
        ax.axhline(0, color="k", lw=0.8)
        ax.set_xlim(-0.5, 0.8)
        ax.set_xticks([])
        ax.set_title(title, fontsize=9)
        ax.set_ylabel("consensus − diffusion")
    axes[0].legend(fontsize=7)
    fig.suptitle("Consensus (D-SGD) minus diffusion (ATC), same graph, batch, step size and steps", fontsize=10)
    return save(fig, out_dir, "flatness_accuracy_balance")
