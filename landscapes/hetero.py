"""Heterogeneous objectives: worker k minimises its own f_k; the network minimises f = (1/K) Σ f_k.

Heterogeneity at x (docs/theory.md §5, Takezawa et al.'s ζ): ζ²(x) = (1/K) Σ_k ‖∇f_k(x) − ∇f(x)‖²;
"the" heterogeneity ζ² is its value at the global minimiser x*.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional

import torch


@dataclass(frozen=True)
class Heterogeneous:
    """K per-worker objectives over a common parameter vector of size `dim`.

    `f_i(x)` (..., K), `grad_i(x)` (..., K, d), `hess_i(x)` (..., K, d, d) for x (..., K, d):
    worker k is evaluated on its own objective at its own iterate x[..., k, :].
    `f(x)` (...), `grad(x)` (..., d), `hess(x)` (..., d, d) for x (..., d): the global mean
    objective. `x_star`, `f_star`: global minimiser and minimum (None where unknown).
    Data-based problems also carry `sample_grad_i(x, idx)`, `sample_loss_i(x, idx)` (idx
    (..., K, B) indices into each worker's shard), `shard_sizes` (K,), `shards` (index
    tensors into the training set), `test_loss(x)` (...).
    """

    name: str
    K: int
    dim: int
    f_i: Callable
    grad_i: Callable
    hess_i: Callable
    f: Callable
    grad: Callable
    hess: Callable
    x_star: Optional[torch.Tensor] = None
    f_star: Optional[float] = None
    params: dict = field(default_factory=dict)
    A: Optional[torch.Tensor] = None
    b: Optional[torch.Tensor] = None
    sample_grad_i: Optional[Callable] = None
    sample_loss_i: Optional[Callable] = None
    shard_sizes: Optional[torch.Tensor] = None
    shards: Optional[list] = None
    test_loss: Optional[Callable] = None

    def zeta2(self, x: torch.Tensor) -> torch.Tensor:
        """ζ²(x) = (1/K) Σ_k ‖∇f_k(x) − ∇f(x)‖² for x (..., d) -> (...)."""
        x = torch.as_tensor(x, dtype=torch.float64)
        if x.shape[-1] != self.dim:
            raise ValueError(f"x must have trailing dim {self.dim}, got shape {tuple(x.shape)}")
        xs = x.unsqueeze(-2).expand(*x.shape[:-1], self.K, self.dim)
        g = self.grad_i(xs)
        return ((g - g.mean(-2, keepdim=True)) ** 2).sum(-1).mean(-1)


def _check_stack(x: torch.Tensor, K: int, d: int) -> torch.Tensor:
    x = torch.as_tensor(x, dtype=torch.float64)
    if x.ndim < 2 or x.shape[-2:] != (K, d):
        raise ValueError(f"x must have shape (..., K={K}, d={d}), got {tuple(x.shape)}")
    return x


def _check_vec(x: torch.Tensor, d: int) -> torch.Tensor:
    x = torch.as_tensor(x, dtype=torch.float64)
    if x.ndim < 1 or x.shape[-1] != d:
        raise ValueError(f"x must have shape (..., d={d}), got {tuple(x.shape)}")
    return x


ROWWISE_MAX_D = 64  # above this dimension `_rowwise_apply` uses einsum (d kernels per call cost too much)


def _rowwise_apply(A: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    """(A_k r_k)_i = sum_j A_kij r_kj for r (..., K, d), summed left to right over j with
    elementwise kernels: bit-identical per row whatever the leading (replica) axes. A batched
    GEMM (einsum) picks its blocking from the number of rows and rounds a row differently with
    R on some CPUs (seen with MKL on an AVX-512 Xeon: 1.8e-15), which would make a replica's path
    depend on how many replicas run beside it (docs/theory.md §0). Above d = ROWWISE_MAX_D the
    d kernel launches cost more than the guarantee is worth (12 ms vs 0.4 ms a call at d = 50,
    R = 256, K = 16): einsum, and rows may then differ in the last bits with R."""
    if A.shape[-1] > ROWWISE_MAX_D:
        return torch.einsum("kij,...kj->...ki", A, r)
    out = A[:, :, 0] * r[..., 0:1]
    for j in range(1, A.shape[-1]):
        out = out + A[:, :, j] * r[..., j:j + 1]
    return out


def _rowwise_dot(u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """sum_i u_i v_i over the last axis, left to right (elementwise, as `_rowwise_apply`; a
    reduction kernel above ROWWISE_MAX_D)."""
    if u.shape[-1] > ROWWISE_MAX_D:
        return (u * v).sum(-1)
    out = u[..., 0] * v[..., 0]
    for i in range(1, u.shape[-1]):
        out = out + u[..., i] * v[..., i]
    return out


def hetero_quadratics(K: int, d: int, zeta: float = 1.0, hess_spread: float = 0.0,
                      mu: float = 1.0, seed: int = 0) -> Heterogeneous:
    """f_k(x) = ½ (x − b_k)ᵀ A_k (x − b_k), A_k = Q_k diag(λ_k) Q_kᵀ SPD.

    Eigenvalues λ_kj = mu·(1 + hess_spread·u_kj), u ~ U(0, 1), Q_k Haar-random orthogonal
    (hess_spread = 0 gives A_k = mu·I for every k). The construction picks x* ~ N(0, I) and
    gradients g_k at x* with Σ_k g_k = 0 and (1/K) Σ ‖g_k‖² = zeta², then b_k = x* − A_k⁻¹ g_k,
    so ∇f(x*) = (1/K) Σ A_k (x* − b_k) = 0 and ζ²(x*) = zeta² exactly (up to rounding);
    f* = (1/K) Σ ½ g_kᵀ A_k⁻¹ g_k.
    """
    if not isinstance(K, int) or K < 1:
        raise ValueError(f"K must be an integer >= 1, got {K}")
    if not isinstance(d, int) or d < 1:
        raise ValueError(f"d must be an integer >= 1, got {d}")
    if not zeta >= 0:
        raise ValueError(f"zeta must be >= 0, got {zeta}")
    if K == 1 and zeta > 0:
        raise ValueError(f"zeta must be 0 when K = 1 (one worker has no heterogeneity), got {zeta}")
    if not hess_spread >= 0:
        raise ValueError(f"hess_spread must be >= 0, got {hess_spread}")
    if not mu > 0:
        raise ValueError(f"mu must be > 0, got {mu}")
    gen = torch.Generator().manual_seed(int(seed))
    lam = mu * (1.0 + hess_spread * torch.rand(K, d, generator=gen, dtype=torch.float64))
    Q, R = torch.linalg.qr(torch.randn(K, d, d, generator=gen, dtype=torch.float64))
    Q = Q * torch.sign(torch.diagonal(R, dim1=-2, dim2=-1)).unsqueeze(-2)
    A = Q @ torch.diag_embed(lam) @ Q.transpose(-1, -2)
    A = 0.5 * (A + A.transpose(-1, -2))
    x_star = torch.randn(d, generator=gen, dtype=torch.float64)
    g = torch.randn(K, d, generator=gen, dtype=torch.float64)
    g = g - g.mean(0)
    nrm = (g ** 2).sum(-1).mean()
    g = g * (zeta / nrm.sqrt()) if nrm > 0 else torch.zeros_like(g)
    Ainv_g = torch.linalg.solve(A, g.unsqueeze(-1)).squeeze(-1)
    b = x_star - Ainv_g
    f_star = float(0.5 * (g * Ainv_g).sum(-1).mean())
    Abar = A.mean(0)

    def f_i(x):
        r = _check_stack(x, K, d) - b
        return 0.5 * _rowwise_dot(r, _rowwise_apply(A, r))

    def grad_i(x):
        r = _check_stack(x, K, d) - b
        return _rowwise_apply(A, r)

    def hess_i(x):
        x = _check_stack(x, K, d)
        return A.expand(*x.shape[:-2], K, d, d)

    def f(x):
        x = _check_vec(x, d)
        return f_i(x.unsqueeze(-2).expand(*x.shape[:-1], K, d)).mean(-1)

    def grad(x):
        x = _check_vec(x, d)
        return grad_i(x.unsqueeze(-2).expand(*x.shape[:-1], K, d)).mean(-2)

    def hess(x):
        x = _check_vec(x, d)
        return Abar.expand(*x.shape[:-1], d, d)

    return Heterogeneous(
        name="hetero_quadratics", K=K, dim=d, f_i=f_i, grad_i=grad_i, hess_i=hess_i, f=f,
        grad=grad, hess=hess, x_star=x_star, f_star=f_star, A=A, b=b,
        params=dict(K=K, d=d, zeta=zeta, hess_spread=hess_spread, mu=mu, seed=seed))
