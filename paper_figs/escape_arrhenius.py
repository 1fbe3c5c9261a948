"""Arrhenius plot of escape from the quartic's left well (x⁴/4 − x²/2, escape = x > 1): mean
escape steps against ΔV/D for C-SGD at η = 0.1 (η·h_a = 0.2) and η = 0.5 (η·h_a = 1): exact
Markov chain of the discrete algorithm, exact SDE mean exit time / η (mfpt_1d), Eyring–Kramers
/ η, and Monte Carlo (censored estimator, 95% interval) where affordable (THEORY.md §2)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from verify.claims_escape import QUARTIC, chain_escape, continuous_steps, kramers_case, mc_escape

from .style import save


def make(out_dir, quick: bool = False) -> list[Path]:
    import matplotlib.pyplot as plt
    import torch
    n_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        fig, axes = plt.subplots(1, 2, figsize=(9.0, 4.0), sharey=True)
        grid = np.linspace(2, 8, 7 if quick else 13)
        mc_pts = (2.5, 3.5) if quick else (2.0, 2.5, 3.0, 3.5, 4.0)
        for ax, eta in zip(axes, (0.1, 0.5)):
            Ds = QUARTIC.dV / grid
            chain = [chain_escape(QUARTIC, eta, D)[0].mean for D in Ds]
            cont = [continuous_steps(QUARTIC, eta, D) for D in Ds]
            kr = [kramers_case(QUARTIC, D) / eta for D in Ds]
            ax.semilogy(grid, cont, "-", label="exact SDE / η (mfpt_1d)")
            ax.semilogy(grid, kr, "--", label="Eyring–Kramers / η")
            ax.semilogy(grid, chain, "o", mfc="none", label="Markov chain (exact, discrete)")
            for i, r in enumerate(mc_pts):
                D = QUARTIC.dV / r
                mean0 = chain_escape(QUARTIC, eta, D)[0].mean
                cap = int(min(max(1.5 * mean0, 50), 600 if quick else 3000))
                R = int(min(max((200 if quick else 1000) * mean0 / cap * 1.3, 200), 20000))
                _, cen = chain_escape(QUARTIC, eta, D, cap)
                rate = mc_escape(QUARTIC, eta, D, cap, R, seed=100 + i)
                # MC estimates the censored mean; scale it to the full mean with the chain's ratio
                scale = chain_escape(QUARTIC, eta, D)[0].mean / cen
                m, lo, hi = scale / rate.rate, scale / rate.hi, scale / rate.lo
                ax.errorbar([r], [m], yerr=[[m - lo], [hi - m]], fmt="s", color="k", ms=4,
                            capsize=3, label="Monte Carlo (95% CI)" if i == 0 else None)
            ax.set_title(f"η = {eta} (η·h_a = {2 * eta:g})")
            ax.set_xlabel("ΔV / D")
        axes[0].set_ylabel("mean escape steps")
        axes[0].legend(loc="upper left")
        return save(fig, out_dir, "escape_arrhenius")
    finally:
        torch.set_num_threads(n_threads)
