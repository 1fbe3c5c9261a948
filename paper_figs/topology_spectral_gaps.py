"""Spectral gap 1 − ρ of the mixing matrices against the number of workers K: THEORY.md §8
closed forms (lines) and eigenvalues of dynamics.topology's W (markers).

Ring (4/3)sin²(π/K), torus (4/5)sin²(π/√K), hypercube 2/(1+log₂K), directed exponential
2/(1+⌈log₂K⌉), undirected exponential 2/log₂K, star 1/K, complete 1."""
from __future__ import annotations

from pathlib import Path

from dynamics import topology as T
from verify.claims_topology import K_VALUES, closed_form_gap, k_values

from .style import save

MARKERS = ["o", "s", "^", "D", "v", "P", "X"]


def make(out_dir, quick: bool = False) -> list[Path]:
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    for n, name in enumerate(K_VALUES):
        Ks = [K for K in k_values(name, quick) if K >= 2]
        closed = [closed_form_gap(name, K) for K in Ks]
        computed = [T.get(name, K).spectral_gap for K in Ks]
        line, = ax.plot(Ks, closed, "-", alpha=0.7, label=f"{name}")
        ax.plot(Ks, computed, MARKERS[n % len(MARKERS)], color=line.get_color(), mfc="none")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("workers K")
    ax.set_ylabel("spectral gap 1 − ρ")
    ax.set_title("Spectral gaps: closed form (lines) vs eigenvalues (markers)")
    ax.legend(ncol=2, loc="lower left")
    return save(fig, out_dir, "topology_spectral_gaps")
