"""C-SGD, local SGD, D-SGD, ATC, CTA (dynamics/algorithms/gossip.py; docs/theory.md §1, §5)."""
import math

import numpy as np
import pytest
import torch
from hypothesis import given, strategies as st

import dynamics
from dynamics import topology as T

DT = torch.float64


def metropolis(K, seed, p=0.4):
    """Random connected graph (random spanning tree + G(K,p) edges), Metropolis weights."""
    rs = np.random.default_rng(seed)
    adj = np.zeros((K, K), bool)
    order = rs.permutation(K)
    for n in range(1, K):
        i, j = order[n], order[rs.integers(n)]
        adj[i, j] = adj[j, i] = True
    extra = np.triu(rs.random((K, K)) < p, 1)
    adj |= extra | extra.T
    np.fill_diagonal(adj, False)
    d = adj.sum(1)
    W = np.where(adj, 1.0 / (1 + np.maximum.outer(d, d)), 0.0)
    W[np.diag_indices(K)] = 1 - W.sum(1)
    return W


def perm_mix(K, seed, n=3):
    """Convex combination of I, the cyclic shift and n random permutations (doubly stochastic)."""
    rs = np.random.default_rng(seed)
    mats = [np.eye(K), np.roll(np.eye(K), 1, axis=1)] + [np.eye(K)[rs.permutation(K)] for _ in range(n)]
    a = rs.dirichlet(np.ones(len(mats)))
    return sum(w * P for w, P in zip(a, mats))


def noisy_oracle(B, seed, nonlinear=False, H=None):
    """g_k(x) = H(x_k - b_k) [+ tanh(x_k)] + xi_k(t); xi depends only on (seed, t)."""
    def oracle(x, t, rng=None):
        gen = torch.Generator().manual_seed(10_000 * seed + int(t))
        xi = torch.randn(x.shape[-2:], generator=gen, dtype=DT)
        r = x - B
        g = (r if H is None else r @ H.T) + xi
        if nonlinear:
            g = g + torch.tanh(x) * torch.arange(1, x.shape[-2] + 1, dtype=DT)[:, None]
        return 0.5 * (r ** 2).sum(-1), g
    return oracle


Ks = st.integers(1, 10)
ds = st.integers(1, 4)
seeds = st.integers(0, 10_000)
lrs = st.floats(0.01, 0.5)


@given(K=Ks, d=ds, seed=seeds, name=st.sampled_from(["dsgd", "atc", "cta"]), sym=st.booleans())
def test_gossip_preserves_mean(K, d, seed, name, sym):
    W = metropolis(K, seed) if sym else perm_mix(K, seed)
    m = dynamics.make(name, T.custom(W), lr=0.3)
    zero = lambda x, t, rng: (torch.zeros(x.shape[:-1]), torch.zeros_like(x))
    x0 = torch.randn(K, d, generator=torch.Generator().manual_seed(seed), dtype=DT)
    s = dynamics.rollout(m, zero, x0, 20).state
    assert torch.allclose(m.model(s)[0], x0.mean(0), atol=1e-12, rtol=0)
    # W^20 x0 is what 20 zero-gradient gossip rounds give (independent numpy power)
    assert np.allclose(s.x[0].numpy(), np.linalg.matrix_power(W, 20) @ x0.numpy(), atol=1e-12)


def _csgd_path(K, d, seed, lr, steps, beta=0.0, **kw):
    B = torch.randn(K, d, generator=torch.Generator().manual_seed(seed + 1), dtype=DT)
    orc = noisy_oracle(B, seed, **kw)
    w0 = torch.randn(d, generator=torch.Generator().manual_seed(seed + 2), dtype=DT)
    x0 = w0.expand(K, d).clone()
    c = dynamics.make("csgd", T.complete(K), lr=lr, beta=beta)
    s = c.init(x0, orc, None)
    path = [c.model(s)]
    for t in range(steps):
        s = c.step(s, orc, t, None)
        assert torch.equal(s.x, s.x[..., :1, :].expand_as(s.x))  # stays replicated
        path.append(c.model(s))
    return orc, x0, path


