"""The symbolic stability maps of analysis/stability.py (built from sympy copies of the update
equations, docs/theory.md §6) against the affine maps of the dynamics implementations themselves
(analysis.linear: torch.func.jacrev of `method.step`) on f = h x²/2 with K = p workers, d = 1.

State orderings. analysis.stability: EASGD (x¹, …, x^p, x̃); ADMM (λ¹, x¹, …, λ^p, x^p, x̃).
analysis.linear flattens the dynamics state field by field: EASGD (x (p,1), center (1)) — the same
order; ADMM (x (p,1), lam (p,1), center (1)) — permuted by `_admm_perm` below.

The p = 1 cases are checked against scalar recursions written out by hand here, and the
round-robin EASGD spectral radius against simulated runs (dynamics.simulate): far from the
boundary (|radius − 1| ≥ MARGIN) a run of enough cycles must diverge iff radius > 1.
"""
from functools import cache

import numpy as np
import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as hs

import dynamics
import landscapes
from analysis import linear as lin
from analysis import stability as st
from dynamics.simulate import simulate

TOL = 1e-12
eta_s = hs.floats(0.01, 0.9)
h_s = hs.floats(0.1, 2.5)
alpha_s = hs.floats(0.001, 0.9)
p_s = hs.integers(1, 5)


@cache
def _sync_fn(p, free_beta):
    if free_beta:
        return st.numeric(st.easgd_sync_map(p, beta=st.beta_), (st.a_, st.alpha_, st.beta_))
    return st.numeric(st.easgd_sync_map(p), (st.a_, st.alpha_))


@cache
def _rr_cycle_fn(p):
    return st.numeric(st.easgd_rr_cycle_map(p), (st.a_, st.alpha_))


@cache
def _admm_cycle_fn(p):
    return st.numeric(st.admm_rr_cycle_map(p), (st.eta_, st.h_, st.rho_))


def _problem(h):
    return np.array([[h]]), np.zeros(1)


def _linearised(method, h, p, steps):
    A, b = _problem(h)
    s0 = lin.init_state(method, A, b, torch.linspace(-1.0, 1.0, p).reshape(p, 1))
    aff = lin.period_map(method, A, b, s0, 0, steps)
    return aff


def _admm_perm(p):
    """perm[k] = index in the dynamics flattening of analysis coordinate k."""
    perm = np.empty(2 * p + 1, dtype=int)
    for i in range(p):
        perm[2 * i] = p + i       # λ^i  <- lam[i]
        perm[2 * i + 1] = i       # x^i  <- x[i]
    perm[2 * p] = 2 * p           # x̃
    return perm


# ----------------------------------------------------------------------------- synchronous EASGD
@given(eta=eta_s, h=h_s, alpha=alpha_s, p=p_s)
def test_sync_easgd_map_equals_linearised_step(eta, h, alpha, p):
    m = dynamics.make("easgd", None, lr=eta, alpha=alpha, K=p)
    aff = _linearised(m, h, p, 1)
    assert [n for n, _ in aff.fields] == ["x", "center"]
    M = _sync_fn(p, False)(eta * h, alpha)
    np.testing.assert_allclose(aff.M, M, rtol=0, atol=TOL)
    np.testing.assert_allclose(aff.c, 0.0, atol=TOL)  # minimum at 0: no affine offset


@given(eta=eta_s, h=h_s, alpha=alpha_s, beta=hs.floats(0.001, 1.5), p=p_s)
def test_sync_easgd_map_with_free_beta(eta, h, alpha, beta, p):
    m = dynamics.make("easgd", None, lr=eta, alpha=alpha, beta=beta, K=p)
    aff = _linearised(m, h, p, 1)
    np.testing.assert_allclose(aff.M, _sync_fn(p, True)(eta * h, alpha, beta), rtol=0, atol=TOL)


# ----------------------------------------------------------------------------- round-robin EASGD
@given(eta=eta_s, h=h_s, alpha=alpha_s, p=p_s)
def test_rr_easgd_cycle_equals_linearised_period(eta, h, alpha, p):
    m = dynamics.make("easgd_rr", None, lr=eta, alpha=alpha, K=p)
    aff = _linearised(m, h, p, p)   # one cycle = p steps, worker t mod p acts at step t
    M = _rr_cycle_fn(p)(eta * h, alpha)
    np.testing.assert_allclose(aff.M, M, rtol=0, atol=TOL)
    np.testing.assert_allclose(aff.M, st.easgd_rr_cycle_numeric(p, eta * h, alpha), rtol=0, atol=TOL)


@given(eta=eta_s, h=h_s, alpha=alpha_s, p=hs.integers(2, 5), i=hs.integers(0, 4))
def test_rr_easgd_single_step_is_worker_map(eta, h, alpha, p, i):
    """Step t = i of the implementation is worker i's map (0-based, worker 0 first)."""
    i = i % p
    m = dynamics.make("easgd_rr", None, lr=eta, alpha=alpha, K=p)
    A, b = _problem(h)
    s0 = lin.init_state(m, A, b, torch.zeros(p, 1))
    aff = lin.step_map(m, A, b, s0, t=i)
    M = st.numeric(st.easgd_rr_worker_map(p, i), (st.a_, st.alpha_))(eta * h, alpha)
    np.testing.assert_allclose(aff.M, M, rtol=0, atol=TOL)


