"""Exact escape statistics of the *discrete* algorithm at finite eta (docs/theory.md §2).

x' = m(x) + s xi, m(x) = x - eta grad L(x), xi ~ N(0, I), as an absorbing Markov chain on a
uniform grid of cells (centres x_i, width Delta, edges e_i = x_i - Delta/2):
P_ij = Phi((e_{j+1} - m_i)/s_i) - Phi((e_j - m_i)/s_i); mass beyond the grid (or beyond a
+-`trunc`*s window) goes to the outermost cell of the window, so rows sum to 1.
With Q the transient block: (I - Q) m = 1 (mean steps), (I - Q) m2 = 1 + 2 Q m (second
moment), S(n) = Q^n 1 (survival). Values at x0 by linear interpolation between centres.
Grid error O(Delta^2) when the absorbing boundary lies on cell edges of both grids:
Richardson over Delta and Delta/2 (each cell split in two). Use Delta <= s/20 in 1-D.
Only feasible for total state dimension <= 2.
"""
from __future__ import annotations

import warnings
from typing import Callable

import numpy as np
import scipy.sparse as sp
from scipy.interpolate import RegularGridInterpolator
from scipy.sparse.linalg import spsolve

from .kolmogorov import as_numpy_fn
from .markov_grid import ChainResult, _check, _inside, _kernel_1d, _refine, _richardson, _uniform

__all__ = ["ChainResult", "markov_chain_1d", "markov_chain_2d", "markov_chain_two_agents_1d"]


def _solve(P, absorb, second, n_survival):
    T = np.flatnonzero(~absorb)
    if T.size == absorb.size:
        raise ValueError("absorbing: the absorbing set contains no grid cell")
    Q = P[T][:, T].tocsc()
    A = (sp.identity(T.size, format="csc") - Q).tocsc()
    m = np.zeros(absorb.size)
    m[T] = spsolve(A, np.ones(T.size))
    m2 = None
    if second:
        m2 = np.zeros(absorb.size)
        m2[T] = spsolve(A, 1 + 2 * (Q @ m[T]))
    surv = None
    if n_survival:
        v = np.ones(T.size)
        surv = np.zeros((n_survival, absorb.size))
        Qr = Q.tocsr()
        for k in range(n_survival):
            surv[k, T] = v
            v = Qr @ v
    return m, m2, surv


def _chain_2d(axes, mean_fn, sds, absorbing, x0, second, n_survival, trunc):
    (xa, dx), (ya, dy) = axes
    nx, ny = xa.size, ya.size
    X, Y = np.meshgrid(xa, ya, indexing="ij")
    pts = np.stack([X.ravel(), Y.ravel()], axis=1)
    mu = np.asarray(mean_fn(pts), dtype=float).reshape(-1, 2)
    cx, px = _kernel_1d(xa, dx, mu[:, 0], np.full(len(pts), sds[0]), trunc)
    cy, py = _kernel_1d(ya, dy, mu[:, 1], np.full(len(pts), sds[1]), trunc)
    cols = (cx[:, :, None] * ny + cy[:, None, :]).reshape(len(pts), -1)
    vals = (px[:, :, None] * py[:, None, :]).reshape(len(pts), -1)
    rows = np.repeat(np.arange(len(pts)), cols.shape[1])
    P = sp.csr_matrix((vals.ravel(), (rows, cols.ravel())), shape=(len(pts), len(pts)))
    absorb = np.asarray(absorbing(pts), dtype=bool).reshape(-1)
    m, m2, surv = _solve(P, absorb, second, n_survival)
    f = lambda u: float(RegularGridInterpolator((xa, ya), u.reshape(nx, ny))(x0[None])[0])  # noqa
    s_at = None if surv is None else np.array([f(s) for s in surv])
    return f(m), (f(m2) if second else None), s_at, len(pts)


def _threshold(absorbing, x0):
    if callable(absorbing):
        return absorbing
    M = float(absorbing)
    return (lambda x: x > M) if M > x0 else (lambda x: x < M)


