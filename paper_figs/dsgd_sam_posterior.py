"""Posterior covariance of Bayesian linear regression against D-SGD's consensus covariance Ξ
(predicted and simulated), as 2-σ ellipses normalised to unit trace (THEORY.md §4; Zhu et al.,
ICML 2023 'Ξ estimates the posterior')."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from verify.claims_sam import experiment_posterior, one_thread

from .style import save


def _ellipse(S, n=200):
    lam, V = np.linalg.eigh(S / np.trace(S))
    t = np.linspace(0, 2 * np.pi, n)
    return (V * 2 * np.sqrt(lam)) @ np.stack([np.cos(t), np.sin(t)])


def make(out_dir, quick: bool = False) -> list[Path]:
    import matplotlib.pyplot as plt
    with one_thread():
        ex = experiment_posterior(quick, 0)
    fig, ax = plt.subplots(figsize=(5, 5))
    for S, lab, sty in [(ex["post"], "posterior Σ", "-"), (ex["xi_pred"], "Ξ predicted (linear.py)", "--"),
                        (ex["xi_meas"], "Ξ simulated", ":")]:
        e = _ellipse(S)
        ax.plot(e[0], e[1], sty, label=lab)
    ax.set_aspect("equal")
    ax.set_xlabel("θ₁ − θ_MAP,1 (unit-trace scale)")
    ax.set_ylabel("θ₂ − θ_MAP,2 (unit-trace scale)")
    ax.set_title("Bayesian linear regression: posterior vs Ξ (ring, K=16)")
    ax.legend(loc="upper right")
    return save(fig, out_dir, "dsgd_sam_posterior")
