"""Residual of the D-SGD ≈ average-direction SAM expansion against the worker spread r (log–log):
(1/K)Σ∇L(w_j) − ∇L(w_a) − ½∇Tr(HΞ) scales as r³ (THEORY.md §4; Zhu et al., ICML 2023)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from verify.claims_sam import experiment_residual, one_thread

from .style import save


def make(out_dir, quick: bool = False) -> list[Path]:
    import matplotlib.pyplot as plt
    with one_thread():
        ex = experiment_residual(quick, 0)
    fig, ax = plt.subplots()
    for name, e in ex.items():
        med = np.median(e["residual"], axis=0)
        line, = ax.plot(e["r"], med, "o-", label=f"{name} (slope {e['slopes'].mean():.3f})")
        ax.fill_between(e["r"], e["residual"].min(0), e["residual"].max(0), color=line.get_color(), alpha=0.2)
        ax.plot(e["r"], med[0] * (e["r"] / e["r"][0]) ** 3, ":", color=line.get_color())
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("spread r (Tr Ξ = r²)")
    ax.set_ylabel("‖residual‖ (median, band = min–max)")
    ax.set_title("Expansion residual vs spread; dotted: r³")
    ax.legend()
    return save(fig, out_dir, "dsgd_sam_residual")
