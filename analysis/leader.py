"""Leader (stochastic) gradient descent: objective, fixed points, linear rate, descent bound T2
and communication accounting (docs/theory.md §7; Teng et al., NeurIPS 2019, arXiv 1905.10395).

Parameterisation. `dynamics` 'lsgd' follows eq. 2 of the paper, x ← x − η g(x) − λ(x − z)
(the pull λ is NOT multiplied by η); the analysed step of T2 is x⁺ = x − η(∇f(x) + λ(x − z)),
i.e. a pull of ηλ. Functions below say which one they take.

- LGD objective [paper, eq. 1]: Σ_j f(x_j) + (λ/2)‖x_j − z‖², z the best worker.
- Fixed points of the deterministic map (T1, read as a fixed point of the map): the leader has
  ∇f(z) = 0; a follower has η∇f(x_j) = −λ(x_j − z) (eq. 2 pull), i.e. ∇f(x_j) = −λ'(x_j − z)
  with λ' = λ/η the analysed-step λ. All workers at one stationary point of f is a fixed point.
- Linearisation near a minimum (leader index frozen): leader x₀' = (I − ηA)x₀, follower
  x_j' = (I − ηA − λI)x_j + λx₀; eigenvalues {1 − ηh} ∪ {1 − ηh − λ} (h eigenvalues of A).
- T2 [paper, poster; bound checked for η ≤ 1/(M + λ)]: m-strongly convex, M-smooth f,
  f(z) ≤ f(x), E‖ξ‖² = σ²:
      E f(x⁺) − f* ≤ (1 − mη)(f(x) − f*) − ηλ(f(x) − f(z)) + η²Mσ²/2.
- Communication (vectors of P numbers): LSGD (groups n, l = K/n per group) sends K − n vectors
  every τ_local steps (group leaders to their followers), K − 1 every τ (global leader to all),
  minus l − 1 when both fall on one step (the same vector to the leader's own group);
  EASGD 2K every τ (x^i up, x̃ down); ring all-reduce 2(K − 1)/K · P numbers per worker,
  2(K − 1) vectors in all, once per averaging period.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from dynamics import make

from . import linear

__all__ = [
    "allreduce_bytes_per_worker",
    "comm_bytes",
    "comm_vectors",
    "fixed_point_residuals",
    "is_fixed_point",
    "leaders",
    "lgd_matrix",
    "lgd_objective",
    "lgd_step",
    "linear_rates",
    "t2_lhs_quadratic",
    "t2_rhs",
]


def _pos(v, name):
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
        raise ValueError(f"{name} must be a positive finite number, got {v!r}")
    return float(v)


def _nonneg(v, name):
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
        raise ValueError(f"{name} must be a non-negative finite number, got {v!r}")
    return float(v)


def _int(v, name, lo=1):
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
        raise ValueError(f"{name} must be an integer >= {lo}, got {v!r}")
    return int(v)


def _stack(x):
    x = torch.as_tensor(x, dtype=torch.float64)
    if x.ndim < 2:
        raise ValueError(f"x must have shape (..., K, d), got {tuple(x.shape)}")
    return x


# ---------------------------------------------------------------- objective and fixed points

def leaders(f, x) -> torch.Tensor:
    """Index of the best worker argmin_j f(x_j) (ties to the lowest index) for x (..., K, d)."""
    return torch.argmin(f(_stack(x)), dim=-1)


def lgd_objective(f, x, lam: float) -> torch.Tensor:
    """Σ_j f(x_j) + (λ/2)‖x_j − z‖², z = the best worker [paper eq. 1, one group, λ_G = 0]."""
    x = _stack(x)
    lam = _nonneg(lam, "lam")
    idx = leaders(f, x)
    z = torch.take_along_dim(x, idx[..., None, None].expand(*idx.shape, 1, x.shape[-1]), dim=-2)
    return f(x).sum(-1) + 0.5 * lam * (x - z).square().sum((-1, -2))


def _noiseless(f, grad):
    def oracle(x, t, rng):
        return f(x), grad(x)
    return oracle


def lgd_step(f, grad, x, lr: float, lam: float, groups: int = 1, lam_local: float = 0.0):
    """One deterministic LGD step through `dynamics` 'lsgd' (eq. 2 pull, τ = 1): returns x⁺."""
    x = _stack(x)
    m = make("lsgd", lr=lr, lam=lam_local, lam_global=lam, tau=1, groups=groups, K=x.shape[-2])
    orc = _noiseless(f, grad)
    return m.step(m.init(x), orc, 0, None).x


def fixed_point_residuals(f, grad, x, lr: float, lam: float) -> dict:
    """T1 residuals at x (K, d) for single-leader LGD with the eq. 2 pull λ:
    'map' = max_j ‖x_j⁺ − x_j‖ (deterministic map), 'leader_grad' = ‖∇f(z)‖,
    'follower' = max_j ‖η∇f(x_j) + λ(x_j − z)‖ over followers (0 with one worker)."""
    x = _stack(x)
    if x.ndim != 2:
        raise ValueError(f"x must have shape (K, d), got {tuple(x.shape)}")
    lr, lam = _pos(lr, "lr"), _nonneg(lam, "lam")
    i = int(leaders(f, x))
    z = x[i]
    g = grad(x)
    fol = lr * g + lam * (x - z)
    fol = torch.cat([fol[:i], fol[i + 1:]])
    xp = lgd_step(f, grad, x, lr, lam)
    return {"map": float((xp - x).norm(dim=-1).max()),
            "leader_grad": float(g[i].norm()),
            "follower": float(fol.norm(dim=-1).max()) if len(fol) else 0.0}


def is_fixed_point(f, grad, x, lr: float, lam: float, tol: float = 1e-10) -> bool:
    """Is x (K, d) a fixed point of the deterministic LGD map (all residuals ≤ tol)?"""
    r = fixed_point_residuals(f, grad, x, lr, lam)
    return max(r.values()) <= tol


# ---------------------------------------------------------------- linearisation near a minimum

def lgd_matrix(h: float, lr: float, lam: float, K: int) -> np.ndarray:
    """Hand-built LGD map on f = h x²/2 (1-D), worker 0 the leader (eq. 2 pull):
    row 0 = (1 − ηh) e₀; row j = (1 − ηh − λ) e_j + λ e₀."""
    K = _int(K, "K")
    M = np.diag(np.full(K, 1 - lr * h - lam))
    M[0, 0] = 1 - lr * h
    M[1:, 0] = lam
    return M


def _radius(M):
    return float(np.max(np.abs(np.linalg.eigvals(M)))) if M.size else 0.0


def _x_block(method, A, K):
    """Jacobian of one step with respect to the workers' iterates, via analysis.linear."""
    d = A.shape[0]
    x0 = torch.zeros(K, d, dtype=torch.float64)
    st = linear.init_state(method, A, np.zeros(d), x0)
    aff = linear.step_map(method, A, np.zeros(d), st)
    s = aff.slice("x")
    return aff, s


