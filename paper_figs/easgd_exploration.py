"""Exploration against the communication period τ (EASGD paper, arXiv 1412.6651, §5; docs/theory.md
§6): drawn from the evidence of claims easgd.eamsgd_vs_baselines and easgd.exploration.

One panel per multimodal landscape (Rastrigin and Styblinski–Tang, d = 2; K = 4 workers): final
loss of the center (periodic averaging: the worker average) minus the global minimum against τ
for EASGD (α = 0.9/K), EAMSGD (momentum δ = 0.99), DOWNPOUR and periodic averaging; mean over
replicas that did not diverge with 95% t-intervals. Hollow triangles at τ = 4: EASGD and EAMSGD
with a smaller coupling α (more exploration). A setting where some replicas diverged is drawn as
a filled cross at the top of the panel, labelled with the diverged share.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from paper_figs import style

CLAIMS = ("easgd.eamsgd_vs_baselines", "easgd.exploration")
FLOOR = 1e-6   # losses are ≥ 0; the log axis starts here


def draw(evidence, out_dir) -> list[Path]:
    style.apply()
    import matplotlib.pyplot as plt
    base = evidence[CLAIMS[0]].data
    expl = evidence[CLAIMS[1]].data if CLAIMS[1] in evidence else None
    lands = sorted({k.split("/")[0] for k in base["runs"]}, key=lambda s: s != "rastrigin")
    taus = base["taus"]
    fig, axes = plt.subplots(1, len(lands), figsize=(5.2 * len(lands), 4.3))
    axes = np.atleast_1d(axes)
    for ax, ln in zip(axes, lands):
        tops = [base["runs"][f"{ln}/{me}/tau={t}"]["ci_high"] for me in base["methods"] for t in taus]
        top = 2.0 * max(v for v in tops if np.isfinite(v))
        for j, me in enumerate(base["methods"]):
            col = style.OKABE_ITO[j]
            shift = 1 + 0.05 * (j - 1.5)
            rows = [base["runs"][f"{ln}/{me}/tau={t}"] for t in taus]
            mu = np.array([r["mean"] for r in rows], float)
            lo = np.array([r["ci_low"] for r in rows], float)
            hi = np.array([r["ci_high"] for r in rows], float)
            x = np.array(taus, float) * shift
            ok = np.isfinite(mu)
            m = np.maximum(mu, FLOOR)
            ax.errorbar(x[ok], m[ok], yerr=[np.clip(m - np.maximum(lo, FLOOR), 0, None)[ok],
                                            np.clip(np.maximum(hi, FLOOR) - m, 0, None)[ok]],
                        fmt="o-", color=col, capsize=2, label=base["labels"][me])
            for xi, r in zip(x, rows):
                if r["diverged_share"] > 0:
                    ax.plot([xi], [top], "X", color=col, ms=9)
                    ax.annotate(f"{100 * r['diverged_share']:.0f}% diverged", (xi, top), xytext=(0, -12),
                                textcoords="offset points", ha="center", fontsize=7, color=col)
            if expl is not None and me in ("easgd_async", "eamsgd"):
                for k, (s, mk) in enumerate(zip(expl["alpha_scales"], ("v", "^"))):
                    key = f"{ln}/{me}/tau=4/alpha={0.9 * s / expl['K']:.4f}"
                    r = expl["runs"].get(key)
                    if r and np.isfinite(r["mean"]):
                        v = max(r["mean"], FLOOR)
                        ax.errorbar([4 * shift * (1.15 + 0.15 * k)], [v], yerr=[[v - max(r["ci_low"], FLOOR)],
                                                                    [max(r["ci_high"], FLOOR) - v]],
                                    fmt=mk, mfc="none", color=col, capsize=2,
                                    label=f"{base['labels'][me]}, α = {0.9 * s / expl['K']:.3f} at τ = 4")
        ax.set_xscale("log", base=2)
        ax.set_xticks(taus, [str(t) for t in taus])
        ax.set_yscale("log")
        ax.set_xlabel("communication period τ (steps)")
        ax.set_title({"rastrigin": "Rastrigin (d = 2)", "styblinski_tang": "Styblinski–Tang (d = 2)"}.get(ln, ln))
    axes[0].set_ylabel("final loss − global minimum (center)")
    handles, labels = axes[0].get_legend_handles_labels()
    handles.append(plt.Line2D([], [], marker="X", ls="", color="0.3", ms=9))
    labels.append("some replicas diverged (share printed)")
    fig.legend(handles, labels, loc="lower center", ncol=3, fontsize=9, bbox_to_anchor=(0.5, -0.16))
    fig.suptitle(f"Exploration vs communication period: K = {base['K']} workers, {base['steps']} steps, "
                 f"{base['R']} random starts, 95% intervals; α = 0.9/K unless marked", fontsize=10)
    return style.save(fig, Path(out_dir), "easgd_exploration")
