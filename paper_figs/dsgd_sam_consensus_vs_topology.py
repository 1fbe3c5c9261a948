"""Consensus distance Tr Ξ(t) of D-SGD per topology (K=16): simulation mean (lines) against the exact
moment propagation of analysis/linear.py (dashed) (THEORY.md §3–4; Zhu et al., ICML 2023)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from verify.claims_sam import experiment_gap, one_thread

from .style import save


def make(out_dir, quick: bool = False) -> list[Path]:
    import matplotlib.pyplot as plt
    with one_thread():
        ex = experiment_gap(quick, 0)
    fig, ax = plt.subplots()
    for name, e in ex.items():
        t = np.arange(len(e["traj"]))
        line, = ax.plot(t, e["traj"], alpha=0.8, label=f"{name} (gap {e['gap']:.3f})")
        ax.plot(np.arange(len(e["pred"])), e["pred"], "--", color="k", lw=1)
    ax.set_xlabel("step t")
    ax.set_ylabel("Tr Ξ(t) (replica mean)")
    ax.set_title("Consensus distance: simulation vs linear.py (dashed)")
    ax.legend()
    return save(fig, out_dir, "dsgd_sam_consensus_vs_topology")
