"""LSGD against EASGD and periodic averaging at equal τ = 4, and multi-leader against
single-leader LSGD at τ = 16 (docs/theory.md §7; Teng et al., NeurIPS 2019): drawn from the
evidence of claims lsgd.convergence_speed and lsgd.multi_leader.

Rows: Rastrigin and Styblinski–Tang (d = 4, K = 8, isotropic gradient noise). Columns: f(model)
− f* against steps; the same against bytes sent (vectors per step × d × 8 bytes, cumulative);
multi-leader (2 groups, local leaders every 4 steps) against single-leader LSGD. Model = leader
(LSGD), center (EASGD), average (periodic averaging); lines are means over replicas, bands 95%
t-intervals.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from paper_figs import style

CLAIMS = ("lsgd.convergence_speed", "lsgd.multi_leader")


def _band(ax, x, c, label, color=None):
    mu, lo, hi = (np.asarray(c[k], float) for k in ("mean", "ci_low", "ci_high"))
    ln, = ax.plot(x, mu, label=label, color=color)
    ax.fill_between(x, np.maximum(lo, 1e-12), hi, color=ln.get_color(), alpha=0.2)


def draw(evidence, out_dir) -> list[Path]:
    style.apply()
    import matplotlib.pyplot as plt
    sp = evidence[CLAIMS[0]].data
    ml = evidence[CLAIMS[1]].data if CLAIMS[1] in evidence else None
    lands = list(sp["curves"])
    ncol = 3 if ml else 2
    fig, axes = plt.subplots(len(lands), ncol, figsize=(4.4 * ncol, 3.4 * len(lands)), squeeze=False)
    for row, name in enumerate(lands):
        for j, (mname, c) in enumerate(sp["curves"][name].items()):
            t = np.maximum(np.asarray(c["t"], float), 1)
            _band(axes[row, 0], t, c, sp["labels"][mname], style.OKABE_ITO[j])
            _band(axes[row, 1], np.maximum(t * c["bytes_per_step"], 1), c, sp["labels"][mname], style.OKABE_ITO[j])
        axes[row, 0].set_xlabel("steps")
        axes[row, 1].set_xlabel("bytes sent (all workers, float64)")
        axes[row, 0].set_title(f"{name.replace('_', '–').title()}: same period τ = {sp['tau']}", fontsize=9)
        if ml:
            for j, (mname, c) in enumerate(ml["curves"][name].items()):
                _band(axes[row, 2], np.maximum(np.asarray(c["t"], float), 1), c, ml["labels"][mname],
                      style.OKABE_ITO[4 + j])
            axes[row, 2].set_xlabel("steps")
            axes[row, 2].set_title(f"leaders: global every τ = {ml['tau']}, local every {ml['tau_local']}",
                                   fontsize=9)
        for ax in axes[row]:
            ax.set_yscale("log")
            ax.set_xscale("log")
            ax.set_ylabel("f(model) − f*")
    axes[0, 0].legend(fontsize=8)
    if ml:
        axes[0, 2].legend(fontsize=8)
    fig.suptitle(f"Loss of the model (K = {sp['K']} workers, d = 4, mean and 95% interval)", fontsize=10)
    return style.save(fig, Path(out_dir), "lsgd_loss_vs_steps")
