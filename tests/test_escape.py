"""Tests for analysis.escape / kolmogorov / markov (docs/theory.md §2)."""
import math

import mpmath
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from analysis import escape as es

V4 = lambda x: x ** 4 / 4 - x ** 2 / 2
G4 = lambda x: x ** 3 - x
RHO = float(-mpmath.zeta(0.5) / mpmath.sqrt(2 * mpmath.pi))  # Siegmund: Gaussian overshoot mean / s


def test_mfpt_1d_closed_forms():
    # Brownian motion reflected at 0, absorbed at M: E tau = (M^2 - x0^2)/(2D),
    # E tau^2 = (5M^4 - 6M^2 x0^2 + x0^4)/(12 D^2) (solve L tau2 = -2 tau by hand).
    D, M, x0 = 0.5, 2.0, 0.3
    r = es.mfpt_1d(lambda x: 0 * x, x0, M, D, left=0.0, second=True)
    assert r.mean == pytest.approx((M ** 2 - x0 ** 2) / (2 * D), rel=1e-9)
    assert r.second == pytest.approx((5 * M ** 4 - 6 * M ** 2 * x0 ** 2 + x0 ** 4) / (12 * D ** 2),
                                     rel=1e-8)
    # linear potential V = a x, reflect at 0: E tau = (1/a)[(D/a)(e^{aM/D} - e^{a x0/D}) - (M - x0)]
    a = 1.3
    exact = ((D / a) * (np.exp(a * M / D) - np.exp(a * x0 / D)) - (M - x0)) / a
    assert es.mfpt_1d(lambda x: a * x, x0, M, D, left=0.0).mean == pytest.approx(exact, rel=1e-8)


def test_mfpt_1d_state_dependent_equals_constant_and_mirror():
    const = es.mfpt_1d(V4, -1.0, 0.3, 0.2, left=-2.5)
    dep = es.mfpt_1d(V4, -1.0, 0.3, lambda x: 0.2 + 0 * x, left=-2.5, grad=G4)
    assert dep.mean == pytest.approx(const.mean, rel=1e-7)
    mir = es.mfpt_1d(V4, 1.0, -0.3, 0.2, left=2.5)  # symmetric potential, escape to the left
    assert mir.mean == pytest.approx(const.mean, rel=1e-9)


def test_kramers_error_shrinks_on_quartic():
    """Exact/Kramers -> 1 as D -> 0, absorbing past the saddle; -> 1/2 absorbing at it."""
    kr = lambda D: es.kramers_time(2.0, -1.0, 0.25, D).value
    ratios = {M: [] for M in (0.0, 0.5, 1.0)}
    for q in (2.5, 5.0, 10.0, 20.0):
        D = 0.25 / q
        for M in ratios:
            ratios[M].append(es.mfpt_1d(V4, -1.0, M, D).mean / kr(D))
    for M, target in ((0.5, 1.0), (1.0, 1.0), (0.0, 0.5)):
        err = np.abs(np.array(ratios[M]) - target)
        assert np.all(np.diff(err) < 0), (M, ratios[M])
    # the ratios themselves (docs/theory.md §2 quotes ~1.08 at dV/D = 2.5-5, ~1.04 at 10) against an
    # independent evaluation of the exact double integral by adaptive quadrature (scipy.quad)
    for i, q in enumerate((2.5, 5.0, 10.0, 20.0)):
        D = 0.25 / q
        for M, r in ratios.items():
            assert r[i] == pytest.approx(_mfpt_quad(D, M) / kr(D), rel=1e-8), (q, M)


def _mfpt_quad(D, M, x0=-1.0, lo=-3.0):
    """E tau = (1/D) int_{x0}^{M} e^{V(x)/D} int_{lo}^{x} e^{-V(y)/D} dy dx for V4 (docs/theory.md §2);
    the wall at -3 is exact to e^{-16/D} (V(-3) - V(-1) = 16)."""
    from scipy.integrate import quad
    vmin = V4(-1.0)

    def inner(x):
        pts = [-1.0] if lo < -1.0 < x else None
        return quad(lambda y: np.exp(-(V4(y) - vmin) / D), lo, x, points=pts, epsabs=0, epsrel=1e-12,
                    limit=200)[0]
    pts = [0.0] if x0 < 0.0 < M else None
    return quad(lambda x: np.exp((V4(x) - vmin) / D) * inner(x), x0, M, points=pts, epsabs=0,
                epsrel=1e-12, limit=200)[0] / D