def linear_rates(A, lr: float, K: int, lam: float = 0.1, alpha: float = 0.1,
                 beta: float | None = None) -> dict:
    """Spectral radii of the deterministic one-step maps near the minimum of f = ½xᵀAx, all
    obtained by differentiating the algorithms' own steps (analysis.linear.step_map):
    'gd' ('csgd' with one worker), 'lsgd' (x-block, leader = worker 0 frozen), 'lsgd_followers' (the
    disagreement modes, rate max|1 − ηh − λ|), 'easgd' (workers and center, β = Kα default).
    Smaller radius = faster linear convergence."""
    A = np.atleast_2d(np.asarray(A, dtype=np.float64))
    K = _int(K, "K", 2)
    out = {}
    aff, s = _x_block(make("csgd", _complete(1), lr=lr), A, 1)   # GD: one worker
    out["gd"] = _radius(aff.M[s, s])
    aff, s = _x_block(make("lsgd", lr=lr, lam=0.0, lam_global=lam, tau=1, K=K), A, K)
    Mx = aff.M[s, s]
    out["lsgd"] = _radius(Mx)
    d = A.shape[0]
    # follower block: workers 1..K-1 (rows/cols d..K·d of the x-block); it is block-triangular
    out["lsgd_followers"] = _radius(Mx[d:, d:])
    aff, _ = _x_block(make("easgd", lr=lr, alpha=alpha, beta=beta, K=K), A, K)
    out["easgd"] = aff.radius
    return out


