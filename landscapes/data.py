"""Data-based heterogeneous objectives: synthetic data, worker splits, logistic regression and a
teacher–student two-layer MLP over a flat parameter vector.

Worker k's objective is the mean per-sample loss over its shard (plus ½·l2·‖x‖²); the global
objective is f = (1/K) Σ_k f_k (the contract's mean over workers, not the mean over all
samples when shards differ in size). Non-IID splits follow docs/theory.md §5: k classes per worker
(Takezawa et al.'s heterogeneity) or Dirichlet(α) class proportions (Hsu et al. 2019).
"""
from __future__ import annotations

import numpy as np
import scipy.optimize
import torch
from torch.func import grad as fgrad, hessian as fhessian, vmap

from .hetero import Heterogeneous, _check_stack, _check_vec

SPLITS = ("iid", "dirichlet", "classes")


def make_classification(n: int, d: int, classes: int, seed: int = 0, sep: float = 2.0):
    """Gaussian mixture: y balanced over `classes`, x = μ_y + N(0, I), μ_c ~ N(0, sep²/d · I).

    Returns (X (n, d) float64, y (n,) int64).
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    if d < 1:
        raise ValueError(f"d must be >= 1, got {d}")
    if classes < 2:
        raise ValueError(f"classes must be >= 2, got {classes}")
    gen = torch.Generator().manual_seed(int(seed))
    mu = sep / np.sqrt(d) * torch.randn(classes, d, generator=gen, dtype=torch.float64)
    y = (torch.arange(n) % classes)[torch.randperm(n, generator=gen)]
    X = mu[y] + torch.randn(n, d, generator=gen, dtype=torch.float64)
    return X, y


def split(labels, K: int, how: str = "iid", alpha: float = 0.5, k: int = 2, seed: int = 0):
    """Indices of each worker's shard: list of K sorted int64 tensors.

    'iid': a random permutation cut into K shards of n // K (equal sizes; the remainder is
    dropped). 'dirichlet': for each class c, proportions p_c ~ Dir(α·1_K) and class c's samples
    are cut accordingly (redrawn, at most 100 times, until no shard is empty). 'classes': worker i
    holds the k classes (i·k + j) mod C, j < k (round robin), and each class's samples are cut
    evenly among the workers holding it; classes held by nobody (K·k < C) are unused.
    """
    labels = np.asarray(torch.as_tensor(labels).cpu().numpy())
    if not isinstance(K, int) or K < 1:
        raise ValueError(f"K must be an integer >= 1, got {K}")
    n = labels.shape[0]
    if n < K:
        raise ValueError(f"labels must hold at least K={K} samples, got {n}")
    rng = np.random.default_rng(seed)
    if how == "iid":
        perm = rng.permutation(n)
        m = n // K
        shards = [perm[i * m:(i + 1) * m] for i in range(K)]
    elif how == "dirichlet":
        if not alpha > 0:
            raise ValueError(f"alpha must be > 0, got {alpha}")
        cls = np.unique(labels)
        for _ in range(100):
            parts = [[] for _ in range(K)]
            for c in cls:
                idx = rng.permutation(np.flatnonzero(labels == c))
                p = rng.dirichlet(alpha * np.ones(K))
                cuts = (np.cumsum(p)[:-1] * idx.size).astype(int)
                for i, piece in enumerate(np.split(idx, cuts)):
                    parts[i].append(piece)
            shards = [np.concatenate(p) for p in parts]
            if min(s.size for s in shards) > 0:
                break
        else:
            raise ValueError(f"alpha={alpha} leaves a worker without data in 100 draws; raise alpha or n")
    elif how == "classes":
        cls = np.unique(labels)
        C = cls.size
        if not isinstance(k, int) or not 1 <= k <= C:
            raise ValueError(f"k must be an integer in [1, {C}] (classes present), got {k}")
        holders = {c: [i for i in range(K) if any((i * k + j) % C == ci for j in range(k))]
                   for ci, c in enumerate(cls)}
        parts = [[] for _ in range(K)]
        for c, hs in holders.items():
            if not hs:
                continue
            idx = rng.permutation(np.flatnonzero(labels == c))
            if idx.size < len(hs):
                raise ValueError(f"class {c} has {idx.size} samples for {len(hs)} workers; raise n")
            for i, piece in zip(hs, np.array_split(idx, len(hs))):
                parts[i].append(piece)
        shards = [np.concatenate(p) for p in parts]
    else:
        raise ValueError(f"how must be one of {list(SPLITS)}, got {how!r}")
    return [torch.as_tensor(np.sort(s), dtype=torch.int64) for s in shards]


_split = split


def _finite_sum(name, K, P, ell, Xtr, Ytr, shards, Xte, Yte, l2, params):
    """Wrap a per-sample loss ell(x (...,K,P), X (...,K,n,·), Y) -> (...,K,n) as Heterogeneous."""
    sizes = torch.tensor([s.numel() for s in shards], dtype=torch.int64)
    m = int(sizes.max())
    pad = [torch.cat([s, s[:1].expand(m - s.numel())]) for s in shards]
    Ip = torch.stack(pad)                                         # (K, m)
    Xp, Yp = Xtr[Ip], Ytr[Ip]
    wt = (torch.arange(m)[None, :] < sizes[:, None]).to(torch.float64) / sizes[:, None]
    kk = torch.arange(K)[:, None]

    def reg(x):
        return 0.5 * l2 * (x ** 2).sum(-1) if l2 > 0 else 0.0

    def f_i(x):
        x = _check_stack(x, K, P)
        return (ell(x, Xp, Yp) * wt).sum(-1) + reg(x)

    def sample_loss_i(x, idx):
        x = _check_stack(x, K, P)
        idx = torch.as_tensor(idx, dtype=torch.int64)
        if idx.ndim < 2 or idx.shape[-2] != K:
            raise ValueError(f"idx must have shape (..., K={K}, B), got {tuple(idx.shape)}")
        if bool((idx < 0).any()) or bool((idx >= sizes[:, None]).any()):
            raise ValueError("idx must index into each worker's shard: 0 <= idx[..., k, :] < shard_sizes[k]")
        return ell(x, Xp[kk, idx], Yp[kk, idx]).mean(-1) + reg(x)

    def grad_i(x):
        return fgrad(lambda z: f_i(z).sum())(_check_stack(x, K, P))

    def sample_grad_i(x, idx):
        return fgrad(lambda z: sample_loss_i(z, idx).sum())(_check_stack(x, K, P))

    def _f1(z):
        return f_i(z.unsqueeze(-2).expand(*z.shape[:-1], K, P)).mean(-1)

    def f(x):
        return _f1(_check_vec(x, P))

    def grad(x):
        return fgrad(lambda z: _f1(z).sum())(_check_vec(x, P))

    def hess(x):
        x = _check_vec(x, P)
        H = vmap(fhessian(_f1))(x.reshape(-1, P).contiguous())
        return H.reshape(*x.shape[:-1], P, P)

    def hess_i(x):
        x = _check_stack(x, K, P)
        H = vmap(fhessian(lambda z: f_i(z).sum()))(x.reshape(-1, K, P).contiguous())  # (N, K, P, K, P)
        H = torch.diagonal(H, dim1=1, dim2=3).permute(0, 3, 1, 2)         # (N, K, P, P)
        return H.reshape(*x.shape[:-2], K, P, P)

    def test_loss(x):
        """Mean per-sample loss on the held-out test set (no l2 term); x (..., P) -> (...)."""
        x = _check_vec(x, P)
        return ell(x.unsqueeze(-2), Xte[None], Yte[None]).mean(-1).squeeze(-1)

    return dict(name=name, K=K, dim=P, f_i=f_i, grad_i=grad_i, hess_i=hess_i, f=f, grad=grad,
                hess=hess, sample_grad_i=sample_grad_i, sample_loss_i=sample_loss_i,
                shard_sizes=sizes, shards=shards, test_loss=test_loss, params=params)


def _minimise(f, grad, hess, P):
    """Global minimiser of a strongly convex f: scipy L-BFGS (gtol 1e-6), then Newton steps
    until ‖∇f‖ stops decreasing (quadratic convergence takes it to rounding level)."""
    def fun(z):
        t = torch.as_tensor(z, dtype=torch.float64)
        return float(f(t)), grad(t).numpy()
    res = scipy.optimize.minimize(fun, np.zeros(P), jac=True, method="L-BFGS-B",
                                  options=dict(gtol=1e-6, ftol=0.0, maxiter=20000, maxcor=30))
    x = torch.as_tensor(res.x, dtype=torch.float64)
    g = grad(x)
    for _ in range(10):
        x_new = x - torch.linalg.solve(hess(x), g)
        g_new = grad(x_new)
        if not g_new.norm() < g.norm():
            break
        x, g = x_new, g_new
    return x


def logistic_regression(K: int, n: int = 1000, d: int = 5, classes: int = 3, split: str = "iid",
                        l2: float = 1e-3, seed: int = 0, alpha: float = 0.5, k: int = 2,
                        n_test: int = 1000, sep: float = 2.0) -> Heterogeneous:
    """Multinomial logistic regression on `make_classification` data, x = [vec(W) (C·d), bias (C)].

    f_k(x) = (1/n_k) Σ_{j ∈ shard k} [logsumexp(W a_j + c) − (W a_j + c)_{y_j}] + ½·l2·‖x‖².
    With l2 > 0, f is strongly convex: x_star by scipy L-BFGS + Newton polish (‖∇f(x_star)‖ ~ 1e-16), f_star = f(x_star);
    with l2 = 0 both are None (the minimiser may not exist for separable data).
    """
    if not l2 >= 0:
        raise ValueError(f"l2 must be >= 0, got {l2}")
    X, y = make_classification(n + n_test, d, classes, seed, sep)
    Xtr, ytr, Xte, yte = X[:n], y[:n], X[n:], y[n:]
    shards = _split(ytr, K, split, alpha=alpha, k=k, seed=seed + 1)
    C, P = classes, classes * (d + 1)
    eye = torch.eye(C, dtype=torch.float64)

    def ell(x, A, Y):
        W = x[..., :C * d].reshape(*x.shape[:-1], C, d)
        logits = A @ W.transpose(-1, -2) + x[..., C * d:].unsqueeze(-2)
        return torch.logsumexp(logits, -1) - (logits * Y).sum(-1)

    parts = _finite_sum("logistic_regression", K, P, ell, Xtr, eye[ytr], shards, Xte, eye[yte], l2,
                        dict(K=K, n=n, d=d, classes=classes, split=split, l2=l2, seed=seed,
                             alpha=alpha, k=k, n_test=n_test, sep=sep))
    x_star = f_star = None
    if l2 > 0:
        x_star = _minimise(parts["f"], parts["grad"], parts["hess"], P)
        f_star = float(parts["f"](x_star))
    return Heterogeneous(x_star=x_star, f_star=f_star, **parts)


def teacher_student(K: int, n: int = 1000, d_in: int = 5, hidden: int = 8, d_out: int = 1,
                    label_noise: float = 0.0, split: str = "iid", seed: int = 0,
                    classes: int = 4, alpha: float = 0.5, k: int = 2, n_test: int = 1000) -> Heterogeneous:
    """Two-layer tanh MLP student fitting a teacher of the same shape, per-sample ½‖s(a) − y‖².

    x = [vec(W1) (h·d_in), b1 (h), vec(W2) (d_out·h), b2 (d_out)]; s(a) = W2 tanh(W1 a + b1) + b2;
    inputs a ~ N(0, I), teacher weights ~ N(0, 1/fan_in), y = teacher(a) + label_noise·N(0, I).
    With label_noise = 0 the teacher parameters give zero loss, hence are a global minimiser:
    x_star = teacher, f_star = 0 (not unique: hidden-unit permutations and sign flips); with
    label_noise > 0 both are None. Non-IID splits use pseudo-labels: quantile bins (`classes`)
    of the teacher's first output.
    """
    if not label_noise >= 0:
        raise ValueError(f"label_noise must be >= 0, got {label_noise}")
    for nm, v in (("n", n), ("d_in", d_in), ("hidden", hidden), ("d_out", d_out)):
        if v < 1:
            raise ValueError(f"{nm} must be >= 1, got {v}")
    h, o = hidden, d_out
    sizes = (h * d_in, h, o * h, o)
    P = sum(sizes)
    gen = torch.Generator().manual_seed(int(seed))
    teacher = torch.cat([torch.randn(h * d_in, generator=gen, dtype=torch.float64) / np.sqrt(d_in),
                         torch.randn(h, generator=gen, dtype=torch.float64) / np.sqrt(d_in),
                         torch.randn(o * h, generator=gen, dtype=torch.float64) / np.sqrt(h),
                         torch.randn(o, generator=gen, dtype=torch.float64) / np.sqrt(h)])

    def net(x, A):
        W1, b1, W2, b2 = torch.split(x, sizes, dim=-1)
        W1 = W1.reshape(*x.shape[:-1], h, d_in)
        W2 = W2.reshape(*x.shape[:-1], o, h)
        H = torch.tanh(A @ W1.transpose(-1, -2) + b1.unsqueeze(-2))
        return H @ W2.transpose(-1, -2) + b2.unsqueeze(-2)

    def ell(x, A, Y):
        return 0.5 * ((net(x, A) - Y) ** 2).sum(-1)

    A = torch.randn(n + n_test, d_in, generator=gen, dtype=torch.float64)
    Y = net(teacher, A)
    if label_noise > 0:
        Y = Y + label_noise * torch.randn(Y.shape, generator=gen, dtype=torch.float64)
    Atr, Ytr, Ate, Yte = A[:n], Y[:n], A[n:], Y[n:]
    edges = torch.quantile(net(teacher, Atr)[:, 0], torch.linspace(0, 1, classes + 1, dtype=torch.float64)[1:-1])
    pseudo = torch.bucketize(net(teacher, Atr)[:, 0], edges)
    shards = _split(pseudo, K, split, alpha=alpha, k=k, seed=seed + 1)
    parts = _finite_sum("teacher_student", K, P, ell, Atr, Ytr, shards, Ate, Yte, 0.0,
                        dict(K=K, n=n, d_in=d_in, hidden=h, d_out=o, label_noise=label_noise,
                             split=split, seed=seed, classes=classes, alpha=alpha, k=k,
                             n_test=n_test, teacher=teacher))
    exact = label_noise == 0
    return Heterogeneous(x_star=teacher if exact else None, f_star=0.0 if exact else None, **parts)
