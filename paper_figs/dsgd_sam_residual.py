"""Residual of the D-SGD ≈ average-direction SAM expansion against the worker spread r (log–log):
(1/K)Σ∇L(w_j) − ∇L(w_a) − ½∇Tr(HΞ) scales as r³ (docs/theory.md §4; Zhu et al., ICML 2023). Markers:
median over random configurations, band: min–max; dotted: r³ guides drawn ×4 above the data."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .style import finish, save

CLAIMS = ("dsgd_sam.residual_order",)
NAMES = {"quartic": "quartic", "muller_brown": "Müller–Brown", "styblinski_tang": "Styblinski–Tang"}
OFFSET = 4.0


def draw(evidence, out_dir) -> list[Path]:
    import matplotlib.pyplot as plt
    ev = evidence[CLAIMS[0]]
    fig, ax = plt.subplots()
    for name, e in ev.data["residual"].items():
        r, med = np.asarray(e["r"]), np.asarray(e["median"])
        line, = ax.plot(r, med, "o-", ms=4,
                        label=f"{NAMES.get(name, name)}: slope {e['slope_min']:.3f}–{e['slope_max']:.3f}")
        ax.fill_between(r, e["lo"], e["hi"], color=line.get_color(), alpha=0.2, lw=0)
        guide = OFFSET * med[0] * (r / r[0]) ** 3
        ax.plot(r, guide, ":", color=line.get_color(), lw=1.2)
        ax.annotate("r³", (r[-1], guide[-1]), textcoords="offset points", xytext=(4, 0), fontsize=8,
                    color=line.get_color(), va="center")
    ax.plot([], [], ":", color="0.3", label=f"slope-3 guide (×{OFFSET:g} above the data)")
    finish(ax, "spread r (Tr Ξ = r²)", "‖residual‖ (median; band: min–max over configurations)",
           f"Expansion residual vs spread (verdict: {ev.verdict})", log="xy")
    return save(fig, out_dir, "dsgd_sam_residual")
