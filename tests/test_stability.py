"""Tests for analysis/stability.py (docs/theory.md §6). Expected values come from the closed forms in
docs/theory.md, hand-derived Jury expressions, scipy's Lyapunov solver and independent numpy loops."""
import numpy as np
import pytest
import scipy.linalg
import sympy as sp
from hypothesis import assume, given
from hypothesis import strategies as st_

from analysis import stability as st

a, al, be = st.a_, st.alpha_, st.beta_


# ----------------------------------------------------------------------------- EASGD maps
def test_rr_worker_eigenvalues_closed_form():
    M = st.easgd_rr_reduced_worker_map()
    assert M == sp.Matrix([[1 - a - al, al], [al, 1 - al]])
    r = sp.sqrt(a ** 2 + 4 * al ** 2)
    expected = {(2 - a - 2 * al + r) / 2, (2 - a - 2 * al - r) / 2}
    got = list(M.eigenvals())
    assert len(got) == 2
    for e in got:
        assert any(sp.simplify(e - x) == 0 for x in expected)


@pytest.mark.parametrize("p", [2, 3, 5])
def test_rr_worker_map_symmetric_and_block(p):
    for i in range(p):
        M = st.easgd_rr_worker_map(p, i)
        assert M == M.T
        B = M.extract([i, p], [i, p])
        assert B == sp.Matrix([[1 - a - al, al], [al, 1 - al]])
        others = [j for j in range(p) if j != i]
        assert M.extract(others, list(range(p + 1))) == sp.eye(p + 1).extract(others, list(range(p + 1)))


def test_rr_cycle_is_product_of_worker_maps():
    p = 3
    prod = st.easgd_rr_worker_map(p, 2) * st.easgd_rr_worker_map(p, 1) * st.easgd_rr_worker_map(p, 0)
    assert (st.easgd_rr_cycle_map(p) - prod).applyfunc(sp.expand) == sp.zeros(p + 1)
    assert st.easgd_rr_cycle_map(1) == st.easgd_rr_worker_map(1, 0)


def test_sync_maps():
    assert st.easgd_sync_reduced_map(p=4) == sp.Matrix([[1 - a - al, al], [be, 1 - be]])
    lam = sp.Symbol("lambda")
    cp = st.char_poly(st.easgd_sync_map(3), lam)
    # p − 1 = 2 worker-deviation modes with eigenvalue 1 − a − α, plus the (mean, center) block
    red = sp.Matrix([[1 - a - al, al], [3 * al, 1 - 3 * al]])
    expected = (lam - (1 - a - al)) ** 2 * red.charpoly(lam).as_expr()
    assert sp.expand(cp - expected) == 0


# ----------------------------------------------------------------------------- regions
def test_jury_expressions():
    c = st.jury_conditions_2x2(st.easgd_rr_reduced_worker_map())
    hand = {"1-det": a + 2 * al - a * al, "1+det": (2 - a) * (1 - al),
            "1+det-tr": a * al, "1+det+tr": 4 - 2 * a - 4 * al + a * al}
    for k, v in hand.items():
        assert sp.expand(c[k] - v) == 0


def test_jury_equals_closed_form_p1_dense_grid():
    A, AL = st.default_grid(401, a_max=4.5, alpha_max=2.5)
    bound = (4 - 2 * A) / (4 - A)
    interior = np.abs(AL - bound) > 1e-9  # drop measure-zero boundary cells
    jury = st.easgd_rr_jury(A, AL)
    closed = st.easgd_rr_region_closed_form(A, AL)
    assert np.array_equal(jury[interior], closed[interior])
    # and against eigenvalues of the p = 1 cycle (worker) map computed by numpy
    rad = np.abs(np.linalg.eigvals(st.easgd_rr_cycle_numeric(1, A, AL))).max(-1)
    assert np.array_equal((rad < 1)[interior], closed[interior])
    assert closed.any() and (~closed).any()


_EASGD_FN = {}


def _easgd_worker(p, i):
    if (p, i) not in _EASGD_FN:
        _EASGD_FN[p, i] = st.numeric(st.easgd_rr_worker_map(p, i), (a, al))
    return _EASGD_FN[p, i]


