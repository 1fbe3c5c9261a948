"""Stability of elastic averaging (EASGD) vs round-robin ADMM on the 1-D quadratic.

docs/theory.md §6 (Zhang, Choromanska, LeCun, NeurIPS 2015, arXiv 1412.6651, §4 and supplement).
Objective f(x) = h x²/2, a = ηh, α = ηρ, β = pα (synchronous default).

Every linear map is built by applying the update equations to a vector of sympy symbols and
taking the Jacobian (``sympy.Matrix.jacobian``), so the matrices come from the updates, not
from hand-written entries. ``numeric`` lambdifies a symbolic matrix into a batched numpy
function returning arrays of shape ``(..., n, n)``; spectral radii use batched
``np.linalg.eigvals``.

State orderings (worker indices are 0-based, worker 0 acts first in a round-robin cycle):
- EASGD: (x¹, …, x^p, x̃), size p + 1.
- ADMM:  (λ¹, x¹, …, λ^p, x^p, x̃), size 2p + 1.
"""
from __future__ import annotations

from functools import cache

import numpy as np
import sympy as sp

a_, alpha_, beta_ = sp.symbols("a alpha beta", positive=True)
eta_, h_, rho_, sigma2_ = sp.symbols("eta h rho sigma2", positive=True)
p_ = sp.symbols("p", positive=True, integer=True)


# ----------------------------------------------------------------------------- validation
def _check_p(p) -> int:
    if isinstance(p, bool) or int(p) != p or int(p) < 1:
        raise ValueError(f"p must be an integer >= 1 (number of workers), got {p!r}")
    return int(p)


def _check_i(p: int, i) -> int:
    if int(i) != i or not 0 <= int(i) < p:
        raise ValueError(f"i must be a worker index in 0..{p - 1}, got {i!r}")
    return int(i)


def _check_pos(name: str, v) -> None:
    """Reject numeric values <= 0 (symbols pass)."""
    arr = None
    if isinstance(v, sp.Basic):
        if v.is_number and not bool(v > 0):
            raise ValueError(f"{name} must be > 0, got {v}")
        return
    arr = np.asarray(v, dtype=float)
    if not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise ValueError(f"{name} must be finite and > 0, got {v!r}")


# ----------------------------------------------------------------------------- updates
def _easgd_sync_update(s, p, a, alpha, beta):
    """docs/theory.md §6 eqs 3–6: x^i ← x^i − a x^i − α(x^i − x̃); x̃ ← (1−β)x̃ + β mean(x) (pre-update x)."""
    x, c = list(s[:p]), s[p]
    xm = sum(x) / p
    return [xi - a * xi - alpha * (xi - c) for xi in x] + [(1 - beta) * c + beta * xm]


def _easgd_rr_update(s, p, i, a, alpha):
    """docs/theory.md §6 round robin: x^i ← x^i − a x^i − α(x^i − x̃); x̃ ← x̃ + α(x^i − x̃) (pre-step x^i)."""
    s = list(s)
    xi, c = s[i], s[p]
    s[i] = xi - a * xi - alpha * (xi - c)
    s[p] = c + alpha * (xi - c)
    return s


def _admm_rr_update(s, p, i, eta, h, rho):
    """docs/theory.md §6 ADMM reconstruction, worker i active (sequential, new λ^i used for x^i):
    λ^i ← λ^i − (x^i − x̃); x^i ← (x^i − η h x^i + ηρ(λ^i + x̃))/(1 + ηρ); x̃ ← (1/p) Σ_j (x^j − λ^j)."""
    s = list(s)
    c = s[2 * p]
    lam = s[2 * i] - (s[2 * i + 1] - c)
    x = (s[2 * i + 1] - eta * h * s[2 * i + 1] + eta * rho * (lam + c)) / (1 + eta * rho)
    s[2 * i], s[2 * i + 1] = lam, x
    s[2 * p] = sum(s[2 * j + 1] - s[2 * j] for j in range(p)) / p
    return s