def markov_chain_1d(x_grid, eta: float, grad: Callable, s, absorbing, x0: float, *,
                    richardson: bool = True, second: bool = True, n_survival: int = 0,
                    trunc: float = 6.0) -> ChainResult:
    """Steps to absorption of x' = x - eta grad(x) + s(x) xi on a 1-D cell grid (docs/theory.md §2).

    x_grid: uniform cell centres; s: per-step noise sd (float or callable; s^2 = eta^2 C/B);
    absorbing: callable on centres -> bool, or a float M (absorb beyond M, on the side away
    from x0; put M on a cell edge for O(Delta^2)). Mass leaving the grid goes to the end
    cell. Richardson over Delta, Delta/2; `err` estimates the error of the Delta/2 value.
    """
    _check(eta, s)
    x, delta = _uniform(x_grid, "x_grid")
    grad = as_numpy_fn(grad)
    if isinstance(x0, (str, bool)) or np.ndim(x0) != 0:
        raise ValueError(f"x0 must be a real number, got {x0!r}")
    x0 = _inside([float(x0)], [x])
    absorbing = _threshold(absorbing, float(x0[0]))
    sfun = (lambda z: np.asarray(s(z), float) * np.ones_like(z)) if callable(s) \
        else (lambda z: np.full_like(z, float(s)))
    if delta > np.min(sfun(x)) / 20 * (1 + 1e-9):
        warnings.warn("markov_chain_1d: Delta > s/20 (docs/theory.md §2 asks Delta <= s/20)",
                      stacklevel=2)

    def run(g, ns):
        xs, d = g
        mu = xs - eta * grad(xs)
        cols, p = _kernel_1d(xs, d, mu, sfun(xs), trunc)
        rows = np.repeat(np.arange(xs.size), cols.shape[1])
        P = sp.csr_matrix((p.ravel(), (rows, cols.ravel())), shape=(xs.size, xs.size))
        absorb = np.asarray(absorbing(xs), dtype=bool).reshape(-1)
        m, m2, surv = _solve(P, absorb, second, ns)
        f = lambda u: float(np.interp(x0, xs, u)[0])  # noqa: E731
        s_at = None if surv is None else np.array([f(v) for v in surv])
        return f(m), (f(m2) if second else None), s_at, xs.size
    return _richardson(run, (x, delta), lambda g: (_refine(*g), g[1] / 2),
                       richardson, second, n_survival)


def markov_chain_2d(x_grid, y_grid, eta: float, grad: Callable, s: float, absorbing: Callable,
                    x0, *, richardson: bool = True, second: bool = False, n_survival: int = 0,
                    trunc: float = 6.0, solver: str = "auto") -> ChainResult:
    """2-D centralised chain, isotropic noise: P = product of 1-D CDF differences (§2).

    grad(points (n, 2)) -> (n, 2); absorbing(points (n, 2)) -> bool (n,) on cell centres.
    solver 'sparse': P stored, each row truncated to +-trunc*s per axis (tails lumped into the
    window's end cells), cost ~ cells * (2 trunc s / Delta)^2 nonzeros; 'free': the matrix-free
    operator of `analysis.markov_free` (Gaussian smoothing read at the drifted means, Krylov
    solve), same result to ~1e-9; 'auto': sparse while the finest grid's P has at most
    SPARSE_NNZ_MAX nonzeros, free beyond.
    """
    if solver not in ("auto", "sparse", "free"):
        raise ValueError(f"solver must be 'auto', 'sparse' or 'free', got {solver!r}")
    _check(eta, s)
    gx, gy = _uniform(x_grid, "x_grid"), _uniform(y_grid, "y_grid")
    if solver == "auto":
        cells = gx[0].size * gy[0].size * (4 if richardson else 1)
        d = min(gx[1], gy[1]) / (2 if richardson else 1)
        solver = "free" if cells * (2 * trunc * s / d + 3) ** 2 > SPARSE_NNZ_MAX else "sparse"
    if solver == "free":
        from .markov_free import markov_chain_2d_free
        return markov_chain_2d_free(x_grid, y_grid, eta, grad, s, absorbing, x0, richardson=richardson,
                                    second=second, n_survival=n_survival, trunc=trunc)
    grad = as_numpy_fn(grad)
    if np.size(x0) != 2:
        raise ValueError(f"x0 must be a point (x, y), got {x0!r}")
    x0 = _inside(x0, [gx[0], gy[0]])
    mean_fn = lambda p: p - eta * grad(p)  # noqa: E731

    def run(g, ns):
        return _chain_2d(g, mean_fn, (s, s), absorbing, x0, second, ns, trunc)
    ref = lambda g: tuple((_refine(*a), a[1] / 2) for a in g)  # noqa: E731
    return _richardson(run, (gx, gy), ref, richardson, second, n_survival)


