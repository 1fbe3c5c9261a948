"""Suboptimality after T steps against the heterogeneity ζ², one curve per method (Momentum
Tracking against DSGDm, QG-DSGDm, DecentLaM and DSGD; docs/theory.md §5), and the relative
heterogeneity penalty Π(T) of each method against T beside the prediction (MT: Π = 0, judged
within ±margin). Heterogeneous quadratics and the non-convex teacher–student MLP with concept
shift, 8-ring, β = 0.9, one fixed effective step, 95% intervals.

Drawn from the evidence of momentum_tracking.rate_vs_zeta (never re-runs the experiment)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .style import apply, save

CLAIMS = ("momentum_tracking.rate_vs_zeta",)
WORDS = {"mt": "MT", "dsgdm": "DSGDm", "qg_dsgdm": "QG-DSGDm", "decentlam": "DecentLaM", "atc": "DSGD"}
FAMILY = {"quadratic": "heterogeneous quadratics", "mlp": "teacher–student MLP (non-convex)"}
MARKERS = {"mt": "o", "dsgdm": "s", "qg_dsgdm": "^", "decentlam": "v", "atc": "D"}


def _floor_err(vals, lo, hi):
    """Error bars in log space: a lower end at or below 0 is drawn down to a tenth of the value
    (marked in the caption) so that no bar leaves the axis."""
    lo_c = np.where(lo > 0, lo, vals / 10)
    return np.vstack([vals - lo_c, hi - vals]), bool(np.any(lo <= 0))


def draw(evidence: dict, out_dir) -> list[Path]:
    apply()
    import matplotlib.pyplot as plt
    ev = evidence[CLAIMS[0]]
    data = ev.data
    fams = [f for f in FAMILY if f in data]
    margin = float(ev.regime.get("margin", 0.1))
    fig, axes = plt.subplots(2, len(fams), figsize=(5.2 * len(fams), 8.0), squeeze=False)
    clipped = False
    for j, fam in enumerate(fams):
        d = data[fam]
        z2 = np.asarray(d["zeta2"], float)
        Tl = str(d["checks"][-1])
        ax = axes[0][j]
        for m in d["methods"]:
            cis = d["S"][m][Tl]
            v = np.array([c["value"] for c in cis])
            lo = np.array([c["ci_low"] for c in cis])
            hi = np.array([c["ci_high"] for c in cis])
            err, cl = _floor_err(v, lo, hi)
            clipped |= cl
            ax.errorbar(z2, v, yerr=err, marker=MARKERS.get(m, "o"), capsize=3, label=WORDS.get(m, m))
        ax.set_yscale("log")
        ax.set_xticks(z2)
        ax.set_xlabel("heterogeneity ζ² at the minimiser")
        ax.set_ylabel(f"suboptimality after T = {Tl} steps")
        ax.set_title(FAMILY[fam])
        if j == len(fams) - 1:
            ax.legend(fontsize=7, title="mean over replicas, 95% t-interval", title_fontsize=7, loc="center right")
        ax = axes[1][j]
        Ts = np.array(d["checks"], float)
        for m in d["methods"]:
            p = d["penalty"].get(m)
            if p is None:
                continue
            v = np.array([p[str(t)]["value"] for t in d["checks"]])
            lo = np.array([p[str(t)]["ci_low"] for t in d["checks"]])
            hi = np.array([p[str(t)]["ci_high"] for t in d["checks"]])
            ax.errorbar(Ts, v, yerr=np.vstack([v - lo, hi - v]), marker=MARKERS.get(m, "o"), capsize=3,
                        label=WORDS.get(m, m))
        ax.axhspan(-margin, margin, color="0.85", zorder=0, label=f"MT predicted: Π = 0 (judged within ±{margin:g})")
        ax.axhline(0.0, color="k", lw=0.8)
        ax.set_xscale("log")
        ax.set_xticks(Ts)
        ax.set_xticklabels([str(int(t)) for t in Ts])
        ax.minorticks_off()
        ax.set_yscale("symlog", linthresh=margin, linscale=1.0)
        ax.set_xlabel("steps T")
        ax.set_ylabel("relative heterogeneity penalty Π(T)")
        ax.set_title("Π = slope of S(T) in ζ² × ζ²max / S(T) at ζ² = 0", fontsize=9)
        if j == len(fams) - 1:
            ax.legend(fontsize=7, title="paired bootstrap 95% interval", title_fontsize=7, loc="lower right")
    if clipped:
        fig.suptitle("(an interval reaching 0 or below is drawn down to a tenth of its mean)", fontsize=8)
    return save(fig, out_dir, "momentum_tracking_suboptimality_vs_zeta")
