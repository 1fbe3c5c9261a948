"""Data heterogeneity: exact-gradient fixed points of every method and the heterogeneity ζ².

docs/theory.md §5 [derived]: with exact gradients on f_i = ½(x − b_i)ᵀA_i(x − b_i)
- DSGD-ATC, QG-DSGDm, DecentLaM solve X = W(X − η∇F(X)); DSGDm solves it with step η/(1 − β);
  consensus D-SGD solves X = WX − η∇F(X); CTA solves X = (I − η∇F)(WX) in φ = WX;
- GT, Momentum Tracking and D² converge to X = 1x*ᵀ, x* = (Σ A_i)⁻¹ Σ A_i b_i.
Three independent routes: `isotropic_fixed_point` (eigen closed form, A_i = μI, symmetric W),
`predicted_fixed_point` (linear solve of the per-method equation above, any A_i) and
`fixed_point` (the affine map z' = Mz + c of the algorithm's own step via analysis/linear.py,
solved as (I − M)z = c on the slice fixed by its conserved quantities — never by iterating).

ζ²(x) = (1/K) Σ_k ‖∇f_k(x) − ∇f(x)‖² (Takezawa et al.; docs/theory.md §5), at x* or along a run.
"""
from __future__ import annotations

import numpy as np
import torch

from . import linear

BIASED_ATC = ("atc", "qg_dsgdm", "decentlam", "dsgdm")
EXACT = ("gt", "mt", "d2")
FORMS = ("atc", "cta", "dsgd")
METHODS = BIASED_ATC + ("dsgd", "cta") + EXACT


def _W(W) -> np.ndarray:
    W = np.asarray(W.W().numpy() if hasattr(W, "W") else W, dtype=np.float64)
    if W.ndim != 2 or W.shape[0] != W.shape[1]:
        raise ValueError(f"W must be a square (K, K) matrix, got shape {W.shape}")
    return W


def _check_lr(lr, name="lr"):
    if not (isinstance(lr, (int, float)) and np.isfinite(lr) and lr > 0):
        raise ValueError(f"{name} (step size) must be a positive finite number, got {lr!r}")
    return float(lr)


def _check_beta(beta):
    if not (isinstance(beta, (int, float)) and 0 <= beta < 1):
        raise ValueError(f"beta must lie in [0, 1), got {beta!r}")
    return float(beta)


def _form_step(name: str, lr: float, beta: float) -> tuple[str, float]:
    """(fixed-point form, effective step) of a biased method (docs/theory.md §5)."""
    if name == "dsgdm":
        return "atc", lr / (1 - beta)
    if name in ("atc", "qg_dsgdm", "decentlam"):
        return "atc", lr
    if name in ("dsgd", "cta"):
        return name, lr
    raise ValueError(f"name must be one of {list(METHODS)}, got {name!r}")


# ------------------------------------------------------------------ closed form (isotropic)

def isotropic_fixed_point(W, b, lr: float, form: str = "atc", mu: float = 1.0) -> np.ndarray:
    """Closed-form fixed point for f_i = (μ/2)‖x − b_i‖², symmetric W = Σ_k λ_k v_k v_kᵀ:

    ATC X = W(X − ημ(X − B)):  X* = Σ_k [ημλ_k / (1 − (1 − ημ)λ_k)] v_k v_kᵀ B  (docs/theory.md §5);
    CTA X = (1 − ημ)WX + ημB:  coefficient ημ / (1 − (1 − ημ)λ_k);
    DSGD X = WX − ημ(X − B):   coefficient ημ / (1 − λ_k + ημ).
    The λ = 1 mode has coefficient 1 in all three: the average of X* is b̄ (exact).
    """
    W, b = _W(W), np.asarray(b, dtype=np.float64)
    lr = _check_lr(lr)
    if not mu > 0:
        raise ValueError(f"mu must be > 0, got {mu}")
    if b.ndim != 2 or b.shape[0] != W.shape[0]:
        raise ValueError(f"b must have shape (K={W.shape[0]}, d), got {b.shape}")
    if not np.allclose(W, W.T, atol=1e-10):
        raise ValueError("W must be symmetric for the closed form (eigen-decomposition)")
    a = lr * mu
    lam, V = np.linalg.eigh(W)
    if form == "atc":
        coef = a * lam / (1 - (1 - a) * lam)
    elif form == "cta":
        coef = a / (1 - (1 - a) * lam)
    elif form == "dsgd":
        coef = a / (1 - lam + a)
    else:
        raise ValueError(f"form must be one of {list(FORMS)}, got {form!r}")
    return V @ (coef[:, None] * (V.T @ b))


