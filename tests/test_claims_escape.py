"""Escape / flatness claims: helpers against closed forms, registration, and (slow) every claim
run in quick mode returning a verdict."""
import math

import numpy as np
import pytest
from scipy.stats import norm

from verify.catalog import load
from verify.claims import VERDICTS, Context
from verify.claims_escape import DG_SHARP, QUARTIC, chain_grid, laplace_c1, mfpt_interval
from verify.claims_flatness import boltzmann_flat, chain_stationary_flat, closed_form_excess

IDS = ["escape.chain_vs_monte_carlo", "escape.kramers_asymptotic",
       "flatness.decentralised_escape_faster", "flatness.flat_well_occupancy",
       "flatness.excess_risk_ordering"]


def test_registered():
    reg = load()
    for cid in IDS:
        assert cid in reg


@pytest.mark.parametrize("x0,D", [(0.3, 0.5), (-0.5, 2.0)])
def test_mfpt_interval_free_diffusion(x0, D):
    """V = 0 on (L, M), both absorbing: T(x) = (x − L)(M − x)/(2D)."""
    L, M = -1.0, 2.0
    got = mfpt_interval(lambda x: np.zeros_like(x), x0, L, M, D)
    assert got == pytest.approx((x0 - L) * (M - x0) / (2 * D), rel=1e-6)


def test_mfpt_interval_linear_drift():
    """V = a x (constant drift −a): T solves D T'' − a T' = −1, T(L) = T(M) = 0:
    T(x) = (x − L)/a − (M − L)/a · (e^{a(x−L)/D} − 1)/(e^{a(M−L)/D} − 1)."""
    a, D, L, M, x0 = 0.7, 0.4, 0.0, 1.5, 0.6
    want = (x0 - L) / a - (M - L) / a * math.expm1(a * (x0 - L) / D) / math.expm1(a * (M - L) / D)
    assert mfpt_interval(lambda x: a * x, x0, L, M, D) == pytest.approx(want, rel=1e-6)


def test_laplace_c1_quartic():
    """By hand: V = x⁴/4 − x²/2 at a = −1: V'' = 2, V''' = −6, V'''' = 6 → 5·36/192 − 6/32 = 0.75;
    −V at b = 0: U'' = 1, U''' = 0, U'''' = −6 → 0.75; c₁ = 1.5."""
    # rel 1e-4: laplace_c1 takes derivatives by central differences with h = 1e-2, error O(h²)
    assert laplace_c1(lambda x: x ** 4 / 4 - x ** 2 / 2, -1.0, 0.0) == pytest.approx(1.5, rel=1e-4)


def test_chain_grid_edges():
    s = 0.05
    for case in (QUARTIC, DG_SHARP):
        x = chain_grid(case, s)
        d = x[1] - x[0]
        assert d <= s / 20 * (1 + 1e-9)
        for edge in (case.L, case.M):
            if math.isfinite(edge):
                k = (edge - (x[0] - d / 2)) / d
                assert abs(k - round(k)) < 1e-6


def test_stationary_helpers_gaussian():
    """V = ½hx²: Boltzmann mass above b is Φ(−b√(h/D)); discrete x' = (1 − ηh)x + sξ has the
    Gaussian stationary law of variance s²/(1 − (1 − ηh)²)."""
    h, D, b, eta = 2.0, 0.3, 0.2, 0.4
    assert boltzmann_flat(lambda x: 0.5 * h * x ** 2, b, D) == pytest.approx(norm.sf(b * math.sqrt(h / D)), rel=1e-5)
    s = math.sqrt(2 * D * eta)
    sd = s / math.sqrt(1 - (1 - eta * h) ** 2)
    exact = norm.sf(b / sd)
    g10, g20 = (chain_stationary_flat(lambda x: h * x, eta, s, b, lo=-4, hi=4, per_s=n) for n in (10, 20))
    # grid error O(Δ²) (THEORY.md §2): halving Δ quarters it, and Richardson removes it
    assert 3.5 < (g10 - exact) / (g20 - exact) < 4.5
    assert abs((4 * g20 - g10) / 3 - exact) < 1e-2 * abs(g20 - exact)


def test_closed_form_excess_centralised():
    """Scalar: ηr/(2KB(2 − ηh)) (THEORY.md §3)."""
    assert closed_form_excess("csgd", [1, 0.5], 0.1, 2.0, 3.0, 2, 4) == pytest.approx(0.1 * 3 / (2 * 4 * 2 * 1.8))
    with pytest.raises(ValueError, match="method"):
        closed_form_excess("nope", [1, 0.5], 0.1, 2.0, 3.0, 2, 4)


@pytest.mark.slow
@pytest.mark.parametrize("cid", IDS)
def test_claim_quick_returns_verdict(cid, tmp_path):
    reg = load()
    ev = reg[cid].run(Context(quick=True, out_dir=tmp_path))
    assert ev.verdict in VERDICTS and ev.verdict != "error"
    assert ev.predicted and ev.measured
