"""D-SGD as average-direction SAM (Zhu et al., ICML 2023, arXiv 2306.02913; docs/theory.md §4).

Consensus covariance of a stacked state x (..., K, d), w_a = (1/K) Σ_j x_j, δ_j = x_j − w_a:
    Ξ = (1/K) Σ_j δ_j δ_jᵀ,   Tr Ξ = (1/K) Σ_j ‖δ_j‖²            (docs/theory.md §0)
Expansion (docs/theory.md §4): (1/K) Σ_j ∇L(x_j) = ∇L(w_a) + ½∇Tr(H(w_a)Ξ) + O(‖δ‖³), exact for cubic L;
`expansion_residual` returns the left side minus the first two terms on the right.
Average-direction SAM objective: E_{ε~N(0,Ξ)} L(w + ε) (= L + ½Tr(HΞ) exactly for degree ≤ 3),
optimiser `sam_step`: w ← w − η (1/n) Σ_s ∇L(w + ε_s) with the perturbations ε_s supplied.
Stationary Ξ of D-SGD on quadratics: exact (analysis/linear.py) or per mode (docs/theory.md §3, §4).
"""
from __future__ import annotations

import math

import numpy as np
import torch

from . import linear

__all__ = [
    "consensus_cov",
    "consensus_trace",
    "expansion_residual",
    "gaussian_eps",
    "grad_trace_hess",
    "rastrigin_smoothed_grad",
    "sam_objective",
    "sam_step",
    "sigma_points",
    "smoothed_grad_quadrature",
    "smoothing_damping",
    "stationary_xi",
    "stationary_xi_modes",
    "xi_modes",
]


def _stack(x, name="x") -> torch.Tensor:
    x = torch.as_tensor(x, dtype=torch.float64)
    if x.ndim < 2 or x.shape[-2] < 1 or x.shape[-1] < 1:
        raise ValueError(f"{name} must be a stacked state of shape (..., K, d), got {tuple(x.shape)}")
    return x


def consensus_cov(x) -> torch.Tensor:
    """Ξ = (1/K) Σ_j (x_j − x̄)(x_j − x̄)ᵀ for x (..., K, d) -> (..., d, d) (docs/theory.md §0)."""
    x = _stack(x)
    dx = x - x.mean(dim=-2, keepdim=True)
    return dx.transpose(-1, -2) @ dx / x.shape[-2]


def consensus_trace(x) -> torch.Tensor:
    """Tr Ξ = (1/K) Σ_j ‖x_j − x̄‖² for x (..., K, d) -> (...)."""
    x = _stack(x)
    return (x - x.mean(dim=-2, keepdim=True)).square().sum(-1).mean(-1)


def _sqrt_cov(Xi) -> torch.Tensor:
    Xi = torch.as_tensor(Xi, dtype=torch.float64)
    if Xi.ndim < 2 or Xi.shape[-1] != Xi.shape[-2]:
        raise ValueError(f"Xi must be a covariance of shape (..., d, d), got {tuple(Xi.shape)}")
    scale = float(Xi.abs().amax().clamp(min=1e-300))
    if float((Xi - Xi.transpose(-1, -2)).abs().amax()) > 1e-10 * scale:
        raise ValueError("Xi must be symmetric")
    lam, V = torch.linalg.eigh(0.5 * (Xi + Xi.transpose(-1, -2)))
    if float(lam.amin()) < -1e-10 * scale:
        raise ValueError(f"Xi must be positive semi-definite, smallest eigenvalue {float(lam.amin()):.3g}")
    return V * lam.clamp(min=0).sqrt().unsqueeze(-2)


