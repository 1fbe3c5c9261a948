"""analysis/sam.py and the dsgd_sam claims (THEORY.md §4)."""
import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import dynamics
from analysis import sam
from dynamics import topology as T
from verify import claims_sam
from verify.claims import VERDICTS, Context

F64 = torch.float64


@pytest.fixture(autouse=True)
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


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
    s = m.init(torch.zeros(R, K, 2, dtype=F64))
    gen = torch.Generator().manual_seed(11)
    for t in range(steps):
        s = m.step(s, orc, t, gen)
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


def test_claims_quick_return_a_verdict():
    for fn in (claims_sam.residual_order, claims_sam.posterior_uncertainty, claims_sam.consensus_vs_gap):
        ev = fn(Context(quick=True))
        assert ev.verdict in VERDICTS[:3]
        assert ev.predicted and ev.measured


@pytest.mark.slow
def test_all_claims_quick():
    for fn in (claims_sam.trajectory_equivalence, claims_sam.sharpness_vs_batch, claims_sam.flat_minimum_preference):
        assert fn(Context(quick=True)).verdict in VERDICTS[:3]
