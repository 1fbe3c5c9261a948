"""GT, D², Momentum Tracking (dynamics/algorithms/tracking.py; docs/theory.md §1, §5)."""
import numpy as np
import pytest
import torch
from hypothesis import given, strategies as st

import dynamics
from dynamics import topology as T
from test_gossip import hetero_quadratic, metropolis, noisy_oracle, perm_mix

DT = torch.float64
Ks = st.integers(1, 10)
ds = st.integers(1, 4)
seeds = st.integers(0, 10_000)


def _setup(K, d, seed, sym):
    W = metropolis(K, seed) if sym else perm_mix(K, seed)
    B = torch.randn(K, d, generator=torch.Generator().manual_seed(seed + 1), dtype=DT)
    x0 = torch.randn(K, d, generator=torch.Generator().manual_seed(seed + 2), dtype=DT)
    return W, noisy_oracle(B, seed, nonlinear=True), x0


@given(K=Ks, d=ds, seed=seeds, lr=st.floats(0.01, 0.2), sym=st.booleans())
def test_mt_beta0_is_gt_with_mean_start(K, d, seed, lr, sym):
    """MT(β=0) ≡ GT with y⁰ = 1ḡ⁰ᵀ iterate by iterate; vs standard GT (y⁰ = g⁰) x¹ differs by
    exactly lr (g⁰ − 1ḡ⁰ᵀ) [derived from docs/theory.md §1's start c⁰ = g⁰ − ḡ⁰]."""
    W, orc, x0 = _setup(K, d, seed, sym)
    top = T.custom(W)
    mt, gt = dynamics.make("mt", top, lr=lr, beta=0.0), dynamics.make("gt", top, lr=lr, tracker_start="mean")
    a, b = mt.init(x0, orc, None), gt.init(x0, orc, None)
    for t in range(20):
        a, b = mt.step(a, orc, t, None), gt.step(b, orc, t, None)
        assert torch.allclose(a.x, b.x, atol=1e-12, rtol=0), t
    g0 = orc(x0, 0)[1]
    std = dynamics.make("gt", top, lr=lr)
    x1 = std.step(std.init(x0, orc, None), orc, 0, None).x
    x1_mt = mt.step(mt.init(x0, orc, None), orc, 0, None).x
    assert torch.allclose(x1_mt - x1, lr * (g0 - g0.mean(0)), atol=1e-12, rtol=0)


@given(K=Ks, d=ds, seed=seeds, lr=st.floats(0.01, 0.2), beta=st.floats(0.0, 0.99), sym=st.booleans())
def test_mt_invariants_and_gt_filter_equivalence(K, d, seed, lr, beta, sym):
    """mean(c) = 0, x̄⁺ = x̄ − η m̄, d⁰ = ḡ⁰; and [derived] MT ≡ GT tracker y (y⁰ = 1ḡ⁰ᵀ,
    y⁺ = Wy + g⁺ − g) filtered per node d = βd + y, x⁺ = Wx − ηd (numpy, independent)."""
    W, orc, x0 = _setup(K, d, seed, sym)
    mt = dynamics.make("mt", T.custom(W), lr=lr, beta=beta)
    s = mt.init(x0, orc, None)
    assert s.c.mean(0).abs().max() < 1e-12
    x = x0.numpy().copy()
    g = orc(x0, 0)[1].numpy()
    y = np.ones((K, 1)) * g.mean(0)
    dd = np.zeros_like(y)
    for t in range(25):
        s2 = mt.step(s, orc, t, None)
        if t == 0:
            assert np.allclose((s2.m - s.c).numpy(), g.mean(0), atol=1e-12)  # d⁰ = ḡ⁰
        assert s2.c.mean(0).abs().max() < 1e-12
        assert torch.allclose(s2.x.mean(0), s.x.mean(0) - lr * s2.m.mean(0), atol=1e-12, rtol=0)
        dd = beta * dd + y
        x = W @ x - lr * dd
        g_new = orc(torch.tensor(x), t + 1)[1].numpy()
        y = W @ y + g_new - g
        g = g_new
        scale = 1 + np.abs(x).max()
        assert np.abs(s2.x.numpy() - x).max() < 1e-12 * scale * (t + 1), t
        s = s2