def _jacobian(update, n: int, simplify: bool = True) -> sp.Matrix:
    z = sp.Matrix(sp.symbols(f"z0:{n}"))
    J = sp.Matrix(update(list(z))).jacobian(z)
    return J.applyfunc(sp.cancel) if simplify else J


# ----------------------------------------------------------------------------- symbolic maps
def easgd_sync_map(p, a=a_, alpha=alpha_, beta=None) -> sp.Matrix:
    """Synchronous EASGD Jacobian on (x¹..x^p, x̃); β defaults to pα (docs/theory.md §6)."""
    p = _check_p(p)
    beta = p * alpha if beta is None else beta
    return _jacobian(lambda s: _easgd_sync_update(s, p, a, alpha, beta), p + 1)


def easgd_sync_reduced_map(a=a_, alpha=alpha_, beta=beta_, p=2) -> sp.Matrix:
    """(mean, center) map E⁺ M E with E the embedding (m, c) ↦ (m,…,m, c) and E⁺ the averaging
    projection; the mean subspace is invariant, so this is exactly [[1−a−α, α], [β, 1−β]]."""
    p = _check_p(p)
    M = easgd_sync_map(p, a, alpha, beta)
    E = sp.zeros(p + 1, 2)
    P = sp.zeros(2, p + 1)
    for j in range(p):
        E[j, 0] = 1
        P[0, j] = sp.Rational(1, p)
    E[p, 1] = P[1, p] = 1
    return (P * M * E).applyfunc(sp.simplify)


def easgd_rr_worker_map(p, i, a=a_, alpha=alpha_) -> sp.Matrix:
    """Round-robin EASGD map of worker i on (x¹..x^p, x̃) (symmetric; docs/theory.md §6)."""
    p = _check_p(p)
    i = _check_i(p, i)
    return _jacobian(lambda s: _easgd_rr_update(s, p, i, a, alpha), p + 1)


def easgd_rr_reduced_worker_map(a=a_, alpha=alpha_) -> sp.Matrix:
    """The active (x^i, x̃) block of the worker map: [[1−a−α, α], [α, 1−α]]."""
    M = easgd_rr_worker_map(1, 0, a, alpha)
    return M


def easgd_rr_cycle_map(p, a=a_, alpha=alpha_) -> sp.Matrix:
    """Composite over one cycle (workers 0, 1, …, p−1 in turn) = M_{p−1} ⋯ M_0, built as the
    Jacobian of the composed updates."""
    p = _check_p(p)

    def cycle(s):
        for i in range(p):
            s = _easgd_rr_update(s, p, i, a, alpha)
        return s
    return _jacobian(cycle, p + 1)


def admm_rr_worker_map(p, i, eta=eta_, h=h_, rho=rho_) -> sp.Matrix:
    """Round-robin ADMM map of worker i on (λ¹, x¹, …, λ^p, x^p, x̃) (docs/theory.md §6 reconstruction)."""
    p = _check_p(p)
    i = _check_i(p, i)
    _check_pos("eta", eta)
    return _jacobian(lambda s: _admm_rr_update(s, p, i, eta, h, rho), 2 * p + 1)


def admm_rr_cycle_map(p, eta=eta_, h=h_, rho=rho_, composed: bool = False) -> sp.Matrix:
    """Composite ADMM map over one cycle (workers 0..p−1): M_{p−1}⋯M_0 of the worker maps, or,
    with ``composed=True``, the Jacobian of the composed updates (slow beyond p = 3)."""
    p = _check_p(p)
    _check_pos("eta", eta)
    if composed:
        def cycle(s):
            for i in range(p):
                s = _admm_rr_update(s, p, i, eta, h, rho)
            return s
        return _jacobian(cycle, 2 * p + 1)
    M = sp.eye(2 * p + 1)
    for i in range(p):
        M = admm_rr_worker_map(p, i, eta, h, rho) * M
    return M


def char_poly(M: sp.Matrix, lam=None) -> sp.Expr:
    """Characteristic polynomial det(λI − M), factored."""
    lam = sp.Symbol("lambda") if lam is None else lam
    return sp.factor(M.charpoly(lam).as_expr())


