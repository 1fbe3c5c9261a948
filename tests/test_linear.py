"""analysis/linear.py: exact moments of the algorithms on quadratics (THEORY.md §3).

Expected values are independent: the scalar closed form derived from the recursion
P = (1 − ηh)²P + η²r/(KB), scipy's discrete Lyapunov solver, THEORY.md §3's per-mode formulas,
the pathwise identity (1/K)Σ f(x_k) = f(x̄) + ½Tr(HΞ), and Monte Carlo from `simulate`.
"""
import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from scipy.linalg import solve_discrete_lyapunov

import dynamics
from analysis import linear
from dynamics import topology as T
from dynamics.simulate import simulate
from landscapes.hetero import hetero_quadratics
from landscapes.noise import oracle


def csgd_var(eta, h, r, K, B):
    """C-SGD w' = (1 − ηh)w − η ξ̄, Var ξ̄ = r/(KB): P = ηr/(KB·h(2 − ηh)) (THEORY.md §3)."""
    return eta * r / (K * B * h * (2 - eta * h))


@given(K=st.integers(1, 6), B=st.integers(1, 8), eh=st.floats(0.02, 1.9),
       h=st.floats(0.1, 10.0), r=st.floats(0.1, 5.0))
def test_csgd_scalar_closed_form(K, B, eh, h, r):
    eta = eh / h
    top = T.ring(K) if K >= 3 else T.complete(K)
    m = dynamics.make("csgd", top, lr=eta)
    xm, xc = linear.stationary_x(m, np.array([[h]]), np.zeros(1), torch.zeros(K, 1), r / B)
    want = csgd_var(eta, h, r, K, B)
    assert np.allclose(np.diag(xc), want, rtol=1e-8)
    assert np.allclose(xc, want, rtol=1e-8)  # one model replicated: every entry equal
    net, cen, dis = linear.excess_risk_decomposition(np.array([[h]]), np.zeros(1), xm, xc, K, 1)
    assert cen == pytest.approx(net, rel=1e-8)
    assert net == pytest.approx(eta * r / (2 * K * B * (2 - eta * h)), rel=1e-8)
    assert dis == pytest.approx(0.0, abs=1e-12 * want)


def test_csgd_matrix_lyapunov():
    """d = 2: P = F P Fᵀ + η²R/(KB), F = I − ηH (scipy's solver), i.e. HP + PH − ηHPH = ηR/(KB)."""
    rng = np.random.default_rng(0)
    Q, _ = np.linalg.qr(rng.normal(size=(2, 2)))
    H = Q @ np.diag([0.5, 3.0]) @ Q.T
    Rm = np.array([[1.0, 0.3], [0.3, 0.5]])
    K, B, eta = 4, 2, 0.2
    m = dynamics.make("csgd", T.ring(K), lr=eta)
    _, xc = linear.stationary_x(m, H, np.zeros(2), torch.zeros(K, 2), Rm / B)
    F = np.eye(2) - eta * H
    P = solve_discrete_lyapunov(F, eta ** 2 * Rm / (K * B))
    assert np.allclose(xc[:2, :2], P, rtol=1e-9, atol=1e-14)
    assert np.allclose(H @ P + P @ H - eta * H @ P @ H, eta * Rm / (K * B), atol=1e-12)


def per_mode(scheme, lam, eta, h, r, B):
    """THEORY.md §3 per-mode stationary covariances (all modes, λ₁ = 1 included)."""
    q = eta ** 2 * r / B
    if scheme == "dsgd":
        return q / (1 - (lam - eta * h) ** 2)
    if scheme == "atc":
        return q * lam ** 2 / (1 - lam ** 2 * (1 - eta * h) ** 2)
    return q / (1 - lam ** 2 * (1 - eta * h) ** 2)


@given(K=st.integers(3, 9), eh=st.floats(0.02, 0.6), h=st.floats(0.2, 5.0), B=st.integers(1, 4),
       scheme=st.sampled_from(["dsgd", "atc", "cta"]), graph=st.sampled_from(["ring", "complete"]))