@given(K=Ks, d=ds, seed=seeds, lr=lrs)
def test_atc_cta_on_complete_graph_are_csgd(K, d, seed, lr):
    """W = 11ᵀ/K: ATC iterates and CTA's average equal C-SGD's w (any, even nonlinear, g_k)."""
    orc, x0, path = _csgd_path(K, d, seed, lr, 15, nonlinear=True)
    for name in ("atc", "cta"):
        m = dynamics.make(name, T.complete(K), lr=lr)
        s = m.init(x0, orc, None)
        for t in range(15):
            s = m.step(s, orc, t, None)
            assert torch.allclose(m.model(s), path[t + 1], atol=1e-12, rtol=0), (name, t)
            if name == "atc":
                assert torch.allclose(s.x, path[t + 1].expand_as(s.x), atol=1e-12, rtol=0)


@given(K=Ks, d=ds, seed=seeds, lr=lrs)
def test_dsgd_on_complete_graph_is_csgd_for_affine_common_hessian(K, d, seed, lr):
    """x⁺ = x̄1 − lr g(x): mean_k g_k(x_k) = g-bar(x̄) when g_k = H(x − b_k) + noise, so the
    average follows C-SGD exactly (the workers themselves differ)."""
    rs = np.random.default_rng(seed)
    Q = rs.standard_normal((d, d))
    H = torch.tensor(Q @ Q.T / d + 0.5 * np.eye(d))
    orc, x0, path = _csgd_path(K, d, seed, lr / 3, 15, H=H)
    m = dynamics.make("dsgd", T.complete(K), lr=lr / 3)
    s = m.init(x0, orc, None)
    for t in range(15):
        s = m.step(s, orc, t, None)
        assert torch.allclose(m.model(s), path[t + 1], atol=1e-11, rtol=0), t


def test_dsgd_on_complete_graph_differs_from_csgd_for_nonlinear_gradients():
    """Documented limit of the equivalence: nonlinear heterogeneous g_k break it after step 1."""
    K, d, lr = 4, 2, 0.3
    orc, x0, path = _csgd_path(K, d, 7, lr, 3, nonlinear=True)
    m = dynamics.make("dsgd", T.complete(K), lr=lr)
    s = m.step(m.init(x0, orc, None), orc, 0, None)
    assert torch.allclose(m.model(s), path[1], atol=1e-12, rtol=0)
    s = m.step(s, orc, 1, None)
    assert (m.model(s) - path[2]).abs().max() > 1e-6


@given(seed=seeds, lr=st.floats(0.01, 0.3), beta=st.floats(0.0, 0.95))
def test_csgd_heavy_ball_recurrence(seed, lr, beta):
    """f = mean_k ½‖w − b_k‖²: e = w − b̄ obeys e_{t+1} = (1 + β − η) e_t − β e_{t−1} (Polyak)."""
    K, d = 5, 3
    B = torch.randn(K, d, generator=torch.Generator().manual_seed(seed), dtype=DT)
    orc = lambda x, t, rng: (0.5 * ((x - B) ** 2).sum(-1), x - B)
    c = dynamics.make("csgd", T.ring(K), lr=lr, beta=beta)
    s = c.init(torch.randn(K, d, dtype=DT), orc, None)
    es = [c.model(s) - B.mean(0)]
    for t in range(30):
        s = c.step(s, orc, t, None)
        es.append(c.model(s) - B.mean(0))
    assert torch.allclose(es[1], (1 - lr) * es[0], atol=1e-12)
    for t in range(1, 30):
        assert torch.allclose(es[t + 1], (1 + beta - lr) * es[t] - beta * es[t - 1], atol=1e-12)


@given(K=Ks, seed=seeds, period=st.integers(1, 4))
def test_local_sgd_is_independent_sgd_then_average(K, seed, period):
    d, lr = 2, 0.2
    B = torch.randn(K, d, generator=torch.Generator().manual_seed(seed), dtype=DT)
    orc = noisy_oracle(B, seed, nonlinear=True)
    m = dynamics.make("local_sgd", T.ring(K), lr=lr, period=period)
    x0 = torch.randn(K, d, generator=torch.Generator().manual_seed(seed + 5), dtype=DT)
    s = m.init(x0, orc, None)
    ref = x0.numpy().copy()
    for t in range(2 * period):
        s = m.step(s, orc, t, None)
        for k in range(K):  # each worker alone: plain SGD on its own row
            ref[k] = ref[k] - lr * orc(torch.tensor(ref), t)[1][k].numpy()
        if (t + 1) % period == 0:
            ref[:] = ref.mean(0)
        assert np.allclose(s.x.numpy(), ref, atol=1e-12)
    assert m.comm == pytest.approx(2 * (K - 1) / period)


