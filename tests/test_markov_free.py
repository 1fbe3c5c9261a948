"""Matrix-free 2-D chain (analysis/markov_free.py) against the sparse chain of analysis/markov.py."""
import numpy as np
import pytest
from scipy.stats import norm

import analysis.markov_free as mf
from analysis.markov import markov_chain_2d

ETA, DIFF = 0.05, 0.2
S = np.sqrt(2 * ETA * DIFF)


def grad(p):  # double_well_2d, k = 1: f = (x^2 - 1)^2 + y^2
    return np.stack([4 * p[:, 0] * (p[:, 0] ** 2 - 1), 2 * p[:, 1]], 1)


def absorbing(p):
    return p[:, 0] > 0


def grid(ratio, x_lo=-1.6, y_half=0.8):
    d = S / ratio
    return np.arange(x_lo + d / 2, 0.2, d), np.arange(-y_half + d / 2, y_half, d)


@pytest.fixture
def matrix_free(monkeypatch):
    """Force the matrix-free level (not the direct coarsest one) on small test grids."""
    monkeypatch.setattr(mf, "_DIRECT_CELLS", 150)


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_mean_and_second_moment_agree_with_sparse(matrix_free):
    xs, ys = grid(2.5)
    a = markov_chain_2d(xs, ys, ETA, grad, S, absorbing, (-1.0, 0.0), richardson=False, second=True)
    b = mf.markov_chain_2d_free(xs, ys, ETA, grad, S, absorbing, (-1.0, 0.0), richardson=False,
                                second=True)
    assert b.info["cells"] == a.info["cells"] > 600
    assert b.mean == pytest.approx(a.mean, rel=1e-6)
    assert b.second == pytest.approx(a.second, rel=1e-6)
    assert a.mean > 100  # a metastable exit: the slow mode is what the solver must resolve


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_richardson_and_survival_agree_with_sparse(matrix_free):
    xs, ys = grid(1.5, x_lo=-1.5, y_half=0.6)
    kw = {"richardson": True, "second": False, "n_survival": 30}
    a = markov_chain_2d(xs, ys, ETA, grad, S, absorbing, (-1.0, 0.0), **kw)
    b = mf.markov_chain_2d_free(xs, ys, ETA, grad, S, absorbing, (-1.0, 0.0), **kw)
    assert b.info["cells_fine"] == a.info["cells_fine"]
    assert b.info["coarse"] == pytest.approx(a.info["coarse"], rel=1e-6)
    assert b.info["fine"] == pytest.approx(a.info["fine"], rel=1e-6)
    assert b.mean == pytest.approx(a.mean, rel=1e-6)
    assert b.err == pytest.approx(a.err, rel=1e-4, abs=1e-9 * a.mean)
    np.testing.assert_allclose(b.survival, a.survival, rtol=1e-8, atol=1e-10)
    assert b.survival[0] == 1.0 and np.all(np.diff(b.survival) <= 1e-12)


def test_operator_entries_are_cell_integrated_gaussians():
    # expected P_ij from scipy.stats.norm: product of per-axis CDF differences, end cells
    # collecting the mass beyond the grid
    d = S / 2
    xs, ys = np.arange(-1.0 + d / 2, 0.2, d), np.arange(-0.4 + d / 2, 0.4, d)
    X, Y = np.meshgrid(xs, ys, indexing="ij")
    pts = np.stack([X.ravel(), Y.ravel()], 1)
    means = pts - ETA * grad(pts)
    absorb = absorbing(pts)
    op = mf.ChainOperator(((xs, d), (ys, d)), means, S, absorb)
    T = np.flatnonzero(~absorb)

    def cell_p(c, m, j):
        lo = -np.inf if j == 0 else c[j] - d / 2
        hi = np.inf if j == c.size - 1 else c[j] + d / 2
        return norm.cdf((hi - m) / S) - norm.cdf((lo - m) / S)
    rng = np.random.default_rng(0)
    for col in rng.choice(T.size, 6, replace=False):
        e = np.zeros(T.size)
        e[col] = 1.0
        got = op.matvec(e)
        jx, jy = divmod(T[col], ys.size)
        want = np.array([cell_p(xs, means[i, 0], jx) * cell_p(ys, means[i, 1], jy) for i in T])
        # documented interpolation error ~ (lattice spacing / s)^order of the entries' scale
        tol = (d / op.q / S) ** op.order * want.max()
        assert tol < 1e-7
        np.testing.assert_allclose(got, want, rtol=0, atol=tol)
    # rows of Q plus the absorbed mass sum to one
    full_rows = op.matvec(np.ones(T.size))
    assert np.all(full_rows <= 1 + 1e-9) and np.all(full_rows > 0)


def test_bad_input():
    xs, ys = grid(1.5)
    with pytest.raises(ValueError, match="eta"):
        mf.markov_chain_2d_free(xs, ys, -1.0, grad, S, absorbing, (-1.0, 0.0))
    with pytest.raises(ValueError, match="x0"):
        mf.markov_chain_2d_free(xs, ys, ETA, grad, S, absorbing, (-5.0, 0.0))
    with pytest.raises(ValueError, match="rtol"):
        mf.markov_chain_2d_free(xs, ys, ETA, grad, S, absorbing, (-1.0, 0.0), rtol=2.0)
    with pytest.raises(ValueError, match="order"):
        mf.markov_chain_2d_free(xs, ys, ETA, grad, S, absorbing, (-1.0, 0.0), order=1)
    with pytest.raises(ValueError, match="absorbing"):
        mf.markov_chain_2d_free(xs, ys, ETA, grad, S, lambda p: p[:, 0] > 9, (-1.0, 0.0))


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_markov_chain_2d_dispatches_by_size(monkeypatch, matrix_free):
    """solver='auto' keeps grids whose P fits SPARSE_NNZ_MAX sparse and sends larger ones
    matrix-free; the two answers agree to solver tolerance; a bad solver name is refused."""
    import analysis.markov as M
    calls = []
    real = mf.markov_chain_2d_free
    monkeypatch.setattr(mf, "markov_chain_2d_free", lambda *a, **k: calls.append(1) or real(*a, **k))
    xs, ys = grid(2.5)
    monkeypatch.setattr(M, "SPARSE_NNZ_MAX", float("inf"))
    a = M.markov_chain_2d(xs, ys, ETA, grad, S, absorbing, (-1.0, 0.0), richardson=False)
    assert calls == []
    monkeypatch.setattr(M, "SPARSE_NNZ_MAX", 0.0)
    b = M.markov_chain_2d(xs, ys, ETA, grad, S, absorbing, (-1.0, 0.0), richardson=False)
    assert calls == [1]
    assert b.mean == pytest.approx(a.mean, rel=1e-6)
    with pytest.raises(ValueError, match="solver"):
        M.markov_chain_2d(xs, ys, ETA, grad, S, absorbing, (-1.0, 0.0), solver="dense")
