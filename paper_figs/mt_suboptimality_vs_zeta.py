"""Suboptimality after T steps against the heterogeneity ζ², one curve per method (Momentum
Tracking vs DSGDm, QG-DSGDm, DecentLaM; THEORY.md §5): controlled-ζ heterogeneous quadratics
and logistic regression with k classes per worker, 8-ring, β = 0.9, tuned step sizes, 95% t-intervals.

Numbers from verify.claims_momentum_tracking.zeta_sweep (seed 0)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from verify.claims_momentum_tracking import MOMENTUM, mean_ci, zeta_sweep

from .style import apply, save


def make(out_dir, quick: bool = False) -> list[Path]:
    apply()
    import matplotlib.pyplot as plt
    out = zeta_sweep(quick, 0, MOMENTUM)
    fig, axes = plt.subplots(1, len(out), figsize=(4.2 * len(out), 3.8), squeeze=False)
    for ax, (fam, rows) in zip(axes[0], out.items()):
        labels = sorted(rows, key=lambda k: rows[k]["zeta2"])
        z2 = np.array([rows[k]["zeta2"] for k in labels])
        for name in MOMENTUM:
            cis = [mean_ci(rows[k][name]["net"]) for k in labels]
            m = np.array([c["value"] for c in cis])
            err = np.array([[c["value"] - c["ci_low"] for c in cis], [c["ci_high"] - c["value"] for c in cis]])
            ax.errorbar(z2, m, yerr=err, marker="o", capsize=3, label=name)
        ax.set_xscale("symlog", linthresh=max(1e-2, float(z2[z2 > 0].min()) if (z2 > 0).any() else 1e-2))
        ax.set_yscale("log")
        ax.set_xlabel("heterogeneity ζ² at x*")
        ax.set_ylabel("(1/K) Σ f(x_k) − f*  (last 20% of T)")
        ax.set_title(fam)
    axes[0][0].legend()
    return save(fig, out_dir, "mt_suboptimality_vs_zeta")
