"""landscapes.noise: Monte Carlo mean/covariance of each noise model against its stated law.

Bounds: sample mean within 4 standard errors (known variance); covariance entries within
5 standard errors, Var(Ŝ_ij) = (Σ_ii Σ_jj + Σ_ij²)/N for Gaussians (Isserlis).
"""
import math
import types

import numpy as np
import pytest
import torch

from landscapes import noise, rng
from landscapes.data import logistic_regression
from landscapes.hetero import hetero_quadratics

A = torch.tensor([[2.0, 0.5, 0.0], [0.5, 1.0, 0.3], [0.0, 0.3, 0.5]], dtype=torch.float64)
N = 20000


def quad(Am=A):
    """Stand-in Landscape: f = ½ xᵀAx (min 0 at the origin)."""
    return types.SimpleNamespace(
        name="quad", dim=Am.shape[0], params={},
        f=lambda x: 0.5 * torch.einsum("...i,ij,...j->...", x, Am, x),
        grad=lambda x: x @ Am, hess=lambda x: Am.expand(*x.shape[:-1], *Am.shape))


def check_gaussian(noise_samples, Sigma):
    """noise_samples (N, d); mean 0 and covariance Sigma within the bounds above."""
    n = noise_samples.shape[0]
    m = noise_samples.mean(0)
    assert bool((m.abs() <= 4 * torch.sqrt(torch.diagonal(Sigma) / n)).all()), (m, Sigma)
    S = torch.cov(noise_samples.T, correction=0) + torch.outer(m, m)  # mean known to be 0
    dg = torch.diagonal(Sigma)
    se = torch.sqrt((torch.outer(dg, dg) + Sigma ** 2) / n)
    assert bool(((S - Sigma).abs() <= 5 * se).all()), (S, Sigma)


def sample(orc, x0, t=0, R=N, seed=0):
    x = x0.expand(R, *x0.shape)
    loss, g = orc(x, t, rng.Streams(seed, R))
    return loss, g - orc.problem.grad(x) if not hasattr(orc.problem, "f_i") else g - orc.problem.grad_i(x)


def test_none_is_exact():
    x = torch.randn(5, 2, 3, dtype=torch.float64)
    loss, g = noise.oracle(quad())(x, 0, torch.Generator().manual_seed(0))
    assert torch.allclose(g, x @ A, rtol=0, atol=1e-15)
    assert torch.allclose(loss, 0.5 * ((x @ A) * x).sum(-1), rtol=0, atol=1e-15)


def test_isotropic():
    x0 = torch.tensor([[1.0, -1.0, 0.5], [0.0, 2.0, 1.0]], dtype=torch.float64)
    orc = noise.oracle(quad(), "isotropic", batch=4, sigma=0.7)
    _, s = sample(orc, x0)
    for k in range(2):
        check_gaussian(s[:, k], 0.49 / 4 * torch.eye(3, dtype=torch.float64))
    # workers independent: cross-covariance 0 within 5 SE (Var = Σ_ii Σ_jj / N)
    cross = (s[:, 0] * s[:, 1]).mean(0)
    assert bool((cross.abs() <= 5 * (0.49 / 4) / math.sqrt(N)).all())


def test_covariance_full_and_per_worker():
    C = torch.tensor([[1.0, 0.6, -0.2], [0.6, 0.8, 0.1], [-0.2, 0.1, 0.3]], dtype=torch.float64)
    orc = noise.oracle(quad(), "covariance", batch=3, C=C)
    _, s = sample(orc, torch.zeros(2, 3, dtype=torch.float64))
    for k in range(2):
        check_gaussian(s[:, k], C / 3)
    h = hetero_quadratics(2, 3, zeta=1.0, seed=1)
    Cs = torch.stack([C, torch.diag(torch.tensor([0.5, 2.0, 0.0], dtype=torch.float64))])
    orc = noise.oracle(h, "covariance", batch=2, C=Cs)
    _, s = sample(orc, torch.zeros(2, 3, dtype=torch.float64))
    for k in range(2):
        check_gaussian(s[:, k], Cs[k] / 2)
    assert bool((s[:, 1, 2] == 0).all())                        # zero variance direction


def test_hessian_noise():
    orc = noise.oracle(quad(), "hessian", batch=5, sigma=1.3, x_ref=torch.zeros(3))
    _, s = sample(orc, torch.ones(1, 3, dtype=torch.float64))
    check_gaussian(s[:, 0], 1.69 * A / 5)


def test_loss_noise_proportional_to_loss_and_vanishes_at_zero():
    x0 = torch.tensor([[1.0, 0.0, -1.0], [0.3, 0.2, 0.1]], dtype=torch.float64)
    orc = noise.oracle(quad(), "loss", batch=2, scale=0.8, x_ref=torch.zeros(3))
    loss, s = sample(orc, x0)
    L = 0.5 * ((x0 @ A) * x0).sum(-1)
    assert torch.allclose(loss[0], L, rtol=1e-14, atol=0)
    for k in range(2):
        check_gaussian(s[:, k], 2 * 0.8 * L[k] / 2 * A)
    _, g = orc(torch.zeros(4, 2, 3, dtype=torch.float64), 0, rng.Streams(0, 4))
    assert bool((g == 0).all())


def test_same_t_same_noise_different_t_different():
    orc = noise.oracle(quad(), "isotropic", sigma=1.0)
    x, s = torch.zeros(3, 2, 3, dtype=torch.float64), rng.Streams(0, 3)
    assert torch.equal(orc(x, 5, s)[1], orc(x, 5, s)[1])
    assert not torch.equal(orc(x, 5, s)[1], orc(x, 6, s)[1])
    other = noise.oracle(quad(), "isotropic", sigma=1.0, stream=1)
    assert not torch.equal(orc(x, 5, s)[1], other(x, 5, s)[1])