def isotropic_closed_form(name: str, W, b, lr: float, beta: float = 0.0, mu: float = 1.0) -> np.ndarray:
    """Closed-form fixed point of method `name` on isotropic quadratics: exact methods give
    1b̄ᵀ, the biased ones `isotropic_fixed_point` at their form and effective step."""
    W, b = _W(W), np.asarray(b, dtype=np.float64)
    if name in EXACT:
        return np.ones((W.shape[0], 1)) * b.mean(0)
    form, step = _form_step(name, _check_lr(lr), _check_beta(beta))
    return isotropic_fixed_point(W, b, step, form, mu)


# ------------------------------------------------------------------ per-method linear solve

def _blocks(A, K, d):
    A = np.asarray(A, dtype=np.float64)
    if A.shape == (d, d):
        A = np.broadcast_to(A, (K, d, d))
    if A.shape != (K, d, d):
        raise ValueError(f"A must have shape (d, d) or (K={K}, d={d}, d), got {A.shape}")
    out = np.zeros((K * d, K * d))
    for k in range(K):
        out[k * d:(k + 1) * d, k * d:(k + 1) * d] = A[k]
    return out, A


def minimiser(A, b) -> np.ndarray:
    """x* = (Σ_k A_k)⁻¹ Σ_k A_k b_k of f = (1/K) Σ ½(x − b_k)ᵀA_k(x − b_k)."""
    b = np.asarray(b, dtype=np.float64)
    _, A = _blocks(A, *b.shape)
    return np.linalg.solve(A.sum(0), np.einsum("kij,kj->i", A, b))


def predicted_fixed_point(name: str, W, A, b, lr: float, beta: float = 0.0) -> np.ndarray:
    """Fixed point predicted by docs/theory.md §5 for any quadratics, by a direct linear solve
    (vec over (K, d), row-major, 𝒲 = W ⊗ I_d, 𝒜 = blkdiag(A_k)):
    ATC (I − 𝒲(I − s𝒜)) X = s𝒲𝒜B; CTA in φ: (I − (I − s𝒜)𝒲) X = s𝒜B; DSGD (I − 𝒲 + s𝒜) X = s𝒜B,
    s the effective step; exact methods 1x*ᵀ."""
    W, b = _W(W), np.asarray(b, dtype=np.float64)
    K, d = b.shape
    if W.shape[0] != K:
        raise ValueError(f"W is {W.shape[0]}x{W.shape[0]} but b has K = {K} rows")
    Ab, _ = _blocks(A, K, d)
    if name in EXACT:
        return np.ones((K, 1)) * minimiser(A, b)
    form, s = _form_step(name, _check_lr(lr), _check_beta(beta))
    Wk, I, vb = np.kron(W, np.eye(d)), np.eye(K * d), b.reshape(-1)
    if form == "atc":
        lhs, rhs = I - Wk @ (I - s * Ab), s * Wk @ Ab @ vb
    elif form == "cta":
        lhs, rhs = I - (I - s * Ab) @ Wk, s * Ab @ vb
    else:
        lhs, rhs = I - Wk + s * Ab, s * Ab @ vb
    return np.linalg.solve(lhs, rhs).reshape(K, d)


# ------------------------------------------------------------------ from the algorithm's step