def test_kramers_multi_rates_add():
    one = es.kramers_time(np.diag([2.0, 3.0]), np.diag([-1.0, 4.0]), 0.3, 0.05).value
    two = es.kramers_multi(np.diag([2.0, 3.0]), [(np.diag([-1.0, 4.0]), 0.3)] * 2, 0.05).value
    assert two == pytest.approx(one / 2, rel=1e-12)
    assert one == pytest.approx(2 * np.pi * np.sqrt(4 / 6) * np.exp(6.0), rel=1e-12)


def _separable_2d(h, richardson):
    grad = lambda p: np.stack([p[:, 0] ** 3 - p[:, 0], 2.0 * p[:, 1]], 1)
    return es.mfpt_2d(grad, 0.25, ((-2.0, 0.0), (-1.0, 1.0)), lambda p: p[:, 0] >= -1e-12,
                      h, (-1.0, 0.2), richardson=richardson)


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_mfpt_2d_separable_matches_1d_and_converges_h2():
    ref = es.mfpt_1d(V4, -1.0, 0.0, 0.25, left=-2.0).mean
    e1 = abs(_separable_2d(0.1, False).mean - ref)
    e2 = abs(_separable_2d(0.05, False).mean - ref)
    assert 3.5 < e1 / e2 < 4.5
    r = _separable_2d(0.05, True)
    assert abs(r.mean - ref) <= r.err


def test_mfpt_2d_full_matrix_rotation_invariant():
    # isotropic quadratic well rotated: a full D matrix with the rotated frame gives the
    # same answer as the diagonal one when V and the absorbing set are rotation-compatible.
    ref = _separable_2d(0.05, False).mean
    r = es.mfpt_2d(lambda p: np.stack([p[:, 0] ** 3 - p[:, 0], 2.0 * p[:, 1]], 1),
                   np.diag([0.25, 0.25]), ((-2.0, 0.0), (-1.0, 1.0)),
                   lambda p: p[:, 0] >= -1e-12, 0.05, (-1.0, 0.2), richardson=False)
    assert r.mean == pytest.approx(ref, rel=1e-12)


def _grid_with_edge(M, lo, d, right_cells):
    left = M - d / 2 - d * np.arange(int(np.ceil((M - lo) / d)))[::-1]
    return np.concatenate([left, M + d / 2 + d * np.arange(right_cells)])


def test_chain_small_eta_matches_quadrature():
    """Chain x eta -> SDE time with the discrete-monitoring shift M + RHO s (Siegmund);
    the remaining discrepancy is O(eta): it halves with eta."""
    D, M = 0.1, 0.5
    devs = []
    for eta in (0.04, 0.02):
        s = np.sqrt(2 * D * eta)
        r = es.markov_chain_1d(_grid_with_edge(M, -2.0, s / 20, (6 * 20) + 2), eta, G4, s, M, -1.0)
        assert r.err < 1e-3 * r.mean
        ref = es.mfpt_1d(V4, -1.0, M + RHO * s, D, left=-2.0).mean
        devs.append(r.mean * eta / ref - 1)
    assert abs(devs[1]) < 0.006
    assert 1.6 < devs[0] / devs[1] < 2.5


