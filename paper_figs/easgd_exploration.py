"""Exploration vs communication period τ (EASGD paper, arXiv 1412.6651, §5; THEORY.md §6).

One panel per landscape (Rastrigin d=2, Styblinski–Tang d=2, symmetric d=1): final loss of the
center variable minus the global minimum (local SGD: the worker average) against τ for
EASGD (asynchronous, α = 0.9/K), EAMSGD (δ = 0.99), DOWNPOUR and periodic averaging (local SGD),
K = 4, mean over replicas with 95% intervals (``verify.claims_elastic.exploration_table``).
Hollow markers at τ = 4: EASGD/EAMSGD with smaller α (= smaller ρ, more exploration).
Diverged settings are drawn at the top edge with an x. Run time: ~1 min (quick: ~20 s).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from paper_figs import style
from verify import claims_elastic as ce


def make(out_dir, quick: bool = False) -> list[Path]:
    style.apply()
    import matplotlib.pyplot as plt
    tab, reg = ce.exploration_table(quick=quick)
    lands = list(ce.EXPLORE_SETUPS)
    fig, axes = plt.subplots(1, len(lands), figsize=(4.2 * len(lands), 3.8))
    for ax, ln in zip(axes, lands):
        finite = [v[0] for k, v in tab.items() if k[0] == ln and np.isfinite(v[0])]
        top = 1.1 * max(finite) if finite else 1.0
        for j, me in enumerate(ce.EXPLORE_METHODS):
            col = style.OKABE_ITO[j]
            taus = np.array(reg["taus"], float) * (1 + 0.04 * (j - 1.5))
            vals = [tab[(ln, me, t, 1.0)] for t in reg["taus"]]
            mu = np.array([v[0] for v in vals])
            ok = np.isfinite(mu)
            ax.errorbar(taus[ok], mu[ok], yerr=[mu[ok] - np.array([v[1] for v in vals])[ok],
                                               np.array([v[2] for v in vals])[ok] - mu[ok]],
                        fmt="o-", color=col, capsize=2, label=me)
            if (~ok).any():
                ax.plot(taus[~ok], np.full((~ok).sum(), top), "x", color=col, ms=8, mew=2)
            if me in ("easgd_async", "eamsgd"):
                for s, mk in zip(ce.ALPHA_SCALES[1:], ("^", "v")):
                    v = tab.get((ln, me, 4, s), (np.nan,) * 3)
                    if np.isfinite(v[0]):
                        ax.errorbar([4 * (1 + 0.04 * (j - 1.5)) * (1.15 if mk == "^" else 1.3)], [v[0]],
                                    yerr=[[v[0] - v[1]], [v[2] - v[0]]], fmt=mk, mfc="none",
                                    color=col, capsize=2,
                                    label=f"{me}, α={0.9 * s / ce.EXPLORE_K:.3f} (τ=4)")
        ax.set_xscale("log", base=2)
        ax.set_xticks(ce.TAUS, [str(t) for t in ce.TAUS])
        ax.set_yscale("symlog", linthresh=1e-2)
        ax.set_xlabel("τ (communication period)")
        ax.set_title(f"{ln}", fontsize=10)
    axes[0].set_ylabel("final center loss − global min")
    axes[-1].legend(fontsize=6, loc="best")
    fig.suptitle(f"Exploration: K={reg['K']}, {reg['steps']} steps, R={reg['R']} random starts "
                 "(95% CI); α = 0.9/K unless marked", fontsize=10)
    return style.save(fig, Path(out_dir), "easgd_exploration")


if __name__ == "__main__":
    print(make(Path("results/paper_figs")))
