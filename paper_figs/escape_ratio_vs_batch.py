"""Decentralised / centralised mean escape time of the centroid against the per-worker batch B
under the linear scaling rule η = 0.05·B (quartic, D_c fixed), one panel per graph: Monte Carlo
over the exact centralised chain (markers, 95% interval; hollow: not judged, > 1% of replicas
diverged) and the first-order prediction exp(½(h_b − h_a)Σ_dis/D_c) (docs/theory.md §2, derived;
dashed). Below 1: decentralised escapes faster. Data: flatness.decentralised_escape_faster."""
from __future__ import annotations

import math
from pathlib import Path

from .style import OKABE_ITO, save

CLAIMS = ("flatness.decentralised_escape_faster",)
WORDS = {"dsgd": "consensus (D-SGD)", "atc": "diffusion (ATC)"}
GRAPH = {"ring": "ring", "exponential": "exponential graph"}


def draw(evidence, out_dir) -> list[Path]:
    import matplotlib.pyplot as plt
    cells = evidence[CLAIMS[0]].data["cells"]
    graphs = sorted({(c["graph"], c["K"]) for c in cells}, key=lambda g: (g[0] != "ring", g[0], g[1]))
    n = len(graphs)
    cols = min(n, 2)
    rows_ = math.ceil(n / cols)
    fig, axes = plt.subplots(rows_, cols, figsize=(5.0 * cols, 3.6 * rows_), sharey=True, squeeze=False)
    handles = {}
    lows = [c["ratio"][1] for c in cells if c["ratio"][1] > 0]
    floor = min(lows) / 3 if lows else 1e-2
    for ax, (g, K) in zip(axes.ravel(), graphs):
        for j, meth in enumerate(("dsgd", "atc")):
            pts = sorted((c for c in cells if c["graph"] == g and c["K"] == K and c["method"] == meth),
                         key=lambda c: c["B"])
            col = OKABE_ITO[j]
            Bs = [c["B"] for c in pts]
            h, = ax.plot(Bs, [c["predicted_ratio"] for c in pts], "--", color=col, alpha=0.8)
            handles[f"{WORDS[meth]}: first-order prediction"] = h
            for c in pts:
                v, lo, hi = c["ratio"]
                hi = min(hi, 20 * v) if math.isfinite(v) else hi
                e = ax.errorbar([c["B"]], [v], yerr=[[v - lo], [hi - v]], fmt="o", color=col, capsize=3,
                                mfc=col if c["judged"] else "none")
                handles[f"{WORDS[meth]}: Monte Carlo (95%)"] = e
        ref = ax.axhline(1.0, color="k", lw=0.8)
        handles["C-SGD with batch KB (reference = 1)"] = ref
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_ylim(bottom=floor)
        Bs_all = sorted({c["B"] for c in cells})
        ax.set_xticks(Bs_all, [str(b) for b in Bs_all])
        ax.set_title(f"{GRAPH.get(g, g)}, K = {K}")
        ax.set_xlabel("per-worker batch B (η = 0.05·B)")
    for ax in axes[:, 0]:
        ax.set_ylabel("τ_decentralised / τ_centralised")
    for ax in axes.ravel()[n:]:
        ax.set_visible(False)
    fig.legend(list(handles.values()), list(handles.keys()), loc="outside lower center", ncol=3, fontsize=8)
    fig.suptitle("Centroid escape time, decentralised over centralised (hollow: > 1% diverged, not judged;\n"
                 "first-order lines leave the axis where they fall far below the measurements)", fontsize=10)
    return save(fig, out_dir, "escape_ratio_vs_batch")
