"""Exact Markov chain against Monte Carlo for the escape of C-SGD (docs/theory.md §2): per case,
the Monte Carlo estimate of the censored escape time divided by the chain's value of the same
estimand, with its familywise 95% interval (filled: exact Poisson interval; hollow: Kaplan–Meier
bootstrap, used where exit times are not exponential), and the continuous SDE time over the
chain's mean beside it. Data: the claim escape.chain_vs_monte_carlo."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .style import OKABE_ITO, save

CLAIMS = ("escape.chain_vs_monte_carlo",)
NAMES = {"quartic": "quartic", "double_gaussian/sharp": "double Gaussian, sharp well",
         "double_gaussian/flat": "double Gaussian, flat well", "double_well_2d": "2-D double well"}


def draw(evidence, out_dir) -> list[Path]:
    import matplotlib.pyplot as plt
    rows = evidence[CLAIMS[0]].data["cases"]
    fig, ax = plt.subplots(figsize=(7.0, 4.2))
    for i, case in enumerate(NAMES):
        rs = [r for r in rows if r["case"] == case]
        if not rs:
            continue
        c = OKABE_ITO[i]
        eh = np.array([r["eta_h_a"] for r in rs])
        m = np.array([r["mc"][0] / r["chain"] for r in rs])
        lo = np.array([r["mc"][1] / r["chain"] for r in rs])
        hi = np.array([min(r["mc"][2], 10 * r["mc"][0]) / r["chain"] for r in rs])
        km = np.array([r["method"] == "km-bootstrap" for r in rs])
        for sel, fill in ((~km, c), (km, "none")):
            if sel.any():
                ax.errorbar(eh[sel], m[sel], yerr=[m[sel] - lo[sel], hi[sel] - m[sel]], fmt="o", color=c,
                            mfc=fill, capsize=3, label=f"{NAMES[case]}: Monte Carlo / chain" if fill == c or not (~km).any() else None)
        ax.plot(eh, [r["continuous"] / r["chain_mean"] for r in rs], "x", color=c, ms=7,
                label=f"{NAMES[case]}: continuous / chain")
    ax.axhline(1.0, color="k", lw=0.8, label="chain (exact) = 1")
    ax.axvline(0.3, color="grey", ls=":", lw=1)
    ax.set_xscale("log")
    ax.set_xlabel("η·h_a (step size × curvature at the minimum)")
    ax.set_ylabel("ratio to the exact chain")
    ax.set_title("Escape time of discrete SGD: Monte Carlo and SDE vs the exact chain\n"
                 "(bars: familywise 95%; hollow: Kaplan–Meier bootstrap interval)", fontsize=10)
    ax.legend(fontsize=7, ncol=2)
    return save(fig, out_dir, "escape_chain_vs_mc")
