"""analysis/sam.py and the dsgd_sam claims (docs/theory.md §3–4).

Expected values are independent of the code under test: hand-written gradients and moments, the
recursion's exact moments from analysis/linear.py (jacrev of the algorithm's step) for the per-mode
closed forms, analytic Gaussian averages of plane waves for the quadrature, Monte Carlo replicas."""
import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import dynamics
from analysis import sam
from dynamics import topology as T
from verify import claims_dsgd_sam
from verify.claims import Context

F64 = torch.float64

pytestmark = pytest.mark.usefixtures("one_thread")


class HandCubic:
    """f(w) = a·w₁³ + b·w₁²w₂ + c·w₂³ + w₁w₂, gradient and Hessian by hand (independent of Cubic)."""
    def __init__(self, a, b, c):
        self.a, self.b, self.c, self.dim = a, b, c, 2

    def grad(self, w):
        x, y = w[..., 0], w[..., 1]
        return torch.stack([3 * self.a * x * x + 2 * self.b * x * y + y, self.b * x * x + 3 * self.c * y * y + x], -1)

    def hess(self, w):
        x, y = w[..., 0], w[..., 1]
        hxx, hxy, hyy = 6 * self.a * x + 2 * self.b * y, 2 * self.b * x + 1, 6 * self.c * y
        return torch.stack([torch.stack([hxx, hxy], -1), torch.stack([hxy, hyy], -1)], -2)


coef = st.floats(-3, 3)


@given(coef, coef, coef, st.integers(2, 9), st.integers(0, 10 ** 6))
def test_expansion_exact_on_cubic(a, b, c, K, seed):
    f = HandCubic(a, b, c)
    g = np.random.default_rng(seed)
    w = g.normal(size=2)
    dl = g.normal(size=(K, 2))
    dl -= dl.mean(0)  # Σ_j δ_j = 0
    x = torch.tensor(w + dl)
    # ½∇Tr(HΞ) by hand: ∂_x Tr(HΞ) = 6a Ξxx + 4b Ξxy, ∂_y = 2b Ξxx + 6c Ξyy
    Xi = dl.T @ dl / K
    half = 0.5 * np.array([6 * a * Xi[0, 0] + 4 * b * Xi[0, 1], 2 * b * Xi[0, 0] + 6 * c * Xi[1, 1]])
    lhs = f.grad(x).mean(0).numpy()
    assert np.allclose(lhs, f.grad(torch.tensor(w)).numpy() + half, atol=1e-10)
    assert float(sam.expansion_residual(f, x).abs().max()) <= 1e-10


