"""dynamics.strategies / landscapes.strategies: every drawn object meets the guarantee its
strategy states, checked with independent numpy computations."""
import numpy as np
import pytest
from hypothesis import find, given, settings
from hypothesis import strategies as st

from dynamics import strategies as ds
from dynamics import topology as T
from landscapes import strategies as ls


def _gap(W):
    ev = np.linalg.eigvals(W)
    ev = ev[np.argsort(-np.abs(ev))]
    # the Perron eigenvalue 1 is the largest in modulus; the gap is 1 − the next modulus
    return 1.0 - np.abs(ev[1])


def _connected(W):
    K = len(W)
    R = np.linalg.matrix_power(np.eye(K) + (W > 0), K)
    return bool((R > 0).all())


@given(W=ds.mixing_matrices(symmetric=None, min_gap=0.1))
def test_mixing_matrices_doubly_stochastic_connected_with_gap(W):
    assert (W >= -1e-15).all()
    np.testing.assert_allclose(W.sum(0), 1, atol=1e-12)
    np.testing.assert_allclose(W.sum(1), 1, atol=1e-12)
    assert _connected(W)
    assert _gap(W) >= 0.1 - 1e-10


@given(W=ds.mixing_matrices(symmetric=True, min_gap=0.3, max_K=6))
def test_symmetric_matrices_are_symmetric(W):
    np.testing.assert_allclose(W, W.T, atol=1e-15)
    assert _gap(W) >= 0.3 - 1e-10
    assert T.custom(W).spectral_gap >= 0.3 - 1e-10  # the toolkit's own gap agrees


@given(W=ds.mixing_matrices(symmetric=False, min_K=3))
def test_non_symmetric_matrices_are_not_symmetric(W):
    assert not np.allclose(W, W.T, atol=1e-9)


@given(mats=ds.mixing_sequences(min_gap=0.2))
def test_sequences_period_gap_and_union_connected(mats):
    K = len(mats[0])
    for W in mats:
        np.testing.assert_allclose(W.sum(0), 1, atol=1e-12)
        np.testing.assert_allclose(W.sum(1), 1, atol=1e-12)
    assert _connected(sum(mats))
    P = np.eye(K)
    for W in mats:
        P = W @ P
    rho = np.linalg.norm(P - 1.0 / K, 2) ** (1 / len(mats))
    assert rho <= 0.8 + 1e-10
    top = T.custom(mats)
    assert top.period == len(mats) and top.rho == pytest.approx(rho, abs=1e-12)


@given(top=ds.topologies(max_K=16))
def test_named_topologies_are_valid(top):
    assert top.name in ds.FAMILIES and 2 <= top.K <= 16
    assert top.doubly_stochastic and top.rho < 1


@pytest.mark.parametrize("family", ds.FAMILIES)
def test_every_family_can_be_drawn(family):
    top = find(ds.topologies([family], min_K=2, max_K=16), lambda t: True)
    assert top.name == family


@given(prob=ls.hetero_quadratics(zeta=(0.1, 2.0), hess_spread=(0.0, 3.0), mu=(0.5, 2.0)))
def test_hetero_quadratics_meet_their_parameters(prob):
    A, b, xs = prob.A.numpy(), prob.b.numpy(), prob.x_star.numpy()
    p = prob.params
    ev = np.linalg.eigvalsh(A)
    assert ev.min() >= p["mu"] * (1 - 1e-10) and ev.max() <= p["mu"] * (1 + p["hess_spread"]) * (1 + 1e-10)
    g = np.einsum("kij,kj->ki", A, xs - b)  # per-worker gradients at x*
    np.testing.assert_allclose(g.mean(0), 0, atol=1e-10)
    assert ((g - g.mean(0)) ** 2).sum(-1).mean() == pytest.approx(p["zeta"] ** 2, rel=1e-9)


@given(data=ls.landscapes_with_critical_points())
@settings(max_examples=10)
def test_landscapes_come_with_critical_points(data):
    land, cps = data
    for c in cps:
        assert float(land.grad(c.x).abs().max()) < 1e-6


@given(data=st.data())
def test_step_sizes_inside_the_stated_regions(data):
    W = data.draw(ds.mixing_matrices(symmetric=True, max_K=6))
    K = len(W)
    prob = data.draw(ls.hetero_quadratics(K=K, d=2))
    A = prob.A.numpy()
    L = float(np.linalg.eigvalsh(A).max())
    Ab = np.zeros((K * 2, K * 2))
    for k in range(K):
        Ab[2 * k:2 * k + 2, 2 * k:2 * k + 2] = A[k]
    Wk = np.kron(W, np.eye(2))
    lr = data.draw(ls.step_sizes(L, "dsgd", W))
    assert np.abs(np.linalg.eigvals(Wk - lr * Ab)).max() < 1
    lr = data.draw(ls.step_sizes(L, "atc", W))
    assert np.abs(np.linalg.eigvals(Wk @ (np.eye(2 * K) - lr * Ab))).max() < 1
    lr = data.draw(ls.step_sizes(L, "gd"))
    assert np.abs(np.linalg.eigvals(np.eye(2) - lr * A.mean(0))).max() < 1


def test_bad_arguments_name_the_parameter():
    with pytest.raises(ValueError, match="min_gap"):
        find(ds.mixing_matrices(4, min_gap=2.0), lambda _: True)
    with pytest.raises(ValueError, match="families"):
        find(ds.topologies(["nope"]), lambda _: True)
    with pytest.raises(ValueError, match="region"):
        ls.lr_bound(1.0, "nope")
    with pytest.raises(ValueError, match="W"):
        ls.lr_bound(1.0, "dsgd")
    with pytest.raises(ValueError, match="L"):
        ls.lr_bound(-1.0)
    with pytest.raises(ValueError, match="symmetric"):
        ls.lr_bound(1.0, "dsgd", np.array([[0.5, 0.5, 0], [0, 0.5, 0.5], [0.5, 0, 0.5]]))
