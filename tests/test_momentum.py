"""DSGDm, QG-DSGDm, DecentLaM (dynamics/algorithms/momentum.py; docs/theory.md §1, §5)."""
import numpy as np
import pytest
import torch
from hypothesis import given, strategies as st

import dynamics
from dynamics import topology as T
from test_gossip import (_run_to_fixed_point, _solve_fixed_point, hetero_quadratic, metropolis, noisy_oracle,
                         perm_mix)

DT = torch.float64
NAMES = ["dsgdm", "qg_dsgdm", "decentlam"]
seeds = st.integers(0, 10_000)


@given(K=st.integers(1, 10), d=st.integers(1, 4), seed=seeds, lr=st.floats(0.01, 0.5),
       name=st.sampled_from(NAMES), sym=st.booleans())
def test_beta0_is_atc(K, d, seed, lr, name, sym):
    """β = 0: all three reduce to diffusion ATC x⁺ = W(x − ηg) (docs/theory.md §1), iterate by iterate."""
    W = metropolis(K, seed) if sym else perm_mix(K, seed)
    B = torch.randn(K, d, generator=torch.Generator().manual_seed(seed), dtype=DT)
    orc = noisy_oracle(B, seed, nonlinear=True)
    x0 = torch.randn(K, d, generator=torch.Generator().manual_seed(seed + 3), dtype=DT)
    m = dynamics.make(name, T.custom(W), lr=lr, beta=0.0)
    s, x = m.init(x0, orc, None), x0.numpy()
    for t in range(15):
        s = m.step(s, orc, t, None)
        x = W @ (x - lr * orc(torch.tensor(x), t)[1].numpy())
        assert np.abs(s.x.numpy() - x).max() < 1e-11 * (1 + np.abs(x).max()), t


@given(K=st.integers(1, 10), d=st.integers(1, 4), seed=seeds, lr=st.floats(0.01, 0.3),
       beta=st.floats(0.0, 0.99), name=st.sampled_from(["dsgdm", "decentlam"]))
def test_average_is_heavy_ball_on_mean_gradient(K, d, seed, lr, beta, name):
    """Doubly stochastic W: DSGDm's and DecentLaM's average obeys m̄ ← βm̄ + ḡ, x̄ ← x̄ − ηm̄
    (for DecentLaM mean(g̃) = ḡ)."""
    W = perm_mix(K, seed)
    B = torch.randn(K, d, generator=torch.Generator().manual_seed(seed), dtype=DT)
    orc = noisy_oracle(B, seed, nonlinear=True)
    m = dynamics.make(name, T.custom(W), lr=lr, beta=beta)
    s = m.init(torch.randn(K, d, generator=torch.Generator().manual_seed(seed + 3), dtype=DT), orc, None)
    xb, mb = s.x.mean(0).clone(), torch.zeros(d, dtype=DT)
    for t in range(15):
        mb = beta * mb + orc(s.x, t)[1].mean(0)
        xb = xb - lr * mb
        s = m.step(s, orc, t, None)
        assert torch.allclose(s.x.mean(0), xb, atol=1e-11, rtol=0), t


@pytest.mark.parametrize("unequal", [False, True])
@given(K=st.integers(2, 8), d=st.integers(1, 3), seed=seeds, beta=st.floats(0.0, 0.9),
       name=st.sampled_from(NAMES))
def test_fixed_points(unequal, K, d, seed, beta, name):
    """docs/theory.md §5 [derived]: QG-DSGDm, DecentLaM solve X = W(X − η∇F(X)); DSGDm solves it
    with step η/(1 − β). Reference: numpy linear solve. (Iterated to convergence, so β ≤ 0.9
    keeps it fast; test_fixed_state_is_invariant covers β up to 0.99.)"""
    A, B, orc = hetero_quadratic(K, d, seed, unequal)
    W = metropolis(K, seed)
    lr = 0.03 * (1 - beta) if name == "dsgdm" else 0.03
    m = dynamics.make(name, T.custom(W), lr=lr, beta=beta)
    X = _run_to_fixed_point(m, orc, K, d, max_steps=40_000)
    ref = _solve_fixed_point(W, A, B, lr / (1 - beta) if name == "dsgdm" else lr, "atc")
    assert np.abs(X - ref).max() < 1e-6, np.abs(X - ref).max()