@given(st.integers(2, 10), st.integers(1, 4), st.integers(0, 10 ** 6))
def test_xi_permutation_invariant_and_matches_numpy(K, d, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(3, K, d, generator=g, dtype=F64)
    perm = torch.randperm(K, generator=g)
    Xi = sam.consensus_cov(x)
    assert torch.allclose(Xi, sam.consensus_cov(x[:, perm]), atol=1e-13)
    ref = np.stack([np.cov(xr.numpy().T, bias=True).reshape(d, d) for xr in x])
    assert np.allclose(Xi.numpy(), ref, atol=1e-12)
    assert torch.allclose(sam.consensus_trace(x), Xi.diagonal(dim1=-2, dim2=-1).sum(-1))


@given(st.integers(2, 12), st.integers(1, 3), st.integers(0, 10 ** 6))
def test_exact_averaging_zeroes_xi(K, d, seed):
    m = dynamics.make("dsgd", T.complete(K), lr=0.1)
    x = torch.randn(2, K, d, generator=torch.Generator().manual_seed(seed), dtype=F64)

    def zero_oracle(x, t, rng):
        return x.sum(-1) * 0, torch.zeros_like(x)  # gossip only
    s = m.step(m.init(x), zero_oracle, 0, None)
    assert float(sam.consensus_trace(s.x).max()) <= 1e-26 * (1 + float(x.square().sum()))


@pytest.mark.parametrize("top", [T.ring(6), T.complete(5)])
def test_stationary_xi_matches_monte_carlo(top):
    """Predicted stationary Ξ (linear.py) inside a 4-SE interval of independent replicas at time T; T is
    chosen so that the computed transient |Tr P_T − Tr P_∞| is below 1% of the standard error."""
    K, lr, sig = top.K, 0.1, 0.7
    H = np.diag([1.0, 2.5])
    m = dynamics.make("dsgd", top, lr=lr)
    pred = sam.stationary_xi(m, H, np.zeros(2), torch.zeros(K, 2, dtype=F64), sig ** 2)
    modes = sam.stationary_xi_modes(top.W(0).numpy(), H, lr, sig ** 2, 1)
    assert np.allclose(pred, modes, atol=1e-14)
    from analysis import linear
    st0 = linear.init_state(m, H, np.zeros(2), torch.zeros(K, 2, dtype=F64))
    aff = linear.step_map(m, H, np.zeros(2), st0)
    R, steps = 4000, 80
    mean, P = linear.propagate(aff, linear.noise_blocks(sig ** 2, K, 2), np.zeros(2 * K), None, steps)
    trans = abs(np.trace(linear.consensus_cov(mean.reshape(K, 2), P, K, 2)) - np.trace(pred))
    land = __import__("landscapes").get("quadratic", H=torch.tensor(H))
    orc = __import__("landscapes").oracle(land, noise="isotropic", sigma=sig)
    s = dynamics.rollout(m, orc, torch.zeros(R, K, 2, dtype=F64), steps, seed=11).state
    tr = sam.consensus_trace(s.x).numpy()
    se = tr.std(ddof=1) / math.sqrt(R)
    assert trans < 0.01 * se
    assert abs(tr.mean() - np.trace(pred)) <= 4 * se


def test_sam_objective_exact_for_quadratic_and_sampled_for_quartic():
    import landscapes
    q = landscapes.get("quadratic")
    Xi = torch.tensor([[0.3, 0.1], [0.1, 0.2]], dtype=F64)
    w = torch.tensor([0.5, -1.0], dtype=F64)
    v, se = sam.sam_objective(q, w, Xi, degree=2)
    assert float(se) == 0 and math.isclose(float(v), float(q.f(w)) + 0.5 * (1 * 0.3 + 10 * 0.2), rel_tol=1e-12)
    quart = landscapes.get("quartic")  # E (w+ε)^4/4 − (w+ε)²/2 by Gaussian moments, by hand
    w1, xi = 0.4, 0.05
    exact = (w1 ** 4 + 6 * w1 ** 2 * xi + 3 * xi ** 2) / 4 - (w1 ** 2 + xi) / 2
    v, se = sam.sam_objective(quart, torch.tensor([w1], dtype=F64), torch.tensor([[xi]], dtype=F64), samples=2 ** 16)
    assert abs(float(v) - exact) <= 4 * float(se)


def test_rastrigin_damping_against_gauss_hermite():
    z, wts = np.polynomial.hermite_e.hermegauss(80)
    w, xi, A = 0.37, 0.02, 10.0
    om = 2 * math.pi
    eps = math.sqrt(xi) * z
    ref = np.sum(wts * (2 * (w + eps) + A * om * np.sin(om * (w + eps)))) / np.sqrt(2 * np.pi)
    assert math.isclose(float(sam.rastrigin_smoothed_grad(torch.tensor(w, dtype=F64), xi, A)), ref, rel_tol=1e-10)


def test_sam_step_with_sigma_points_is_smoothed_gradient_on_quartic():
    import landscapes
    st_ = landscapes.get("styblinski_tang", d=2)
    Xi = torch.tensor([[0.04, 0.01], [0.01, 0.02]], dtype=F64)
    w = torch.tensor([-1.0, 2.0], dtype=F64)
    new = sam.sam_step(st_.grad, w, 0.1, sam.sigma_points(Xi))
    # E ∇f(w+ε) for f = ½Σ(x⁴ − 16x² + 5x): 2(w³ + 3wξ_ii) − 16w + 2.5 per coordinate
    xi = Xi.diagonal()
    expect = w - 0.1 * (2 * (w ** 3 + 3 * w * xi) - 16 * w + 2.5)
    assert torch.allclose(new, expect, atol=1e-13)


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="x"):
        sam.consensus_cov(torch.zeros(3))
    with pytest.raises(ValueError, match="Xi"):
        sam.sigma_points(torch.tensor([[1.0, 0.0], [0.0, -1.0]], dtype=F64))
    with pytest.raises(ValueError, match="lr"):
        sam.sam_step(lambda w: w, torch.zeros(2), -1.0, torch.zeros(1, 2))
    with pytest.raises(ValueError, match="W"):
        sam.stationary_xi_modes(np.ones((2, 3)), np.eye(2), 0.1, 1.0)