def test_generator_source_full_shape():
    orc = noise.oracle(quad(), "isotropic", batch=2, sigma=1.0)
    loss, g = orc(torch.zeros(4, 5, 2, 3, dtype=torch.float64), 0, torch.Generator().manual_seed(0))
    assert loss.shape == (4, 5, 2) and g.shape == (4, 5, 2, 3)
    assert orc.batch == 2 and orc.noise == "isotropic" and orc.problem is orc.landscape


@pytest.fixture(scope="module")
def logreg():
    return logistic_regression(3, n=90, d=2, classes=3, split="iid", l2=0.0, seed=0)


def per_sample_grads(prob, x, k):
    """Independent numpy logistic-regression per-sample gradients of worker k at x (P,)."""
    C, d = 3, 2
    from landscapes.data import make_classification
    X, y = make_classification(90 + 1000, d, C, 0)
    idx = prob.shards[k].numpy()
    a, yy = X[:90].numpy()[idx], y[:90].numpy()[idx]
    W, b = x[:C * d].reshape(C, d), x[C * d:]
    z = a @ W.T + b
    p = np.exp(z - z.max(1, keepdims=True)); p /= p.sum(1, keepdims=True)
    r = p - np.eye(C)[yy]
    return np.concatenate([(r[:, :, None] * a[:, None, :]).reshape(len(idx), -1), r], 1)


def test_minibatch_full_enumeration_is_full_gradient(logreg):
    x = torch.randn(logreg.K, logreg.dim, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    sizes = logreg.shard_sizes
    assert bool((sizes == 30).all())
    idx = torch.arange(30).expand(logreg.K, 30)
    assert torch.allclose(logreg.sample_grad_i(x, idx), logreg.grad_i(x), rtol=0, atol=1e-14)
    for k in range(logreg.K):
        G = per_sample_grads(logreg, x[k].numpy(), k)
        assert np.allclose(G.mean(0), logreg.grad_i(x)[k].numpy(), rtol=0, atol=1e-13)


def test_minibatch_oracle_mean_and_trace(logreg):
    x0 = torch.randn(logreg.K, logreg.dim, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    B, R = 4, 4000
    orc = noise.oracle(logreg, "minibatch", batch=B)
    _, g = orc(x0.expand(R, *x0.shape), 0, rng.Streams(3, R))
    for k in range(logreg.K):
        G = per_sample_grads(logreg, x0[k].numpy(), k)
        mu, Cps = G.mean(0), np.cov(G.T, bias=True)            # exact finite-sum mean and covariance
        gk = g[:, k].numpy()
        assert np.all(np.abs(gk.mean(0) - mu) <= 4 * np.sqrt(np.diag(Cps) / (B * R)))
        sq = ((gk - mu) ** 2).sum(1)                           # E = Tr(C)/B (sampling with replacement)
        assert abs(sq.mean() - np.trace(Cps) / B) <= 5 * sq.std() / math.sqrt(R)


@pytest.mark.parametrize("kw, word", [
    (dict(noise="bogus"), "isotropic"),
    (dict(batch=0), "batch"),
    (dict(batch=1.5), "batch"),
    (dict(noise="isotropic", sigma=-1.0), "sigma"),
    (dict(noise="covariance"), "C"),
    (dict(noise="covariance", C=torch.eye(2)), "C must have shape"),
    (dict(noise="covariance", C=torch.tensor([[1.0, 0.5, 0], [0, 1, 0], [0, 0, 1]])), "symmetric"),
    (dict(noise="covariance", C=torch.diag(torch.tensor([1.0, -0.5, 1.0]))), "semi-definite"),
    (dict(noise="hessian"), "x_ref"),
    (dict(noise="minibatch"), "sample_grad_i"),
])
def test_bad_input(kw, word):
    with pytest.raises(ValueError, match=word):
        noise.oracle(quad(), **kw)


def test_hessian_must_be_psd_and_loss_nonnegative():
    indef = torch.diag(torch.tensor([1.0, -1.0, 2.0], dtype=torch.float64))
    with pytest.raises(ValueError, match="Hessian at x_ref"):
        noise.oracle(quad(indef), "hessian", x_ref=torch.zeros(3))
    neg = quad()
    neg.f = lambda x: -1.0 - x.sum(-1)
    orc = noise.oracle(neg, "loss", x_ref=torch.zeros(3))
    with pytest.raises(ValueError, match="loss >= 0"):
        orc(torch.zeros(2, 1, 3, dtype=torch.float64), 0, rng.Streams(0, 2))


def test_streams_needs_R_leading_axis():
    orc = noise.oracle(quad(), "isotropic")
    with pytest.raises(ValueError, match="x must have shape"):
        orc(torch.zeros(3, 2, 3, dtype=torch.float64), 0, rng.Streams(0, 4))


def test_with_loss_false_skips_loss_keeps_gradient():
    """Same gradient draw with and without the loss; loss is None when not asked for."""
    from landscapes.core import get
    from landscapes.rng import Streams
    L = get("quartic")
    x = torch.linspace(-1.5, 1.5, 12, dtype=torch.float64).reshape(3, 4, 1)
    a = noise.oracle(L, noise="isotropic", sigma=0.7, batch=2)(x, 5, Streams(1, 3))
    b = noise.oracle(L, noise="isotropic", sigma=0.7, batch=2, with_loss=False)(x, 5, Streams(1, 3))
    assert b[0] is None
    assert torch.equal(a[1], b[1])
    assert torch.allclose(a[0], (x ** 4 / 4 - x ** 2 / 2)[..., 0])