def test_per_mode_closed_forms(K, eh, h, B, scheme, graph):
    top = T.get(graph, K)
    eta, r = eh / h, 1.3
    m = dynamics.make(scheme, top, lr=eta)
    _, xc = linear.stationary_x(m, np.array([[h]]), np.zeros(1), torch.zeros(K, 1), r / B)
    lam, U = np.linalg.eigh(top.W(0).numpy())
    got = np.einsum("ij,ik,kj->j", U, xc, U)  # u_jᵀ C u_j (C commutes with W)
    assert np.allclose(got, per_mode(scheme, lam, eta, h, r, B), rtol=1e-8, atol=1e-15)
    assert np.allclose(U.T @ xc @ U, np.diag(got), atol=1e-10 * got.max())  # diagonal in W's basis


def test_per_mode_ordering_example():
    """THEORY.md §3 example: K = 8 ring, Tr Ξ order ATC < consensus < CTA (0.0055 < 0.0095 <
    0.0103 in its units) — here checked as an ordering with the exact moments."""
    top, h, eta = T.ring(8), 1.0, 0.1
    tr = {}
    for s in ("atc", "dsgd", "cta"):
        xm, xc = linear.stationary_x(dynamics.make(s, top, lr=eta), np.array([[h]]), np.zeros(1),
                                     torch.zeros(8, 1), 1.0)
        tr[s] = float(np.trace(linear.consensus_cov(xm, xc, 8, 1)))
    assert tr["atc"] < tr["dsgd"] < tr["cta"]


@given(K=st.integers(2, 6), d=st.integers(1, 3), seed=st.integers(0, 10 ** 6))
def test_decomposition_identity_pathwise(K, d, seed):
    """(1/K)Σ f(x_k) − f* = [f(x̄) − f*] + ½Tr(HΞ) pathwise for common H: the function's moment
    version on the empirical (ddof = 0) mean and covariance equals the sample averages exactly."""
    rng = np.random.default_rng(seed)
    G = rng.normal(size=(d, d))
    H = G @ G.T + 0.1 * np.eye(d)
    xs = rng.normal(size=d)
    X = rng.normal(size=(50, K, d)) * rng.uniform(0.1, 2, size=(K, d)) + rng.normal(size=(K, d))
    f = lambda w: 0.5 * np.einsum("...i,ij,...j->...", w - xs, H, w - xs)
    net_s = f(X).mean()
    cen_s = f(X.mean(1)).mean()
    D = X - X.mean(1, keepdims=True)
    dis_s = 0.5 * np.einsum("nki,ij,nkj->", D, H, D) / (50 * K)
    assert net_s == pytest.approx(cen_s + dis_s, rel=1e-10)
    flat = X.reshape(50, K * d)
    mean = flat.mean(0)
    cov = np.cov(flat.T, ddof=0).reshape(K * d, K * d)
    net, cen, dis = linear.excess_risk_decomposition(H, xs, mean.reshape(K, d), cov, K, d)
    assert (net, cen, dis) == pytest.approx((net_s, cen_s, dis_s), rel=1e-9)
    assert net == pytest.approx(cen + dis, rel=1e-10)


@pytest.mark.parametrize("scheme", ["dsgd", "atc", "cta", "csgd"])
def test_propagate_matches_monte_carlo(scheme):
    """Exact mean / covariance after n steps against R simulated replicas (heterogeneous
    quadratics, so means move): 5-standard-error bounds, Gaussian variance of the sample variance."""
    K, d, n, R, sigma, eta = 4, 1, 12, 2000, 0.7, 0.15
    prob = hetero_quadratics(K, d, zeta=1.0, hess_spread=1.0, mu=1.0, seed=3)
    top = T.ring(K)
    m = dynamics.make(scheme, top, lr=eta)
    x0 = torch.full((K, d), 0.5, dtype=torch.float64)
    st0 = linear.init_state(m, prob.A, prob.b, x0)
    aff = linear.step_map(m, prob.A, prob.b, st0)
    S = linear.noise_blocks(sigma ** 2, K, d)
    mean, cov = linear.propagate(aff, S, linear._flatten(st0).numpy(), n=n)
    xm, xc = linear.x_moments(aff, mean, cov, K, d)
    res = simulate(m, oracle(prob, "isotropic", sigma=sigma), x0, n, replicas=R, seed=1,
                   recorders={}, record_every=[])
    X = res.x.reshape(R, K * d)
    se = np.sqrt(np.diag(xc) / R)
    assert np.all(np.abs(X.mean(0) - xm.reshape(-1)) <= 5 * se + 1e-12)
    v = X.var(0, ddof=1)
    assert np.all(np.abs(v - np.diag(xc)) <= 5 * np.diag(xc) * math.sqrt(2 / (R - 1)) + 1e-12)