def circulant_W(K, seed):
    """Random doubly stochastic circulant W = Σ_s c_s S^s (S the cyclic shift): normal, in general not
    symmetric (complex eigenvalues)."""
    c = np.random.default_rng(seed).dirichlet(np.ones(K))
    return sum(c[s] * np.roll(np.eye(K), s, axis=1) for s in range(K))


def _spd(g, d, lo):
    A = g.normal(size=(d, d))
    return A @ A.T / d + lo * np.eye(d)


@given(K=st.integers(2, 6), d=st.integers(1, 3), eta=st.floats(0.02, 0.3), B=st.integers(1, 4),
       scheme=st.sampled_from(["dsgd", "atc", "cta"]), circ=st.booleans(), seed=st.integers(0, 10 ** 6),
       t=st.integers(0, 40))
def test_xi_modes_matches_exact_moments(K, d, eta, B, scheme, circ, seed, t):
    """Per-mode closed form (normal W: symmetric or circulant; H and C need not commute) against the
    exact moments of the algorithm's own step (analysis/linear.py), stationary and at step t from a
    common start, relative 1e-8."""
    from hypothesis import assume

    from analysis import linear
    g = np.random.default_rng(seed)
    if circ:
        W = circulant_W(K, seed)
    else:
        A = g.uniform(size=(K, K)) * (1 - np.eye(K))
        A = A + A.T
        W = np.eye(K) - (np.diag(A.sum(1)) - A) / (A.sum(1).max() + 1e-9) / 2  # symmetric, lazy
    H, C = _spd(g, d, 0.2), _spd(g, d, 0.05)
    lam = np.linalg.eigvals(W)
    h = np.linalg.eigvalsh(H)
    a = lam[:, None] - eta * h if scheme == "dsgd" else lam[:, None] * (1 - eta * h)
    assume(np.abs(a).max() < 0.995 or np.min(np.abs(lam - 1)) < 1e-9 and np.sort(np.abs(a).ravel())[-2] < 0.995)
    top = T.custom(torch.tensor(W))
    m = dynamics.make(scheme, top, lr=eta)
    x0 = torch.zeros(K, d, dtype=F64)
    st0 = linear.init_state(m, H, np.zeros(d), x0)
    aff = linear.step_map(m, H, np.zeros(d), st0)
    S = linear.noise_blocks(C / B, K, d)
    mean, P = linear.stationary(aff, S, np.zeros(K * d))
    ref = linear.consensus_cov(mean.reshape(K, d), P, K, d)
    got = sam.xi_modes(W, H, eta, C, B, scheme)
    floor = 1e-14 * eta ** 2 * np.abs(C).max() / B  # one step's noise scale (exactly-zero cases: λ = 0)
    assert np.abs(got - ref).max() <= 1e-8 * np.abs(ref).max() + floor
    mean, P = linear.propagate(aff, S, np.zeros(K * d), None, t)
    ref_t = linear.consensus_cov(mean.reshape(K, d), P, K, d)
    got_t = sam.xi_modes(W, H, eta, C, B, scheme, t=[t])[0]
    assert np.abs(got_t - ref_t).max() <= 1e-8 * np.abs(ref_t).max() + floor


def test_xi_modes_two_workers_by_hand():
    """K = 2, d = 1, W = [[1−p, p], [p, 1−p]] (λ₂ = 1 − 2p): E[Ξ(t)] = ½·η²r/B·(1 − a^{2t})/(1 − a²),
    a = 1 − 2p − ηh (the disagreement (x₁ − x₂)/√2 has variance twice Ξ)."""
    p, eta, h, r, B = 0.2, 0.1, 2.0, 0.9, 3
    W = np.array([[1 - p, p], [p, 1 - p]])
    a = 1 - 2 * p - eta * h
    ts = np.array([0, 1, 5, 50])
    want = 0.5 * eta ** 2 * r / B * (1 - a ** (2 * ts)) / (1 - a ** 2)
    got = sam.xi_modes(W, np.array([[h]]), eta, r, B, t=ts)[:, 0, 0]
    assert np.allclose(got, want, rtol=1e-12, atol=0)
    assert float(sam.stationary_xi_modes(W, np.array([[h]]), eta, r, B)[0, 0]) == pytest.approx(
        0.5 * eta ** 2 * r / B / (1 - a ** 2), rel=1e-12)


