"""Topologies: stochasticity, closed-form spectral gaps (THEORY.md §8), validation messages."""
import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from dynamics import topology as T

pow2 = st.sampled_from([2, 4, 8, 16, 32, 64])


def _stochastic(top):
    for W in top.matrices:
        assert torch.all(W >= 0)
        assert torch.allclose(W.sum(1), torch.ones(top.K, dtype=W.dtype), atol=1e-12)


@given(K=st.integers(1, 40))
def test_all_builders_row_and_doubly_stochastic(K):
    tops = [T.ring(K), T.complete(K), T.exponential(K), T.exponential_undirected(K),
            T.erdos_renyi(K, 0.5, seed=K)]
    if K >= 2:
        tops += [T.star(K), T.one_peer_exponential(K)]
    for top in tops:
        _stochastic(top)
        assert top.doubly_stochastic, top.name
        assert torch.allclose(top.perron, torch.full((K,), 1.0 / K, dtype=torch.float64), atol=1e-9)


@given(K=st.integers(4, 60))
def test_ring_gap(K):
    assert T.ring(K).spectral_gap == pytest.approx(4 / 3 * math.sin(math.pi / K) ** 2, abs=1e-12)


@given(side=st.integers(4, 9))
def test_torus_gap(side):
    top = T.torus(side * side)
    assert top.spectral_gap == pytest.approx(0.8 * math.sin(math.pi / side) ** 2, abs=1e-12)


@given(K=pow2)
def test_hypercube_and_undirected_exponential_gaps(K):
    m = math.log2(K)
    assert T.hypercube(K).spectral_gap == pytest.approx(2 / (1 + m), abs=1e-12)
    if K >= 4:
        assert T.exponential_undirected(K).spectral_gap == pytest.approx(2 / m, abs=1e-12)


@given(K=st.integers(2, 40).filter(lambda k: k % 2 == 0))
def test_directed_exponential_gap(K):
    m = math.ceil(math.log2(K))
    assert T.exponential(K).spectral_gap == pytest.approx(2 / (1 + m), abs=1e-9)


@given(K=st.integers(3, 40))
def test_star_and_complete_gap(K):
    assert T.star(K).spectral_gap == pytest.approx(1 / K, abs=1e-12)
    assert T.complete(K).spectral_gap == pytest.approx(1.0, abs=1e-12)


@given(K=pow2)
def test_one_peer_exponential_period_is_exact_average(K):
    top = T.one_peer_exponential(K)
    P = torch.eye(K, dtype=torch.float64)
    for t in range(top.period):
        P = top.W(t) @ P
    assert torch.allclose(P, torch.full((K, K), 1 / K, dtype=torch.float64), atol=1e-14)
    assert top.rho == pytest.approx(0.0, abs=1e-7)


def test_one_peer_not_exact_when_not_power_of_two():
    assert T.one_peer_exponential(6).rho > 1e-3


@given(K=st.integers(2, 12), seed=st.integers(0, 10 ** 6))
def test_mix_matches_explicit_sum(K, seed):
    g = torch.Generator().manual_seed(seed)
    top = T.erdos_renyi(K, 0.6, seed=seed)
    x = torch.randn(3, K, 2, generator=g, dtype=torch.float64)
    W = top.W(0).numpy()
    want = np.einsum("ij,rjd->rid", W, x.numpy())
    assert np.allclose(top.mix(x).numpy(), want, atol=1e-14)


def test_symmetric_rho_equals_norm():
    top = T.grid(12, cols=4)
    assert top.symmetric
    J = np.full((12, 12), 1 / 12)
    assert top.rho == pytest.approx(np.linalg.norm(top.W(0).numpy() - J, 2), abs=1e-12)


@pytest.mark.parametrize("W, words", [
    (np.ones((2, 3)) / 3, "square"),
    (np.array([[1.5, -0.5], [0.5, 0.5]]), "negative entry W[0,1]"),
    (np.array([[0.5, 0.4], [0.5, 0.5]]), "row 0 sums to 0.9"),
    (np.eye(3), "not (strongly) connected"),
    (np.array([[0.5, np.nan], [0.5, 0.5]]), "non-finite"),
])
def test_invalid_matrices_refused_with_property(W, words):
    with pytest.raises(ValueError, match=words.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[").replace("]", r"\]")):
        T.custom(W)


def test_not_doubly_stochastic_named_with_column():
    W = np.array([[0.5, 0.5, 0.0], [0.25, 0.5, 0.25], [0.0, 0.5, 0.5]])
    top = T.custom(W)
    assert not top.doubly_stochastic
    with pytest.raises(ValueError, match="gradient tracking needs a doubly stochastic.*column 0 summing to 0.75"):
        T.require_doubly(top, "gradient tracking")
    # Perron vector of a row-stochastic, non-doubly-stochastic W: pi^T W = pi^T
    pi = top.perron.numpy()
    assert np.allclose(pi @ W, pi, atol=1e-12) and pi.sum() == pytest.approx(1)


def test_bad_arguments():
    with pytest.raises(ValueError, match="K"):
        T.ring(0)
    with pytest.raises(ValueError, match="power of two"):
        T.hypercube(6)
    with pytest.raises(ValueError, match="unknown topology 'rng'.*ring"):
        T.get("rng", 4)
    with pytest.raises(ValueError, match="edge probability p"):
        T.erdos_renyi(5, p=0)