@given(K=Ks, d=ds, seed=seeds, sym=st.booleans())
def test_gt_tracks_the_mean_gradient(K, d, seed, sym):
    W, orc, x0 = _setup(K, d, seed, sym)
    gt = dynamics.make("gt", T.custom(W), lr=0.1)
    s = gt.init(x0, orc, None)
    assert torch.equal(s.y, orc(x0, 0)[1])
    for t in range(15):
        s = gt.step(s, orc, t, None)
        assert torch.allclose(s.y.mean(0), orc(s.x, t + 1)[1].mean(0), atol=1e-12, rtol=0)


def _hetero(K, d, seed, unequal):
    A, B, orc = hetero_quadratic(K, d, seed, unequal, b_scale=3.0)
    return orc, np.linalg.solve(A.sum(0), np.einsum("kij,kj->i", A, B))


@pytest.mark.parametrize("unequal", [False, True])
@given(K=st.integers(1, 8), d=st.integers(1, 3), seed=seeds,
       name=st.sampled_from(["gt", "mt", "d2"]), beta=st.floats(0.0, 0.9))
def test_exact_convergence_on_heterogeneous_quadratics(unequal, K, d, seed, name, beta):
    """docs/theory.md §5: GT, MT and D² converge to the exact minimiser x* = (ΣA_i)⁻¹ Σ A_i b_i
    (every worker, error ≤ 1e-10). D² runs on the lazy W̄ = (I + W)/2 (λ_min > −1/3)."""
    orc, xstar = _hetero(K, d, seed, unequal)
    W = metropolis(K, seed)
    if name == "d2":
        W = (np.eye(K) + W) / 2
    kw = dict(beta=beta) if name == "mt" else {}
    lr = 0.05 * (1 - beta) if name == "mt" else 0.05
    m = dynamics.make(name, T.custom(W), lr=lr, **kw)
    s = m.init(torch.zeros(K, d, dtype=DT), orc, None)
    for t in range(20_000):
        s = m.step(s, orc, t, None)
        err = float((s.x - torch.tensor(xstar)).abs().max())
        if err < 1e-11:
            break
    assert err <= 1e-10, (name, t, err)


@pytest.mark.parametrize("name", ["gt", "mt", "d2"])
def test_steps_pure_and_jacrev(name):
    K, d = 4, 2
    orc, _ = _hetero(K, d, 0, True)
    m = dynamics.make(name, T.ring(K), lr=0.1)
    s = m.init(torch.randn(3, K, d, dtype=DT), orc, None)
    keep = [v.clone() for v in s]
    s2 = m.step(s, orc, 0, None)
    assert all(torch.equal(a, b) for a, b in zip(s, keep))
    assert s2.x.shape == (3, K, d) and m.model(s2).shape == (3, d)
    J = torch.func.jacrev(lambda x: m.step(s._replace(x=x), orc, 0, None).x)(s.x[0:1])
    assert torch.isfinite(J).all() and J.abs().sum() > 0


def test_bad_input():
    Wbad = np.array([[0.5, 0.5, 0.0], [0.25, 0.5, 0.25], [0.0, 0.5, 0.5]])  # rows sum 1, cols not
    for name in ("gt", "mt", "d2"):
        with pytest.raises(ValueError, match=f"{name}.*doubly stochastic"):
            dynamics.make(name, T.custom(Wbad), lr=0.1)
        with pytest.raises(ValueError, match="lr"):
            dynamics.make(name, T.ring(3), lr=-1.0)
        with pytest.raises(ValueError, match="topology"):
            dynamics.make(name, None, lr=0.1)
    for beta in (1.0, 1.5, -0.1):
        with pytest.raises(ValueError, match="beta"):
            dynamics.make("mt", T.ring(3), lr=0.1, beta=beta)
    with pytest.raises(ValueError, match="tracker_start"):
        dynamics.make("gt", T.ring(3), lr=0.1, tracker_start="zero")


def test_comm():
    top = T.ring(5)  # 10 directed edges
    assert dynamics.make("gt", top, lr=0.1).comm == 20.0
    assert dynamics.make("mt", top, lr=0.1).comm == 20.0
    assert dynamics.make("d2", top, lr=0.1).comm == 10.0