# ----------------------------------------------------------------------------- numerics
def numeric(M: sp.Matrix, symbols):
    """Lambdify M(symbols) into f(*arrays) -> ndarray (..., n, m) (arguments broadcast)."""
    n, m = M.shape
    f = sp.lambdify(list(symbols), list(M), "numpy")

    def g(*args):
        args = [np.asarray(x, dtype=float) for x in args]
        shape = np.broadcast_shapes(*(x.shape for x in args)) if args else ()
        vals = [np.broadcast_to(np.asarray(v, dtype=float), shape) for v in f(*args)]
        return np.stack(vals, axis=-1).reshape(shape + (n, m))
    return g


def spectral_radius(M) -> np.ndarray:
    """max |eigenvalue| of M, batched over leading axes."""
    return np.abs(np.linalg.eigvals(np.asarray(M, dtype=float))).max(axis=-1)


def largest_singular_value(M) -> np.ndarray:
    """‖M‖₂, batched over leading axes."""
    return np.linalg.norm(np.asarray(M, dtype=float), ord=2, axis=(-2, -1))


@cache
def _easgd_rr_worker_fn(p: int, i: int):
    return numeric(easgd_rr_worker_map(p, i), (a_, alpha_))


@cache
def _admm_rr_worker_fn(p: int, i: int):
    return numeric(admm_rr_worker_map(p, i), (eta_, h_, rho_))


def easgd_rr_cycle_numeric(p, a, alpha) -> np.ndarray:
    """Numeric cycle map M_{p−1}⋯M_0 for arrays a, α (batched), shape (..., p+1, p+1)."""
    p = _check_p(p)
    M = None
    for i in range(p):
        Mi = _easgd_rr_worker_fn(p, i)(a, alpha)
        M = Mi if M is None else Mi @ M
    return M


def admm_rr_cycle_numeric(p, eta, rho, h=1.0) -> np.ndarray:
    """Numeric ADMM cycle map for arrays η, ρ (batched), shape (..., 2p+1, 2p+1)."""
    p = _check_p(p)
    _check_pos("eta", eta)
    M = None
    for i in range(p):
        Mi = _admm_rr_worker_fn(p, i)(eta, h, rho)
        M = Mi if M is None else Mi @ M
    return M


# ----------------------------------------------------------------------------- EASGD regions
def jury_conditions_2x2(M: sp.Matrix) -> dict[str, sp.Expr]:
    """Schur–Cohn/Jury for a real 2×2 with trace T, det Δ: stable iff every expression > 0:
    1 − Δ, 1 + Δ, 1 + Δ − T, 1 + Δ + T (⇔ |Δ| < 1, |T| < 1 + Δ)."""
    T, D = M.trace(), M.det()
    return {k: sp.factor(sp.expand(v)) for k, v in
            {"1-det": 1 - D, "1+det": 1 + D, "1+det-tr": 1 + D - T, "1+det+tr": 1 + D + T}.items()}


def easgd_rr_jury(a, alpha) -> np.ndarray:
    """Jury conditions of the reduced worker map, evaluated (strict) on arrays."""
    a, alpha = np.broadcast_arrays(np.asarray(a, float), np.asarray(alpha, float))
    conds = jury_conditions_2x2(easgd_rr_reduced_worker_map())
    ok = np.ones(a.shape, dtype=bool)
    for expr in conds.values():
        ok &= np.asarray(sp.lambdify((a_, alpha_), expr, "numpy")(a, alpha)) > 0
    return ok


