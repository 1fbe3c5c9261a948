"""analysis/linear.py: exact moments of the algorithms on quadratics (docs/theory.md §3).

Expected values are independent: the scalar closed form derived from the recursion
P = (1 − ηh)²P + η²r/(KB), scipy's discrete Lyapunov solver, the recursion written directly (Kronecker form, any doubly
stochastic W), docs/theory.md §3's per-mode formulas,
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
    """C-SGD w' = (1 − ηh)w − η ξ̄, Var ξ̄ = r/(KB): P = ηr/(KB·h(2 − ηh)) (docs/theory.md §3)."""
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
    """docs/theory.md §3 per-mode stationary covariances (all modes, λ₁ = 1 included)."""
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
    """docs/theory.md §3 example: K = 8 ring, Tr Ξ order ATC < consensus < CTA (0.0055 < 0.0095 <
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


# ---------------------------------------------------------------- noise propagation, written from the recursion

def birkhoff_W(K, seed, n_perm=3):
    """A random doubly stochastic W: a convex combination of the identity and random permutation
    matrices (Birkhoff), in general neither symmetric nor normal; the cyclic shift is one of them so
    that the graph is strongly connected."""
    g = np.random.default_rng(seed)
    wts = g.dirichlet(np.ones(n_perm + 2))
    W = wts[0] * np.eye(K) + wts[1] * np.roll(np.eye(K), 1, axis=1)
    for w in wts[2:]:
        W = W + w * np.eye(K)[g.permutation(K)]
    return W


def direct_affine(scheme, W, H, eta):
    """z' = F z + G ξ for x (K, d) flattened row-major (index k·d + i), written from THE update rules:
    dsgd x' = Wx − η(Hx + ξ); atc x' = W(x − η(Hx + ξ)); cta x' = (I − ηH)Wx − ηξ."""
    K, d = W.shape[0], H.shape[0]
    Wk, Hk, I = np.kron(W, np.eye(d)), np.kron(np.eye(K), H), np.eye(K * d)
    if scheme == "dsgd":
        return Wk - eta * Hk, -eta * I
    if scheme == "atc":
        return Wk @ (I - eta * Hk), -eta * Wk
    return (I - eta * Hk) @ Wk, -eta * I


def _spd(g, d, lo=0.2):
    A = g.normal(size=(d, d))
    return A @ A.T / d + lo * np.eye(d)


@given(K=st.integers(2, 6), d=st.integers(1, 3), eta=st.floats(0.02, 0.3), seed=st.integers(0, 10 ** 6),
       scheme=st.sampled_from(["dsgd", "atc", "cta"]), per_worker=st.booleans(), n=st.integers(1, 15))
def test_propagate_and_stationary_match_direct_lyapunov(K, d, eta, seed, scheme, per_worker, n):
    """Non-symmetric doubly stochastic W, any SPD H, shared or per-worker noise S: the covariance after n
    steps equals the direct iteration P ← FPFᵀ + GSGᵀ, and the stationary covariance equals scipy's
    discrete Lyapunov solution, both to 1e-10 / 1e-8 relative (a 5% error in the noise term fails)."""
    from hypothesis import assume
    g = np.random.default_rng(seed)
    W = birkhoff_W(K, seed)
    H = _spd(g, d)
    S = np.stack([_spd(g, d, 0.05) for _ in range(K)]) if per_worker else _spd(g, d, 0.05)
    F, G = direct_affine(scheme, W, H, eta)
    assume(np.max(np.abs(np.linalg.eigvals(F))) < 0.995)
    Sb = np.kron(np.eye(K), S) if not per_worker else np.zeros((K * d, K * d))
    if per_worker:
        for k in range(K):
            Sb[k * d:(k + 1) * d, k * d:(k + 1) * d] = S[k]
    Q = G @ Sb @ G.T
    m = dynamics.make(scheme, T.custom(torch.tensor(W)), lr=eta)
    x0 = torch.tensor(g.normal(size=(K, d)))
    st0 = linear.init_state(m, H, np.zeros(d), x0)
    aff = linear.step_map(m, H, np.zeros(d), st0)
    assert np.allclose(aff.M, F, atol=1e-14) and np.allclose(aff.N @ aff.N.T, G @ G.T, atol=1e-14)
    P0 = np.diag(g.uniform(0.1, 1.0, size=K * d))
    mean, P = linear.propagate(aff, linear.noise_blocks(S, K, d), x0.numpy().reshape(-1), P0, n)
    Pd, md = P0, x0.numpy().reshape(-1)
    for _ in range(n):
        Pd, md = F @ Pd @ F.T + Q, F @ md
    assert np.allclose(mean, md, rtol=1e-10, atol=1e-13)
    assert np.abs(P - Pd).max() <= 1e-10 * np.abs(Pd).max()
    _, xc = linear.stationary_x(m, H, np.zeros(d), x0, S)
    Pinf = solve_discrete_lyapunov(F, Q)
    assert np.abs(xc - Pinf).max() <= 1e-8 * np.abs(Pinf).max()


def test_scalar_two_worker_dsgd_closed_form():
    """K = 2, d = 1, W = [[1−p, p], [p, 1−p]]: the disagreement mode u = (x₁ − x₂)/√2 obeys
    u' = (1 − 2p − ηh)u − ηξ_u, so Var u = η²r/(1 − (1 − 2p − ηh)²); the consensus mode is C-SGD
    with Var = η²r/(1 − (1 − ηh)²). E[Ξ] = Var u / 2 exactly (relative 1e-12)."""
    p, eta, h, r = 0.3, 0.2, 1.5, 0.7
    W = torch.tensor([[1 - p, p], [p, 1 - p]], dtype=torch.float64)
    m = dynamics.make("dsgd", T.custom(W), lr=eta)
    xm, xc = linear.stationary_x(m, np.array([[h]]), np.zeros(1), torch.zeros(2, 1), r)
    var_u = eta ** 2 * r / (1 - (1 - 2 * p - eta * h) ** 2)
    var_c = eta ** 2 * r / (1 - (1 - eta * h) ** 2)
    assert float(linear.consensus_cov(xm, xc, 2, 1)[0, 0]) == pytest.approx(var_u / 2, rel=1e-12)
    # x₁ = (c + u)/√2: Var x₁ = (var_c + var_u)/2, Cov(x₁, x₂) = (var_c − var_u)/2
    assert xc[0, 0] == pytest.approx((var_c + var_u) / 2, rel=1e-12)
    assert xc[0, 1] == pytest.approx((var_c - var_u) / 2, rel=1e-12)
