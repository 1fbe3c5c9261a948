"""Hypothesis strategies for mixing matrices and topologies (needs `hypothesis`, a dev dependency).

Every strategy states what it guarantees, so a property test draws only inside a theorem's
assumptions (docs/theory.md §0, §8):

- `mixing_matrices(K, symmetric=..., min_gap=g)`: doubly stochastic (K, K) numpy arrays whose
  support graph is strongly connected and whose spectral gap 1 − ρ, ρ = max_{j≥2} |λ_j(W)|, is at
  least g. Built as a convex combination of permutation matrices (Birkhoff), one of them a
  K-cycle (connectivity), symmetrised when asked; if the gap falls short, W is blended with the
  exact average J = 11ᵀ/K: W' = cJ + (1 − c)W. Because JW = WJ = J, every eigenvector v ⊥ 1 of W
  is one of W' with eigenvalue (1 − c)λ, so ρ(W') = (1 − c)ρ(W) exactly and c is chosen to reach
  the bound.
- `mixing_sequences(K, period, ...)`: a period of doubly stochastic matrices W(0..P−1), each
  (I + Π_t)/2 for a permutation Π_t (so a single W(t) may be disconnected, as in the one-peer
  exponential graph), whose union is strongly connected, with the period product's gap
  1 − ‖W(P−1)…W(0) − J‖₂^(1/P) ≥ g (the `Topology.rho` of a time-varying graph; the last matrix
  is blended with J as above: the product becomes cJ + (1 − c)·product).
- `topologies(families, min_K, max_K)`: a named family of `dynamics.topology` at a random K that
  the family accepts (torus: r × c with r, c ≥ 3; hypercube: powers of two; ...).
- `custom_topologies(...)`: `mixing_matrices` / `mixing_sequences` wrapped by
  `dynamics.topology.custom` (validated: row-stochastic, connected).
"""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from . import topology as T

__all__ = ["FAMILIES", "custom_topologies", "mixing_matrices", "mixing_sequences", "spectral_gap",
           "topologies"]

FAMILIES = tuple(n for n in T.names() if n != "custom")


def spectral_gap(W) -> float:
    """1 − max_{j≥2} |λ_j| of one matrix (numpy), the gap of docs/theory.md §8."""
    W = np.asarray(W, dtype=np.float64)
    if W.shape[0] == 1:
        return 1.0
    ev = np.linalg.eigvals(W)
    ev = ev[np.argsort(-np.real(ev), kind="stable")]
    return float(1.0 - np.max(np.abs(ev[1:])))


def _period_rho(mats) -> float:
    K = mats[0].shape[0]
    P = np.eye(K)
    for W in mats:
        P = W @ P
    return float(np.linalg.norm(P - np.full((K, K), 1.0 / K), 2) ** (1.0 / len(mats)))


def _check(K, min_gap):
    if isinstance(K, bool) or not isinstance(K, (int, np.integer)) or K < 1:
        raise ValueError(f"K (number of workers) must be an integer >= 1, got {K!r}")
    if not (isinstance(min_gap, (int, float)) and 0 <= min_gap <= 1):
        raise ValueError(f"min_gap must lie in [0, 1], got {min_gap!r}")


def _perm_matrix(p) -> np.ndarray:
    K = len(p)
    A = np.zeros((K, K))
    A[np.arange(K), list(p)] = 1.0
    return A


def _cycle(order) -> list[int]:
    """The K-cycle visiting workers in `order`: i -> next(i)."""
    K = len(order)
    nxt = [0] * K
    for a in range(K):
        nxt[order[a]] = order[(a + 1) % K]
    return nxt


def _blend_to_gap(W: np.ndarray, rho: float, target_rho: float) -> np.ndarray:
    if rho <= target_rho or rho == 0:
        return W
    c = 1.0 - target_rho / rho
    K = W.shape[0]
    return c * np.full((K, K), 1.0 / K) + (1.0 - c) * W


@st.composite
def mixing_matrices(draw, K: int | None = None, *, symmetric: bool | None = True, min_gap: float = 0.05,
                    min_K: int = 2, max_K: int = 8, n_perms: int = 3) -> np.ndarray:
    """A doubly stochastic, strongly connected (K, K) matrix with spectral gap >= min_gap.

    K: fixed, or drawn in [min_K, max_K]. symmetric: True (W = Wᵀ), False (generically not
    symmetric: a K-cycle appears with more weight than its reverse), None (either).
    n_perms: at most this many random permutations besides the identity and the K-cycle.
    """
    if K is None:
        K = draw(st.integers(min_K, max_K))
    _check(K, min_gap)
    if K == 1:
        return np.ones((1, 1))
    sym = draw(st.booleans()) if symmetric is None else bool(symmetric)
    order = draw(st.permutations(range(K)))
    perms = [list(range(K)), _cycle(order)]
    for _ in range(draw(st.integers(0, n_perms))):
        perms.append(list(draw(st.permutations(range(K)))))
    w = np.array([draw(st.floats(0.05, 1.0)) for _ in perms])
    if not sym:
        w[1] += 1.0  # the cycle outweighs everything else: W is not symmetric for K >= 3
    w = w / w.sum()
    W = sum(wi * _perm_matrix(p) for wi, p in zip(w, perms))
    if sym:
        W = 0.5 * (W + W.T)
    W = _blend_to_gap(W, 1.0 - spectral_gap(W), 1.0 - min_gap)
    return W