SPARSE_NNZ_MAX = 2e7   # ~0.5 GB of CSR entries: beyond it markov_chain_2d goes matrix-free


def _perron(W):
    vals, vecs = np.linalg.eig(W.T)
    p = np.real(vecs[:, np.argmin(np.abs(vals - 1))])
    return p / p.sum()


def markov_chain_two_agents_1d(x_grid, eta: float, grad: Callable, s: float, W, M: float,
                               x0: float, *, scheme: str = "consensus", event: str = "centroid",
                               richardson: bool = True, second: bool = False,
                               n_survival: int = 0, trunc: float = 6.0) -> ChainResult:
    """Two agents (K = 2) in 1-D on the product grid; steps until the escape event (§1, §2).

    Both agents start at x0; each gets independent noise s xi_i per step (s^2 = eta^2 sigma^2/B);
    W is 2x2 row-stochastic (x_i <- sum_j W_ij x_j).
    - 'consensus' (D-SGD): x_i' = sum_j W_ij x_j - eta g(x_i) + s xi_i.
    - 'cta': phi = W x; x_i' = phi_i - eta g(phi_i) + s xi_i.
    - 'atc': x' = W psi' with psi' = x - eta g(x) + s xi (correlated noise in x), so the chain
      runs on psi: psi' = W psi - eta g(W psi) + s xi (independent noise) and the event is
      tested on x = W psi (psi_0 = (x0, x0) gives x_0 = (x0, x0)). Its absorbing boundary is
      slanted in psi unless W = I: grid error O(Delta), Richardson only indicative.
    event (escape past M, on the side away from x0): 'centroid' (Perron-weighted mean
    p^T x past M, p^T W = p^T), 'first' (any agent), 'all' (both at once).
    """
    _check(eta, s)
    if scheme not in ("consensus", "atc", "cta"):
        raise ValueError(f"scheme must be one of ['consensus', 'atc', 'cta'], got {scheme!r}")
    if event not in ("centroid", "first", "all"):
        raise ValueError(f"event must be one of ['centroid', 'first', 'all'], got {event!r}")
    W = np.asarray(W, dtype=float)
    if W.shape != (2, 2) or np.any(W < 0) or not np.allclose(W.sum(1), 1):
        raise ValueError("W must be a 2x2 non-negative row-stochastic matrix")
    g = _uniform(x_grid, "x_grid")
    grad = as_numpy_fn(grad)
    x0 = float(_inside([x0], [g[0]])[0])
    sign = 1.0 if M > x0 else -1.0
    p = _perron(W)
    to_x = (lambda q: q @ W.T) if scheme == "atc" else (lambda q: q)  # noqa: E731

    def absorbing(q):
        past = sign * (to_x(q) - M) > 0
        if event == "centroid":
            return sign * (to_x(q) @ p - M) > 0
        return past.any(1) if event == "first" else past.all(1)

    def mean_fn(q):
        if scheme == "consensus":
            return q @ W.T - eta * grad(q.reshape(-1, 1)).reshape(q.shape)
        phi = q @ W.T
        return phi - eta * grad(phi.reshape(-1, 1)).reshape(q.shape)
    start = np.array([x0, x0], dtype=float)

    def run(gr, ns):
        return _chain_2d(gr, mean_fn, (s, s), absorbing, start, second, ns, trunc)
    ref = lambda gr: tuple((_refine(*a), a[1] / 2) for a in gr)  # noqa: E731
    return _richardson(run, (g, g), ref, richardson, second, n_survival)