def _complete(K):
    from dynamics import topology as T
    return T.complete(K)


# ---------------------------------------------------------------- descent property T2

def t2_rhs(fx: float, fz: float, fstar: float, lr: float, lam: float, m: float, M: float,
           sigma2: float) -> float:
    """Right side of T2: (1 − mη)(f(x) − f*) − ηλ(f(x) − f(z)) + η²Mσ²/2 (analysed-step λ).
    Checked regime: 0 < m ≤ M, η ≤ 1/(M + λ), f(z) ≤ f(x); outside it -> ValueError."""
    lr, lam, sigma2 = _pos(lr, "lr"), _nonneg(lam, "lam"), _nonneg(sigma2, "sigma2")
    m, M = _pos(m, "m"), _pos(M, "M")
    if m > M:
        raise ValueError(f"m (strong convexity {m}) must not exceed M (smoothness {M})")
    if lr > 1.0 / (M + lam) * (1 + 1e-12):
        raise ValueError(f"lr = {lr} exceeds 1/(M + lam) = {1 / (M + lam)} (T2 regime)")
    if fz > fx:
        raise ValueError(f"the leader must be no worse: f(z) = {fz} > f(x) = {fx}")
    return (1 - m * lr) * (fx - fstar) - lr * lam * (fx - fz) + 0.5 * lr * lr * M * sigma2


def t2_lhs_quadratic(A, x_star, x, z, lr: float, lam: float, S) -> float:
    """Exact E f(x⁺) − f* for f = ½(x − x*)ᵀA(x − x*), x⁺ = x − η(∇f(x) + ξ + λ(x − z)),
    ξ ~ N(0, S): f(E x⁺) − f* + (η²/2) Tr(A S)."""
    A = np.asarray(A, dtype=np.float64)
    xs, x, z = (np.asarray(v, dtype=np.float64) for v in (x_star, x, z))
    S = np.asarray(S, dtype=np.float64)
    if S.ndim == 0:
        S = float(S) * np.eye(len(x))
    mean = x - lr * (A @ (x - xs) + lam * (x - z))
    e = mean - xs
    return 0.5 * float(e @ A @ e) + 0.5 * lr * lr * float(np.trace(A @ S))


# ---------------------------------------------------------------- communication accounting

METHODS = ("lsgd", "easgd", "allreduce")


def comm_vectors(method: str, K: int, groups: int = 1, tau: int = 1,
                 tau_local: int | None = None) -> float:
    """Vectors sent per step, all workers together (module docstring), closed form:
    lsgd (K − n)/τ_local + (K − 1)/τ − (K/n − 1)/lcm(τ, τ_local); easgd 2K/τ;
    allreduce (ring, once every τ steps, e.g. local SGD with period τ) 2(K − 1)/τ."""
    K, tau = _int(K, "K"), _int(tau, "tau")
    tl = tau if tau_local is None else _int(tau_local, "tau_local")
    n = _int(groups, "groups")
    if K % n:
        raise ValueError(f"groups = {n} must divide K = {K}")
    if method == "lsgd":
        return (K - n) / tl + (K - 1) / tau - (K // n - 1) / math.lcm(tau, tl)
    if method == "easgd":
        return 2 * K / tau
    if method == "allreduce":
        return 2 * (K - 1) / tau
    raise ValueError(f"method must be one of {METHODS}, got {method!r}")


def comm_bytes(method: str, K: int, P: int, dtype_bytes: int = 4, groups: int = 1, tau: int = 1,
               tau_local: int | None = None) -> float:
    """Bytes per step, all workers together: comm_vectors · P · dtype_bytes."""
    P, b = _int(P, "P"), _int(dtype_bytes, "dtype_bytes")
    return comm_vectors(method, K, groups, tau, tau_local) * P * b


def allreduce_bytes_per_worker(K: int, P: int, dtype_bytes: int = 4) -> float:
    """Ring all-reduce: each worker sends 2(K − 1)/K · P numbers (reduce-scatter + all-gather)."""
    K, P, b = _int(K, "K"), _int(P, "P"), _int(dtype_bytes, "dtype_bytes")
    return 2 * (K - 1) / K * P * b
