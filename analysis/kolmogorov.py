"""Exact mean exit times of the SDE dX = -grad V dt + sqrt(2D) dW (docs/theory.md §2).

Ground truth for escape experiments:
- `mfpt_1d`: 1-D quadrature E tau = int_{x0}^{M} e^{Phi(y)} int_{left}^{y} e^{-Phi(z)}/D(z) dz dy,
  Phi = int V'/D (= V/D for constant D); reflecting at `left`, absorbing at M. Second moment
  from L tau2 = -2 tau.
- `mfpt_2d`: backward Kolmogorov L tau = -1, L u = -grad V . grad u + sum_ij D_ij d_i d_j u, by
  central differences on a box with reflecting (Neumann) walls, tau = 0 on the absorbing set,
  Richardson extrapolation over h and h/2.
Times are in SDE time t (divide by eta for SGD steps, docs/theory.md §0).
"""
from __future__ import annotations

import warnings
from typing import Callable, NamedTuple

import numpy as np
import scipy.sparse as sp
from scipy.integrate import cumulative_simpson
from scipy.interpolate import RegularGridInterpolator
from scipy.sparse.linalg import spsolve

__all__ = ["ExitTime", "mfpt_1d", "mfpt_2d", "as_numpy_fn"]


class ExitTime(NamedTuple):
    """Mean exit time with an error estimate; `second` = E tau^2 (None if not computed).

    `info` holds method details (grid sizes, coarse/fine values, Peclet number, log_mean).
    """
    mean: float
    err: float
    second: float | None = None
    second_err: float | None = None
    info: dict | None = None


def as_numpy_fn(fn: Callable) -> Callable:
    """Wrap a numpy-or-torch callable so it takes and returns numpy float64 arrays.

    Landscape functions (`.f`, `.grad`, `.hess`) take torch float64 tensors (CONTRACTS.md).
    """
    def wrapped(x):
        x = np.asarray(x, dtype=float)
        try:
            out = fn(x)
            if not hasattr(out, "detach"):
                return np.asarray(out, dtype=float)
        except (TypeError, AttributeError, RuntimeError):
            pass
        import torch
        out = fn(torch.as_tensor(x, dtype=torch.float64))
        return out.detach().cpu().numpy().astype(float)
    return wrapped


def _positive(name: str, value) -> float:
    if isinstance(value, (str, bytes, bool)) or value is None:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    value = float(value)
    if not np.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be finite and > 0, got {value}")
    return value


def _find_left(V, x0: float, M: float, D, depth: float) -> float:
    """Walk left from x0 until (V - min V)/D exceeds `depth` (e^-depth negligible)."""
    w = max(abs(M - x0), 1e-3)
    for _ in range(60):
        left = x0 - w
        xs = np.linspace(left, M, 2001)
        v = V(xs)
        d = D(xs) if callable(D) else D
        if np.all(np.isfinite(v)) and (v[0] - v.min()) / np.max(d) > depth:
            return left
        w *= 2.0
    raise ValueError("left: V does not grow to the left of x0; give a finite reflecting 'left'")