def _solve_fixed_point(W, A, B, lr, kind):
    """Independent linear solve for the exact-gradient fixed point on f_i = ½(x−b_i)ᵀA_i(x−b_i):
    ATC X = W(X − lr A(X − B)), DSGD X = WX − lr A(X − B) (vec over (K, d), row-major)."""
    K, d = B.shape
    Abd = np.zeros((K * d, K * d))
    for k in range(K):
        Abd[k * d:(k + 1) * d, k * d:(k + 1) * d] = A[k]
    Wk, I = np.kron(W, np.eye(d)), np.eye(K * d)
    b = B.reshape(-1)
    if kind == "atc":
        M, r = I - Wk @ (I - lr * Abd), lr * Wk @ Abd @ b
    else:
        M, r = I - Wk + lr * Abd, lr * Abd @ b
    return np.linalg.solve(M, r).reshape(K, d)


def _run_to_fixed_point(m, orc, K, d, max_steps=20_000, tol=1e-14, x0=None):
    """Step from x0 (default 0) until no coordinate moves by tol (at most max_steps): X (K, d)."""
    s = m.init(torch.zeros(K, d, dtype=DT) if x0 is None else x0, orc, None)
    for t in range(max_steps):
        new = m.step(s, orc, t, None)
        if (new.x - s.x).abs().max() < tol:
            return new.x.numpy()
        s = new
    return s.x.numpy()


@given(K=st.integers(2, 8), d=ds, seed=seeds, lr=st.floats(0.05, 0.5))
def test_atc_fixed_point_closed_form(K, d, seed, lr):
    """docs/theory.md §5: X* = 1b̄ᵀ + Σ_{k≥2} [ηλ_k/(1 − (1−η)λ_k)] v_k v_kᵀ B_⊥ for f_i = ½‖x − b_i‖²."""
    W = metropolis(K, seed)
    B = np.random.default_rng(seed).standard_normal((K, d))
    lam, V = np.linalg.eigh(W)
    Bp = B - B.mean(0)
    closed = np.ones((K, 1)) * B.mean(0) + sum(
        lr * lam[k] / (1 - (1 - lr) * lam[k]) * np.outer(V[:, k], V[:, k]) @ Bp
        for k in range(K) if abs(lam[k] - 1) > 1e-9)
    solved = _solve_fixed_point(W, np.stack([np.eye(d)] * K), B, lr, "atc")
    assert np.allclose(closed, solved, atol=1e-10)
    Bt = torch.tensor(B)
    orc = lambda x, t, rng: (0.5 * ((x - Bt) ** 2).sum(-1), x - Bt)
    X = _run_to_fixed_point(dynamics.make("atc", T.custom(W), lr=lr), orc, K, d)
    assert np.abs(X - closed).max() < 1e-6
    assert np.allclose(X.mean(0), B.mean(0), atol=1e-10)  # average exact


@given(K=st.integers(2, 8), d=ds, seed=seeds, lr=st.floats(0.05, 0.3), kind=st.sampled_from(["atc", "dsgd"]))
def test_fixed_point_unequal_hessians(K, d, seed, lr, kind):
    rs = np.random.default_rng(seed)
    W = metropolis(K, seed)
    A = np.stack([q @ np.diag(rs.uniform(0.5, 2.0, d)) @ q.T
                  for q in (np.linalg.qr(rs.standard_normal((d, d)))[0] for _ in range(K))])
    B = rs.standard_normal((K, d))
    At, Bt = torch.tensor(A), torch.tensor(B)

    def orc(x, t, rng):
        r = x - Bt
        g = torch.einsum("kij,...kj->...ki", At, r)
        return 0.5 * (r * g).sum(-1), g
    X = _run_to_fixed_point(dynamics.make(kind, T.custom(W), lr=lr), orc, K, d)
    assert np.abs(X - _solve_fixed_point(W, A, B, lr, kind)).max() < 1e-6


def test_unequal_hessians_bias_the_average():
    """docs/theory.md §5: with unequal Hessians ATC's average is not the minimiser (K = 6 ring)."""
    K, d, lr = 6, 2, 0.1
    rs = np.random.default_rng(3)
    A = np.stack([np.diag(rs.uniform(0.5, 2.0, d)) for _ in range(K)])
    B = rs.standard_normal((K, d))
    xstar = np.linalg.solve(A.sum(0), np.einsum("kij,kj->i", A, B))
    X = _solve_fixed_point(T.ring(K).W().numpy(), A, B, lr, "atc")
    assert np.abs(X.mean(0) - xstar).max() > 1e-4