@pytest.mark.parametrize("unequal", [False, True])
@given(K=st.integers(2, 8), d=st.integers(1, 3), seed=seeds, beta=st.floats(0.0, 0.99),
       lr=st.floats(0.005, 0.2), name=st.sampled_from(NAMES))
def test_fixed_state_is_invariant(unequal, K, d, seed, beta, lr, name):
    """One step from the predicted fixed state returns it, β ∈ [0, 0.99]: X* from the numpy
    solve of X = W(X − s∇F(X)) (s = η/(1 − β) for DSGDm, η otherwise); the buffer at X* is
    m* = ∇F(X*)/(1 − β) for DSGDm (m = βm + g stationary) and 0 for QG-DSGDm / DecentLaM (their
    buffers average x-displacements, which vanish at a fixed point)."""
    A, B, orc = hetero_quadratic(K, d, seed, unequal)
    W = metropolis(K, seed)
    X = _solve_fixed_point(W, A, B, lr / (1 - beta) if name == "dsgdm" else lr, "atc")
    G = np.einsum("kij,kj->ki", A, X - B)
    mstar = G / (1 - beta) if name == "dsgdm" else np.zeros_like(X)
    m = dynamics.make(name, T.custom(W), lr=lr, beta=beta)
    s = m.init(torch.tensor(X), orc, None)._replace(m=torch.tensor(mstar))
    new = m.step(s, orc, 0, None)
    scale = 1 + np.abs(X).max() + np.abs(mstar).max()
    assert np.abs(new.x.numpy() - X).max() < 1e-11 * scale
    assert np.abs(new.m.numpy() - mstar).max() < 1e-9 * scale / lr
    if name == "dsgdm" and beta > 0.05:   # the wrong step (η instead of η/(1 − β)) is not a fixed point
        Xw = _solve_fixed_point(W, A, B, lr, "atc")
        if np.abs(Xw - X).max() > 1e-6:
            Gw = np.einsum("kij,kj->ki", A, Xw - B)
            sw = m.init(torch.tensor(Xw), orc, None)._replace(m=torch.tensor(Gw / (1 - beta)))
            assert np.abs(m.step(sw, orc, 0, None).x.numpy() - Xw).max() > 1e-9


def _by_hand(name, W, A, B, x0, lr, beta, steps=2):
    """The update equations of docs/theory.md §1 written out in numpy, g_i = A_i(x_i − b_i):
    DSGDm      m_i ← βm_i + g_i;  x_i ← Σ_j W_ij (x_j − η m_j)
    QG-DSGDm   x½_i = x_i − η(β m̂_i + g_i);  x⁺_i = Σ_j W_ij x½_j;  d_i = (x_i − x⁺_i)/η;
               m̂_i ← β m̂_i + (1 − β) d_i
    DecentLaM  g̃_i = (x_i − Σ_j W_ij (x_j − η g_j))/η;  m_i ← βm_i + g̃_i;  x_i ← x_i − η m_i
    with m⁰ = m̂⁰ = 0. Returns [(x^1, m^1), (x^2, m^2), ...]."""
    K = len(W)
    x, m, out = x0.copy(), np.zeros_like(x0), []
    for _ in range(steps):
        g = np.stack([A[i] @ (x[i] - B[i]) for i in range(K)])
        if name == "dsgdm":
            m = beta * m + g
            x = np.stack([sum(W[i, j] * (x[j] - lr * m[j]) for j in range(K)) for i in range(K)])
        elif name == "qg_dsgdm":
            half = x - lr * (beta * m + g)
            xn = np.stack([sum(W[i, j] * half[j] for j in range(K)) for i in range(K)])
            m = beta * m + (1 - beta) * (x - xn) / lr
            x = xn
        else:
            gt = (x - np.stack([sum(W[i, j] * (x[j] - lr * g[j]) for j in range(K)) for i in range(K)])) / lr
            m = beta * m + gt
            x = x - lr * m
        out.append((x.copy(), m.copy()))
    return out