def test_chain_driftless_random_walk_wald_siegmund():
    """Zero drift, exit from (-a, a): E T s^2 = E S_T^2 = (a + R)^2 moments (Wald); the
    overshoot constant cancels in T(a2) - T(a1) = (a2 + RHO s)^2 - (a1 + RHO s)^2 (s = 1)."""
    s, d = 1.0, 1 / 20
    T = []
    for a in (8.0, 12.0):
        xs = np.arange(-a - 7 + d / 2, a + 7, d)
        T.append(es.markov_chain_1d(xs, 1.0, lambda x: 0 * x, s, lambda x: np.abs(x) > a, 0.0))
    diff = T[1].mean - T[0].mean
    assert diff == pytest.approx((12 + RHO) ** 2 - (8 + RHO) ** 2, abs=5 * (T[0].err + T[1].err) + 1e-3)


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_two_agents_no_communication_first_escape():
    """W = I: independent agents, so P(no agent escaped by n) = S_1(n)^2, E = sum_n S_1(n)^2."""
    eta, D = 0.1, 0.1
    s = np.sqrt(2 * D * eta)
    d = s / 3
    xs = np.arange(-1.8 + d / 2, 6 * s, d)  # edge at 0
    one = es.markov_chain_1d(xs, eta, G4, s, 0.0, -1.0, n_survival=4000, richardson=False)
    assert one.survival[-1] < 1e-5  # truncated tail of sum S^2 < 1e-8 relative
    two = es.markov_chain_two_agents_1d(xs, eta, G4, s, np.eye(2), 0.0, -1.0, event="first",
                                        richardson=False)
    assert two.mean == pytest.approx(np.sum(one.survival ** 2), rel=1e-6)


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_chain_2d_separable_equals_1d():
    eta, D = 0.1, 0.1
    s = np.sqrt(2 * D * eta)
    d = s / 3
    xs = np.arange(-1.8 + d / 2, 6 * s, d)
    ys = np.arange(-0.6 + d / 2, 0.6, d)
    grad = lambda p: np.stack([p[:, 0] ** 3 - p[:, 0], p[:, 1]], 1)
    two = es.markov_chain_2d(xs, ys, eta, grad, s, lambda p: p[:, 0] > 0, (-1.0, 0.0),
                             richardson=False)
    one = es.markov_chain_1d(xs, eta, G4, s, 0.0, -1.0, richardson=False, second=False)
    assert two.mean == pytest.approx(one.mean, rel=1e-8)


def test_finite_step_and_decentralised_predictions():
    # the correction multiplies a RATE: k_eta = k0 [1 + (eta/4)(Tr H_a - Tr H_b - 2|lambda_b|)]
    k = es.finite_step_correction(rate=1.0, eta=0.1, H_a=2.0, H_b=-1.0)
    assert k.value == pytest.approx(1 + 0.1 / 4 * (2 + 1 - 2)) and k.regime["valid"]
    assert not es.finite_step_correction(rate=1.0, eta=0.5, H_a=2.0, H_b=-1.0).regime["valid"]
    # 2-D (double_well_2d): Tr H_a = 10, Tr H_b = -2, |lambda_b| = 4 -> factor 1 + (eta/4)·4 = 1 + eta
    k2 = es.finite_step_correction(rate=3.0, eta=0.01, H_a=np.diag([8.0, 2.0]), H_b=np.diag([-4.0, 2.0]))
    assert k2.value == pytest.approx(3.0 * 1.01)
    with pytest.raises(TypeError):
        es.finite_step_correction(1.0, 0.1, 2.0, -1.0)  # keyword-only: a time cannot slip in by position
    # docs/theory.md §2 check: quartic (h_a = 2, h_b = -1, dV = 1/4), K = 4 ring (lambda = 1, 1/3, 1/3,
    # -1/3), eta = 0.1. By hand from §2: s2 = eta² sig2/B, D_c = eta sig2/(2KB), v_j per mode,
    # Sigma_dis = (1/K) sum_{j>=2} v_j, ratio = exp(½ Sigma_dis (h_b - h_a)/D_c) = 0.8979 (ATC),
    # 0.3570 (consensus); docs/theory.md quotes 0.896 and 0.354.
    eta, sig2, B, K, h = 0.1, 1.0, 1.0, 4, 2.0
    lams = [1, 1 / 3, 1 / 3, -1 / 3]
    Dc = es.centroid_diffusion(np.full(K, 1 / K), sig2, eta, B)
    assert Dc == pytest.approx(eta * sig2 / (2 * K * B))
    s2 = eta ** 2 * sig2 / B
    v = {"atc": lambda l: l * l * s2 / (1 - l * l * (1 - eta * h) ** 2),
         "consensus": lambda l: s2 / (1 - (l - eta * h) ** 2)}
    for scheme in ("atc", "consensus"):
        sig_dis = sum(v[scheme](l) for l in lams[1:]) / K
        _, S = es.disagreement_variance(lams, h, s2, scheme, eta=eta)
        assert S == pytest.approx(sig_dis, rel=1e-12), scheme
        r = es.predicted_escape_ratio(0.25, h, -1.0, S, Dc)
        assert r.value == pytest.approx(math.exp(0.5 * sig_dis * (-1.0 - h) / Dc), rel=1e-12), scheme
    # ATC <= CTA mode by mode (factor lambda_j^2 <= 1) and ATC < consensus here. docs/theory.md §3's
    # "consensus < CTA" is NOT universal: on this K = 4 ring with eta h = 0.2 the
    # lambda = -1/3 mode makes consensus (0.858 s2) exceed CTA (0.807 s2).
    S = [es.disagreement_variance(lams, 2.0, 1.0, sc, eta=eta)[1] for sc in ("atc", "consensus", "cta")]
    assert S[0] < S[2] and S[0] < S[1]