def gaussian_eps(Xi, n: int, generator: torch.Generator) -> torch.Tensor:
    """n draws ε ~ N(0, Ξ) for Ξ (..., d, d) -> (..., n, d), from a seeded torch.Generator."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n (number of perturbations) must be an integer >= 1, got {n!r}")
    if not isinstance(generator, torch.Generator):
        raise ValueError("generator must be a seeded torch.Generator")
    S = _sqrt_cov(Xi)
    z = torch.randn(*S.shape[:-2], n, S.shape[-1], generator=generator, dtype=torch.float64)
    return z @ S.transpose(-1, -2)


def sigma_points(Xi) -> torch.Tensor:
    """Deterministic ε_s = ±√d·(columns of Ξ^{1/2}), 2d points (..., 2d, d): their mean reproduces
    every Gaussian moment up to order 3, so (1/2d) Σ_s ∇L(w + ε_s) = E_{N(0,Ξ)} ∇L(w + ε) exactly
    for polynomial L of degree ≤ 4 (the unscented rule)."""
    S = _sqrt_cov(Xi)
    d = S.shape[-1]
    cols = math.sqrt(d) * S.transpose(-1, -2)
    return torch.cat([cols, -cols], dim=-2)


def sam_objective(land, w, Xi, *, degree: int | None = None, samples: int = 65536, seed: int = 0):
    """E_{ε~N(0,Ξ)} L(w + ε) for w (..., d), Ξ (..., d, d) -> (value, standard error).

    degree ≤ 3 (L a polynomial of that degree): exact L(w) + ½Tr(H(w)Ξ), standard error 0.
    Otherwise Monte Carlo with antithetic pairs ±ε from torch.Generator(seed): the error is the
    standard error of the pair means."""
    w = torch.as_tensor(w, dtype=torch.float64)
    Xi = torch.as_tensor(Xi, dtype=torch.float64)
    if w.shape[-1] != Xi.shape[-1]:
        raise ValueError(f"Xi must be (..., d, d) with d = w.shape[-1] = {w.shape[-1]}, got {tuple(Xi.shape)}")
    if degree is not None and degree <= 3:
        val = land.f(w) + 0.5 * (land.hess(w) * Xi).sum((-1, -2))
        return val, torch.zeros_like(val)
    if isinstance(samples, bool) or not isinstance(samples, int) or samples < 2:
        raise ValueError(f"samples must be an integer >= 2, got {samples!r}")
    eps = gaussian_eps(Xi, samples // 2, torch.Generator().manual_seed(seed))
    pair = 0.5 * (land.f(w.unsqueeze(-2) + eps) + land.f(w.unsqueeze(-2) - eps))
    return pair.mean(-1), pair.std(-1) / math.sqrt(pair.shape[-1])


def grad_trace_hess(land, w, Xi) -> torch.Tensor:
    """∇_w Tr(H(w) Ξ) for w (..., d), Ξ fixed (..., d, d): autograd of the landscape's own Hessian
    contracted with Ξ (third derivatives: Σ_ab ∂_c H_ab Ξ_ab)."""
    w = torch.as_tensor(w, dtype=torch.float64).detach().requires_grad_(True)
    Xi = torch.as_tensor(Xi, dtype=torch.float64).detach()
    with torch.enable_grad():
        tr = (land.hess(w) * Xi).sum((-1, -2))
        (g,) = torch.autograd.grad(tr.sum(), w, allow_unused=True)
    return torch.zeros_like(w).detach() if g is None else g.detach()


def expansion_residual(land, x) -> torch.Tensor:
    """(1/K) Σ_j ∇L(x_j) − ∇L(w_a) − ½∇Tr(H(w_a)Ξ) for x (..., K, d) -> (..., d) (docs/theory.md §4).
    Zero for cubic L; for a 1-D quartic equals (1/6)L''''·m₃, m₃ = (1/K) Σ_j δ_j³."""
    x = _stack(x)
    wa = x.mean(dim=-2)
    return land.grad(x).mean(dim=-2) - land.grad(wa) - 0.5 * grad_trace_hess(land, wa, consensus_cov(x))


def sam_step(grad, w, lr: float, eps) -> torch.Tensor:
    """Average-direction SAM: w ← w − lr (1/n) Σ_s ∇L(w + ε_s); w (..., d), eps (..., n, d)
    supplied (e.g. `gaussian_eps` or `sigma_points` of D-SGD's Ξ(t)). Pure."""
    if not (isinstance(lr, (int, float)) and math.isfinite(lr) and lr > 0):
        raise ValueError(f"lr (step size) must be a positive finite number, got {lr!r}")
    w = torch.as_tensor(w, dtype=torch.float64)
    eps = torch.as_tensor(eps, dtype=torch.float64)
    if eps.ndim < 2 or eps.shape[-1] != w.shape[-1]:
        raise ValueError(f"eps must have shape (..., n, d) with d = {w.shape[-1]}, got {tuple(eps.shape)}")
    return w - lr * grad(w.unsqueeze(-2) + eps).mean(dim=-2)


def smoothing_damping(omega, xi):
    """e^{−ω²ξ/2}: factor by which Gaussian smoothing N(0, ξ) damps a cos(ωw) term's gradient
    (docs/theory.md §4, gradient smoothing): E sin(ω(w+ε)) = sin(ωw) e^{−ω²ξ/2}."""
    xi = torch.as_tensor(xi, dtype=torch.float64)
    if bool((xi < 0).any()):
        raise ValueError("xi (variance of the perturbation) must be >= 0")
    return torch.exp(-0.5 * torch.as_tensor(omega, dtype=torch.float64) ** 2 * xi)


def rastrigin_smoothed_grad(w, xi, A: float = 10.0, omega: float = 2 * math.pi) -> torch.Tensor:
    """E_{ε~N(0, diag ξ)} ∇f(w + ε) for f = Σ_i (w_i² − A cos(ω w_i)) + const:
    2w + Aω sin(ωw)·e^{−ω²ξ/2} (per coordinate; ξ the diagonal of Ξ)."""
    w = torch.as_tensor(w, dtype=torch.float64)
    return 2 * w + A * omega * torch.sin(omega * w) * smoothing_damping(omega, xi)


def stationary_xi(method, A, b, x0, S, period: int = 1) -> np.ndarray:
    """Exact stationary E[Ξ] (d, d) of any `dynamics` method on the quadratic f_k = ½(x−b_k)ᵀA_k(x−b_k)
    with gradient noise covariance S (per worker) via analysis/linear.py (jacrev of its own step)."""
    x0 = torch.as_tensor(x0, dtype=torch.float64)
    K, d = x0.shape[-2:]
    m, P = linear.stationary_x(method, A, b, x0, S, period)
    return linear.consensus_cov(m, P, K, d)


def stationary_xi_modes(W, H, lr: float, C, batch: int = 1, method: str = "dsgd") -> np.ndarray:
    """Stationary E[Ξ] (d, d) from the per-mode closed form (`xi_modes` with t = None)."""
    return xi_modes(W, H, lr, C, batch, method)


def xi_modes(W, H, lr: float, C, batch: int = 1, method: str = "dsgd", t=None) -> np.ndarray:
    """E[Ξ] of D-SGD-type methods on the quadratic ½xᵀHx with per-worker gradient noise C/B, written
    from the recursion (docs/theory.md §3, §4), never through a `dynamics` step function.

    W (K, K) doubly stochastic and normal (symmetric or circulant), eigenpairs (λ_j, u_j), j ≥ 2 the
    non-consensus modes; H = V diag(h) Vᵀ. The mode coordinates z_j = u_j* X (1 × d) obey
        dsgd  z' = z(λ_j I − ηH) − η ξ̃          a_jv = λ_j − ηh_v,      gain 1
        atc   z' = λ_j z(I − ηH) − η λ_j ξ̃      a_jv = λ_j(1 − ηh_v),   gain |λ_j|²
        cta   z' = λ_j z(I − ηH) − η ξ̃          a_jv = λ_j(1 − ηh_v),   gain 1
    with E ξ̃*ξ̃ = C/B, so Π_j = E z_j*z_j solves the d × d Lyapunov equation Π = A*ΠA + gain·η²C/B.
    In H's eigenbasis (C̃ = VᵀCV, any C: it need not commute with H) it is elementwise:
        Π̃_j[v, w](t) = gain η² C̃[v, w]/B · (1 − q^t)/(1 − q),   q = conj(a_jv)·a_jw,
    from Π(0) = 0 (all workers start at the same point); t = None gives the stationary value 1/(1 − q).
    E[Ξ] = (1/K) Σ_{j≥2} V Re(Π̃_j) Vᵀ. Returns (d, d) for t None, else (len(t), d, d)."""
    W = np.asarray(W, dtype=np.float64)
    H = np.asarray(H, dtype=np.float64)
    if W.ndim != 2 or W.shape[0] != W.shape[1]:
        raise ValueError(f"W must be a square (K, K) matrix, got shape {W.shape}")
    if H.ndim != 2 or H.shape[0] != H.shape[1] or not np.allclose(H, H.T, atol=1e-12):
        raise ValueError(f"H must be a symmetric (d, d) matrix, got shape {H.shape}")
    d = H.shape[0]
    C = np.asarray(C, dtype=np.float64)
    C = C * np.eye(d) if C.ndim == 0 else C
    if C.shape != H.shape or not np.allclose(C, C.T, atol=1e-12) or np.linalg.eigvalsh(C).min() < -1e-12:
        raise ValueError(f"C must be a scalar or a symmetric PSD (d, d) = ({d}, {d}) matrix, got {C.shape}")
    K = W.shape[0]
    if not np.allclose(W @ W.T, W.T @ W, atol=1e-12) or not np.allclose(W.sum(1), 1) or not np.allclose(W.sum(0), 1):
        raise ValueError("W must be doubly stochastic and normal (W Wᵀ = Wᵀ W) for the per-mode forms")
    if method not in ("dsgd", "atc", "cta"):
        raise ValueError(f"method must be 'dsgd', 'atc' or 'cta', got {method!r}")
    if isinstance(batch, bool) or not isinstance(batch, (int, np.integer)) or batch < 1:
        raise ValueError(f"batch must be an integer >= 1, got {batch!r}")
    if not (isinstance(lr, (int, float)) and math.isfinite(lr) and lr > 0):
        raise ValueError(f"lr (step size) must be a positive finite number, got {lr!r}")
    lam = np.linalg.eigvals(W)
    lam = np.delete(lam, np.argmin(np.abs(lam - 1.0)))  # drop the consensus mode λ_1 = 1
    h, V = np.linalg.eigh(H)
    Ct = V.T @ C @ V
    eta = float(lr)
    if method == "dsgd":
        a = lam[:, None] - eta * h[None, :]                      # (K−1, d)
        gain = np.ones(len(lam))
    else:
        a = lam[:, None] * (1 - eta * h[None, :])
        gain = np.abs(lam) ** 2 if method == "atc" else np.ones(len(lam))
    if np.any(np.abs(a) >= 1):
        raise ValueError(f"lr = {lr} is unstable for {method} on this W and H (some |mode| >= 1)")
    q = np.conj(a)[:, :, None] * a[:, None, :]                   # (K−1, d, d)
    base = gain[:, None, None] * eta ** 2 * Ct[None] / batch / (1 - q)
    if t is None:
        Pt = np.real(base.sum(0)) / K
        return V @ Pt @ V.T
    ts = np.asarray(t, dtype=np.int64).reshape(-1)
    if ts.size and ts.min() < 0:
        raise ValueError("t (steps since the common start) must be >= 0")
    Pt = np.real((base[None] * (1 - q[None] ** ts[:, None, None, None])).sum(1)) / K
    return np.einsum("iv,tvw,jw->tij", V, Pt, V)


def smoothed_grad_quadrature(grad, w, Xi, n: int = 24) -> torch.Tensor:
    """E_{ε~N(0,Ξ)} ∇L(w + ε) by tensor-product Gauss–Hermite quadrature (probabilists' nodes, n per
    dimension, exact for polynomial gradients of degree < 2n): ε = Ξ^{1/2} z over the n^d nodes z.
    grad maps (..., d) -> (..., d); w (..., d), Ξ (..., d, d) -> (..., d). A numerical Gaussian
    convolution, independent of any Taylor expansion."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 2:
        raise ValueError(f"n (quadrature nodes per dimension) must be an integer >= 2, got {n!r}")
    w = torch.as_tensor(w, dtype=torch.float64)
    S = _sqrt_cov(Xi)
    d = w.shape[-1]
    if S.shape[-1] != d:
        raise ValueError(f"Xi must be (..., d, d) with d = w.shape[-1] = {d}, got {tuple(S.shape)}")
    z1, w1 = np.polynomial.hermite_e.hermegauss(n)
    w1 = w1 / math.sqrt(2 * math.pi)
    grids = np.meshgrid(*([z1] * d), indexing="ij")
    Z = torch.tensor(np.stack([g.reshape(-1) for g in grids], -1))           # (n^d, d)
    Wt = torch.tensor(np.prod(np.stack(np.meshgrid(*([w1] * d), indexing="ij")), 0).reshape(-1))
    eps = Z @ S.transpose(-1, -2)                                            # (..., n^d, d)
    g = grad(w.unsqueeze(-2) + eps)
    return (Wt[:, None] * g).sum(-2)
