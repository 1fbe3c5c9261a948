"""D-SGD as average-direction SAM (Zhu et al., ICML 2023, arXiv 2306.02913; THEORY.md §4).

Consensus covariance of a stacked state x (..., K, d), w_a = (1/K) Σ_j x_j, δ_j = x_j − w_a:
    Ξ = (1/K) Σ_j δ_j δ_jᵀ,   Tr Ξ = (1/K) Σ_j ‖δ_j‖²            (THEORY.md §0)
Expansion (THEORY.md §4): (1/K) Σ_j ∇L(x_j) = ∇L(w_a) + ½∇Tr(H(w_a)Ξ) + O(‖δ‖³), exact for cubic L;
`expansion_residual` returns the left side minus the first two terms on the right.
Average-direction SAM objective: E_{ε~N(0,Ξ)} L(w + ε) (= L + ½Tr(HΞ) exactly for degree ≤ 3),
optimiser `sam_step`: w ← w − η (1/n) Σ_s ∇L(w + ε_s) with the perturbations ε_s supplied.
Stationary Ξ of D-SGD on quadratics: exact (analysis/linear.py) or per mode (THEORY.md §3, §4).
"""
from __future__ import annotations

import math

import numpy as np
import torch

from . import linear

__all__ = ["consensus_cov", "consensus_trace", "gaussian_eps", "sigma_points", "sam_objective",
           "grad_trace_hess", "expansion_residual", "sam_step", "smoothing_damping",
           "rastrigin_smoothed_grad", "stationary_xi", "stationary_xi_modes", "wilson"]


def _stack(x, name="x") -> torch.Tensor:
    x = torch.as_tensor(x, dtype=torch.float64)
    if x.ndim < 2 or x.shape[-2] < 1 or x.shape[-1] < 1:
        raise ValueError(f"{name} must be a stacked state of shape (..., K, d), got {tuple(x.shape)}")
    return x


def consensus_cov(x) -> torch.Tensor:
    """Ξ = (1/K) Σ_j (x_j − x̄)(x_j − x̄)ᵀ for x (..., K, d) -> (..., d, d) (THEORY.md §0)."""
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
    """(1/K) Σ_j ∇L(x_j) − ∇L(w_a) − ½∇Tr(H(w_a)Ξ) for x (..., K, d) -> (..., d) (THEORY.md §4).
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
    (THEORY.md §4, gradient smoothing): E sin(ω(w+ε)) = sin(ωw) e^{−ω²ξ/2}."""
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
    """Per-mode closed form of the stationary E[Ξ] (THEORY.md §3, §4) for a normal mixing matrix W
    (K, K) (symmetric or circulant), common Hessian H and per-sample noise C commuting with H.
    In the eigenbases (λ_j of W, j ≥ 2; h, r of H and C on a common eigenvector v):
      dsgd (consensus) Π = η² r/(B(1 − |λ_j − ηh|²)); atc η²|λ_j|² r/(B(1 − |λ_j|²(1−ηh)²));
      cta η² r/(B(1 − |λ_j|²(1−ηh)²));  E[Ξ] = Σ_v ((1/K) Σ_{j≥2} Π_j(h_v, r_v)) v vᵀ."""
    W = np.asarray(W, dtype=np.float64)
    H = np.asarray(H, dtype=np.float64)
    C = np.asarray(C, dtype=np.float64) * (np.eye(H.shape[0]) if np.ndim(C) == 0 else 1.0)
    if W.ndim != 2 or W.shape[0] != W.shape[1]:
        raise ValueError(f"W must be a square (K, K) matrix, got shape {W.shape}")
    K = W.shape[0]
    if not np.allclose(W @ W.T, W.T @ W, atol=1e-12) or not np.allclose(W.sum(1), 1) or not np.allclose(W.sum(0), 1):
        raise ValueError("W must be doubly stochastic and normal (W Wᵀ = Wᵀ W) for the per-mode forms")
    if H.ndim != 2 or H.shape[0] != H.shape[1] or C.shape != H.shape:
        raise ValueError(f"H and C must be (d, d) matrices of the same shape, got {H.shape} and {C.shape}")
    if not np.allclose(H @ C, C @ H, atol=1e-10 * max(1.0, np.abs(H).max() * np.abs(C).max())):
        raise ValueError("C must commute with H (shared eigenvectors) for the per-mode forms")
    if method not in ("dsgd", "atc", "cta"):
        raise ValueError(f"method must be 'dsgd', 'atc' or 'cta', got {method!r}")
    lam = np.linalg.eigvals(W)
    lam = np.delete(lam, np.argmin(np.abs(lam - 1.0)))  # drop the consensus mode λ_1 = 1
    # eigenbasis of H that also diagonalises C: eigh of H + small·C splits degenerate h by r
    _, V = np.linalg.eigh(H + 1e-7 * np.pi * C / max(1.0, np.abs(C).max()))
    h = np.einsum("iv,ij,jv->v", V, H, V)
    r = np.einsum("iv,ij,jv->v", V, C, V)
    eta = float(lr)
    out = np.zeros(len(h))
    for n, (hv, rv) in enumerate(zip(h, r)):
        if method == "dsgd":
            den = 1 - np.abs(lam - eta * hv) ** 2
            num = np.full(len(lam), eta ** 2 * rv)
        else:
            den = 1 - np.abs(lam) ** 2 * (1 - eta * hv) ** 2
            num = eta ** 2 * rv * (np.abs(lam) ** 2 if method == "atc" else np.ones(len(lam)))
        if np.any(den <= 0):
            raise ValueError(f"lr = {lr} is unstable for {method} on this W and H (some |mode| >= 1)")
        out[n] = float(np.sum(num / den)) / (batch * K)
    return (V * out) @ V.T


def wilson(successes: int, n: int, z: float = 1.959963984540054) -> tuple[float, float, float]:
    """Wilson score interval (p̂, low, high) for a binomial proportion."""
    if n < 1 or not 0 <= successes <= n:
        raise ValueError(f"wilson: need 0 <= successes <= n and n >= 1, got {successes}/{n}")
    p = successes / n
    den = 1 + z * z / n
    c = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return p, max(0.0, c - half), min(1.0, c + half)