# ----------------------------------------------------------------------------- round-robin ADMM
@given(eta=hs.floats(0.001, 0.5), h=h_s, rho=hs.floats(0.05, 10.0), p=hs.integers(1, 4))
def test_rr_admm_cycle_equals_linearised_period(eta, h, rho, p):
    m = dynamics.make("admm_rr", None, lr=eta, rho=rho, K=p)
    aff = _linearised(m, h, p, p)
    assert [n for n, _ in aff.fields] == ["x", "lam", "center"]
    perm = _admm_perm(p)
    M_dyn = aff.M[np.ix_(perm, perm)]
    np.testing.assert_allclose(M_dyn, _admm_cycle_fn(p)(eta, h, rho), rtol=0, atol=TOL)
    np.testing.assert_allclose(M_dyn, st.admm_rr_cycle_numeric(p, eta, rho, h), rtol=0, atol=TOL)


def test_admm_perm_is_a_permutation():
    for p in (1, 2, 5):
        assert sorted(_admm_perm(p)) == list(range(2 * p + 1))


# ----------------------------------------------------------------------------- p = 1: scalar recursions
@given(eta=eta_s, h=h_s, alpha=alpha_s)
def test_p1_easgd_scalar_recursion(eta, h, alpha):
    """p = 1 (β = α): x' = (1 − ηh − α)x + αc, c' = αx + (1 − α)c — for sync and round robin."""
    a = eta * h
    hand = np.array([[1 - a - alpha, alpha], [alpha, 1 - alpha]])
    for name in ("easgd", "easgd_rr"):
        aff = _linearised(dynamics.make(name, None, lr=eta, alpha=alpha, K=1), h, 1, 1)
        np.testing.assert_allclose(aff.M, hand, rtol=0, atol=TOL)
    np.testing.assert_allclose(_sync_fn(1, False)(a, alpha), hand, rtol=0, atol=TOL)
    np.testing.assert_allclose(_rr_cycle_fn(1)(a, alpha), hand, rtol=0, atol=TOL)


@given(eta=hs.floats(0.001, 0.5), h=h_s, rho=hs.floats(0.05, 10.0))
def test_p1_admm_scalar_recursion(eta, h, rho):
    """p = 1: λ' = λ − x + c; x' = ((1 − ηh)x + ηρ(λ' + c))/(1 + ηρ); c' = x' − λ'.
    Differentiated by hand on (λ, x, c)."""
    r = eta * rho
    dlam = np.array([1.0, -1.0, 1.0])
    dx = (np.array([0.0, 1 - eta * h, 0.0]) + r * (dlam + np.array([0.0, 0.0, 1.0]))) / (1 + r)
    hand = np.stack([dlam, dx, dx - dlam])
    aff = _linearised(dynamics.make("admm_rr", None, lr=eta, rho=rho, K=1), h, 1, 1)
    np.testing.assert_allclose(aff.M[np.ix_(_admm_perm(1), _admm_perm(1))], hand, rtol=0, atol=TOL)
    np.testing.assert_allclose(_admm_cycle_fn(1)(eta, h, rho), hand, rtol=0, atol=TOL)


# ----------------------------------------------------------------------------- divergence iff radius > 1
MARGIN = 0.05      # skip draws with |radius − 1| < MARGIN (boundary band, growth too slow to see)
GROWTH = 1e8       # simulate N cycles with |ln radius|·N ≥ ln GROWTH
DIVERGENCE = 1e6   # simulate's threshold on max_k |x_k| (x0 entries are O(1))


@settings(max_examples=15)
@given(a=hs.floats(0.01, 3.0), alpha=hs.floats(0.01, 1.5), p=hs.integers(1, 4),
       seed=hs.integers(0, 2 ** 16))
def test_rr_easgd_simulation_diverges_iff_radius_above_one(a, alpha, p, seed):
    """Round-robin EASGD on h x²/2 (h = 1, η = a), noiseless, random start: over N cycles with
    radius^N ≥ 1e8 (or ≤ 1e-8) the run crosses |x| > 1e6 iff the composite radius > 1, and
    otherwise shrinks below 1e-4 of its start."""
    r = float(st.easgd_rr_radius(p, a, alpha))
    assume(abs(r - 1) >= MARGIN)
    cycles = int(np.ceil(np.log(GROWTH) / abs(np.log(r))))
    g = torch.Generator().manual_seed(seed)
    x0 = torch.randn(p, 1, generator=g, dtype=torch.float64)
    assume(float(x0.abs().max()) > 0.1)
    m = dynamics.make("easgd_rr", None, lr=a, alpha=alpha, K=p)
    o = landscapes.oracle(landscapes.get("quadratic", H=[[1.0]]), noise="none")
    res = simulate(m, o, x0, cycles * p, record_every=cycles * p, recorders=[],
                   divergence=DIVERGENCE)
    if r > 1:
        assert res.diverged[0], f"radius {r:.4f} > 1 but no divergence after {cycles} cycles"
    else:
        assert not res.diverged[0]
        assert np.abs(res.x).max() < 1e-4 * float(x0.abs().max())


def test_rr_easgd_known_points():
    """Independent check of the radius on two hand points (p = 1, Jury): a = 1, α = 0.5 lies
    inside (α < 2/3): eigenvalues of [[-0.5, 0.5], [0.5, 0.5]] are ±sqrt(0.5) → radius 0.7071;
    a = 1, α = 0.9 lies outside: det = 1 − a − 2α + aα = −0.9, trace = 1 − a − 2α + 1 = −0.8,
    radius = (0.8 + sqrt(0.64 + 3.6))/2 = 1.4295."""
    assert st.easgd_rr_radius(1, 1.0, 0.5) == pytest.approx(np.sqrt(0.5), abs=1e-12)
    assert st.easgd_rr_radius(1, 1.0, 0.9) == pytest.approx((0.8 + np.sqrt(4.24)) / 2, abs=1e-12)