def fixed_point(method, A, b, x0=None, rcond: float = 1e-10) -> tuple[np.ndarray, dict]:
    """Fixed point of the algorithm's own step on f_i = ½(x − b_i)ᵀA_i(x − b_i), exact gradients.

    z' = Mz + c from `analysis.linear.step_map` (jacrev of `method.step`); conserved quantities
    are the left null vectors u of (I − M) (uᵀz_t = uᵀz_0); the fixed point reached from
    z_0 = init(x0) solves [(I − M); Uᵀ] z = [c; Uᵀz_0] (least squares, consistent). Returns
    (X* (K, d), info) with info = {'radius': spectral radius of M restricted off the conserved
    directions (< 1: the iteration converges to X*), 'conserved': dim U, 'residual'}.
    Raises ValueError when no fixed point exists (drift along a conserved direction).
    """
    b = torch.as_tensor(np.asarray(b, dtype=np.float64))
    K, d = b.shape
    x0 = torch.zeros(K, d, dtype=torch.float64) if x0 is None else torch.as_tensor(x0, dtype=torch.float64)
    if x0.shape != (K, d):
        raise ValueError(f"x0 must have shape (K={K}, d={d}), got {tuple(x0.shape)}")
    _, A3 = _blocks(A, K, d)
    A3 = torch.as_tensor(np.ascontiguousarray(A3))
    st = linear.init_state(method, A3, b, x0)
    aff = linear.step_map(method, A3, b, st, 0)
    z0 = linear._flatten(st).numpy()
    n = len(z0)
    L = np.eye(n) - aff.M
    Uf, s, _ = np.linalg.svd(L)
    null = s <= rcond * max(1.0, s.max())
    U = Uf[:, null]
    z, *_ = np.linalg.lstsq(np.vstack([L, U.T]), np.concatenate([aff.c, U.T @ z0]), rcond=None)
    res = float(np.abs(L @ z - aff.c).max())
    if res > 1e-8 * max(1.0, np.abs(aff.c).max(), np.abs(z).max()):
        raise ValueError(f"method {method.name!r} has no fixed point on this problem "
                         f"(drift along a conserved direction; residual {res:.3g})")
    ev = np.linalg.eigvals(aff.M)
    off = np.sort(np.abs(ev))[::-1][int(null.sum()):] if null.any() else np.abs(ev)
    info = {"radius": float(off.max()) if off.size else 0.0, "conserved": int(null.sum()), "residual": res}
    return z[aff.slice("x")].reshape(K, d), info


# ------------------------------------------------------------------ summaries and ζ²

def consensus_rms(X) -> float:
    """sqrt((1/K) Σ_k ‖x_k − x̄‖²) (docs/theory.md §0: sqrt of the consensus distance)."""
    X = np.asarray(X, dtype=np.float64)
    return float(np.sqrt(((X - X.mean(0)) ** 2).sum(-1).mean()))


def zeta2_from_grads(g) -> torch.Tensor:
    """ζ² = (1/K) Σ_k ‖g_k − ḡ‖² from per-worker gradients at a common point, g (..., K, d)."""
    g = torch.as_tensor(g, dtype=torch.float64)
    if g.ndim < 2:
        raise ValueError(f"g must have shape (..., K, d), got {tuple(g.shape)}")
    return ((g - g.mean(-2, keepdim=True)) ** 2).sum(-1).mean(-1)


def zeta2_at(problem, x) -> torch.Tensor:
    """ζ²(x) of a `Heterogeneous` problem at points x (..., d) (docs/theory.md §5)."""
    x = torch.as_tensor(x, dtype=torch.float64)
    if x.ndim < 1 or x.shape[-1] != problem.dim:
        raise ValueError(f"x must have shape (..., d={problem.dim}), got {tuple(x.shape)}")
    xs = x.unsqueeze(-2).expand(*x.shape[:-1], problem.K, problem.dim)
    return zeta2_from_grads(problem.grad_i(xs))


def zeta2_star(problem) -> float:
    """"The" heterogeneity: ζ² at the global minimiser x* (needs problem.x_star)."""
    if getattr(problem, "x_star", None) is None:
        raise ValueError("problem.x_star is None: ζ² at the optimum needs a known minimiser")
    return float(zeta2_at(problem, problem.x_star))


def zeta2_along(problem, models) -> np.ndarray:
    """ζ² along a run at the recorded models, e.g. SimResult.records['model'] (T, R, d) -> (T, R)."""
    return zeta2_at(problem, torch.as_tensor(np.asarray(models))).numpy()