def test_disagreement_variance_matches_lyapunov():
    """Per-mode v against the discrete Lyapunov solution of the linear recursion (§3)."""
    from scipy.linalg import solve_discrete_lyapunov
    K, eta, h, s2 = 5, 0.2, 1.5, 0.3
    W = np.zeros((K, K))
    for i in range(K):
        W[i, i] = W[i, (i + 1) % K] = W[i, (i - 1) % K] = 1 / 3
    I, J = np.eye(K), np.ones((K, K)) / K
    cases = {"consensus": (W - eta * h * I, I), "atc": (W * (1 - eta * h), W),
             "cta": ((1 - eta * h) * W, I)}
    for scheme, (F, G) in cases.items():
        P = solve_discrete_lyapunov(F, s2 * G @ G.T)
        xi = np.trace((I - J) @ P @ (I - J)) / K
        _, S = es.disagreement_variance(np.linalg.eigvalsh(W), h, s2, scheme, eta=eta)
        assert S == pytest.approx(xi, rel=1e-10), scheme


@given(rate=st.floats(0.002, 0.05), capx=st.floats(0.4, 3.0))
def test_censored_rate_unbiased(rate, capx):
    rng = np.random.default_rng(1234)
    cap = int(np.ceil(capx / rate))
    M, R = 100, 800
    est = []
    for _ in range(M):
        steps = rng.geometric(rate, size=R).astype(float)
        steps[steps > cap] = np.nan
        est.append(es.censored_exponential_rate(steps, cap=cap).rate)
    est = np.array(est)
    se = est.std(ddof=1) / np.sqrt(M)
    assert abs(est.mean() - rate) < 3.5 * se


def test_censored_rate_ci_and_helper():
    n, T = es.observed_steps([3, None, np.nan, 7, 20], cap=10)
    assert (n, T) == (2, 3 + 10 + 10 + 7 + 10)
    r = es.censored_exponential_rate(5, 1000.0)
    from scipy.stats import poisson
    assert poisson.sf(4, r.lo * 1000) == pytest.approx(0.025, rel=1e-6)
    assert poisson.cdf(5, r.hi * 1000) == pytest.approx(0.025, rel=1e-6)


@pytest.mark.parametrize("call, name", [
    (lambda: es.mfpt_1d(V4, -1.0, 0.0, 0.0), "D"),
    (lambda: es.mfpt_2d(lambda p: p, 0.1, ((0, 1), (0, 1)), lambda p: p[:, 0] > 0.5, -0.1, (0.2, 0.2)), "h"),
    (lambda: es.markov_chain_1d(np.linspace(-1, 1, 11), 0.0, G4, 0.1, 0.5, 0.0), "eta"),
    (lambda: es.kramers_time(2.0, -1.0, 0.25, -1.0), "D"),
    (lambda: es.finite_step_correction(rate=1.0, eta=-0.1, H_a=2.0, H_b=-1.0), "eta"),
    (lambda: es.finite_step_correction(rate=0.0, eta=0.1, H_a=2.0, H_b=-1.0), "rate"),
    (lambda: es.disagreement_variance([1, 0.5], 1.0, 1.0, "bogus", eta=0.1), "scheme"),
])
def test_bad_input(call, name):
    with pytest.raises(ValueError, match=name):
        call()
