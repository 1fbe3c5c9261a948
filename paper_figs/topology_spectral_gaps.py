"""Spectral gap 1 − ρ of the mixing matrices against the number of workers K: docs/theory.md §8
closed forms (lines) and eigenvalues of dynamics.topology's W (open markers); drawn from the
evidence of claim topology.spectral_gap_closed_forms.

Ring (4/3)sin²(π/K), torus (4/5)sin²(π/√K), hypercube 2/(1+log₂K), directed exponential
2/(1+⌈log₂K⌉), undirected exponential 2/log₂K, star 1/K, complete 1, and a lazy ring (self
weight 0.1) whose most negative eigenvalue sets ρ."""
from __future__ import annotations

from pathlib import Path

from paper_figs import style

CLAIMS = ("topology.spectral_gap_closed_forms",)
MARKERS = ["o", "s", "^", "D", "v", "P", "X", "h"]


def draw(evidence, out_dir) -> list[Path]:
    style.apply()
    import matplotlib.pyplot as plt
    d = evidence[CLAIMS[0]].data
    fig, ax = plt.subplots(figsize=(6.6, 4.6))
    for n, (name, rows) in enumerate(d["families"].items()):
        keep = [i for i, K in enumerate(rows["K"]) if K >= 2]
        Ks = [rows["K"][i] for i in keep]
        line, = ax.plot(Ks, [rows["closed"][i] for i in keep], "-", alpha=0.7,
                        color=style.OKABE_ITO[n % len(style.OKABE_ITO)], label=d["labels"][name])
        ax.plot(Ks, [rows["computed"][i] for i in keep], MARKERS[n % len(MARKERS)], color=line.get_color(), mfc="none")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("workers K")
    ax.set_ylabel("spectral gap 1 − ρ")
    ax.set_title("Spectral gaps: closed form (lines) vs eigenvalues (markers)")
    ax.legend(ncol=2, loc="lower left", fontsize=7)
    return style.save(fig, Path(out_dir), "topology_spectral_gaps")