def _quad_1d(V, grad, D, x0, M, left, n, second):
    """One quadrature on a grid with ~n nodes; returns (log_mean, mean, second)."""
    n1 = max(3, int(round(n * (x0 - left) / (M - left)))) if x0 > left else 1
    n2 = max(3, n - n1 + 1)
    xa = np.linspace(left, x0, n1) if n1 > 1 else np.array([x0])
    x = np.concatenate([xa, np.linspace(x0, M, n2)[1:]])
    i0 = len(xa) - 1
    if callable(D):
        d = np.asarray(D(x), dtype=float) * np.ones_like(x)
        if np.any(d <= 0):
            raise ValueError("D must be > 0 on [left, M]")
        phi = cumulative_simpson(grad(x) / d, x=x, initial=0.0)
    else:
        d = D * np.ones_like(x)
        phi = V(x) / D
    phi = phi - phi.min()
    inner = cumulative_simpson(np.exp(-phi) / d, x=x, initial=0.0)  # int_left^x e^-phi / D
    # outer integrand e^{phi} inner on [x0, M] only, scaled by its maximum e^A
    with np.errstate(divide="ignore", invalid="ignore"):
        g = np.where(inner > 0, phi + np.log(np.where(inner > 0, inner, 1.0)), -np.inf)
    g[:i0] = -np.inf
    A = g[i0:].max()
    outer = np.exp(g - A)
    cum = cumulative_simpson(outer[i0:], x=x[i0:], initial=0.0)
    tail = np.zeros_like(x)
    tail[i0:] = cum[-1] - cum  # int_x^M outer, for x >= x0
    log_mean = A + np.log(tail[i0]) if tail[i0] > 0 else -np.inf
    mean = float(np.exp(log_mean)) if log_mean < 700 else np.inf
    sec = None
    if second:
        if A > 300:
            raise ValueError("D: second moment overflows (Delta V / D too large)")
        tau = tail * np.exp(A)  # tau(y) for y >= x0; y < x0 via the full tail
        cumf = cumulative_simpson(np.exp(phi) * inner, x=x, initial=0.0)
        tau[:i0] = (cumf[-1] - cumf)[:i0]
        inner2 = cumulative_simpson(np.exp(-phi) * tau / d, x=x, initial=0.0)
        cum2 = cumulative_simpson(np.exp(phi) * inner2, x=x, initial=0.0)
        sec = float(2.0 * (cum2[-1] - cum2[i0]))
    return log_mean, mean, sec


def mfpt_1d(V: Callable, x0: float, M: float, D, left: float | None = None, *,
            grad: Callable | None = None, second: bool = False, rtol: float = 1e-9,
            n: int = 2001, n_max: int = 2 ** 21, depth: float = 40.0) -> ExitTime:
    """Mean first-passage time of dX = -V'dt + sqrt(2D(X))dW from x0 to M (docs/theory.md §2).

    E tau = int_{x0}^{M} e^{Phi(y)} int_{left}^{y} e^{-Phi(z)}/D(z) dz dy, Phi' = V'/D
    (Phi = V/D for constant D). `left` is a reflecting wall; None puts it where
    (V - min V)/D > `depth` (the "-inf" of the formula). If M < x0 the problem is mirrored
    (escape to the left). D may be a float or a callable D(x) (Ito, generator -V'u' + D u'');
    a callable D needs `grad` = V'. Composite Simpson, grid doubled until two successive
    values agree to `rtol`; `err` = last difference. Overflow-safe: exponents shifted by
    their maxima; `info['log_mean']` holds log E tau.
    """
    if not callable(V):
        raise ValueError(f"V must be a callable potential V(x), got {type(V).__name__}")
    for nm, v in (("x0", x0), ("M", M)):
        if isinstance(v, (str, bool)) or not np.isscalar(v) or not np.isfinite(v):
            raise ValueError(f"{nm} must be a finite number, got {v!r}")
    V = as_numpy_fn(V)
    grad = as_numpy_fn(grad) if grad is not None else None
    if callable(D):
        if grad is None:
            raise ValueError("grad: a state-dependent D needs grad = V'")
        D = as_numpy_fn(D)
    else:
        D = _positive("D", D)
    x0, M = float(x0), float(M)
    if x0 == M:
        return ExitTime(0.0, 0.0, 0.0 if second else None, 0.0 if second else None, {})
    if M < x0:  # mirror x -> -x
        V0, g0, D0 = V, grad, D
        V = lambda x: V0(-x)  # noqa: E731
        grad = (lambda x: -g0(-x)) if g0 is not None else None
        D = (lambda x: D0(-x)) if callable(D0) else D0
        x0, M, left = -x0, -M, (None if left is None else -float(left))
    if left is None:
        left = _find_left(V, x0, M, D, depth)
    left = float(left)
    if left > x0:
        raise ValueError(f"left: reflecting wall {left} must lie on the far side of x0={x0}")
    prev = None
    while True:
        cur = _quad_1d(V, grad, D, x0, M, left, n, second)
        if prev is not None:
            err = abs(cur[1] - prev[1]) if np.isfinite(cur[1]) else abs(cur[0] - prev[0]) * cur[1]
            err2 = abs(cur[2] - prev[2]) if second else None
            ok = err <= rtol * abs(cur[1]) and (not second or err2 <= rtol * abs(cur[2]))
            if ok or 2 * n - 1 > n_max:
                if not ok:
                    warnings.warn(f"mfpt_1d: rtol {rtol} not reached at n={n}", stacklevel=2)
                return ExitTime(cur[1], float(err), cur[2], err2,
                                {"log_mean": cur[0], "n": n, "left": left})
        prev = cur
        n = 2 * n - 1


