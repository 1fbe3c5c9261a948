"""Flat-well occupancy on double_gaussian (c = 0.05; sharp well at −1, flat at 1.5): left, the
potential V and the effective potential J_eff = V + ½V''Σ_dis of consensus (D-SGD; ring K = 8,
Σ_dis per well, docs/theory.md §2, derived) with their Boltzmann densities at D_c; right, the
flat-well occupancy of C-SGD and D-SGD: predictions (Boltzmann, exact chain, chain + J_eff odds
shift; light bars) and Monte Carlo (dark bars, 95% t-interval). Data: flatness.flat_well_occupancy."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .style import OKABE_ITO, save

CLAIMS = ("flatness.flat_well_occupancy",)


def potential_panel(ax, th, methods, D_c):
    """V and each method's J_eff with Boltzmann densities (shaded) at D_c, barrier dotted."""
    x = np.asarray(th["curve"]["x"])
    curves = [("V (C-SGD)", np.asarray(th["curve"]["V"]), OKABE_ITO[0])]
    for i, (m, word) in enumerate(methods):
        curves.append((f"J_eff = V + ½V''Σ_dis ({word})", np.asarray(th[m]["J_eff"]), OKABE_ITO[i + 1]))
    for lab, f, c in curves:
        ax.plot(x, f, color=c, label=lab)
        p = np.exp(-(f - f.min()) / D_c)
        ax.fill_between(x, -1.2, -1.2 + 0.6 * p / p.max(), color=c, alpha=0.2)
    ax.axvline(th["barrier"], color="k", lw=0.8, ls=":", label="barrier")
    ax.set_xlabel("x (centroid)")
    ax.set_ylabel("potential; shaded: Boltzmann density at D_c")
    ax.legend(fontsize=7)


def bars_panel(ax, items):
    """items: (label, value or [v, lo, hi], colour); intervals drawn, point values light."""
    for i, (lab, v, c) in enumerate(items):
        mc = isinstance(v, (list, tuple))
        p = v[0] if mc else v
        ax.barh(i, p, color=c, alpha=0.9 if mc else 0.4)
        if mc:
            ax.errorbar(p, i, xerr=[[p - v[1]], [v[2] - p]], fmt="k.", capsize=3)
    ax.set_yticks(range(len(items)), [it[0] for it in items], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)


def occupancy_figure(d, methods, bars, title: str, stem: str, out_dir) -> list[Path]:
    """Left: V and the J_eff of `methods` [(key, label)]; right: `bars` [(label, value, colour)]
    of flat-well occupancy; `title` over the bars."""
    import matplotlib.pyplot as plt
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10.5, 4.0))
    potential_panel(a1, d["theory"], methods, d["D_c"])
    bars_panel(a2, bars)
    well = "flat" if d.get("flat_well", "right") == "right" else "sharp (premise reversed)"
    a2.set_xlabel(f"occupancy of the {well} well")
    a2.set_title(title, fontsize=9)
    return save(fig, out_dir, stem)


def draw(evidence, out_dir) -> list[Path]:
    d = evidence[CLAIMS[0]].data
    th, dd = d["theory"], d["difference"]
    c0, c1 = OKABE_ITO[0], OKABE_ITO[1]
    bars = [("C-SGD: Boltzmann of V", th["boltzmann_V"], c0),
            ("C-SGD: exact chain", th["chain"], c0),
            ("C-SGD: Monte Carlo (95%)", d["occupancy"]["csgd"], c0),
            ("D-SGD: Boltzmann of J_eff", th["dsgd"]["boltzmann_J_eff"], c1),
            ("D-SGD: chain + J_eff odds shift", th["dsgd"]["chain_J_eff_shift"], c1),
            ("D-SGD: Monte Carlo (95%)", d["occupancy"]["dsgd"], c1)]
    title = (f"ring K = {d['K']}, η = {d['eta']}, D_c = {d['D_c']}; "
             f"D-SGD − C-SGD = {dd[0]:+.3f} [{dd[1]:+.3f}, {dd[2]:+.3f}]")
    return occupancy_figure(d, [("dsgd", "consensus (D-SGD)")], bars, title, "flatness_occupancy", out_dir)