def easgd_rr_region_closed_form(a, alpha):
    """Paper's region (docs/theory.md §6): 0 ≤ ηh ≤ 2 and 0 ≤ α ≤ (4 − 2ηh)/(4 − ηh). Array-valued."""
    a, alpha = np.asarray(a, float), np.asarray(alpha, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = (a >= 0) & (a <= 2) & (alpha >= 0) & (alpha <= (4 - 2 * a) / (4 - a))
    return bool(out) if out.ndim == 0 else out


def default_grid(n: int = 301, a_max: float = 3.0, alpha_max: float = 1.5):
    """Cell-centre grid over (a, α) ∈ (0, a_max) × (0, alpha_max), returned as meshgrid arrays."""
    a = (np.arange(n) + 0.5) * a_max / n
    al = (np.arange(n) + 0.5) * alpha_max / n
    return np.meshgrid(a, al, indexing="xy")


def easgd_rr_radius(p, a, alpha) -> np.ndarray:
    """Spectral radius of the round-robin EASGD cycle map on arrays (a, α)."""
    return spectral_radius(easgd_rr_cycle_numeric(p, a, alpha))


def share_stable_outside(p, grid=None, tol: float = 1e-12) -> float:
    """Share of grid cells outside the closed-form region whose p-worker cycle map has spectral
    radius < 1 − tol. ``grid`` = (A, ALPHA) arrays (default ``default_grid()``)."""
    A, AL = default_grid() if grid is None else grid
    out = ~np.asarray(easgd_rr_region_closed_form(A, AL))
    if not out.any():
        raise ValueError("grid has no cell outside the closed-form region")
    r = easgd_rr_radius(p, A[out], AL[out])
    return float(np.mean(r < 1 - tol))


# ----------------------------------------------------------------------------- ADMM
def admm_grid_axes(n_eta: int = 100, n_rho: int = 100, eta_max: float = 0.01, rho_max: float = 10.0):
    """Cell-centre axes for η ∈ (0, eta_max), ρ ∈ (0, rho_max) (docs/theory.md §6, paper Fig. 1)."""
    return (np.arange(n_eta) + 0.5) * eta_max / n_eta, (np.arange(n_rho) + 0.5) * rho_max / n_rho


def admm_radius_grid(p, etas, rhos, h: float = 1.0) -> np.ndarray:
    """Composite-cycle spectral radius on the grid; result[j, k] at (ρ = rhos[j], η = etas[k])."""
    E, R = np.meshgrid(np.asarray(etas, float), np.asarray(rhos, float), indexing="xy")
    return spectral_radius(admm_rr_cycle_numeric(p, E, R, h))


def admm_rr_trajectory(p, eta, rho, cycles: int, h: float = 1.0, x0: float = 1000.0) -> np.ndarray:
    """‖state‖₂ after 0..cycles cycles of round-robin ADMM from λ = 0, x = x̃ = x0."""
    M = admm_rr_cycle_numeric(p, eta, rho, h)
    s = np.zeros(2 * p + 1)
    s[1::2] = x0
    s[-1] = x0
    return _norms(M, s, cycles)


def easgd_rr_trajectory(p, eta, rho, cycles: int, h: float = 1.0, x0: float = 1000.0) -> np.ndarray:
    """‖state‖₂ after 0..cycles cycles of round-robin EASGD (a = ηh, α = ηρ) from x = x̃ = x0."""
    _check_pos("eta", eta)
    M = easgd_rr_cycle_numeric(p, eta * h, eta * rho)
    return _norms(M, np.full(p + 1, float(x0)), cycles)


def _norms(M, s, cycles):
    out = [np.linalg.norm(s)]
    for _ in range(int(cycles)):
        s = M @ s
        out.append(np.linalg.norm(s))
    return np.array(out)


# ----------------------------------------------------------------------------- noisy sync EASGD
def easgd_sync_stable(a, alpha, beta):
    """docs/theory.md §6 stability of synchronous EASGD (all p-worker modes): |1−a−α| < 1, aβ > 0,
    a + α + β − aβ > 0, 4 − 2a − 2α − 2β + aβ > 0 (the last three are Jury for the (mean,
    center) map; 1−a−α is the eigenvalue of the p−1 worker-deviation modes)."""
    a, alpha, beta = (np.asarray(v, float) for v in (a, alpha, beta))
    out = ((np.abs(1 - a - alpha) < 1) & (a * beta > 0) & (a + alpha + beta - a * beta > 0)
           & (4 - 2 * a - 2 * alpha - 2 * beta + a * beta > 0))
    return bool(out) if out.ndim == 0 else out


def easgd_sync_center_variance(eta, h, alpha, beta, sigma2, p):
    """Var(x̃_∞) = (η²σ²/p)·β(2 − a − α − β + aβ) / [a(a + α + β − aβ)(4 − 2a − 2α − 2β + aβ)],
    a = ηh, gradients h x − ξ with Var ξ = σ² (docs/theory.md §6 [derived]). Unstable → ValueError."""
    p = _check_p(p)
    _check_pos("eta", eta)
    if np.any(np.asarray(sigma2, float) < 0):
        raise ValueError(f"sigma2 must be >= 0, got {sigma2!r}")
    a = eta * h
    if not np.all(easgd_sync_stable(a, alpha, beta)):
        raise ValueError("parameters (eta, h, alpha, beta) are outside the stability region")
    num = beta * (2 - a - alpha - beta + a * beta)
    den = a * (a + alpha + beta - a * beta) * (4 - 2 * a - 2 * alpha - 2 * beta + a * beta)
    return eta ** 2 * sigma2 / p * num / den


def sgd_minibatch_variance(eta, h, sigma2, p):
    """Stationary variance of SGD with minibatch p on h x²/2: ησ²/(p h (2 − ηh))."""
    p = _check_p(p)
    _check_pos("eta", eta)
    if not 0 < eta * h < 2:
        raise ValueError(f"eta*h must lie in (0, 2), got {eta * h!r}")
    return eta * sigma2 / (p * h * (2 - eta * h))


def easgd_sync_center_variance_limit(eta, h, beta, sigma2):
    """lim_{p→∞} p·Var(x̃) with α = β/p: [βηh/((2−β)(2−ηh))]·[(2−β−ηh+βηh)/(β+ηh−βηh)]·σ²/h²."""
    _check_pos("eta", eta)
    a = eta * h
    return beta * a / ((2 - beta) * (2 - a)) * (2 - beta - a + beta * a) / (beta + a - beta * a) * sigma2 / h ** 2


def easgd_sync_center_variance_symbolic() -> sp.Expr:
    """Var(x̃_∞) from the symbolic discrete Lyapunov equation S = M S Mᵀ + diag(η²σ²/p, 0) with
    M the (mean, center) map [[1−a−α, α], [β, 1−β]] (derived from the updates)."""
    M = easgd_sync_reduced_map(a_, alpha_, beta_)
    s11, s12, s22 = sp.symbols("s11 s12 s22")
    S = sp.Matrix([[s11, s12], [s12, s22]])
    Q = sp.Matrix([[eta_ ** 2 * sigma2_ / p_, 0], [0, 0]])
    R = M * S * M.T + Q - S
    sol = sp.solve([R[0, 0], R[0, 1], R[1, 1]], [s11, s12, s22], dict=True)[0]
    return sp.factor(sol[s22])


def _check_sync_noise(eta, h, alpha, beta, sigma2, p):
    p = _check_p(p)
    _check_pos("eta", eta)
    if np.any(np.asarray(sigma2, float) < 0):
        raise ValueError(f"sigma2 must be >= 0, got {sigma2!r}")
    if not np.all(easgd_sync_stable(eta * h, alpha, beta)):
        raise ValueError("parameters (eta, h, alpha, beta) are outside the stability region")
    return p


def easgd_sync_mean_variance(eta, h, alpha, beta, sigma2, p):
    """Var(x̄_∞) of the worker mean x̄ = (1/p) Σ x^i of synchronous EASGD (docs/theory.md §6 [derived]):
    (η²σ²/p)·[(2 − β)(a + β − aβ) − αβ] / [a(a + α + β − aβ)(4 − 2a − 2α − 2β + aβ)], a = ηh;
    the (1,1) entry of the (mean, center) Lyapunov solution. α = 0 gives SGD's ησ²/(p h (2 − a))."""
    p = _check_sync_noise(eta, h, alpha, beta, sigma2, p)
    a = eta * h
    num = (2 - beta) * (a + beta - a * beta) - alpha * beta
    den = a * (a + alpha + beta - a * beta) * (4 - 2 * a - 2 * alpha - 2 * beta + a * beta)
    return eta ** 2 * sigma2 / p * num / den


def easgd_sync_worker_variance(eta, h, alpha, beta, sigma2, p):
    """Stationary Var(x^i_∞) of one worker of synchronous EASGD on h x²/2, gradient noise σ²
    independent across workers (docs/theory.md §6 [derived]). Split x^i = x̄ + d^i: d^i ← (1 − a − α) d^i
    + η(ξ^i − ξ̄) has noise uncorrelated with ξ̄ (Cov(ξ^i − ξ̄, ξ̄) = σ²/p − σ²/p = 0) and does not
    feed (x̄, x̃), so Cov(d^i, x̄) → 0 and
      Var(x^i) = Var(x̄) + (1 − 1/p)·η²σ² / [(a + α)(2 − a − α)],
    with Var(x̄) from ``easgd_sync_mean_variance`` and Var(ξ^i − ξ̄) = σ²(1 − 1/p)."""
    p = _check_sync_noise(eta, h, alpha, beta, sigma2, p)
    a = eta * h
    dev = eta ** 2 * sigma2 * (1 - 1 / p) / ((a + alpha) * (2 - a - alpha))
    return easgd_sync_mean_variance(eta, h, alpha, beta, sigma2, p) + dev


def easgd_sync_worker_variance_symbolic(p: int = 2) -> sp.Expr:
    """Var(x¹_∞) from the symbolic discrete Lyapunov equation S = M S Mᵀ + Q of the full
    (p+1)-dim map M = ``easgd_sync_map(p, a, α, β)`` (Jacobian of the updates), Q = η²σ² on the
    worker block; solved as a linear system in the (p+1)(p+2)/2 entries of S. Small p only."""
    p = _check_p(p)
    n = p + 1
    M = easgd_sync_map(p, a_, alpha_, beta_)
    syms = {}
    S = sp.zeros(n, n)
    for i in range(n):
        for j in range(i, n):
            S[i, j] = S[j, i] = syms.setdefault((i, j), sp.Symbol(f"s{i}_{j}"))
    Q = sp.diag(*([eta_ ** 2 * sigma2_] * p + [0]))
    R = M * S * M.T + Q - S
    eqs = [R[i, j] for i in range(n) for j in range(i, n)]
    sol = sp.solve(eqs, list(syms.values()), dict=True)[0]
    return sp.factor(sol[syms[(0, 0)]])


def moving_average_sgd_variance(eta, h, beta, sigma2, p):
    """Moving-average SGD (the EASGD paper's MVASGD baseline, §5): p independent SGD workers
    x^i ← x^i − η g^i, center x̃ ← (1 − β) x̃ + β mean_i x^i (= synchronous EASGD with α = 0; p = 1
    is the paper's single-chain MVASGD). With a = ηh, u = 1 − a, v = 1 − β:
      Var(x̃_∞) = [ησ²/(p h (2 − a))]·β(1 + uv)/[(1 + v)(1 − uv)]
                = (η²σ²/p)·β(2 − a − β + aβ)/[a(2 − a)(2 − β)(a + β − aβ)],
    valid for 0 < a < 2, 0 < β < 2 (docs/theory.md §6 [derived]). Polyak–Ruppert averaging (weights 1/t)
    has Var → 0 as t → ∞ (≈ σ²/(p h² t)): no stationary value, so the moving average is the
    comparable stationary baseline."""
    p = _check_p(p)
    _check_pos("eta", eta)
    if np.any(np.asarray(sigma2, float) < 0):
        raise ValueError(f"sigma2 must be >= 0, got {sigma2!r}")
    a = eta * h
    if not np.all((0 < np.asarray(a)) & (np.asarray(a) < 2)):
        raise ValueError(f"eta*h must lie in (0, 2), got {a!r}")
    if not np.all((0 < np.asarray(beta)) & (np.asarray(beta) < 2)):
        raise ValueError(f"beta must lie in (0, 2), got {beta!r}")
    return eta ** 2 * sigma2 / p * beta * (2 - a - beta + a * beta) / (
        a * (2 - a) * (2 - beta) * (a + beta - a * beta))