def _reflect(i: np.ndarray, n: int) -> np.ndarray:
    """Ghost-node index reflection (-1 -> 1, n -> n-2): Neumann walls, O(h^2)."""
    i = np.where(i < 0, -i, i)
    return np.where(i > n - 1, 2 * (n - 1) - i, i)


def _solve_2d(grad, Dm, box, absorbing, h, second):
    axes = []
    for k, (a, b) in enumerate(box):
        m = (b - a) / h
        if abs(m - round(m)) > 1e-8 or round(m) < 2:
            raise ValueError(f"h: box side {k} of length {b - a} is not a multiple of h={h}")
        axes.append(np.linspace(a, b, int(round(m)) + 1))
    nx, ny = len(axes[0]), len(axes[1])
    X, Y = np.meshgrid(*axes, indexing="ij")
    pts = np.stack([X.ravel(), Y.ravel()], axis=1)
    b = -np.asarray(grad(pts), dtype=float).reshape(-1, 2)
    absorb = np.asarray(absorbing(pts), dtype=bool).reshape(-1)
    I, J = np.meshgrid(np.arange(nx), np.arange(ny), indexing="ij")
    I, J = I.ravel(), J.ravel()
    idx = lambda i, j: _reflect(i, nx) * ny + _reflect(j, ny)  # noqa: E731
    k0 = I * ny + J
    rows, cols, vals = [], [], []

    def add(c, v):
        rows.append(k0)
        cols.append(c)
        vals.append(np.broadcast_to(v, k0.shape))
    dxx, dxy, dyy = Dm[0, 0], Dm[0, 1], Dm[1, 1]
    add(k0, -2 * (dxx + dyy) / h ** 2)
    for s in (1, -1):
        add(idx(I + s, J), dxx / h ** 2 + s * b[:, 0] / (2 * h))
        add(idx(I, J + s), dyy / h ** 2 + s * b[:, 1] / (2 * h))
    if dxy != 0:
        for si in (1, -1):
            for sj in (1, -1):
                add(idx(I + si, J + sj), si * sj * 2 * dxy / (4 * h ** 2))
    L = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                      shape=(nx * ny, nx * ny))
    T = np.flatnonzero(~absorb)
    if T.size == nx * ny:
        raise ValueError("absorbing_mask_fn: the absorbing set contains no grid node")
    A = L[T][:, T].tocsc()
    tau = np.zeros(nx * ny)
    tau[T] = spsolve(A, -np.ones(T.size))
    tau2 = None
    if second:
        tau2 = np.zeros(nx * ny)
        tau2[T] = spsolve(A, -2 * tau[T])
    dmin = np.linalg.eigvalsh(Dm).min()
    peclet = float(np.max(np.abs(b[~absorb])) * h / (2 * dmin))
    return axes, tau.reshape(nx, ny), (None if tau2 is None else tau2.reshape(nx, ny)), peclet


