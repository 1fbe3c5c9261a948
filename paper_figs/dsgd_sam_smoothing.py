"""Gradient smoothing: the agents' mean-gradient correction ḡ − ∇L(w_a) measured in D-SGD against the
Gaussian-smoothed correction E_{N(0,Ξ)}∇L(w_a + ε) − ∇L(w_a) computed by quadrature (and the
second-order Taylor form), per coordinate, on a rough 2-D landscape (docs/theory.md §4; Zhu et al.)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .style import save

CLAIMS = ("dsgd_sam.gradient_smoothing",)


def draw(evidence, out_dir) -> list[Path]:
    import matplotlib.pyplot as plt
    ev = evidence[CLAIMS[0]]
    d = ev.data
    y, x, tx = (np.asarray(d[k]) for k in ("measured", "predicted", "taylor"))
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot(x.ravel(), y.ravel(), "o", ms=2, alpha=0.5, label="Gaussian smoothing (quadrature)")
    ax.plot(tx.ravel(), y.ravel(), ".", ms=2, alpha=0.4, label="second-order Taylor ½∇Tr(HΞ)")
    lim = float(np.abs(np.concatenate([x.ravel(), y.ravel()])).max()) * 1.05
    ax.plot([-lim, lim], [-lim, lim], "-", color="k", lw=0.8, label="slope 1 (prediction)")
    s, st = d["slope"], d["slope_taylor"]
    ax.set_xlabel("predicted correction to ∇L(w_a)")
    ax.set_ylabel("measured correction ḡ − ∇L(w_a)")
    ax.set_title(f"slope {s['value']:.3f} [{s['ci_low']:.3f}, {s['ci_high']:.3f}] (Taylor {st['value']:.3f}); "
                 f"verdict: {ev.verdict}", fontsize=9)
    ax.set_aspect("equal")
    ax.legend(fontsize=7)
    return save(fig, out_dir, "dsgd_sam_smoothing")
