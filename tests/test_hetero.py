"""landscapes.hetero / landscapes.data: exact heterogeneity, minimisers, splits, derivatives."""
import numpy as np
import pytest
import torch
from hypothesis import given, strategies as st

from landscapes.data import logistic_regression, make_classification, split, teacher_student
from landscapes.hetero import hetero_quadratics


@given(K=st.integers(2, 6), d=st.integers(1, 5), zeta=st.floats(0, 3), hs=st.floats(0, 5),
       mu=st.floats(0.1, 3), seed=st.integers(0, 1000))
def test_quadratics_zeta_and_minimiser_independent(K, d, zeta, hs, mu, seed):
    h = hetero_quadratics(K, d, zeta=zeta, hess_spread=hs, mu=mu, seed=seed)
    A, b = h.A.numpy(), h.b.numpy()
    lam = np.linalg.eigvalsh(A)
    assert lam.min() >= mu * (1 - 1e-12) and lam.max() <= mu * (1 + hs) * (1 + 1e-12)
    xs = np.linalg.solve(A.sum(0), np.einsum("kij,kj->i", A, b))       # ∇f = 0 solved by numpy
    assert np.allclose(h.x_star.numpy(), xs, rtol=1e-9, atol=1e-9)
    g = np.einsum("kij,kj->ki", A, xs - b)
    z2 = ((g - g.mean(0)) ** 2).sum(1).mean()
    assert abs(z2 - zeta ** 2) <= 1e-9 * max(1.0, zeta ** 2)
    assert abs(float(h.zeta2(h.x_star)) - zeta ** 2) <= 1e-9 * max(1.0, zeta ** 2)
    fs = np.mean([0.5 * (xs - b[k]) @ A[k] @ (xs - b[k]) for k in range(K)])
    assert abs(h.f_star - fs) <= 1e-9 * max(1.0, fs)
    assert float(h.grad(h.x_star).abs().max()) <= 1e-9 * max(1.0, zeta)
    assert np.linalg.eigvalsh(h.hess(h.x_star).numpy()).min() > 0        # strict minimum


def test_quadratics_shapes_and_values():
    h = hetero_quadratics(3, 2, zeta=1.5, hess_spread=1.0, seed=4)
    x = torch.randn(5, 3, 2, dtype=torch.float64)
    A, b = h.A, h.b
    ref = torch.stack([0.5 * ((x[:, k] - b[k]) @ A[k] * (x[:, k] - b[k])).sum(-1) for k in range(3)], -1)
    assert torch.allclose(h.f_i(x), ref, rtol=1e-13, atol=0)
    assert h.grad_i(x).shape == (5, 3, 2) and h.hess_i(x[0]).shape == (3, 2, 2)
    y = torch.randn(4, 2, dtype=torch.float64)
    assert torch.allclose(h.f(y), h.f_i(y[:, None].expand(4, 3, 2)).mean(-1))
    assert bool((h.f(h.x_star + 0.1 * y) > h.f_star).all())
    with pytest.raises(ValueError, match="x must have shape"):
        h.f_i(torch.zeros(2, 2))


