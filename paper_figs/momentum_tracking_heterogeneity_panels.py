"""Suboptimality against step per method and heterogeneity level, the layout of Takezawa et al.'s
figures: one row per problem (heterogeneous quadratics; teacher–student MLP with concept shift),
one panel per method (MT, DSGDm, QG-DSGDm, DecentLaM, DSGD), one curve per ζ² level; network
suboptimality (1/K) Σ_k f(x_k) − f*, mean over replicas, 8-ring, β = 0.9, one fixed effective
step for every method and level. Momentum Tracking's curves should coincide (docs/theory.md §5).

Drawn from the evidence of momentum_tracking.rate_vs_zeta (never re-runs the experiment)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .style import apply, save

CLAIMS = ("momentum_tracking.rate_vs_zeta",)
WORDS = {"mt": "MT", "dsgdm": "DSGDm", "qg_dsgdm": "QG-DSGDm", "decentlam": "DecentLaM", "atc": "DSGD"}
FAMILY = {"quadratic": "quadratics", "mlp": "MLP"}


def draw(evidence: dict, out_dir) -> list[Path]:
    apply()
    import matplotlib.pyplot as plt
    from matplotlib import cm
    data = evidence[CLAIMS[0]].data
    fams = [f for f in FAMILY if f in data]
    order = ("mt", "dsgdm", "qg_dsgdm", "decentlam", "atc")
    methods = sorted(data[fams[0]]["methods"], key=lambda m: order.index(m) if m in order else len(order))
    fig, axes = plt.subplots(len(fams), len(methods), figsize=(3.0 * len(methods), 2.8 * len(fams)),
                             sharey="row", squeeze=False)
    for i, fam in enumerate(fams):
        d = data[fam]
        z2 = d["zeta2"]
        colours = cm.viridis(np.linspace(0, 0.9, len(z2)))
        for j, m in enumerate(methods):
            ax = axes[i][j]
            c = d["curves"][m]
            for lv, z in enumerate(z2):
                ax.plot(c["times"], c["mean"][lv], color=colours[lv], label=f"ζ² = {z:g}")
            ax.set_yscale("log")
            ax.set_title(f"{WORDS.get(m, m)} — {FAMILY[fam]}", fontsize=9)
            if i == len(fams) - 1:
                ax.set_xlabel("step")
            if j == 0:
                ax.set_ylabel("(1/K) Σ f(x_k) − f*")
        axes[i][-1].legend(fontsize=7, title="heterogeneity", title_fontsize=7)
    return save(fig, out_dir, "momentum_tracking_heterogeneity_panels")
