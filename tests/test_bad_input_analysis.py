"""Bad input to the exact escape-time solvers (analysis/markov.py, analysis/kolmogorov.py) ->
ValueError naming the argument."""
import numpy as np

from analysis import kolmogorov as K
from analysis import markov as M
from _bad_input import check, table

G = np.linspace(-2.0, 1.0, 61)
g1 = lambda x: x ** 3 - x  # noqa: E731
V = lambda x: x ** 4 / 4 - x ** 2 / 2  # noqa: E731
g2 = lambda p: np.stack([p[:, 0] ** 3 - p[:, 0], 2 * p[:, 1]], 1)  # noqa: E731
BOX = ((-2.0, 0.0), (-1.0, 1.0))
ABS = lambda p: p[:, 0] >= -1e-12  # noqa: E731
W2 = np.array([[0.5, 0.5], [0.5, 0.5]])

CASES = [
    ("chain1d-x0-outside-right", lambda: M.markov_chain_1d(G, 0.1, g1, 0.3, 0.0, 5.0), r"x0 = 5 lies outside the grid"),
    ("chain1d-x0-outside-left", lambda: M.markov_chain_1d(G, 0.1, g1, 0.3, 0.0, -2.5), r"x0 = -2.5 lies outside"),
    ("chain1d-x0-nan", lambda: M.markov_chain_1d(G, 0.1, g1, 0.3, 0.0, float("nan")), r"x0 = nan lies outside"),
    ("chain1d-x0-str", lambda: M.markov_chain_1d(G, 0.1, g1, 0.3, 0.0, "-1"), r"x0 must be a real number"),
    ("chain1d-eta-zero", lambda: M.markov_chain_1d(G, 0.0, g1, 0.3, 0.0, -1.0), r"eta must be a number > 0"),
    ("chain1d-eta-str", lambda: M.markov_chain_1d(G, "0.1", g1, 0.3, 0.0, -1.0), r"eta must be a number > 0"),
    ("chain1d-s-neg", lambda: M.markov_chain_1d(G, 0.1, g1, -0.3, 0.0, -1.0), r"s must be a number > 0"),
    ("chain1d-s-bool", lambda: M.markov_chain_1d(G, 0.1, g1, True, 0.0, -1.0), r"s must be a number > 0"),
    ("chain1d-grid-short", lambda: M.markov_chain_1d([0.0, 1.0], 0.1, g1, 0.3, 0.5, 0.0), r"x_grid needs at least 3 cells"),
    ("chain1d-grid-uneven", lambda: M.markov_chain_1d([0.0, 1.0, 3.0], 0.1, g1, 0.3, 2.0, 0.0), r"x_grid must be uniformly spaced"),
    ("chain1d-absorb-none", lambda: M.markov_chain_1d(G, 0.1, g1, 0.3, lambda x: x > 99, -1.0), r"absorbing: the absorbing set contains no grid cell"),
    ("chain2d-x0-outside", lambda: M.markov_chain_2d(G, G, 0.1, g2, 0.3, ABS, (3.0, 0.0)), r"x0 = 3 \(axis 0\) lies outside"),
    ("chain2d-x0-outside-y", lambda: M.markov_chain_2d(G, G, 0.1, g2, 0.3, ABS, (-1.0, 9.0)), r"x0 = 9 \(axis 1\) lies outside"),
    ("chain2d-x0-shape", lambda: M.markov_chain_2d(G, G, 0.1, g2, 0.3, ABS, (1.0, 2.0, 3.0)), r"x0 must be a point"),
    ("chain2d-ygrid", lambda: M.markov_chain_2d(G, [0.0, 1.0], 0.1, g2, 0.3, ABS, (-1.0, 0.5)), r"y_grid needs at least 3 cells"),
    ("two-agents-x0-outside", lambda: M.markov_chain_two_agents_1d(G, 0.1, g1, 0.3, W2, 0.0, 4.0), r"x0 = 4 lies outside"),
    ("two-agents-scheme", lambda: M.markov_chain_two_agents_1d(G, 0.1, g1, 0.3, W2, 0.0, -1.0, scheme="gossip"), r"scheme must be one of"),
    ("two-agents-event", lambda: M.markov_chain_two_agents_1d(G, 0.1, g1, 0.3, W2, 0.0, -1.0, event="any"), r"event must be one of"),
    ("two-agents-W", lambda: M.markov_chain_two_agents_1d(G, 0.1, g1, 0.3, np.eye(3), 0.0, -1.0), r"W must be a 2x2"),
    ("mfpt1d-D-zero", lambda: K.mfpt_1d(V, -1.0, 0.0, 0.0), r"D must be finite and > 0"),
    ("mfpt1d-D-str", lambda: K.mfpt_1d(V, -1.0, 0.0, "0.25"), r"D must be a finite number > 0"),
    ("mfpt1d-V-not-callable", lambda: K.mfpt_1d(1.0, -1.0, 0.0, 0.25), r"V must be a callable"),
    ("mfpt1d-x0-str", lambda: K.mfpt_1d(V, "-1", 0.0, 0.25), r"x0 must be a finite number"),
    ("mfpt1d-M-nan", lambda: K.mfpt_1d(V, -1.0, float("nan"), 0.25), r"M must be a finite number"),
    ("mfpt1d-left", lambda: K.mfpt_1d(V, -1.0, 0.0, 0.25, left=-0.5), r"left: reflecting wall -0.5 must lie on the far side"),
    ("mfpt1d-D-callable-no-grad", lambda: K.mfpt_1d(V, -1.0, 0.0, lambda x: 0.25 + 0 * x), r"grad: a state-dependent D needs grad"),
    ("mfpt2d-h-neg", lambda: K.mfpt_2d(g2, 0.25, BOX, ABS, -0.1, (-1.0, 0.2)), r"h must be finite and > 0"),
    ("mfpt2d-h-str", lambda: K.mfpt_2d(g2, 0.25, BOX, ABS, "0.1", (-1.0, 0.2)), r"h must be a finite number > 0"),
    ("mfpt2d-h-not-multiple", lambda: K.mfpt_2d(g2, 0.25, BOX, ABS, 0.3, (-1.0, 0.2)), r"h: box side 0 of length 2.0 is not a multiple"),
    ("mfpt2d-D-matrix", lambda: K.mfpt_2d(g2, [[1.0, 2.0], [2.0, 1.0]], BOX, ABS, 0.1, (-1.0, 0.2)), r"D must be > 0 \(scalar\) or a symmetric positive-definite"),
    ("mfpt2d-D-neg", lambda: K.mfpt_2d(g2, -1.0, BOX, ABS, 0.1, (-1.0, 0.2)), r"D must be finite and > 0"),
    ("mfpt2d-box", lambda: K.mfpt_2d(g2, 0.25, ((0.0, -1.0), (0.0, 1.0)), ABS, 0.1, (-1.0, 0.2)), r"box must be"),
    ("mfpt2d-x0-outside", lambda: K.mfpt_2d(g2, 0.25, BOX, ABS, 0.1, (1.0, 0.2)), r"x0 = \(1.0, 0.2\) must lie in box"),
    ("mfpt2d-absorb-none", lambda: K.mfpt_2d(g2, 0.25, BOX, lambda p: p[:, 0] > 9, 0.1, (-1.0, 0.2)), r"absorbing_mask_fn: the absorbing set contains no grid node"),
    ("mfpt2d-grad-not-callable", lambda: K.mfpt_2d(None, 0.25, BOX, ABS, 0.1, (-1.0, 0.2)), r"grad and absorbing_mask_fn must be callables"),
]


@table(CASES)
def test_bad_input(thunk, match):
    check(thunk, match)


def test_count():
    assert len(CASES) >= 30


def test_mfpt_2d_error_bar_covers_the_richardson_difference():
    """On a too-coarse grid the error bar must not be smaller than the difference between its
    two grid values (it was a third of it, and far below the true error); the reference is the
    1-D quadrature of the separable problem (docs/theory.md §2)."""
    import warnings
    ref = K.mfpt_1d(V, -1.0, 0.0, 0.25, left=-2.0).mean
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for h in (0.5, 0.25, 0.2, 0.1):
            r = K.mfpt_2d(g2, 0.25, BOX, ABS, h, (-1.0, 0.2))
            assert r.err >= abs(r.info["fine"] - r.info["coarse"])
            assert abs(r.mean - ref) <= r.err, (h, r.mean, r.err, ref)