@given(K=st.integers(2, 6), d=st.integers(1, 4), hs=st.floats(0.5, 4), seed=st.integers(0, 1000))
def test_quadratics_global_hessian_is_mean_of_worker_hessians(K, d, hs, seed):
    """hess(x) = (1/K) Σ_k A_k, with each A_k recovered independently of h.A and h.hess: column j
    of A_k is grad_i(x + e_j)_k − grad_i(x)_k (exact for quadratics). Unequal Hessians
    (hess_spread > 0), so "worker 0's Hessian" or any single A_k would not pass."""
    h = hetero_quadratics(K, d, zeta=1.0, hess_spread=hs, seed=seed)
    x = torch.randn(d, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
    X = x.expand(K, d)
    g0 = h.grad_i(X)
    Ak = torch.stack([h.grad_i(X + torch.eye(d, dtype=torch.float64)[j]) - g0 for j in range(d)], -1)  # (K, d, d)
    ref = Ak.mean(0).numpy()
    H = h.hess(x).numpy()
    assert np.abs(H - ref).max() <= 1e-10 * (1 + np.abs(ref).max())
    assert np.abs(h.hess(torch.stack([x, 2 * x])).numpy() - ref).max() <= 1e-10 * (1 + np.abs(ref).max())
    spread = max(np.abs(Ak[k].numpy() - ref).max() for k in range(K))
    assert spread > 1e-3                                    # the workers' Hessians do differ
    hi = h.hess_i(X).numpy()
    assert np.abs(hi - Ak.numpy()).max() <= 1e-10 * (1 + np.abs(ref).max())
    gfd = np.stack([(h.grad(x + 1e-3 * e) - h.grad(x - 1e-3 * e)).numpy() / 2e-3
                    for e in torch.eye(d, dtype=torch.float64)], -1)
    assert np.abs(H - gfd).max() <= 1e-8 * (1 + np.abs(ref).max())   # global grad's own derivative


def test_quadratics_equal_hessians():
    h = hetero_quadratics(4, 3, zeta=2.0, hess_spread=0.0, mu=0.5)
    assert torch.allclose(h.A, 0.5 * torch.eye(3, dtype=torch.float64).expand(4, 3, 3), rtol=0, atol=1e-15)


@pytest.mark.parametrize("kw, word", [(dict(K=0), "K"), (dict(d=0), "d must"), (dict(zeta=-0.1), "zeta"),
                                      (dict(K=1, zeta=1.0), "zeta"), (dict(hess_spread=-1.0), "hess_spread"),
                                      (dict(mu=0.0), "mu")])
def test_quadratics_bad_input(kw, word):
    args = dict(K=3, d=2, zeta=1.0) | kw
    with pytest.raises(ValueError, match=word):
        hetero_quadratics(**args)


def test_splits():
    _, y = make_classification(400, 2, 5, seed=0)
    s = split(y, 4, "iid", seed=1)
    assert [len(i) for i in s] == [100] * 4
    assert len(torch.unique(torch.cat(s))) == 400                        # disjoint
    s = split(y, 5, "classes", k=2, seed=1)
    assert all(len(torch.unique(y[i])) == 2 for i in s)
    assert len(torch.unique(torch.cat(s))) == sum(len(i) for i in s)
    a, b, c = (split(y, 4, "dirichlet", alpha=0.3, seed=sd) for sd in (7, 7, 8))
    assert all(torch.equal(u, v) for u, v in zip(a, b))
    assert not all(len(u) == len(w) and torch.equal(u, w) for u, w in zip(a, c))
    assert sum(len(i) for i in a) == 400 and min(len(i) for i in a) > 0


@pytest.mark.parametrize("kw, word", [(dict(how="dirichlet", alpha=0.0), "alpha"), (dict(K=0), "K"),
                                      (dict(how="classes", k=9), "k must"), (dict(how="zipf"), "how")])
def test_split_bad_input(kw, word):
    args = dict(labels=torch.arange(40) % 5, K=4) | kw
    with pytest.raises(ValueError, match=word):
        split(**args)


def fd_check(fun, gradfun, x, h=1e-5):
    """Central differences: error O(h²·f''') — compare against 1e-6 for smooth O(1) functions."""
    g = gradfun(x)
    e = torch.zeros_like(x)
    for i in range(x.shape[-1]):
        e.zero_()
        e[..., i] = h
        fd = (fun(x + e) - fun(x - e)) / (2 * h)
        assert torch.allclose(fd, g[..., i], rtol=0, atol=1e-6)


@pytest.fixture(scope="module")
def logreg():
    return logistic_regression(3, n=120, d=2, classes=3, split="classes", k=2, l2=0.01, seed=0)


def test_logistic_minimiser(logreg):
    p = logreg
    assert float(p.grad(p.x_star).norm()) < 1e-10
    assert np.linalg.eigvalsh(p.hess(p.x_star).numpy()).min() >= 0.01 * (1 - 1e-9)  # l2-strong convexity
    assert abs(float(p.f(p.x_star)) - p.f_star) < 1e-15
    d = torch.randn(20, p.dim, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    assert bool((p.f(p.x_star + 0.05 * d) > p.f_star).all())
    assert float(p.zeta2(p.x_star)) > 0                                  # non-IID split


def test_logistic_derivatives(logreg):
    p = logreg
    x = torch.randn(2, p.K, p.dim, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    fd_check(p.f_i, p.grad_i, x)
    H = p.hess(x[0, 0])
    h = 1e-5
    fdH = torch.stack([(p.grad(x[0, 0] + h * e) - p.grad(x[0, 0] - h * e)) / (2 * h)
                       for e in torch.eye(p.dim, dtype=torch.float64)])
    assert torch.allclose(H, fdH, rtol=0, atol=1e-6) and torch.allclose(H, H.T, atol=1e-14)
    same = x[0, :1].expand(p.K, p.dim)
    assert torch.allclose(p.hess_i(same).mean(0), p.hess(x[0, 0]), rtol=0, atol=1e-12)
    assert p.test_loss(x[:, 0]).shape == (2,)


def test_teacher_student():
    p = teacher_student(3, n=90, d_in=3, hidden=4, split="dirichlet", alpha=1.0, seed=2)
    assert p.f_star == 0.0 and float(p.f(p.x_star)) < 1e-28
    assert float(p.grad(p.x_star).abs().max()) < 1e-14
    assert float(p.test_loss(p.x_star)) < 1e-28
    x = torch.randn(2, 3, p.dim, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    assert bool((p.f_i(x) >= 0).all())
    fd_check(p.f_i, p.grad_i, x)
    noisy = teacher_student(2, n=40, d_in=2, hidden=3, label_noise=0.1)
    assert noisy.x_star is None and noisy.f_star is None
    with pytest.raises(ValueError, match="label_noise"):
        teacher_student(2, label_noise=-1.0)


def test_quadratic_gradients_do_not_depend_on_the_number_of_rows():
    """grad_i / f_i of one row are the same bits alone or among 256 rows (a batched GEMM is not:
    its blocking depends on the row count), and equal A_k(x_k − b_k) to rounding."""
    from landscapes import hetero_quadratics
    p = hetero_quadratics(8, 6, zeta=1.0, hess_spread=2.0, seed=5)
    x = torch.randn(256, 8, 6, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    g, f = p.grad_i(x), p.f_i(x)
    for i in (0, 17, 255):
        assert torch.equal(p.grad_i(x[i:i + 1]), g[i:i + 1]) and torch.equal(p.f_i(x[i]), f[i])
    r = x - p.b
    ref = (p.A.unsqueeze(0) @ r.unsqueeze(-1)).squeeze(-1)
    torch.testing.assert_close(g, ref, rtol=1e-13, atol=1e-13)
    torch.testing.assert_close(f, 0.5 * (r * ref).sum(-1), rtol=1e-13, atol=1e-13)