@st.composite
def mixing_sequences(draw, K: int | None = None, period: int | None = None, *, min_gap: float = 0.05,
                     min_K: int = 2, max_K: int = 8, max_period: int = 4) -> list[np.ndarray]:
    """A period [W(0), ..., W(P−1)] of doubly stochastic matrices W(t) = (I + Π_t)/2 (Π_t a
    permutation; one W(t) alone may be disconnected), union strongly connected (one Π_t, at a
    random position of the period, is a K-cycle), period-product gap
    1 − ‖W(P−1)…W(0) − J‖₂^(1/P) >= min_gap."""
    if K is None:
        K = draw(st.integers(min_K, max_K))
    if period is None:
        period = draw(st.integers(1, max_period))
    _check(K, min_gap)
    if isinstance(period, bool) or not isinstance(period, int) or period < 1:
        raise ValueError(f"period must be an integer >= 1, got {period!r}")
    eye = np.eye(K)
    mats = [0.5 * (eye + _perm_matrix(draw(st.permutations(range(K))))) for _ in range(period)]
    at = draw(st.integers(0, period - 1))
    mats[at] = 0.5 * (eye + _perm_matrix(_cycle(list(draw(st.permutations(range(K)))))))
    rho = _period_rho(mats)
    target = (1.0 - min_gap) ** period
    if rho ** period > target and K > 1:
        # product' − J = (1 − c)(product − J) when the last matrix is cJ + (1 − c)W
        c = 1.0 - target / rho ** period
        mats[-1] = c * np.full((K, K), 1.0 / K) + (1.0 - c) * mats[-1]
    return mats


def _valid_K(name: str, K: int) -> bool:
    if name == "torus":
        return any(K % c == 0 and c >= 3 and K // c >= 3 for c in range(3, K + 1))
    if name == "hypercube":
        return K >= 1 and K & (K - 1) == 0
    if name in ("star", "one_peer_exponential"):
        return K >= 2
    return K >= 1


@st.composite
def topologies(draw, families=None, *, min_K: int = 2, max_K: int = 16,
               doubly_stochastic: bool | None = None) -> T.Topology:
    """A `dynamics.topology` family (from `families`, default all of FAMILIES) at a K in
    [min_K, max_K] that the family accepts. doubly_stochastic=True keeps only families whose W
    is doubly stochastic (all built-ins are; the filter is for user families)."""
    fams = tuple(FAMILIES if families is None else families)
    bad = [f for f in fams if f not in FAMILIES]
    if bad:
        raise ValueError(f"families: unknown topology {bad[0]!r}; choose from {', '.join(FAMILIES)}")
    if not isinstance(min_K, int) or not isinstance(max_K, int) or not 1 <= min_K <= max_K:
        raise ValueError(f"min_K, max_K must be integers with 1 <= min_K <= max_K, got {min_K}, {max_K}")
    ok = [(f, K) for f in fams for K in range(min_K, max_K + 1) if _valid_K(f, K)]
    if not ok:
        raise ValueError(f"families {fams} admit no K in [{min_K}, {max_K}]")
    name, K = draw(st.sampled_from(ok))
    if name == "torus":
        cols = draw(st.sampled_from([c for c in range(3, K + 1) if K % c == 0 and K // c >= 3]))
        top = T.torus(K, cols)
    elif name == "grid":
        cols = draw(st.sampled_from([c for c in range(1, K + 1) if K % c == 0]))
        top = T.grid(K, cols)
    elif name == "erdos_renyi":
        top = T.erdos_renyi(K, p=draw(st.floats(0.3, 1.0)), seed=draw(st.integers(0, 2 ** 16)))
    else:
        top = T.get(name, K)
    if doubly_stochastic is not None and top.doubly_stochastic != doubly_stochastic:
        from hypothesis import assume
        assume(False)
    return top


@st.composite
def custom_topologies(draw, K: int | None = None, *, time_varying: bool | None = False,
                      symmetric: bool | None = True, min_gap: float = 0.05, min_K: int = 2,
                      max_K: int = 8) -> T.Topology:
    """`dynamics.topology.custom` of a drawn matrix (time_varying=False), period (True) or
    either (None); guarantees as in `mixing_matrices` / `mixing_sequences`."""
    tv = draw(st.booleans()) if time_varying is None else bool(time_varying)
    if tv:
        mats = draw(mixing_sequences(K, min_gap=min_gap, min_K=min_K, max_K=max_K))
        return T.custom(mats, name="random_sequence")
    W = draw(mixing_matrices(K, symmetric=symmetric, min_gap=min_gap, min_K=min_K, max_K=max_K))
    return T.custom(W, name="random_symmetric" if np.allclose(W, W.T) else "random_directed")
