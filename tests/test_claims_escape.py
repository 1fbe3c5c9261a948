"""Escape / flatness claims: helpers against closed forms and independent solvers, the interval
choice of the Monte Carlo summary, zero-escape samples, registration, and (slow) every claim run
in quick mode returning a verdict."""
import math

import numpy as np
import pytest
from scipy.linalg import solve_discrete_lyapunov
from scipy.stats import norm

from dynamics import topology as T
from verify.catalog import load
from verify.claims import VERDICTS, Context
from verify.claims_escape import corrected_steps, laplace_c1
from verify.claims_flatness import _estimand, boltzmann_flat, chain_stationary_flat, closed_form_excess
from verify import experiments_escape as xe

IDS = ["escape.chain_vs_monte_carlo", "escape.kramers_asymptotic",
       "flatness.decentralised_escape_faster", "flatness.flat_well_occupancy",
       "flatness.consensus_vs_diffusion_flatness", "flatness.excess_risk_ordering",
       "flatness.accuracy_flatness_and_error", "flatness.diffusion_better_balance"]


def test_registered():
    reg = load()
    for cid in IDS:
        assert cid in reg


def test_toolkit_checks_are_not_attributed_to_the_paper():
    reg = load()
    assert reg["escape.chain_vs_monte_carlo"].paper.startswith("toolkit check")
    assert reg["escape.kramers_asymptotic"].paper.startswith("textbook")
    for cid in IDS[:2]:
        assert "Cao" not in reg[cid].paper


@pytest.mark.parametrize("x0,D", [(0.3, 0.5), (-0.5, 2.0)])
def test_mfpt_interval_free_diffusion(x0, D):
    """V = 0 on (L, M), both absorbing: T(x) = (x − L)(M − x)/(2D)."""
    L, M = -1.0, 2.0
    got = xe.mfpt_interval(lambda x: np.zeros_like(x), x0, L, M, D)
    assert got == pytest.approx((x0 - L) * (M - x0) / (2 * D), rel=1e-6)


def test_mfpt_interval_linear_drift():
    """V = a x (constant drift −a): T solves D T'' − a T' = −1, T(L) = T(M) = 0:
    T(x) = (x − L)/a − (M − L)/a · (e^{a(x−L)/D} − 1)/(e^{a(M−L)/D} − 1)."""
    a, D, L, M, x0 = 0.7, 0.4, 0.0, 1.5, 0.6
    want = (x0 - L) / a - (M - L) / a * math.expm1(a * (x0 - L) / D) / math.expm1(a * (M - L) / D)
    assert xe.mfpt_interval(lambda x: a * x, x0, L, M, D) == pytest.approx(want, rel=1e-6)


def test_laplace_c1_quartic():
    """By hand: V = x⁴/4 − x²/2 at a = −1: V'' = 2, V''' = −6, V'''' = 6 → 5·36/192 − 6/32 = 0.75;
    −V at b = 0: U'' = 1, U''' = 0, U'''' = −6 → 0.75; c₁ = 1.5."""
    # rel 1e-4: laplace_c1 takes derivatives by central differences with h = 1e-2, error O(h²)
    assert laplace_c1(lambda x: x ** 4 / 4 - x ** 2 / 2, -1.0, 0.0) == pytest.approx(1.5, rel=1e-4)


def test_chain_grid_edges():
    s = 0.05
    for case in (xe.QUARTIC, xe.DG_SHARP):
        x = xe.chain_grid(case, s)
        d = x[1] - x[0]
        assert d <= s / 20 * (1 + 1e-9)
        for edge in (case.L, case.M):
            if math.isfinite(edge):
                k = (edge - (x[0] - d / 2)) / d
                assert abs(k - round(k)) < 1e-6


def test_chain_target_geometric():
    """Geometric exit (per-step probability p): S(n) = (1 − p)^n, so Σ_{n<c} S(n) = (1 − q^c)/p
    and the censored mean is that over 1 − q^c, i.e. 1/p exactly."""
    p, cap = 0.03, 40
    S = (1 - p) ** np.arange(cap + 1)
    assert xe.chain_target(S, cap, "poisson") == pytest.approx(1 / p, rel=1e-12)
    assert xe.chain_target(S, cap, "km-bootstrap") == pytest.approx((1 - (1 - p) ** cap) / p, rel=1e-12)
    with pytest.raises(ValueError, match="method"):
        xe.chain_target(S, cap, "nope")
    with pytest.raises(ValueError, match="survival"):
        xe.chain_target(S[:10], cap, "poisson")


def test_finite_step_correction_is_a_rate_correction():
    """docs/theory.md §2: the factor 1 + (η/4)(Tr H_a − Tr H_b − 2|λ_b|) multiplies the RATE, so
    the mean time is divided by it. Quartic (factor 1 + η/4): the exact discrete chain at small η
    is closer to τ₀/(1 + η/4) than to τ₀ or τ₀(1 + η/4). The chain is an independent solver."""
    D = 0.05
    for eta in (0.02, 0.05):
        chain = xe.chain_escape(xe.QUARTIC, eta, D)[0].mean
        k0 = xe.continuous_steps(xe.QUARTIC, eta, D)
        on_rate, fs = corrected_steps(k0, eta, xe.QUARTIC)
        on_time, _ = corrected_steps(k0, eta, xe.QUARTIC, on_time=True)
        assert on_rate == pytest.approx(k0 / (1 + eta / 4), rel=1e-12)
        assert on_time == pytest.approx(k0 * (1 + eta / 4), rel=1e-12)
        assert abs(on_rate - chain) < abs(k0 - chain) < abs(on_time - chain)
        assert fs.regime["valid"]


