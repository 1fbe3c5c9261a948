"""The LGD descent bound (Theorem 2 of Teng et al., NeurIPS 2019; docs/theory.md §7): exact
E f(x⁺) − bound, relative to max(1, |bound|), on random quadratics inside the theorem's
assumptions, against λ/m; drawn from the evidence of claim lsgd.descent_bound_t2.

Blue: the LGD step (pull to the leader) — never above 0. Orange: the same step without its
leader pull (plain SGD) against the same bound — above 0 in part of the cases, so the bound's
leader term −ηλ(f(x) − f(z)) is not vacuous. Signed values on a symmetric-log axis.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from paper_figs import style

CLAIMS = ("lsgd.descent_bound_t2",)


def draw(evidence, out_dir) -> list[Path]:
    style.apply()
    import matplotlib.pyplot as plt
    d = evidence[CLAIMS[0]].data
    r = np.asarray(d["lam"]) / np.asarray(d["m"])
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    ax.plot(r, d["excess"], "o", ms=3, alpha=0.6, color=style.OKABE_ITO[0], label="LGD step")
    sgd = np.asarray(d["sgd_excess"])
    ax.plot(r, sgd, "^", ms=3, alpha=0.6, color=style.OKABE_ITO[1],
            label=f"without the leader pull (plain SGD): above in {100 * np.mean(sgd > 1e-12):.0f}%")
    ax.axhline(0, color="k", lw=1, label="the bound")
    ax.set_xscale("log")
    ax.set_yscale("symlog", linthresh=1e-3)
    ax.set_xlabel("λ / m (leader pull / strong convexity)")
    ax.set_ylabel("(E f(x⁺) − f*) − bound, relative")
    ax.set_title(f"Theorem 2 on {len(r)} random quadratics (exact expectations)", fontsize=9)
    ax.legend(fontsize=8)
    return style.save(fig, Path(out_dir), "lsgd_descent_bound")
