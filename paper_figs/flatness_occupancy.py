"""Flat-well occupancy on double_gaussian (c = 0.05; sharp well at −1, flat at 1.5): left, the
potential V and the effective potential J_eff = V + ½V''Σ_dis of D-SGD (ring K = 8, Σ_dis per
well, THEORY.md §2 [derived]) with their Boltzmann densities at D_c; right, the flat-well
occupancy of C-SGD and D-SGD: predictions (Boltzmann, exact chain, chain + J_eff odds shift)
and Monte Carlo (95% t-interval). Data: the claim flatness.flat_well_occupancy."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from dynamics import topology as T
from verify.claims import Context, interval, point
from verify.claims_flatness import _dg, _np1, flat_well_occupancy, sigma_dis

from .style import OKABE_ITO, save


def make(out_dir, quick: bool = False) -> list[Path]:
    import matplotlib.pyplot as plt
    ev = flat_well_occupancy(Context(quick=quick))
    land, b, mins = _dg()
    D_c, eta, K = ev.regime["D_c"], ev.regime["eta"], ev.regime["K"]
    V, H = _np1(land.f), _np1(lambda x: land.hess(x)[..., 0, 0])
    S = {float(c.x[0]): sigma_dis("dsgd", T.ring(K), eta, float(c.hessian_eigvals[0]), 2 * eta * D_c * K)
         for c in mins}
    x = np.linspace(-2.5, 4.5, 1401)
    J = V(x) + 0.5 * H(x) * np.where(x < b, S[min(S)], S[max(S)])
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10.5, 4.0))
    a1.plot(x, V(x), label="V (C-SGD)")
    a1.plot(x, J, label="J_eff = V + ½V''Σ_dis (D-SGD)")
    for f, c in ((V(x), OKABE_ITO[0]), (J, OKABE_ITO[1])):
        p = np.exp(-(f - f.min()) / D_c)
        a1.fill_between(x, -1.2, -1.2 + 0.6 * p / p.max(), color=c, alpha=0.25)
    a1.axvline(b, color="k", lw=0.8, ls=":")
    a1.set_xlabel("x (centroid)")
    a1.set_ylabel("potential; shaded: Boltzmann density at D_c")
    a1.legend(fontsize=7)
    labels = ["C-SGD: Boltzmann V", "C-SGD: exact chain", "C-SGD: Monte Carlo",
              "D-SGD: Boltzmann J_eff", "D-SGD: chain + J_eff shift", "D-SGD: Monte Carlo"]
    pr, me = ev.predicted, ev.measured
    vals = [pr["csgd/boltzmann_V"], pr["csgd/chain_exact"], me["csgd/occupancy"],
            pr["dsgd/boltzmann_J_eff"], pr["dsgd/chain_with_J_eff_odds_shift"], me["dsgd/occupancy"]]
    cols = [OKABE_ITO[0]] * 3 + [OKABE_ITO[1]] * 3
    for i, (v, c) in enumerate(zip(vals, cols)):
        mc = isinstance(v, dict)
        a2.barh(i, point(v), color=c, alpha=0.9 if mc else 0.45)
        if mc:
            lo, hi = interval(v)
            a2.errorbar(point(v), i, xerr=[[point(v) - lo], [hi - point(v)]], fmt="k.", capsize=3)
    a2.set_yticks(range(6), labels, fontsize=8)
    a2.invert_yaxis()
    a2.set_xlim(0, 1)
    a2.set_xlabel("flat-well occupancy P(x̄ > barrier)")
    a2.set_title(f"ring K={K}, η={eta}, D_c={D_c}")
    return save(fig, out_dir, "flatness_occupancy")
