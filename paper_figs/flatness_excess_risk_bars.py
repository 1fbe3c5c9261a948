"""Stationary excess risk (1/K)Σ_k E f(x_k) − f* near a minimum (f = ½h(x − x*)², ring, σ = 1,
B = 1) for C-SGD, diffusion (ATC), consensus (D-SGD) and CTA: the per-mode closed forms of
docs/theory.md §3 (bars), analysis.linear's Lyapunov moments as a cross-check (crosses) and
Monte Carlo (black markers, familywise 95% interval). Data: flatness.excess_risk_ordering."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .style import save

CLAIMS = ("flatness.excess_risk_ordering",)
LABEL = {"csgd": "C-SGD", "atc": "diffusion (ATC)", "dsgd": "consensus (D-SGD)", "cta": "CTA"}


def draw(evidence, out_dir) -> list[Path]:
    import matplotlib.pyplot as plt
    d = evidence[CLAIMS[0]].data
    cases, methods = d["cases"], d["methods"]
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    w = 0.8 / len(methods)
    for j, meth in enumerate(methods):
        xs = np.arange(len(cases)) + (j - (len(methods) - 1) / 2) * w
        ax.bar(xs, [c[meth]["closed_form"] for c in cases], w, label=f"{LABEL[meth]}: closed form", alpha=0.75)
        ax.plot(xs, [c[meth]["lyapunov"] for c in cases], "x", color="0.3", ms=6,
                label="Lyapunov (analysis.linear), cross-check" if j == 0 else None)
        mc = np.array([c[meth]["mc"] for c in cases])
        ax.errorbar(xs, mc[:, 0], yerr=[mc[:, 0] - mc[:, 1], mc[:, 2] - mc[:, 0]], fmt="k.", capsize=2,
                    label="Monte Carlo (familywise 95%)" if j == 0 else None)
    ax.set_xticks(range(len(cases)), [f"ring K = {c['K']}\nη·h = {c['eta']}" for c in cases])
    ax.set_ylabel("stationary excess risk")
    ax.set_title("Excess risk near a minimum: theory (bars) and Monte Carlo")
    ax.legend(fontsize=7, ncol=2)
    return save(fig, out_dir, "flatness_excess_risk_bars")
