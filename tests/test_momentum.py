"""DSGDm, QG-DSGDm, DecentLaM (dynamics/algorithms/momentum.py; THEORY.md §1, §5)."""
import numpy as np
import pytest
import torch
from hypothesis import given, strategies as st

import dynamics
from dynamics import topology as T
from test_gossip import _solve_fixed_point, hetero_quadratic, metropolis, noisy_oracle, perm_mix

DT = torch.float64
NAMES = ["dsgdm", "qg_dsgdm", "decentlam"]
seeds = st.integers(0, 10_000)


@given(K=st.integers(1, 10), d=st.integers(1, 4), seed=seeds, lr=st.floats(0.01, 0.5),
       name=st.sampled_from(NAMES), sym=st.booleans())
def test_beta0_is_atc(K, d, seed, lr, name, sym):
    """β = 0: all three reduce to diffusion ATC x⁺ = W(x − ηg) (THEORY.md §1), iterate by iterate."""
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
       beta=st.floats(0.0, 0.95), name=st.sampled_from(["dsgdm", "decentlam"]))
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
    """THEORY.md §5 [derived]: QG-DSGDm, DecentLaM solve X = W(X − η∇F(X)); DSGDm solves it with
    step η/(1 − β). Reference: numpy linear solve."""
    A, B, orc = hetero_quadratic(K, d, seed, unequal)
    W = metropolis(K, seed)
    lr = 0.03 * (1 - beta) if name == "dsgdm" else 0.03
    m = dynamics.make(name, T.custom(W), lr=lr, beta=beta)
    s = m.init(torch.zeros(K, d, dtype=DT), orc, None)
    for t in range(40_000):
        new = m.step(s, orc, t, None)
        if (new.x - s.x).abs().max() < 1e-14:
            break
        s = new
    ref = _solve_fixed_point(W, A, B, lr / (1 - beta) if name == "dsgdm" else lr, "atc")
    assert np.abs(new.x.numpy() - ref).max() < 1e-6, (t, np.abs(new.x.numpy() - ref).max())


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