# the closed region, p up to 8 workers (the paper's experiments use p = 4 and 8)
@given(st_.floats(0.0, 2.0), st_.floats(0.0, 1.0), st_.sampled_from([2, 3, 5, 8]))
def test_closed_form_sufficient_every_p(a_v, frac, p):
    alpha = frac * (4 - 2 * a_v) / (4 - a_v)
    assert st.easgd_rr_region_closed_form(a_v, alpha)
    for i in range(p):
        Mi = _easgd_worker(p, i)(a_v, alpha)
        assert np.linalg.norm(Mi, 2) <= 1 + 1e-12  # 2-norm contraction ⇒ ‖s_t‖ never grows
    assert st.easgd_rr_radius(p, a_v, alpha) <= 1 + 1e-12


def test_share_stable_outside():
    grid = st.default_grid(121)
    assert st.share_stable_outside(1, grid) == 0.0  # exact for p = 1
    s2 = st.share_stable_outside(2, grid)
    assert 0 < s2 < 0.05  # some stable cells outside for p = 2 (THEORY: rare)
    # independent: paper's region by hand, radius of the plain loop's cycle matrix
    A, AL = grid
    out = ~((A <= 2) & (AL <= (4 - 2 * A) / (4 - A)))
    rad = np.abs(np.linalg.eigvals(_easgd_cycle_by_loop(2, A[out], AL[out]))).max(-1)
    assert s2 == np.mean(rad < 1 - 1e-12)


# ----------------------------------------------------------------------------- ADMM
_ADMM_FN = {}


def _admm_worker(p, i):
    if (p, i) not in _ADMM_FN:
        _ADMM_FN[p, i] = st.numeric(st.admm_rr_worker_map(p, i), (st.eta_, st.h_, st.rho_))
    return _ADMM_FN[p, i]


@given(st_.floats(1e-4, 0.5), st_.floats(0.1, 10), st_.floats(0.1, 3), st_.sampled_from([2, 3]),
       st_.integers(0, 2))
def test_admm_worker_map_radius_one(eta, rho, h, p, i):
    # docs/theory.md §6: each worker's map alone has spectral radius 1 (p >= 2: the idle workers'
    # coordinates are left unchanged; for p = 1 the single map is a strict contraction)
    assume(i < p)
    M = _admm_worker(p, i)(eta, h, rho)
    assert abs(np.abs(np.linalg.eigvals(M)).max() - 1) < 1e-9


@pytest.mark.parametrize("p", [2, 3, 8])
def test_admm_composite_radius_reference(p):
    # independent reference: the cycle matrix of the plain loop `_admm_rr_loop` (below) applied to
    # each unit vector; docs/theory.md §6 quotes its radius as 0.999002, 1.000974, 1.002258 for p = 2, 3, 8
    n = 2 * p + 1
    M = np.stack([_admm_rr_loop(e[0:-1:2], e[1:-1:2], e[-1], 0.001, 1.0, 2.5, 1) for e in np.eye(n)], 1)
    np.testing.assert_allclose(_admm_cycle_by_loop(p, 0.001, 2.5), M, rtol=0, atol=1e-14)
    np.testing.assert_allclose(st.admm_rr_cycle_numeric(p, 0.001, 2.5), M, rtol=0, atol=1e-13)
    want = np.abs(np.linalg.eigvals(M)).max()
    assert st.spectral_radius(st.admm_rr_cycle_numeric(p, 0.001, 2.5)) == pytest.approx(want, abs=1e-12)
    if p in (3, 8):  # paper §4 / Fig. 1: at η = 0.001, ρ = 2.5 round-robin ADMM diverges
        assert want > 1


