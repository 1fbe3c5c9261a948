"""Matrix-free exact 2-D chains: `markov_chain_2d` without storing the transition matrix.

The chain of `analysis.markov.markov_chain_2d` (docs/theory.md §2) moves a cell-centre x_i to
m_i = x_i - eta grad L(x_i) plus isotropic Gaussian noise s xi, and integrates the density over
target cells: P_ij = G^x_{jx}(m_i,x) G^y_{jy}(m_i,y), with G_j(m) = Phi((e_{j+1} - m)/s) -
Phi((e_j - m)/s) the 1-D cell probabilities (mass beyond the grid goes to the end cells).
Hence (P v)_i = F(m_i) with F(a, b) = sum_{jx, jy} G^x_jx(a) G^y_jy(b) v_{jx, jy}: a separable
Gaussian smoothing of the cell values v evaluated at the drifted means. F is computed on a
lattice of spacing Delta/q covering every m_i (two dense products, A_x V A_y^T) and read at
the m_i by Lagrange interpolation of `order` points per axis (a fixed sparse matrix with
order^2 entries per row; F is smooth on the scale s, so the error is ~ (Delta/(q s))^order).
Memory is O(cells + lattice), not O(cells (2 trunc s/Delta)^2) as for the sparse P.

(I - Q) m = 1, (I - Q) m2 = 1 + 2 Q m are solved by GMRES with a two-grid preconditioner
M^-1 r = P_c A_c^-1 R_c r + (r - P_c R_c r): A_c the sparse chain (window +-3 s) on a grid with
cells c x c times larger (c the smallest factor giving <= 1200 cells), LU-factorised once,
R_c block averaging, P_c piecewise-constant prolongation; started from P_c A_c^-1 R_c b.
The metastable (slow) mode lives on the coarse grid, so GMRES needs ~12-15 iterations
whatever the grid. S(n) = Q^n 1 by repeated matvecs. Grids of <= 1200 cells are solved
directly (sparse LU, as analysis.markov). Difference
with the sparse P: its rows are truncated to +-trunc*s (tails lumped into the window's end
cells, ~Phi(-trunc) of the mass); here the 1-D probabilities are exact.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.sparse as sp
from scipy.interpolate import RegularGridInterpolator
from scipy.sparse.linalg import LinearOperator, gmres, splu
from scipy.special import ndtr

from .kolmogorov import as_numpy_fn
from .markov_grid import ChainResult, _check, _inside, _refine, _richardson, _uniform

__all__ = ["ChainOperator", "markov_chain_2d_free"]

_DIRECT_CELLS = 1200  # at or below: build P sparse and factorise it (coarsest level)


def _cell_probs(edges_inner, s, m):
    """(len(m), n) probabilities of the n cells with inner edges `edges_inner` (n-1 of them;
    the outer edges are -inf, +inf) for a Gaussian N(m, s^2): CDF differences, upper tail by
    the complementary CDF for accuracy."""
    m = np.asarray(m, float)[:, None]
    lo = np.concatenate([[-np.inf], edges_inner])[None, :]
    hi = np.concatenate([edges_inner, [np.inf]])[None, :]
    a, b = (lo - m) / s, (hi - m) / s
    p = np.where(a > 0, ndtr(-a) - ndtr(-b), ndtr(b) - ndtr(a))
    return np.maximum(p, 0.0)


def _lagrange(nodes0, h, n_nodes, pts, order):
    """Indices (len(pts), order) into a lattice nodes0 + k h and Lagrange weights."""
    u = (pts - nodes0) / h
    k0 = np.floor(u).astype(np.int64) - (order // 2 - 1)
    k0 = np.clip(k0, 0, n_nodes - order)
    idx = k0[:, None] + np.arange(order)[None, :]
    t = u[:, None] - idx  # offsets of pts from each node, in units of h
    w = np.ones_like(t)
    for a in range(order):
        for b in range(order):
            if a != b:
                w[:, a] *= t[:, b] / (a - b)
    return idx, w


class ChainOperator:
    """Q (transient block of P) as a matrix-free operator on the cells of an (nx, ny) grid.

    `matvec(v)` takes values on the transient cells (ordered as np.flatnonzero(~absorb) of the
    row-major (x, y) grid) and returns Q v.
    """

    def __init__(self, axes, means, s, absorb, q=None, order=8):
        (xa, dx), (ya, dy) = axes
        self.nx, self.ny = xa.size, ya.size
        self.absorb = absorb
        self.T = np.flatnonzero(~absorb)
        if q is None:  # lattice spacing <= s/6 keeps the interpolation error far below 1e-9
            q = max(1, int(np.ceil(6 * max(dx, dy) / s)))
        self.q, self.order = q, order
        mu = means[self.T]
        mats, idx, wts, sizes = [], [], [], []
        for ax, (c, d) in enumerate(((xa, dx), (ya, dy))):
            h = d / q
            lo = mu[:, ax].min() - order * h
            hi = mu[:, ax].max() + order * h
            nodes = lo + h * np.arange(int(np.ceil((hi - lo) / h)) + 1)
            inner = c[:-1] + d / 2
            mats.append(_cell_probs(inner, s, nodes))        # (L, n)
            i, w = _lagrange(nodes[0], h, nodes.size, mu[:, ax], order)
            idx.append(i)
            wts.append(w)
            sizes.append(nodes.size)
        self.Ax, self.AyT = mats[0], np.ascontiguousarray(mats[1].T)
        Lx, Ly = sizes
        cols = (idx[0][:, :, None] * Ly + idx[1][:, None, :]).reshape(mu.shape[0], -1)
        vals = (wts[0][:, :, None] * wts[1][:, None, :]).reshape(mu.shape[0], -1)
        indptr = np.arange(mu.shape[0] + 1, dtype=np.int64) * cols.shape[1]
        self.I = sp.csr_matrix((vals.ravel(), cols.ravel(), indptr), shape=(mu.shape[0], Lx * Ly))
        self.I.has_canonical_format = False  # duplicate columns (clipped windows) are summed
        self.n = self.T.size
        self.matvecs = 0
        self._full = np.zeros(self.nx * self.ny)

    def matvec(self, v):
        v = np.asarray(v, float).reshape(-1)
        self.matvecs += 1
        full = self._full
        full[self.T] = v
        F = (self.Ax @ full.reshape(self.nx, self.ny)) @ self.AyT
        return self.I @ F.reshape(-1)

    def as_linear_operator(self):
        """I - Q as a scipy LinearOperator."""
        return LinearOperator((self.n, self.n), matvec=lambda v: np.asarray(v).reshape(-1) - self.matvec(v),
                              dtype=float)


def _sparse_P(axes, means, s, trunc):
    """P of `analysis.markov` (rows truncated to +-trunc*s per axis), for the coarsest level."""
    from .markov_grid import _kernel_1d
    (xa, dx), (ya, dy) = axes
    n = means.shape[0]
    cx, px = _kernel_1d(xa, dx, means[:, 0], np.full(n, s), trunc)
    cy, py = _kernel_1d(ya, dy, means[:, 1], np.full(n, s), trunc)
    cols = (cx[:, :, None] * ya.size + cy[:, None, :]).reshape(n, -1)
    vals = (px[:, :, None] * py[:, None, :]).reshape(n, -1)
    rows = np.repeat(np.arange(n), cols.shape[1])
    return sp.csr_matrix((vals.ravel(), (rows, cols.ravel())), shape=(n, n))


def _coarsen(a, d, c):
    """Cell centres of the grid with cells c times wider (runs of c merged; a tail dropped)."""
    k = a.size // c
    return a[:k * c].reshape(k, c).mean(1), c * d


class _Level:
    """One grid of the hierarchy: its operator and a solver for (I - Q) u = b."""

    def __init__(self, axes, mean_fn, s, absorbing, trunc, rtol, order, direct=None):
        (xa, dx), (ya, dy) = axes
        self.axes = axes
        X, Y = np.meshgrid(xa, ya, indexing="ij")
        self.pts = np.stack([X.ravel(), Y.ravel()], axis=1)
        self.means = np.asarray(mean_fn(self.pts), dtype=float).reshape(-1, 2)
        self.absorb = np.asarray(absorbing(self.pts), dtype=bool).reshape(-1)
        self.T = np.flatnonzero(~self.absorb)
        if self.T.size == self.absorb.size:
            raise ValueError("absorbing: the absorbing set contains no grid cell")
        if self.T.size == 0:
            raise ValueError("absorbing: every grid cell is absorbing")
        self.rtol = rtol
        self.iterations = []
        self.coarse = None
        self.direct = self.pts.shape[0] <= _DIRECT_CELLS if direct is None else direct
        if self.direct:
            P = _sparse_P(axes, self.means, s, trunc)
            self.Q = P[self.T][:, self.T].tocsr()
            self.lu = splu((sp.identity(self.T.size, format="csc") - self.Q).tocsc())
            self.apply_Q = lambda v: self.Q @ v
            return
        self.op = ChainOperator(axes, self.means, s, self.absorb, order=order)
        self.apply_Q = self.op.matvec
        c = 2
        while (xa.size // c) * (ya.size // c) > _DIRECT_CELLS:
            c += 1
        self.factor = c
        cax = (_coarsen(xa, dx, c), _coarsen(ya, dy, c))
        # the coarse chain only preconditions: a narrower window keeps its LU small
        self.coarse = _Level(cax, mean_fn, s, absorbing, min(trunc, 3.0), rtol, order, direct=True)
        # transfer: coarse cell (I, J) covers fine cells (cI..cI+c-1, cJ..cJ+c-1)
        nxc, nyc = cax[0][0].size, cax[1][0].size
        fi = np.arange(xa.size)
        fj = np.arange(ya.size)
        ci, cj = np.minimum(fi // c, nxc - 1), np.minimum(fj // c, nyc - 1)
        fine_to_coarse = (ci[:, None] * nyc + cj[None, :]).ravel()
        pos_c = np.full(nxc * nyc, -1)
        pos_c[self.coarse.T] = np.arange(self.coarse.T.size)
        ct = pos_c[fine_to_coarse[self.T]]
        ok = ct >= 0
        n_f, n_c = self.T.size, self.coarse.T.size
        pro = sp.csr_matrix((np.ones(ok.sum()), (np.flatnonzero(ok), ct[ok])), shape=(n_f, n_c))
        cnt = np.asarray(pro.sum(0)).ravel()
        self.pro = pro
        self.res = sp.diags(1.0 / np.maximum(cnt, 1)) @ pro.T.tocsr()

    def solve(self, b, guess=None):
        if self.direct:
            return self.lu.solve(b)
        A = self.op.as_linear_operator()
        res, pro, coarse = self.res, self.pro, self.coarse

        def prec(r):
            r = np.asarray(r).reshape(-1)
            rc = res @ r
            return pro @ coarse.solve(rc) + (r - pro @ rc)
        M = LinearOperator(A.shape, matvec=prec, dtype=float)
        if guess is None:
            guess = pro @ coarse.solve(res @ b)
        it = [0]

        def cb(_):
            it[0] += 1
        u, info = gmres(A, b, x0=guess, M=M, rtol=self.rtol, atol=0.0, restart=80, maxiter=20,
                        callback=cb, callback_type="pr_norm")
        if info != 0:
            raise RuntimeError(f"markov_chain_2d_free: GMRES did not reach rtol={self.rtol:g} "
                               f"({it[0]} iterations)")
        self.iterations.append(it[0])
        return u


def _chain_2d_free(axes, mean_fn, s, absorbing, x0, second, n_survival, trunc, rtol, order):
    lev = _Level(axes, mean_fn, s, absorbing, trunc, rtol, order)
    (xa, _), (ya, _) = axes
    nx, ny = xa.size, ya.size
    T, ncell = lev.T, nx * ny
    mT = lev.solve(np.ones(T.size))
    m = np.zeros(ncell)
    m[T] = mT
    m2 = None
    if second:
        m2 = np.zeros(ncell)
        m2[T] = lev.solve(1 + 2 * lev.apply_Q(mT), guess=None)
    surv = None
    if n_survival:
        v = np.ones(T.size)
        surv = np.zeros((n_survival, ncell))
        for k in range(n_survival):
            surv[k, T] = v
            v = lev.apply_Q(v)
    f = lambda u: float(RegularGridInterpolator((xa, ya), u.reshape(nx, ny))(x0[None])[0])
    s_at = None if surv is None else np.array([f(u) for u in surv])
    return f(m), (f(m2) if second else None), s_at, ncell


def markov_chain_2d_free(x_grid, y_grid, eta: float, grad: Callable, s: float, absorbing: Callable,
                         x0, *, richardson: bool = True, second: bool = False, n_survival: int = 0,
                         trunc: float = 6.0, rtol: float = 1e-11, order: int = 8) -> ChainResult:
    """`analysis.markov.markov_chain_2d` (same arguments and ChainResult) without storing P.

    grad(points (n, 2)) -> (n, 2); absorbing(points (n, 2)) -> bool (n,) on cell centres.
    `trunc` only shapes the coarsest (sparse, direct) level of the preconditioner; `rtol` is
    GMRES's relative residual; `order` the Lagrange points per axis of the interpolation.
    Memory ~ cells * (order^2 + 10) * 12 bytes; time ~ (GMRES iterations) x (two GEMMs of the
    grid by the lattice).
    """
    _check(eta, s)
    if callable(s):
        raise ValueError("s must be a number > 0 (the matrix-free chain needs a constant s)")
    if isinstance(rtol, bool) or not (np.isscalar(rtol) and 0 < rtol < 1):
        raise ValueError(f"rtol must be in (0, 1), got {rtol!r}")
    if isinstance(order, bool) or not isinstance(order, (int, np.integer)) or order < 2:
        raise ValueError(f"order must be an integer >= 2, got {order!r}")
    s = float(s)
    gx, gy = _uniform(x_grid, "x_grid"), _uniform(y_grid, "y_grid")
    grad = as_numpy_fn(grad)
    if np.size(x0) != 2:
        raise ValueError(f"x0 must be a point (x, y), got {x0!r}")
    x0 = _inside(x0, [gx[0], gy[0]])
    if not callable(absorbing):
        raise ValueError("absorbing must be a callable points (n, 2) -> bool (n,)")
    mean_fn = lambda p: p - eta * grad(p)

    def run(g, ns):
        return _chain_2d_free(g, mean_fn, s, absorbing, x0, second, ns, trunc, float(rtol), int(order))
    ref = lambda g: tuple((_refine(*a), a[1] / 2) for a in g)
    return _richardson(run, (gx, gy), ref, richardson, second, n_survival)
