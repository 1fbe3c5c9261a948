"""Posterior covariance of Bayesian linear regression against D-SGD's consensus covariance Ξ (closed
form and simulated), as 2-σ ellipses normalised to unit trace (docs/theory.md §4; Zhu et al., ICML 2023
'Ξ estimates the posterior')."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .style import save

CLAIMS = ("dsgd_sam.posterior_uncertainty",)


def _ellipse(S, n=200):
    S = np.asarray(S, dtype=float)
    lam, V = np.linalg.eigh(S / np.trace(S))
    t = np.linspace(0, 2 * np.pi, n)
    return (V * 2 * np.sqrt(lam)) @ np.stack([np.cos(t), np.sin(t)])


def draw(evidence, out_dir) -> list[Path]:
    import matplotlib.pyplot as plt
    ev = evidence[CLAIMS[0]]
    d = ev.data
    fig, ax = plt.subplots(figsize=(5, 5))
    for S, lab, sty in [(d["posterior"], "posterior Σ (exact)", "-"), (d["xi_closed_form"], "Ξ closed form (per-mode)", "--"),
                        (d["xi_simulated"], "Ξ simulated (replica mean)", ":")]:
        e = _ellipse(S)
        ax.plot(e[0], e[1], sty, lw=2 if sty == ":" else 1.5, label=lab)
    ax.set_aspect("equal")
    ax.set_xlabel("θ₁ − θ_MAP,1 (unit-trace scale)")
    ax.set_ylabel("θ₂ − θ_MAP,2 (unit-trace scale)")
    nd = ev.measured["normalised_distance"]
    ax.set_title(f"Posterior vs Ξ (ring, K=16): shape distance {nd['value']:.2f} "
                 f"[{nd['ci_low']:.2f}, {nd['ci_high']:.2f}]", fontsize=9)
    ax.legend(loc="upper right", fontsize=7)
    return save(fig, out_dir, "dsgd_sam_posterior")