@given(st.floats(0.5, 8.0), st.floats(-3, 3), st.floats(-3, 3), st.floats(-1, 1), st.floats(-1, 1),
       st.floats(1e-4, 0.2), st.floats(1e-4, 0.2), st.floats(-0.9, 0.9))
def test_quadrature_plane_wave(k, k2, w1, w2, kk, s1, s2, rho):
    """E_{N(0,Ξ)} ∇cos(kᵀ(w+ε)) = −k sin(kᵀw) e^{−½kᵀΞk} for any (correlated) Ξ; 24 nodes per axis."""
    kv = torch.tensor([k, k2 * kk], dtype=F64)
    c = rho * math.sqrt(s1 * s2)
    Xi = torch.tensor([[s1, c], [c, s2]], dtype=F64)
    w = torch.tensor([w1, w2], dtype=F64)
    grad = lambda x: -kv * torch.sin(x @ kv).unsqueeze(-1)
    want = -kv * math.sin(float(w @ kv)) * math.exp(-0.5 * float(kv @ Xi @ kv))
    got = sam.smoothed_grad_quadrature(grad, w, Xi)
    assert torch.allclose(got, want, atol=1e-10)


def test_quadrature_matches_rastrigin_and_quartic_moments():
    w, xi = torch.tensor([0.37, -0.8], dtype=F64), torch.tensor([0.02, 0.005], dtype=F64)
    import landscapes
    ras = landscapes.get("rastrigin", d=2)
    got = sam.smoothed_grad_quadrature(ras.grad, w, torch.diag(xi), n=40)
    assert torch.allclose(got, sam.rastrigin_smoothed_grad(w, xi), atol=1e-9)
    st_ = landscapes.get("styblinski_tang", d=2)
    Xi = torch.tensor([[0.04, 0.01], [0.01, 0.02]], dtype=F64)
    # E ∇f(w+ε) for f = ½Σ(x⁴ − 16x² + 5x): 2(w³ + 3wξ_ii) − 16w + 2.5 per coordinate
    expect = 2 * (w ** 3 + 3 * w * Xi.diagonal()) - 16 * w + 2.5
    assert torch.allclose(sam.smoothed_grad_quadrature(st_.grad, w, Xi), expect, atol=1e-12)
    with pytest.raises(ValueError, match="n"):
        sam.smoothed_grad_quadrature(st_.grad, w, Xi, n=1)


def test_order_verdicts_rule():
    """Reversed order with separated samples -> fails; overlap -> inconclusive; claimed order -> holds."""
    g = np.random.default_rng(0)
    base = g.normal(size=200)
    up = {"a": base, "b": base + 1.0 + 0.01 * g.normal(size=200)}
    assert claims_dsgd_sam.order_verdicts(up)[0] == {"a < b": "holds"}
    down = {"a": base + 1.0 + 0.01 * g.normal(size=200), "b": base}
    assert claims_dsgd_sam.order_verdicts(down)[0] == {"a < b": "fails"}
    same = {"a": base, "b": base + 0.01 * g.normal(size=200)}
    assert claims_dsgd_sam.order_verdicts(same)[0] == {"a < b": "inconclusive"}


def _fields_filled(ev):
    assert ev.headline and ev.finding and ev.data
    assert all(h in {**ev.predicted, **ev.measured, **ev.reported} for h in ev.headline)


def test_fast_claims_quick_verdicts():
    """Quick runs: expected verdicts and the reader-facing fields (headline, finding, data)."""
    expected = {claims_dsgd_sam.residual_order: "holds", claims_dsgd_sam.gradient_smoothing: "holds",
                claims_dsgd_sam.trajectory_equivalence: "holds", claims_dsgd_sam.posterior_uncertainty: "fails"}
    for fn, want in expected.items():
        ev = fn(Context(quick=True))
        assert ev.verdict == want, (fn.__name__, ev.verdict, ev.finding)
        _fields_filled(ev)


@pytest.mark.slow
def test_slow_claims_quick_verdicts():
    for fn in (claims_dsgd_sam.sharpness_vs_batch, claims_dsgd_sam.consensus_vs_gap, claims_dsgd_sam.flat_minimum_preference):
        ev = fn(Context(quick=True))
        assert ev.verdict == "holds", (fn.__name__, ev.verdict, ev.finding)
        _fields_filled(ev)
