"""The cell grid shared by the exact chain solvers (analysis/markov.py, the sparse chain;
analysis/markov_free.py, the matrix-free one): the result type, grid checks, the cell-integrated
Gaussian kernel P_ij = Phi((e_{j+1} - m_i)/s) - Phi((e_j - m_i)/s), Richardson over Delta and
Delta/2 (docs/theory.md §2)."""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy.special import ndtr


class ChainResult(NamedTuple):
    """Mean (and second moment of) the number of steps to absorption, with Richardson error.

    `survival[n]` = P(not absorbed after n steps), n = 0..n_survival-1 (fine grid).
    `info`: coarse/fine values, grid sizes.
    """
    mean: float
    err: float
    second: float | None
    second_err: float | None
    survival: np.ndarray | None
    info: dict


def _uniform(x, name):
    x = np.asarray(x, dtype=float).reshape(-1)
    if x.size < 3:
        raise ValueError(f"{name} needs at least 3 cells")
    d = np.diff(x)
    if np.any(d <= 0) or not np.allclose(d, d[0], rtol=1e-9, atol=0):
        raise ValueError(f"{name} must be uniformly spaced and increasing")
    return x, float(d[0])


def _refine(x, delta):
    return np.sort(np.concatenate([x - delta / 4, x + delta / 4]))


def _kernel_1d(centres, delta, means, sds, trunc):
    """Window of target cells per source and their probabilities (source, window)."""
    n = centres.size
    e0 = centres[0] - delta / 2
    w = min(n, int(np.ceil(2 * trunc * np.max(sds) / delta)) + 3)
    lo = np.floor((means - trunc * sds - e0) / delta).astype(np.int64)
    lo = np.clip(lo, 0, n - w)
    cols = lo[:, None] + np.arange(w)[None, :]
    lower = e0 + cols * delta
    upper = lower + delta
    lower[:, 0] = -np.inf
    upper[:, -1] = np.inf
    a = (lower - means[:, None]) / sds[:, None]
    b = (upper - means[:, None]) / sds[:, None]
    right = a > 0  # both in the upper tail: use the complementary CDF for accuracy
    p = np.where(right, ndtr(-a) - ndtr(-b), ndtr(b) - ndtr(a))
    return cols, np.maximum(p, 0.0)


def _richardson(run, grids, refine, richardson, second, n_survival):
    c = run(grids, n_survival if not richardson else 0)
    info = {"coarse": c[0], "cells": c[3]}
    if not richardson:
        return ChainResult(c[0], np.nan, c[1], np.nan if second else None, c[2], info)
    f = run(refine(grids), n_survival)
    info.update(fine=f[0], cells_fine=f[3])
    r = lambda a, b: ((4 * b - a) / 3, abs(b - a) / 3)  # noqa: E731
    mean, err = r(c[0], f[0])
    sec, serr = r(c[1], f[1]) if second else (None, None)
    return ChainResult(mean, err, sec, serr, f[2], info)


def _inside(x0, axes, name="x0"):
    """x0 must lie within the cell centres of every grid axis (values are interpolated between
    centres; outside them np.interp would return the edge value)."""
    x0 = np.asarray(x0, dtype=float).reshape(-1)
    for k, (v, a) in enumerate(zip(x0, axes)):
        lo, hi = float(a[0]), float(a[-1])
        if not (np.isfinite(v) and lo <= v <= hi):
            ax = "" if len(axes) == 1 else f" (axis {k})"
            raise ValueError(f"{name} = {float(v):g}{ax} lies outside the grid's cell centres [{lo:g}, {hi:g}]")
    return x0


def _check(eta, s):
    if isinstance(eta, (str, bool)) or not np.isscalar(eta) or not np.isfinite(eta) or eta <= 0:
        raise ValueError(f"eta must be a number > 0, got {eta!r}")
    if not callable(s) and (isinstance(s, (str, bool)) or not np.isscalar(s) or not np.isfinite(s) or s <= 0):
        raise ValueError(f"s must be a number > 0 (or a callable s(x)), got {s!r}")
