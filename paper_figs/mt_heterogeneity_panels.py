"""Loss against step per heterogeneity level, the layout of Takezawa et al.'s figures: one panel
per k classes per worker (8-class logistic regression, 8-ring, β = 0.9, minibatch 8), one curve
per method (DSGDm, QG-DSGDm, DecentLaM, Momentum Tracking); network suboptimality
(1/K) Σ_k f(x_k) − f*, mean over replicas (seed 0), tuned step sizes.

Numbers from verify.claims_momentum_tracking.zeta_sweep."""
from __future__ import annotations

from pathlib import Path

from verify.claims_momentum_tracking import MOMENTUM, zeta_sweep

from .style import apply, save


def make(out_dir, quick: bool = False) -> list[Path]:
    apply()
    import matplotlib.pyplot as plt
    rows = zeta_sweep(quick, 0, MOMENTUM, families=("logistic_classes",))["logistic_classes"]
    labels = sorted(rows, key=lambda k: int(k.split("=")[1]))
    fig, axes = plt.subplots(1, len(labels), figsize=(3.6 * len(labels), 3.4), sharey=True, squeeze=False)
    for ax, lab in zip(axes[0], labels):
        for name in MOMENTUM:
            c = rows[lab][name]
            ax.plot(c["times"], c["curve"].mean(1), label=f"{name} (η_eff {c['lr']:g})")
        ax.set_yscale("log")
        ax.set_title(f"{lab} classes/worker, ζ² = {rows[lab]['zeta2']:.3g}")
        ax.set_xlabel("step")
        ax.legend(fontsize=7)
    axes[0][0].set_ylabel("(1/K) Σ f(x_k) − f*")
    return save(fig, out_dir, "mt_heterogeneity_panels")
