"""Topologies: stochasticity, closed-form spectral gaps (docs/theory.md §8), validation messages."""
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


# ----------------------------------------------------------------------------- rho = max_{j>=2} |lambda_j|
def _rho_numpy(W):
    """Independent ρ: numpy eigenvalues, drop the one closest to 1 (the Perron eigenvalue),
    largest modulus of the rest."""
    ev = np.linalg.eigvals(np.asarray(W, float))
    i = int(np.argmin(np.abs(ev - 1.0)))
    return float(np.max(np.abs(np.delete(ev, i))))


def _lazy_ring(K, w):
    W = np.zeros((K, K))
    for i in range(K):
        W[i, i] = w
        W[i, (i + 1) % K] += (1 - w) / 2
        W[i, (i - 1) % K] += (1 - w) / 2
    return W


def test_rho_dominated_by_negative_eigenvalue():
    # lazy ring K = 8, self weight 0.1: eigenvalues 0.1 + 0.9 cos(2πj/8); the most negative one,
    # 0.1 − 0.9 = −0.8, dominates λ₂ = 0.1 + 0.9·cos(π/4) ≈ 0.736, so ρ = 0.8 (not |λ₂|)
    W = _lazy_ring(8, 0.1)
    top = T.custom(W)
    ev = np.linalg.eigvalsh(W)
    assert ev.min() == pytest.approx(-0.8, abs=1e-12) and abs(ev.min()) > np.sort(ev)[-2]
    assert top.rho == pytest.approx(0.8, abs=1e-12)
    assert top.rho == pytest.approx(_rho_numpy(W), abs=1e-12)
    assert top.spectral_gap == pytest.approx(0.2, abs=1e-12)
    assert top.lambda2 == pytest.approx(0.1 + 0.9 * math.cos(math.pi / 4), abs=1e-12)
    assert abs(top.rho - abs(top.lambda2)) > 0.05     # ρ read as |λ₂| would be wrong here


@given(K=st.integers(2, 20).map(lambda k: 2 * k), w=st.floats(0.02, 0.3))
def test_lazy_even_ring_rho_closed_form(K, w):
    # even K: eigenvalues w + (1 − w)cos(2πj/K) include 2w − 1 (j = K/2)
    top = T.custom(_lazy_ring(K, w))
    want = max(abs(w + (1 - w) * math.cos(2 * math.pi / K)), abs(2 * w - 1))
    assert top.rho == pytest.approx(want, abs=1e-10)
    assert top.rho == pytest.approx(_rho_numpy(_lazy_ring(K, w)), abs=1e-10)


def test_directed_ring_rho_uses_modulus_of_complex_eigenvalues():
    # non-symmetric doubly stochastic W = ½I + ½P (P the cyclic shift): eigenvalues ½(1 + e^{2πij/K}),
    # moduli |cos(πj/K)|, so ρ = cos(π/K) while the real part of λ₂ is ½(1 + cos(2π/K)) = cos²(π/K)
    K = 7
    W = 0.5 * np.eye(K) + 0.5 * np.roll(np.eye(K), 1, axis=1)
    top = T.custom(W)
    assert not top.symmetric and top.doubly_stochastic
    assert top.rho == pytest.approx(math.cos(math.pi / K), abs=1e-12)
    assert top.lambda2 == pytest.approx(math.cos(math.pi / K) ** 2, abs=1e-12)


@given(K=st.integers(3, 10), n=st.integers(1, 4), seed=st.integers(0, 10 ** 6))
def test_rho_of_random_doubly_stochastic_non_symmetric(K, n, seed):
    # Birkhoff: a convex combination of permutation matrices (one of them the cyclic shift, so the
    # graph is strongly connected) is doubly stochastic and in general not symmetric
    g = np.random.default_rng(seed)
    perms = [np.roll(np.eye(K), 1, axis=1)] + [np.eye(K)[g.permutation(K)] for _ in range(n)]
    wts = g.dirichlet(np.ones(len(perms))) * 0.9 + 0.1 / len(perms)
    W = sum(c * P for c, P in zip(wts, perms))
    top = T.custom(W)
    assert top.doubly_stochastic
    assert top.rho == pytest.approx(_rho_numpy(W), abs=1e-9)