@pytest.mark.parametrize("name", NAMES)
@given(K=st.integers(2, 6), d=st.integers(1, 3), seed=seeds, lr=st.floats(0.01, 0.3), beta=st.floats(0.05, 0.99))
def test_first_steps_by_hand(name, K, d, seed, lr, beta):
    """Three steps of each method against the update equations in numpy (catches a flipped or
    dropped momentum term, which the β = 0 and heavy-ball-average tests cannot see for QG-DSGDm:
    its momentum enters the local step with sign +β, and m̂ enters step 2 onwards)."""
    A, B, orc = hetero_quadratic(K, d, seed, True)
    W = metropolis(K, seed)
    x0 = np.random.default_rng(seed + 5).standard_normal((K, d))
    m = dynamics.make(name, T.custom(W), lr=lr, beta=beta)
    s = m.init(torch.tensor(x0), orc, None)
    for t, (x, mm) in enumerate(_by_hand(name, W, A, B, x0, lr, beta, steps=3)):
        s = m.step(s, orc, t, None)
        scale = 1 + np.abs(x).max() + np.abs(mm).max()
        assert np.abs(s.x.numpy() - x).max() < 1e-12 * scale, (t, "x")
        assert np.abs(s.m.numpy() - mm).max() < 1e-12 * scale, (t, "m")


def test_qg_dsgdm_second_step_by_hand_numbers():
    """QG-DSGDm on K = 2, d = 1, f_i = ½(x − b_i)², W = [[.5, .5], [.5, .5]], η = 0.1, β = 0.5,
    x⁰ = (0, 0), b = (1, −3), worked by hand: g⁰ = (−1, 3); x½ = (0.1, −0.3); x¹ = (−0.1, −0.1);
    d = (1, 1); m̂¹ = (0.5, 0.5). Step 2: g¹ = (−1.1, 2.9); x½ = −0.1 − 0.1(0.25 + g¹) =
    (−0.015, −0.415); x² = (−0.215, −0.215); d = (1.15, 1.15); m̂² = 0.25 + 0.575 = (0.825, 0.825)."""
    B = torch.tensor([[1.0], [-3.0]], dtype=DT)

    def orc(x, t, rng=None):
        return 0.5 * ((x - B) ** 2).sum(-1), x - B
    m = dynamics.make("qg_dsgdm", T.custom(np.full((2, 2), 0.5)), lr=0.1, beta=0.5)
    s = m.step(m.init(torch.zeros(2, 1, dtype=DT), orc, None), orc, 0, None)
    assert np.allclose(s.x.numpy().ravel(), [-0.1, -0.1], atol=1e-14)
    assert np.allclose(s.m.numpy().ravel(), [0.5, 0.5], atol=1e-14)
    s = m.step(s, orc, 1, None)
    assert np.allclose(s.x.numpy().ravel(), [-0.215, -0.215], atol=1e-14)
    assert np.allclose(s.m.numpy().ravel(), [0.825, 0.825], atol=1e-14)


@pytest.mark.parametrize("name", NAMES)
def test_pure_replicas_and_bad_input(name):
    K, d = 4, 2
    A, B, orc = hetero_quadratic(K, d, 1, True)
    m = dynamics.make(name, T.ring(K), lr=0.1, beta=0.5)
    s = m.init(torch.randn(3, K, d, dtype=DT), orc, None)
    s = m.step(s, orc, 0, None)
    keep = [v.clone() for v in s]
    s2 = m.step(s, orc, 1, None)
    assert all(torch.equal(a, b) for a, b in zip(s, keep))
    assert s2.x.shape == (3, K, d) and m.model(s2).shape == (3, d)
    assert m.comm == 8.0
    J = torch.func.jacrev(lambda x: m.step(s._replace(x=x), orc, 1, None).x)(s.x[:1])
    assert torch.isfinite(J).all()
    for lr in (-0.1, 0.0):
        with pytest.raises(ValueError, match="lr"):
            dynamics.make(name, T.ring(K), lr=lr)
    for beta in (1.0, 2.0, -0.5):
        with pytest.raises(ValueError, match="beta"):
            dynamics.make(name, T.ring(K), lr=0.1, beta=beta)
    with pytest.raises(ValueError, match="topology"):
        dynamics.make(name, None, lr=0.1)
