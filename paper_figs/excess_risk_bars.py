"""Stationary excess risk (1/K)Σ_k E f(x_k) − f* near a minimum (f = ½h(x − x*)², ring,
σ = 1, B = 1) for centralised, ATC, consensus and CTA: exact Lyapunov moments from
analysis.linear (bars) and Monte Carlo (markers, Bonferroni 95% CI). THEORY.md §3.
Data: the claim flatness.excess_risk_ordering."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from verify.claims import Context, interval, point
from verify.claims_flatness import METHODS, excess_cases, excess_risk_ordering

from .style import save

LABEL = {"csgd": "centralised", "atc": "ATC", "dsgd": "consensus", "cta": "CTA"}


def make(out_dir, quick: bool = False) -> list[Path]:
    import matplotlib.pyplot as plt
    ev = excess_risk_ordering(Context(quick=quick))
    cases = excess_cases(quick)
    fig, ax = plt.subplots(figsize=(7.0, 4.2))
    w = 0.8 / len(METHODS)
    for j, meth in enumerate(METHODS):
        xs = np.arange(len(cases)) + (j - 1.5) * w
        keys = [f"ring{K}/eta={eta}/{meth}" for K, eta in cases]
        ly = [ev.predicted[f"{k}/lyapunov"] for k in keys]
        bars = ax.bar(xs, ly, w, label=f"{LABEL[meth]} (Lyapunov)", alpha=0.8)
        mc = [ev.measured[f"{k}/mc"] for k in keys]
        m = np.array([point(v) for v in mc])
        lo = m - np.array([interval(v)[0] for v in mc])
        hi = np.array([interval(v)[1] for v in mc]) - m
        ax.errorbar(xs, m, yerr=[lo, hi], fmt="k.", capsize=2,
                    label="Monte Carlo" if j == 0 else None)
        del bars
    ax.set_xticks(range(len(cases)), [f"ring K={K}\nη·h={eta}" for K, eta in cases])
    ax.set_ylabel("excess risk")
    ax.set_title("Excess risk near a minimum: centralised < ATC < consensus (CTA varies)")
    ax.legend(fontsize=7, ncol=2)
    return save(fig, out_dir, "excess_risk_bars")