def test_dsgd_step_jacobian_is_kron():
    """jacrev through the pure step: ∂x⁺/∂x = W ⊗ I − η ∇²F for DSGD on ½‖x − b‖²."""
    K, d, lr = 4, 3, 0.2
    top = T.ring(K)
    B = torch.randn(K, d, dtype=DT)
    orc = lambda x, t, rng: (0.5 * ((x - B) ** 2).sum(-1), x - B)
    m = dynamics.make("dsgd", top, lr=lr)
    s = m.init(torch.randn(K, d, dtype=DT), orc, None)
    J = torch.func.jacrev(lambda x: m.step(s._replace(x=x), orc, 0, None).x)(s.x)
    ref = np.kron(top.W().numpy(), np.eye(d)) - lr * np.eye(K * d)
    assert np.allclose(J.reshape(K * d, K * d).numpy(), ref, atol=1e-14)


@pytest.mark.parametrize("name", ["csgd", "local_sgd", "dsgd", "atc", "cta"])
def test_steps_do_not_modify_input_and_batch(name):
    K, d = 3, 2
    B = torch.randn(K, d, dtype=DT)
    orc = lambda x, t, rng: (0.5 * ((x - B) ** 2).sum(-1), x - B)
    m = dynamics.make(name, T.ring(K), lr=0.1)
    x0 = torch.randn(5, K, d, dtype=DT)  # leading replica axis
    s = m.init(x0, orc, None)
    keep = [v.clone() for v in s]
    x0c = x0.clone()
    s2 = m.step(s, orc, 0, None)
    assert all(torch.equal(a, b) for a, b in zip(s, keep)) and torch.equal(x0, x0c)
    assert s2.x.shape == (5, K, d) and m.model(s2).shape == (5, d)
    one = m.step(m.init(x0[2], orc, None), orc, 0, None)  # replicas are independent
    assert torch.allclose(one.x, s2.x[2], atol=1e-15)


@pytest.mark.parametrize("name", ["csgd", "local_sgd", "dsgd", "atc", "cta"])
def test_bad_input(name):
    top = T.ring(4)
    for lr in (-0.1, 0.0, float("nan"), None):
        with pytest.raises(ValueError, match="lr"):
            dynamics.make(name, top, lr=lr)
    with pytest.raises(ValueError, match="x0"):
        dynamics.make(name, top, lr=0.1).init(torch.zeros(5, 2, dtype=DT), None, None)
    if name == "csgd":
        with pytest.raises(ValueError, match="beta"):
            dynamics.make(name, top, lr=0.1, beta=1.0)
    if name == "local_sgd":
        with pytest.raises(ValueError, match="period"):
            dynamics.make(name, top, lr=0.1, period=0)
    if name in ("dsgd", "atc", "cta"):
        with pytest.raises(ValueError, match="topology"):
            dynamics.make(name, None, lr=0.1)


def test_comm_counts():
    top = T.ring(6)
    assert dynamics.make("dsgd", top, lr=0.1).comm == 12.0  # 6 workers x 2 neighbours
    assert dynamics.make("csgd", top, lr=0.1).comm == 10.0  # ring all-reduce 2(K-1)
    assert math.isnan(dynamics.make("csgd", None, lr=0.1).comm)


def hetero_quadratic(K, d, seed, unequal, b_scale=1.0):
    """f_k = ½(x − b_k)ᵀA_k(x − b_k): A_k = I or random SPD (eigenvalues in [0.5, 2]),
    b_k = b_scale · N(0, I). Returns (A, B, oracle with exact gradients)."""
    rs = np.random.default_rng(seed)
    if unequal:
        A = np.stack([q @ np.diag(rs.uniform(0.5, 2.0, d)) @ q.T
                      for q in (np.linalg.qr(rs.standard_normal((d, d)))[0] for _ in range(K))])
    else:
        A = np.stack([np.eye(d)] * K)
    B = b_scale * rs.standard_normal((K, d))
    At, Bt = torch.tensor(A), torch.tensor(B)

    def orc(x, t, rng=None):
        r = x - Bt
        g = torch.einsum("kij,...kj->...ki", At, r)
        return 0.5 * (r * g).sum(-1), g
    return A, B, orc
