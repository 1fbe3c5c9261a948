"""Stationary variance of the EASGD center and of one worker against ρ on a noisy quadratic
(docs/theory.md §6 [derived]; EASGD paper, arXiv 1412.6651, whose supplement with the formula is
missing): drawn from the evidence of claim easgd.center_variance.

Lines: closed forms (synchronous EASGD, p = 4, η = 0.1, h = 1, σ = 1, β = pα) for the center,
a worker and moving-average SGD (α = 0, same β); dashed: minibatch-p SGD at equal total work.
Points: Monte Carlo estimates with 99% intervals over the claim's replicas (minibatch SGD's
point drawn at the right edge).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from paper_figs import style

CLAIMS = ("easgd.center_variance",)


def draw(evidence, out_dir) -> list[Path]:
    style.apply()
    import matplotlib.pyplot as plt
    d = evidence[CLAIMS[0]].data
    th, mc = d["theory"], d["mc"]
    lvl = int(round(100 * d["level"]))
    fig, ax = plt.subplots(figsize=(9.0, 4.4))
    pts = [r["rho"] for r in mc]
    for key, col, mk, name in (("center", "C0", "o", "EASGD center"), ("worker", "C1", "^", "EASGD worker"),
                               ("mvasgd", "C2", "s", "moving-average SGD (α = 0, same β)")):
        ax.plot(th["rho"], th[key], "-" if key != "mvasgd" else ":", color=col, label=f"{name}, closed form")
        v = np.array([r[key] for r in mc], float)
        ax.errorbar(pts, v[:, 0], yerr=np.clip([v[:, 0] - v[:, 1], v[:, 2] - v[:, 0]], 0, None), fmt=mk, color=col, capsize=3,
                    mfc="none" if key == "mvasgd" else None,
                    label=f"{name}, Monte Carlo ({lvl}% CI)")
    ax.axhline(th["sgd"], ls="--", color="k", lw=1, label=f"minibatch-{d['p']} SGD, closed form")
    v, lo, hi = d["sgd_mc"]
    x_edge = float(th["rho"][-1]) * 1.03
    ax.errorbar([x_edge], [v], yerr=np.clip([[v - lo], [hi - v]], 0, None), fmt="D", color="k", capsize=3,
                label="minibatch SGD, Monte Carlo (at the right edge)")
    ax.set_xlabel("ρ (α = ηρ, β = pα)")
    ax.set_ylabel("stationary variance")
    ax.set_yscale("log")
    ax.set_title(f"Synchronous EASGD on x²/2 with gradient noise: p = {d['p']}, η = {d['eta']}, "
                 f"σ = {d['sigma']}, R = {d['R']}", fontsize=9)
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8)
    return style.save(fig, Path(out_dir), "easgd_variance_vs_rho")
