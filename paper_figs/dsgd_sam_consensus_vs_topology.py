"""Consensus distance Tr Ξ(t) of D-SGD per topology (K=16): simulation (replica mean with 95% band)
against the per-mode closed form (dashed), and the second-half averages against the spectral gap
(docs/theory.md §3–4; Zhu et al., ICML 2023)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .style import save

CLAIMS = ("dsgd_sam.consensus_vs_gap",)
Z = 1.959963984540054


def draw(evidence, out_dir) -> list[Path]:
    import matplotlib.pyplot as plt
    ev = evidence[CLAIMS[0]]
    tops = ev.data["topologies"]
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(10, 4), gridspec_kw={"width_ratios": [3, 2]})
    for name, e in tops.items():
        t = np.asarray(e["t"])
        m, se = np.asarray(e["sim_mean"]), np.asarray(e["sim_se"])
        line, = ax.plot(t, m, lw=1.2, label=f"{name} (gap {e['gap']:.3f})")
        ax.fill_between(t, m - Z * se, m + Z * se, color=line.get_color(), alpha=0.25, lw=0)
        ax.plot(t, e["closed_form"], "--", color="k", lw=0.9)
        meas = e["meas"]
        bx.errorbar([e["gap"]], [meas["value"]], yerr=[[meas["value"] - meas["ci_low"]], [meas["ci_high"] - meas["value"]]],
                    fmt="o", color=line.get_color(), mfc="none", capsize=3)
        bx.plot([e["gap"]], [e["pred_stat"]], "x", color="k")
    start = next(iter(tops.values()))["window_start"]
    ax.axvspan(start, ax.get_xlim()[1], color="0.9", zorder=0, label="averaging window")
    ax.plot([], [], "--", color="k", lw=0.9, label="closed form (per-mode sums)")
    ax.set_xlabel("step t")
    ax.set_ylabel("Tr Ξ(t)")
    ax.set_title("Simulation: replica mean, 95% band")
    ax.legend(fontsize=7)
    bx.set_xscale("log")
    bx.set_xlabel("spectral gap 1 − ρ")
    bx.set_ylabel("Tr Ξ, second-half average")
    bx.plot([], [], "o", color="0.4", mfc="none", label="simulation, 95% CI")
    bx.plot([], [], "x", color="k", label="closed form")
    bx.legend(fontsize=7)
    bx.set_title(f"verdict: {ev.verdict}")
    fig.suptitle("D-SGD consensus distance vs topology (K=16, η=0.05)")
    return save(fig, out_dir, "dsgd_sam_consensus_vs_topology")
