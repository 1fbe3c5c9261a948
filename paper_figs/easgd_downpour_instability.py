"""DOWNPOUR's instability at large communication period τ (EASGD paper, arXiv 1412.6651, §5):
drawn from the evidence of claim easgd.downpour_unstable.

Left: share of diverged runs (‖x‖ > 1e6) of DOWNPOUR against τ on Styblinski–Tang (d = 2,
K = 4, η = 0.005) with Wilson 95% intervals, and EASGD's at the largest τ. Right: the linearised
DOWNPOUR center multiplier 1 − K(1 − (1 − ηh)^τ) at the sharpest minimum; |multiplier| > 1
(shaded) is the linear instability.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from paper_figs import style

CLAIMS = ("easgd.downpour_unstable",)


def draw(evidence, out_dir) -> list[Path]:
    style.apply()
    import matplotlib.pyplot as plt
    d = evidence[CLAIMS[0]].data
    taus = np.array(d["taus"], float)
    sh = [d["shares"][str(int(t))] for t in taus]
    v = np.array([s["value"] for s in sh])
    lo, hi = np.array([s["ci_low"] for s in sh]), np.array([s["ci_high"] for s in sh])
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(9.5, 3.8))
    a1.errorbar(taus, v, yerr=np.clip([v - lo, hi - v], 0, None), fmt="o-", capsize=3, color=style.OKABE_ITO[2],
                label="DOWNPOUR")
    e = d["easgd_share"]
    a1.errorbar([taus[-1] * 1.1], [e["value"]], yerr=np.clip([[e["value"] - e["ci_low"]], [e["ci_high"] - e["value"]]], 0, None),
                fmt="s", capsize=3, color=style.OKABE_ITO[0], label=f"EASGD at τ = {int(taus[-1])}")
    a1.set_xscale("log", base=2)
    a1.set_xticks(taus, [str(int(t)) for t in taus])
    a1.set_ylim(-0.05, 1.05)
    a1.set_xlabel("communication period τ")
    a1.set_ylabel("share of runs diverged (95% Wilson)")
    a1.set_title(f"η = {d['lr']:g}, {d['R']} runs × {d['steps']} steps", fontsize=9)
    a1.legend(fontsize=8)
    tt = np.geomspace(1, taus[-1], 200)
    K = d.get("K", 4)
    mult = 1 - K * (1 - (1 - d["lr"] * d["h"]) ** tt)
    a2.plot(tt, mult, "-", color=style.OKABE_ITO[2], label="1 − K(1 − (1 − ηh)^τ)")
    a2.plot(taus, [d["multiplier"][str(int(t))] for t in taus], "o", color=style.OKABE_ITO[2])
    a2.axhspan(-K, -1, color="0.85", label="|multiplier| > 1: unstable")
    a2.axhline(1, color="0.5", lw=0.8)
    a2.set_xscale("log", base=2)
    a2.set_xticks(taus, [str(int(t)) for t in taus])
    a2.set_xlabel("communication period τ")
    a2.set_ylabel("center multiplier per period")
    a2.set_title(f"linearised at the sharpest minimum (h = {d['h']:.3g}, K = {K})", fontsize=9)
    a2.legend(fontsize=8, loc="upper right")
    fig.suptitle("DOWNPOUR on Styblinski–Tang: diverged runs against the communication period", fontsize=10)
    return style.save(fig, Path(out_dir), "easgd_downpour_instability")
