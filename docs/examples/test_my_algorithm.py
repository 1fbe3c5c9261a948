"""Property tests for the example algorithm (EXTRA, docs/examples/my_algorithm.py), written with
the kit: hypothesis strategies (dynamics.strategies, landscapes.strategies) and the property
checks of analysis.properties. Run from the repository root:

    .venv/bin/python -m pytest -q docs/examples/test_my_algorithm.py

(tests/test_example_kit.py runs the same tests in the default suite.)

EXTRA on isotropic quadratics f = (h/2)‖x‖², symmetric W with eigenvalues λ: each eigenmode of
W follows y⁺ = (1 + λ − a) y − ((1 + λ)/2 − a) y⁻ with a = lr·h, characteristic polynomial
z² − (1 + λ − a) z + (1 + λ)/2 − a. Jury's conditions (|c| < 1, |b| < 1 + c) give stability iff
a < (5 + 3λ)/4 for every λ < 1 (the λ = 1 mode has roots 1, conserved, and 1 − a). So the true
region is lr·h < (5 + 3 λ_min(W))/4 — smaller than gradient descent's lr·h < 2.
"""
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, find, given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import dynamics  # noqa: E402
from analysis import properties as P  # noqa: E402
from dynamics import strategies as ds  # noqa: E402
from dynamics import topology as T  # noqa: E402
from landscapes import strategies as ls  # noqa: E402

MODULE = "docs.examples.my_algorithm"
# explicit settings: this file also runs outside tests/ (no conftest profile there)
FAST = dict(deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module", autouse=True)
def extra_registered():
    """Load the example as a plug-in (its contract is checked on load); unregister afterwards."""
    from verify import plugins
    assert plugins.load_plugin(MODULE) == ["extra"]
    yield
    plugins.unregister("extra")


def _extra_bound(W):
    return (5 + 3 * float(np.linalg.eigvalsh(W).min())) / 4


@given(data=st.data())
@settings(max_examples=10, **FAST)
def test_extra_has_no_heterogeneity_bias(data):
    """True property: with exact gradients EXTRA's fixed point is 1x*ᵀ for any doubly stochastic,
    connected W and any heterogeneity (x* solved here with numpy)."""
    W = data.draw(ds.mixing_matrices(symmetric=None, max_K=6))
    prob = data.draw(ls.hetero_quadratics(K=len(W), d=2, zeta=(0.5, 2.0)))
    lr = data.draw(st.floats(0.01, 0.3))
    A, b = prob.A.numpy(), prob.b.numpy()
    x_star = np.linalg.solve(A.sum(0), np.einsum("kij,kj->i", A, b))
    c = P.exact_fixed_point(dynamics.make("extra", T.custom(W), lr=lr), prob, period=1, transient=1).require()
    np.testing.assert_allclose(np.asarray(c.detail["X"]), np.tile(x_star, (len(W), 1)), atol=1e-8)


@given(W=ds.mixing_matrices(symmetric=True, max_K=7), h=st.floats(0.2, 4.0), u=st.floats(0.02, 0.98))
@settings(max_examples=15, **FAST)
def test_extra_stable_inside_its_region(W, h, u):
    """True property: lr·h < (5 + 3λ_min)/4 (module docstring) gives spectral radius < 1."""
    lr = u * _extra_bound(W) / h
    # EXTRA's step map: one transient step (t = 0), then period 1 (skips the detection)
    P.stability(dynamics.make("extra", T.custom(W), lr=lr), h * np.eye(1), period=1, transient=1).require()


def test_false_property_is_refuted_and_shrunk():
    """False property: 'EXTRA is stable wherever gradient descent is (lr·h < 2)'. hypothesis.find
    returns a shrunk counter-example; it must lie outside the true region, and shrinking takes
    the number of workers down to the smallest allowed (K = 2)."""
    cases = st.tuples(ds.mixing_matrices(symmetric=True, max_K=5), st.floats(0.2, 4.0), st.floats(0.01, 0.99))

    def unstable(case):
        W, h, u = case
        lr = u * 2.0 / h  # inside gradient descent's region
        m = dynamics.make("extra", T.custom(W), lr=lr)
        return not P.stability(m, h * np.eye(1), period=1, transient=1).ok

    W, _, u = find(cases, unstable, settings=settings(max_examples=100, **FAST))
    assert u * 2.0 >= _extra_bound(W) - 1e-9  # a genuine counter-example: outside the true region
    assert len(W) == 2


def test_extra_scorecard_row():
    from verify.scorecard import score
    row = score("extra", checks=("average", "bias", "radius", "vectors"))
    c = row["checks"]
    assert c["average"]["ok"] and c["bias"]["ok"] and c["vectors"]["ok"]
    # ring of 8: λ_min = −1/3, so the bound (5 − 1)/4 = 1 > lr·h_max = 0.1·2: stable
    assert c["radius"]["ok"]