def mfpt_2d(grad: Callable, D, box, absorbing_mask_fn: Callable, h: float, x0,
            richardson: bool = True, second: bool = False) -> ExitTime:
    """Mean exit time of dX = -grad V dt + sqrt(2D) dW in 2-D at x0 (docs/theory.md §2).

    Solves L tau = -1 (and L tau2 = -2 tau if `second`), L u = -grad V . grad u + sum D_ij
    d_i d_j u, by second-order central differences on the node grid of `box`
    ((x_lo, x_hi), (y_lo, y_hi)), sides multiples of h; reflecting (Neumann, ghost-node
    mirror) walls; tau = 0 at nodes where `absorbing_mask_fn(points (n, 2)) -> bool (n,)`.
    The absorbing boundary should lie on grid lines of both grids, else the error is O(h).
    D: scalar (isotropic) or 2x2 SPD matrix. `grad(points (n, 2)) -> (n, 2)`.
    With `richardson`, also solves at h/2 (and 2h when the box allows): mean = (4 tau_{h/2} -
    tau_h)/3 and err = |tau_{h/2} - tau_h|, the full Richardson difference (never less); when
    the 2h, h, h/2 differences do not shrink by about 4 (ratio outside [2, 8]: the grid is too
    coarse for the O(h^2) regime) err also covers the 2h differences. Central differences need cell Peclet |grad V| h/(2D) < 1
    (`info['peclet']`, warned) and h << sqrt(D/lambda_max).
    """
    if not callable(grad) or not callable(absorbing_mask_fn):
        raise ValueError("grad and absorbing_mask_fn must be callables on points (n, 2)")
    grad = as_numpy_fn(grad)
    h = _positive("h", h)
    Dm = np.asarray(D, dtype=float)
    if Dm.ndim == 0:
        _positive("D", Dm)
        Dm = float(Dm) * np.eye(2)
    if Dm.shape != (2, 2) or not np.allclose(Dm, Dm.T) or np.linalg.eigvalsh(Dm).min() <= 0:
        raise ValueError("D must be > 0 (scalar) or a symmetric positive-definite 2x2 matrix")
    box = np.asarray(box, dtype=float)
    if box.shape != (2, 2) or np.any(box[:, 1] <= box[:, 0]):
        raise ValueError("box must be ((x_lo, x_hi), (y_lo, y_hi)) with lo < hi")
    x0 = np.asarray(x0, dtype=float).reshape(2)
    if np.any(x0 < box[:, 0]) or np.any(x0 > box[:, 1]):
        raise ValueError(f"x0 = {tuple(x0.tolist())} must lie in box {box.tolist()}")

    def at(hh):
        axes, tau, tau2, pe = _solve_2d(grad, Dm, box, absorbing_mask_fn, hh, second)
        f = lambda u: float(RegularGridInterpolator(axes, u)(x0[None])[0])  # noqa: E731
        return f(tau), (f(tau2) if second else None), pe, len(axes[0]) * len(axes[1])
    c, c2, pe, n = at(h)
    info = {"coarse": c, "h": h, "peclet": pe, "nodes": n}
    if not richardson:
        out = ExitTime(c, np.nan, c2, np.nan if second else None, info)
    else:
        f, f2, pe2, n2 = at(h / 2)
        info.update(fine=f, nodes_fine=n2)
        err, err2 = abs(f - c), (abs(f2 - c2) if second else None)
        # a third, coarser grid (2h) checks the asymptotic regime: for O(h^2) the successive
        # differences shrink 4x; when they do not, the difference of the coarsest pair bounds
        # the error too (a too-coarse grid must not report a small error bar)
        try:
            cc, cc2, _, _ = at(2 * h)
        except ValueError:  # box sides are not multiples of 2h
            cc = None
        if cc is not None:
            q = (cc - c) / (c - f) if c != f else np.inf
            info.update(coarsest=cc, order_ratio=q)
            if not 2.0 <= q <= 8.0:
                err = max(err, abs(cc - c), abs(cc - f))
                if second:
                    err2 = max(err2, abs(cc2 - c2), abs(cc2 - f2))
        out = ExitTime((4 * f - c) / 3, err,
                       None if not second else (4 * f2 - c2) / 3, err2, info)
    if pe > 1:
        warnings.warn(f"mfpt_2d: cell Peclet {pe:.2f} > 1; reduce h", stacklevel=2)
    return out
