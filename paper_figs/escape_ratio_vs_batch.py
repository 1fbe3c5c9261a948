"""Decentralised / centralised mean escape time of the centroid against the per-worker batch B
under the linear scaling rule η ∝ KB (quartic, ring K = 8 in quick mode): first-order prediction
exp(½(h_b − h_a)Σ_dis/D_c) (THEORY.md §2 [derived]; lines) and Monte Carlo over the exact
centralised chain (markers, 95% CI). Data: the claim flatness.decentralised_escape_faster."""
from __future__ import annotations

from pathlib import Path

from verify.claims import Context, interval, point
from verify.claims_flatness import decentralised_escape_faster

from .style import save


def make(out_dir, quick: bool = False) -> list[Path]:
    import matplotlib.pyplot as plt
    ev = decentralised_escape_faster(Context(quick=quick))
    fig, ax = plt.subplots(figsize=(6.0, 4.2))
    series = {}
    for k, v in ev.measured.items():
        if k.endswith("/ratio"):
            g, b, meth, _ = k.split("/")
            series.setdefault((g, meth), []).append((int(b[2:]), v, ev.predicted[k]))
    for n, ((g, meth), pts) in enumerate(sorted(series.items())):
        pts.sort()
        Bs = [p[0] for p in pts]
        line, = ax.plot(Bs, [p[2] for p in pts], "--", alpha=0.7,
                        label=f"{g} {'consensus' if meth == 'dsgd' else 'ATC'} predicted")
        m = [point(p[1]) for p in pts]
        lo = [m_ - interval(p[1])[0] for m_, p in zip(m, pts)]
        hi = [interval(p[1])[1] - m_ for m_, p in zip(m, pts)]
        ax.errorbar(Bs, m, yerr=[lo, hi], fmt="o", color=line.get_color(), capsize=3,
                    label=f"{g} {'consensus' if meth == 'dsgd' else 'ATC'} Monte Carlo")
    ax.axhline(1.0, color="k", lw=0.8)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("per-worker batch B (η = 0.05·B, D_c fixed)")
    ax.set_ylabel("τ_dec / τ_centralised")
    ax.set_title("Escape-time ratio vs batch (centroid escape, quartic)")
    ax.legend(fontsize=7)
    return save(fig, out_dir, "escape_ratio_vs_batch")