def test_censored_mean_interval_choice():
    """Exponential times keep the exact Poisson interval; times with a long plateau (a shifted
    exponential, CV < 1) are rejected by KS and get the Kaplan–Meier bootstrap, whose point value
    is mean(min(T, cap)) (computed here by hand)."""
    rng = np.random.default_rng(0)
    cap = 400
    t = np.ceil(rng.exponential(100.0, 3000))
    t[t > cap] = np.inf
    e = xe.censored_mean(t, cap)
    assert e["method"] == "poisson"
    seen = np.isfinite(t)
    assert e["value"] == pytest.approx(np.minimum(t, cap).sum() / seen.sum(), rel=1e-12)
    t2 = np.ceil(150 + rng.exponential(30.0, 3000))
    t2[t2 > cap] = np.inf
    k = xe.censored_mean(t2, cap)
    assert k["method"] == "km-bootstrap"
    assert k["value"] == pytest.approx(np.minimum(t2, cap).mean(), rel=1e-12)
    assert k["ci_low"] < k["value"] < k["ci_high"]


def test_zero_escapes_give_a_censored_bound():
    """No escape in the sample: mean inf, a finite lower bound (the Poisson upper rate limit),
    no ZeroDivisionError — in the summary, in a real Monte Carlo run and in the ratio estimand."""
    cap, R = 50, 30
    e = xe.censored_mean(np.full(R, np.inf), cap)
    # Garwood: with 0 events the upper rate limit is χ²_2(0.975)/(2T) = −ln(0.025)/T
    assert e["value"] == math.inf and e["ci_high"] == math.inf
    assert e["ci_low"] == pytest.approx(R * cap / -math.log(0.025), rel=1e-9)
    smp = xe.mc_escape(xe.QUARTIC, 0.05, 0.01, 20, 16, seed=0)  # ΔV/D = 25, 20 steps: no escape
    assert smp.escapes == 0 and math.isfinite(smp.mean["ci_low"]) and smp.mean["value"] == math.inf
    assert _estimand(smp.times, 20, "poisson") == math.inf


def test_stationary_helpers_gaussian():
    """V = ½hx²: Boltzmann mass above b is Φ(−b√(h/D)); discrete x' = (1 − ηh)x + sξ has the
    Gaussian stationary law of variance s²/(1 − (1 − ηh)²)."""
    h, D, b, eta = 2.0, 0.3, 0.2, 0.4
    assert boltzmann_flat(lambda x: 0.5 * h * x ** 2, b, D) == pytest.approx(norm.sf(b * math.sqrt(h / D)), rel=1e-5)
    s = math.sqrt(2 * D * eta)
    sd = s / math.sqrt(1 - (1 - eta * h) ** 2)
    exact = norm.sf(b / sd)
    g10, g20 = (chain_stationary_flat(lambda x: h * x, eta, s, b, lo=-4, hi=4, per_s=n) for n in (10, 20))
    # grid error O(Δ²) (docs/theory.md §2): halving Δ quarters it, and Richardson removes it
    assert 3.5 < (g10 - exact) / (g20 - exact) < 4.5
    assert abs((4 * g20 - g10) / 3 - exact) < 1e-2 * abs(g20 - exact)


def test_closed_form_excess_centralised():
    """Scalar: ηr/(2KB(2 − ηh)) (docs/theory.md §3)."""
    assert closed_form_excess("csgd", [1, 0.5], 0.1, 2.0, 3.0, 2, 4) == pytest.approx(0.1 * 3 / (2 * 4 * 2 * 1.8))
    with pytest.raises(ValueError, match="method"):
        closed_form_excess("nope", [1, 0.5], 0.1, 2.0, 3.0, 2, 4)


@pytest.mark.parametrize("K,eta", [(8, 0.1), (5, 0.3), (4, 0.2)])
def test_closed_form_excess_matches_explicit_lyapunov(K, eta):
    """Network excess risk ½h·(1/K)Σ_k E x_k² of the explicit linear recursions (docs/theory.md §3:
    consensus F = W − ηhI, G = I; ATC F = (1 − ηh)W, G = W; CTA F = (1 − ηh)W, G = I; C-SGD the
    average of the K noises), each solved by scipy's discrete Lyapunov solver."""
    h, r, B = 1.3, 0.7, 2
    W = T.ring(K).W(0).numpy()
    I = np.eye(K)
    q = eta ** 2 * r / B
    systems = {"dsgd": (W - eta * h * I, I), "atc": ((1 - eta * h) * W, W), "cta": ((1 - eta * h) * W, I),
               "csgd": ((1 - eta * h) * I, np.ones((K, K)) / K)}
    lams = np.linalg.eigvalsh(W)
    for meth, (F, G) in systems.items():
        P = solve_discrete_lyapunov(F, q * G @ G.T)
        want = 0.5 * h * np.trace(P) / K
        assert closed_form_excess(meth, lams, eta, h, r, B, K) == pytest.approx(want, rel=1e-9), meth


@pytest.mark.slow
@pytest.mark.parametrize("cid", IDS)
def test_claim_quick_returns_verdict(cid, tmp_path):
    reg = load()
    ev = reg[cid].run(Context(quick=True, out_dir=tmp_path))
    assert ev.verdict in VERDICTS and ev.verdict != "error"
    assert ev.measured and ev.headline and ev.finding and ev.data