def test_admm_symbolic_cycle_matches():
    sym = st.admm_rr_cycle_map(2, composed=True)
    prod = st.admm_rr_cycle_map(2)
    f1, f2 = (st.numeric(m, (st.eta_, st.h_, st.rho_)) for m in (sym, prod))
    np.testing.assert_allclose(f1(0.003, 1.3, 4.0), f2(0.003, 1.3, 4.0), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(f1(0.003, 1.3, 4.0), st.admm_rr_cycle_numeric(2, 0.003, 4.0, 1.3),
                               rtol=1e-12, atol=1e-14)


def test_admm_unstable_share():
    etas, rhos = st.admm_grid_axes(60, 60)
    E, R = np.meshgrid(etas, rhos, indexing="xy")
    share = {}
    for p in (3, 8):
        got = st.admm_radius_grid(p, etas, rhos)
        ref = np.abs(np.linalg.eigvals(_admm_cycle_by_loop(p, E, R))).max(-1)  # independent loop
        np.testing.assert_allclose(got, ref, rtol=0, atol=1e-12)
        assert np.abs(ref - 1).min() > 1e-9          # no cell so close to 1 that rounding flips it
        share[p] = np.mean(got > 1)
        assert share[p] == np.mean(ref > 1)
    assert 0 < share[3] < share[8] < 1  # docs/theory.md §6: ≈15% (p = 3) and 35% (p = 8) unstable


def test_admm_diverges_easgd_converges():
    # paper §4 example: λ = 0, x = x̃ = 1000, η = 0.001, ρ = 2.5, p = 3
    adm = st.admm_rr_trajectory(3, 0.001, 2.5, 20000)
    eas = st.easgd_rr_trajectory(3, 0.001, 2.5, 20000)
    assert adm[-1] > 1e3 * adm[0]
    # asymptotic growth per cycle = the composite radius (independent loop-built cycle matrix);
    # abs 2e-6: a 5000-cycle window still carries the subdominant modes (≈5e-7 here)
    r = np.abs(np.linalg.eigvals(_admm_cycle_by_loop(3, 0.001, 2.5))).max()
    assert (adm[-1] / adm[-5001]) ** (1 / 5000) == pytest.approx(r, abs=2e-6)
    assert eas[-1] < 1e-3 * eas[0]


# ----------------------------------------------------------------------------- simulation
def _easgd_rr_loop(x, c, a_v, alpha, cycles):
    x = np.array(x, float)
    for _ in range(cycles):
        for i in range(len(x)):
            xi = x[i]
            x[i] = xi - a_v * xi - alpha * (xi - c)
            c = c + alpha * (xi - c)
    return np.append(x, c)


def _easgd_cycle_by_loop(p, a_v, alpha):
    """`_easgd_rr_loop` (one cycle) applied to every unit vector, batched over arrays a, α: the
    cycle matrix, shape (..., p+1, p+1), state (x¹, …, x^p, x̃)."""
    a_v, alpha = np.broadcast_arrays(np.asarray(a_v, float), np.asarray(alpha, float))
    E = np.broadcast_to(np.eye(p + 1), a_v.shape + (p + 1, p + 1))
    x, c = E[..., :p, :].copy(), E[..., p, :].copy()
    av, al_ = a_v[..., None], alpha[..., None]
    for i in range(p):
        xi = x[..., i, :].copy()
        x[..., i, :] = xi - av * xi - al_ * (xi - c)
        c = c + al_ * (xi - c)
    return np.concatenate([x, c[..., None, :]], -2)


def _admm_rr_loop(lam, x, c, eta, h, rho, cycles):
    lam, x = np.array(lam, float), np.array(x, float)
    for _ in range(cycles):
        for i in range(len(x)):
            lam[i] = lam[i] - (x[i] - c)
            x[i] = (x[i] - eta * h * x[i] + eta * rho * (lam[i] + c)) / (1 + eta * rho)
            c = np.mean(x - lam)
    out = np.empty(2 * len(x) + 1)
    out[0:-1:2], out[1:-1:2], out[-1] = lam, x, c
    return out


def _admm_cycle_by_loop(p, eta, rho, h=1.0):
    """The loop above applied to every unit vector at once, batched over arrays η, ρ: the cycle
    matrix, shape (..., 2p+1, 2p+1), state (λ¹, x¹, …, λ^p, x^p, x̃)."""
    eta, rho = np.broadcast_arrays(np.asarray(eta, float), np.asarray(rho, float))
    n = 2 * p + 1
    E = np.broadcast_to(np.eye(n), eta.shape + (n, n))
    lam, x, c = E[..., 0:-1:2, :].copy(), E[..., 1:-1:2, :].copy(), E[..., -1, :].copy()
    et, rh = eta[..., None], rho[..., None]
    for i in range(p):
        lam[..., i, :] = lam[..., i, :] - (x[..., i, :] - c)
        x[..., i, :] = (x[..., i, :] - et * h * x[..., i, :] + et * rh * (lam[..., i, :] + c)) / (1 + et * rh)
        c = (x - lam).mean(-2)
    M = np.empty(eta.shape + (n, n))
    M[..., 0:-1:2, :], M[..., 1:-1:2, :], M[..., -1, :] = lam, x, c
    return M


@given(st_.integers(1, 8), st_.floats(0.01, 1.5), st_.floats(0.01, 0.6), st_.integers(1, 7))
def test_easgd_rr_simulation_equals_matrix_power(p, a_v, alpha, n):
    rng = np.random.default_rng(p + n)
    s0 = rng.normal(size=p + 1)
    sim = _easgd_rr_loop(s0[:p], s0[p], a_v, alpha, n)
    M = st.easgd_rr_cycle_numeric(p, a_v, alpha)
    np.testing.assert_allclose(_easgd_cycle_by_loop(p, a_v, alpha), M, rtol=0, atol=1e-14)
    np.testing.assert_allclose(sim, np.linalg.matrix_power(M, n) @ s0, rtol=1e-10, atol=1e-12)


@given(st_.integers(1, 5), st_.floats(1e-3, 0.3), st_.floats(0.1, 10), st_.floats(0.2, 2),
       st_.integers(1, 7))
def test_admm_rr_simulation_equals_matrix_power(p, eta, rho, h, n):
    rng = np.random.default_rng(p + n)
    s0 = rng.normal(size=2 * p + 1)
    sim = _admm_rr_loop(s0[0:-1:2], s0[1:-1:2], s0[-1], eta, h, rho, n)
    M = st.admm_rr_cycle_numeric(p, eta, rho, h)
    np.testing.assert_allclose(sim, np.linalg.matrix_power(M, n) @ s0, rtol=1e-10, atol=1e-12)


# ----------------------------------------------------------------------------- noisy sync EASGD
@given(st_.floats(0.01, 1.0), st_.floats(0.1, 3), st_.floats(0.0, 0.9), st_.floats(0.01, 1.9),
       st_.floats(0.1, 5), st_.integers(1, 16))
def test_center_variance_vs_lyapunov(eta, h, alpha, beta, sigma2, p):
    a_v = eta * h
    assume(st.easgd_sync_stable(a_v, alpha, beta))
    M = np.array([[1 - a_v - alpha, alpha], [beta, 1 - beta]])
    assume(np.abs(np.linalg.eigvals(M)).max() < 1 - 1e-6)
    S = scipy.linalg.solve_discrete_lyapunov(M, np.diag([eta ** 2 * sigma2 / p, 0.0]))
    got = st.easgd_sync_center_variance(eta, h, alpha, beta, sigma2, p)
    assert got == pytest.approx(S[1, 1], rel=1e-10)


def test_center_variance_symbolic():
    expr = st.easgd_sync_center_variance_symbolic()
    closed = (st.eta_ ** 2 * st.sigma2_ / st.p_) * be * (2 - a - al - be + a * be) / (
        a * (a + al + be - a * be) * (4 - 2 * a - 2 * al - 2 * be + a * be))
    assert sp.simplify(expr - closed) == 0


@given(st_.floats(0.01, 1.0), st_.floats(0.1, 3), st_.floats(0.05, 1.9), st_.integers(1, 12),
       st_.one_of(st_.none(), st_.floats(0.0, 1.5)))
def test_sync_stability_conditions_match_full_map(eta, h, beta, p, alpha):
    # docs/theory.md §6 states the conditions for free α and β; None draws the paper's default α = β/p
    alpha = beta / p if alpha is None else alpha
    M = np.zeros((p + 1, p + 1))  # independent numpy build of the synchronous map
    M[:p, :p] = (1 - eta * h - alpha) * np.eye(p)
    M[:p, p] = alpha
    M[p, :p] = beta / p
    M[p, p] = 1 - beta
    rad = np.abs(np.linalg.eigvals(M)).max()
    assume(abs(rad - 1) > 1e-9)
    assert bool(st.easgd_sync_stable(eta * h, alpha, beta)) == (rad < 1)


@given(st_.floats(0.01, 1.5), st_.floats(0.1, 3), st_.floats(0.1, 5), st_.integers(1, 16))
def test_sgd_reference_vs_lyapunov(eta, h, sigma2, p):
    a_v = eta * h
    assume(a_v < 1.99)
    S = scipy.linalg.solve_discrete_lyapunov(np.array([[1 - a_v]]), np.array([[eta ** 2 * sigma2 / p]]))
    assert st.sgd_minibatch_variance(eta, h, sigma2, p) == pytest.approx(S[0, 0], rel=1e-10)


@pytest.mark.parametrize("eta,h,beta", [(0.1, 1.0, 0.9), (0.5, 2.0, 0.3), (0.05, 3.0, 1.5)])
def test_large_p_limit(eta, h, beta):
    lim = st.easgd_sync_center_variance_limit(eta, h, beta, 1.7)
    p = 10 ** 7
    # independent: p · Var from the Lyapunov solve at large p with α = β/p
    M = np.array([[1 - eta * h - beta / p, beta / p], [beta, 1 - beta]])
    S = scipy.linalg.solve_discrete_lyapunov(M, np.diag([eta ** 2 * 1.7 / p, 0.0]))
    assert lim == pytest.approx(p * S[1, 1], rel=1e-5)


# ----------------------------------------------------------------------------- validation
@pytest.mark.parametrize("call,word", [
    (lambda: st.easgd_sync_map(0, 0.1, 0.1), "p"),
    (lambda: st.easgd_rr_worker_map(2, 2), "i"),
    (lambda: st.easgd_rr_cycle_map(-1), "p"),
    (lambda: st.admm_rr_worker_map(2, 0, eta=0.0, h=1, rho=1), "eta"),
    (lambda: st.admm_rr_cycle_numeric(3, -0.01, 1.0), "eta"),
    (lambda: st.admm_rr_cycle_numeric(0, 0.01, 1.0), "p"),
    (lambda: st.easgd_sync_center_variance(-0.1, 1, 0.1, 0.5, 1, 2), "eta"),
    (lambda: st.easgd_sync_center_variance(0.1, 1, 0.1, 0.5, 1, 0), "p"),
    (lambda: st.easgd_sync_center_variance(0.1, 1, 1.95, 0.5, 1, 2), "stability"),
    (lambda: st.sgd_minibatch_variance(0.0, 1, 1, 2), "eta"),
    (lambda: st.easgd_rr_trajectory(2, 0.0, 1.0, 3), "eta"),
])
def test_bad_input(call, word):
    with pytest.raises(ValueError, match=word):
        call()


@pytest.mark.slow  # runs the claims easgd.rr_stability_region and easgd.admm_unstable (quick)
def test_figures_quick(tmp_path):
    from paper_figs import easgd_admm_spectral_radius, easgd_stability_region
    from paper_figs.__main__ import render  # runs the figure's claims (quick), then draws
    for mod in (easgd_stability_region, easgd_admm_spectral_radius):
        paths, _ = render(mod.__name__.split(".")[-1], mod, tmp_path, True, None, None)
        assert {q.suffix for q in paths} == {".png", ".pdf"}
        assert all(q.exists() and q.stat().st_size > 0 for q in paths)


# ----------------------------------------------------------------------------- worker variance, MVASGD
def _full_sync_lyapunov(eta, h, alpha, beta, sigma2, p):
    """Independent numpy build of the (p+1)-dim synchronous EASGD map from the update equations
    x^i ← x^i − η(h x^i − ξ^i) − α(x^i − x̃), x̃ ← (1−β)x̃ + β mean(x); worker noise η²σ² I."""
    M = np.zeros((p + 1, p + 1))
    M[:p, :p] = (1 - eta * h - alpha) * np.eye(p)
    M[:p, p] = alpha
    M[p, :p] = beta / p
    M[p, p] = 1 - beta
    Q = np.diag([eta ** 2 * sigma2] * p + [0.0])
    return M, scipy.linalg.solve_discrete_lyapunov(M, Q)


@given(st_.floats(0.01, 1.0), st_.floats(0.1, 3), st_.floats(0.0, 0.9), st_.floats(0.01, 1.9),
       st_.floats(0.1, 5), st_.integers(1, 10))
def test_worker_variance_vs_full_lyapunov(eta, h, alpha, beta, sigma2, p):
    assume(st.easgd_sync_stable(eta * h, alpha, beta))
    M, S = _full_sync_lyapunov(eta, h, alpha, beta, sigma2, p)
    assume(np.abs(np.linalg.eigvals(M)).max() < 1 - 1e-6)
    got = st.easgd_sync_worker_variance(eta, h, alpha, beta, sigma2, p)
    for i in range(p):
        assert got == pytest.approx(S[i, i], rel=1e-9)
    assert st.easgd_sync_mean_variance(eta, h, alpha, beta, sigma2, p) == pytest.approx(
        S[:p, :p].mean(), rel=1e-9)
    assert st.easgd_sync_center_variance(eta, h, alpha, beta, sigma2, p) == pytest.approx(S[p, p], rel=1e-9)


@pytest.mark.parametrize("eta,h,alpha,beta,sigma2,p", [
    (0.1, 1.0, 0.1, 0.4, 1.0, 4), (0.05, 2.0, 0.02, 0.9, 2.5, 3), (0.3, 0.5, 0.2, 0.2, 0.7, 2),
    (0.1, 1.0, 0.3, 1.5, 1.0, 5), (0.2, 1.0, 0.1, 0.5, 1.0, 1)])
def test_worker_variance_vs_linear_stationary_x(eta, h, alpha, beta, sigma2, p):
    import torch

    import dynamics
    from analysis import linear
    m = dynamics.make("easgd", None, lr=eta, alpha=alpha, beta=beta, K=p)
    _, P = linear.stationary_x(m, np.array([[h]]), np.zeros(1), torch.zeros(p, 1, dtype=torch.float64), sigma2)
    got = st.easgd_sync_worker_variance(eta, h, alpha, beta, sigma2, p)
    np.testing.assert_allclose(np.diag(P), got, rtol=1e-9)


def test_worker_variance_symbolic_full_system():
    closed = (st.eta_ ** 2 * st.sigma2_ / 2) * ((2 - be) * (a + be - a * be) - al * be) / (
        a * (a + al + be - a * be) * (4 - 2 * a - 2 * al - 2 * be + a * be)) \
        + st.eta_ ** 2 * st.sigma2_ / 2 / ((a + al) * (2 - a - al))
    assert sp.simplify(st.easgd_sync_worker_variance_symbolic(2) - closed) == 0


@given(st_.floats(0.01, 1.0), st_.floats(0.1, 3), st_.floats(0.01, 1.9), st_.floats(0.1, 5), st_.integers(1, 10))
def test_mean_variance_alpha0_is_minibatch_sgd(eta, h, beta, sigma2, p):
    assume(eta * h < 1.99)
    # α = 0: the worker mean is SGD with minibatch p, ησ²/(p h (2 − ηh)) (hand formula)
    assert st.easgd_sync_mean_variance(eta, h, 0.0, beta, sigma2, p) == pytest.approx(
        eta * sigma2 / (p * h * (2 - eta * h)), rel=1e-10)


@given(st_.floats(0.01, 1.0), st_.floats(0.1, 3), st_.floats(0.01, 1.95), st_.floats(0.1, 5), st_.integers(1, 8))
def test_moving_average_sgd_vs_lyapunov(eta, h, beta, sigma2, p):
    assume(eta * h < 1.95)
    M, S = _full_sync_lyapunov(eta, h, 0.0, beta, sigma2, p)  # α = 0: independent SGD workers
    got = st.moving_average_sgd_variance(eta, h, beta, sigma2, p)
    assert got == pytest.approx(S[p, p], rel=1e-9)
    assert got == pytest.approx(st.easgd_sync_center_variance(eta, h, 0.0, beta, sigma2, p), rel=1e-10)


def test_moving_average_sgd_special_cases():
    # β = 1: x̃_{t+1} = mean(x_t), so Var = minibatch-p SGD; single chain p = 1, a = 1 (x_t i.i.d.
    # with variance η²σ²): the EMA of white noise has variance η²σ² β/(2 − β)
    assert st.moving_average_sgd_variance(0.3, 2.0, 1.0, 1.3, 5) == pytest.approx(
        st.sgd_minibatch_variance(0.3, 2.0, 1.3, 5), rel=1e-12)
    assert st.moving_average_sgd_variance(0.5, 2.0, 0.2, 1.0, 1) == pytest.approx(0.25 * 0.2 / 1.8, rel=1e-12)


@pytest.mark.parametrize("call,word", [
    (lambda: st.easgd_sync_worker_variance(0.1, 1, 0.1, 0.5, -1, 2), "sigma2"),
    (lambda: st.easgd_sync_worker_variance(0.1, 1, 0.1, 0.5, 1, 0), "p"),
    (lambda: st.easgd_sync_worker_variance(0.1, 1, 1.95, 0.5, 1, 2), "stability"),
    (lambda: st.easgd_sync_mean_variance(0.0, 1, 0.1, 0.5, 1, 2), "eta"),
    (lambda: st.moving_average_sgd_variance(0.1, 1, 2.0, 1, 2), "beta"),
    (lambda: st.moving_average_sgd_variance(1.0, 2.5, 0.5, 1, 2), "eta"),
    (lambda: st.moving_average_sgd_variance(0.1, 1, 0.5, 1, 1.5), "p"),
])
def test_bad_input_variances(call, word):
    with pytest.raises(ValueError, match=word):
        call()


@pytest.mark.slow  # ~12 s: Monte Carlo runs behind the figure
def test_variance_figure_quick(tmp_path):
    from paper_figs import easgd_variance_vs_rho
    from paper_figs.__main__ import render
    paths, _ = render("easgd_variance_vs_rho", easgd_variance_vs_rho, tmp_path, True, None, None)
    assert {q.suffix for q in paths} == {".png", ".pdf"}
    assert all(q.exists() and q.stat().st_size > 0 for q in paths)
