"""Stationary variance of the EASGD center vs ρ on a noisy quadratic (THEORY.md §6 [derived];
EASGD paper, arXiv 1412.6651, whose supplement with the formula is missing).

Lines: the closed forms ``analysis.stability.easgd_sync_center_variance`` and
``easgd_sync_worker_variance`` (p = 4, η = 0.1, h = 1, σ = 1, β = pα); points: Monte-Carlo
variances of dynamics 'easgd''s center and worker 1 from the same R replicas with 99% chi-square
intervals (``verify.claims_elastic.easgd_variance_mc``); dotted: moving-average SGD (MVASGD,
α = 0, same β = pηρ; ``moving_average_sgd_variance``); dashed: minibatch-p SGD ησ²/(p h (2 − ηh))
at equal total work, with its Monte-Carlo point ('csgd', K = p).
Run time: ~40 s (quick: ~10 s, including imports) on 2 cores.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from analysis import stability as st
from paper_figs import style
from verify import claims_elastic as ce


def make(out_dir, quick: bool = False) -> list[Path]:
    style.apply()
    import matplotlib.pyplot as plt
    p, eta, h, s = ce.VAR_P, ce.VAR_ETA, ce.VAR_H, ce.VAR_SIGMA
    R = 2000 if quick else 20000
    line = np.linspace(0.02, 3.8, 400)
    line = line[st.easgd_sync_stable(eta * h, eta * line, p * eta * line)]
    th = [st.easgd_sync_center_variance(eta, h, eta * r, p * eta * r, s ** 2, p) for r in line]
    thw = [st.easgd_sync_worker_variance(eta, h, eta * r, p * eta * r, s ** 2, p) for r in line]
    thm = [st.moving_average_sgd_variance(eta, h, p * eta * r, s ** 2, p) for r in line]
    pts = (0.25, 1.0, 2.5) if quick else (0.1, 0.25, 0.5, 1.0, 1.5, 2.5, 3.5)
    runs = [ce.easgd_variance_mc(r, R=R, seed=k) for k, r in enumerate(pts)]
    mc = [run["center"] for run in runs]
    mcw = [run["worker"] for run in runs]
    sgd = st.sgd_minibatch_variance(eta, h, s ** 2, p)
    v, lo, hi = ce.center_variance_mc(None, R=R, seed=99, method="csgd")
    fig, ax = plt.subplots(figsize=(6.0, 4.0))
    ax.plot(line, th, "-", color="C0", label="EASGD center, closed form")
    ax.errorbar(pts, [m[0] for m in mc], yerr=[[m[0] - m[1] for m in mc], [m[2] - m[0] for m in mc]],
                fmt="o", capsize=3, color="C0", label=f"EASGD center, Monte Carlo (R={R}, 99% CI)")
    ax.plot(line, thw, "-", color="C1", label="EASGD worker, closed form")
    ax.errorbar(pts, [m[0] for m in mcw], yerr=[[m[0] - m[1] for m in mcw], [m[2] - m[0] for m in mcw]],
                fmt="^", capsize=3, color="C1", label="EASGD worker, Monte Carlo (same runs)")
    ax.plot(line, thm, ":", color="C2", lw=1.5, label="moving-average SGD (α = 0, same β)")
    ax.axhline(sgd, ls="--", color="k", lw=1, label=f"minibatch-{p} SGD, ησ²/(ph(2−ηh))")
    ax.errorbar([line[-1] * 1.03], [v], yerr=[[v - lo], [hi - v]], fmt="s", color="k", capsize=3,
                label="minibatch SGD, Monte Carlo (placed at right edge)")
    ax.set_xlabel("ρ (α = ηρ, β = pα)")
    ax.set_ylabel("stationary variance")
    ax.set_title(f"Synchronous EASGD on x²/2 + noise: p={p}, η={eta}, σ={s}", fontsize=10)
    ax.set_yscale("log")
    ax.legend(loc="lower right", fontsize=7)
    return style.save(fig, Path(out_dir), "easgd_variance_vs_rho")


if __name__ == "__main__":
    print(make(Path("results/paper_figs")))
