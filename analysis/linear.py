"""Exact moments of any algorithm on a quadratic landscape with additive Gaussian noise.

On f_k(x) = ½(x − b_k)ᵀA_k(x − b_k) with gradient noise ξ_k ~ N(0, S_k) every algorithm of
`dynamics` is an affine stochastic recursion z' = M z + c + N ξ (docs/design.md, "Linearisation").
M, c, N are obtained by differentiating the algorithm's own `step` with torch.func.jacrev —
not from a second hand-written copy — so prediction and simulation share one implementation.
A step calls the oracle possibly several times; all calls within one step see the same noise
ξ_t (the same minibatch), the convention of `landscapes.noise`.

Moments: mean m' = M m + c, covariance P' = M P Mᵀ + N S Nᵀ; stationary values by doubling
(Smith's method), which also handles conserved directions (eigenvalue 1) that noise never
excites (gradient-tracking invariants). Excess risk and the decomposition of docs/theory.md §3:
(1/K) Σ_k E f(w_k) − f* = ER(centroid) + ½ Tr(H E[Ξ]) for a common Hessian H.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.func import jacrev


@dataclass
class Affine:
    """z' = M z + c + N ξ over the flattened floating fields of a state; ξ of size K·d·steps."""
    M: np.ndarray
    c: np.ndarray
    N: np.ndarray
    fields: list  # (name, shape) of the flattened floating fields, in order
    template: object  # a state carrying the non-floating fields

    @property
    def radius(self) -> float:
        return float(np.max(np.abs(np.linalg.eigvals(self.M)))) if self.M.size else 0.0

    def slice(self, name: str) -> slice:
        start = 0
        for n, shape in self.fields:
            size = int(np.prod(shape))
            if n == name:
                return slice(start, start + size)
            start += size
        raise ValueError(f"state has no floating field {name!r}; fields: {[n for n, _ in self.fields]}")


def _as_problem(A, b, K, d):
    A = torch.as_tensor(A, dtype=torch.float64)
    b = torch.as_tensor(b, dtype=torch.float64)
    if A.ndim == 2:
        A = A.expand(K, d, d)
    if b.ndim == 1:
        b = b.expand(K, d)
    if A.shape != (K, d, d) or b.shape != (K, d):
        raise ValueError(f"A must be (d,d) or (K,d,d) and b (d,) or (K,d) with K={K}, d={d}; "
                         f"got A {tuple(A.shape)}, b {tuple(b.shape)}")
    return A, b


def quadratic_oracle(A, b, xi=None):
    """oracle(x, t, rng) for f_k = ½(x−b_k)ᵀA_k(x−b_k) with additive gradient noise xi (K, d)."""
    def oracle(x, t, rng):
        r = x - b
        g = torch.einsum("kij,...kj->...ki", A, r)
        loss = 0.5 * (r * g).sum(-1)
        return loss, (g if xi is None else g + xi)
    return oracle


def _floating(state):
    return [(n, v) for n, v in zip(state._fields, state) if torch.is_tensor(v) and v.is_floating_point()]


def _flatten(state):
    return torch.cat([v.reshape(-1) for _, v in _floating(state)])


def _unflatten(z, template):
    out, i = {}, 0
    for n, v in _floating(template):
        out[n] = z[i:i + v.numel()].reshape(v.shape)
        i += v.numel()
    return template._replace(**out)


def init_state(method, A, b, x0):
    """The algorithm's own init on the noiseless quadratic (the mean initial state)."""
    x0 = torch.as_tensor(x0, dtype=torch.float64)
    K, d = x0.shape[-2:]
    A, b = _as_problem(A, b, K, d)
    return method.init(x0, quadratic_oracle(A, b), torch.Generator().manual_seed(0))


def step_map(method, A, b, state, t: int = 0) -> Affine:
    """The affine map of one step at time t: state fields in, state fields out, noise (K·d)."""
    K, d = state.x.shape[-2:]
    A, b = _as_problem(A, b, K, d)
    rng = torch.Generator().manual_seed(0)

    def F(z, xi):
        st = _unflatten(z, state)
        return _flatten(method.step(st, quadratic_oracle(A, b, xi.reshape(K, d)), t, rng))

    z0 = torch.zeros_like(_flatten(state))
    xi0 = torch.zeros(K * d, dtype=torch.float64)
    M = jacrev(F, 0)(z0, xi0).detach().numpy()
    N = jacrev(F, 1)(z0, xi0).detach().numpy()
    c = F(z0, xi0).detach().numpy()
    new = method.step(state, quadratic_oracle(A, b), t, rng)  # carries the next integer fields
    return Affine(M, c, N, [(n, tuple(v.shape)) for n, v in _floating(state)], new)


def period_map(method, A, b, state, t0: int = 0, steps: int = 1) -> Affine:
    """Composition of `steps` one-step maps from t0 (time-varying graphs, round-robin, period τ).
    Noise of the steps is stacked: ξ = (ξ_t0, ..., ξ_{t0+steps−1})."""
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    maps = []
    st = state
    for t in range(t0, t0 + steps):
        m = step_map(method, A, b, st, t)
        maps.append(m)
        st = m.template
    M = np.eye(maps[0].M.shape[0])
    c = np.zeros(M.shape[0])
    Ns = []
    for m in maps:
        Ns = [m.M @ N for N in Ns] + [m.N]
        c = m.M @ c + m.c
        M = m.M @ M
    return Affine(M, c, np.concatenate(Ns, axis=1), maps[0].fields, st)


def noise_blocks(S, K: int, d: int, steps: int = 1) -> np.ndarray:
    """Block-diagonal noise covariance: S scalar (σ² I), (d,d) shared, or (K,d,d) per worker."""
    S = np.asarray(S, dtype=np.float64)
    if S.ndim == 0:
        blk = np.eye(K * d) * float(S)
    elif S.shape == (d, d):
        blk = np.kron(np.eye(K), S)
    elif S.shape == (K, d, d):
        blk = np.zeros((K * d, K * d))
        for k in range(K):
            blk[k * d:(k + 1) * d, k * d:(k + 1) * d] = S[k]
    else:
        raise ValueError(f"noise covariance S must be a scalar, (d,d)=({d},{d}) or (K,d,d); got {S.shape}")
    if np.any(np.linalg.eigvalsh((blk + blk.T) / 2) < -1e-12):
        raise ValueError("noise covariance S must be positive semi-definite")
    return np.kron(np.eye(steps), blk)


def propagate(aff: Affine, S, mean0: np.ndarray, cov0: np.ndarray | None = None, n: int = 1):
    """Exact mean and covariance after n applications of the map."""
    Q = aff.N @ S @ aff.N.T
    m = np.asarray(mean0, dtype=np.float64)
    P = np.zeros((len(m), len(m))) if cov0 is None else np.asarray(cov0, dtype=np.float64)
    for _ in range(n):
        m = aff.M @ m + aff.c
        P = aff.M @ P @ aff.M.T + Q
    return m, P


def stationary(aff: Affine, S, mean0: np.ndarray, tol: float = 1e-13, max_doublings: int = 64):
    """Stationary mean and covariance by doubling: after 2^k steps the affine map is (M^(2^k), c_k)
    and the covariance sum Σ_{j<2^k} M^j Q M^jᵀ. Raises if it does not settle (unstable map)."""
    Q = aff.N @ S @ aff.N.T
    A, c, P = aff.M.copy(), aff.c.copy(), Q.copy()
    m = np.asarray(mean0, dtype=np.float64)
    for _ in range(max_doublings):
        m_next = A @ m + c
        c = A @ c + c
        P_next = P + A @ P @ A.T
        A = A @ A
        scale = max(1.0, np.abs(P_next).max())
        if not np.all(np.isfinite(P_next)) or np.abs(A).max() > 1e12:
            raise ValueError(f"map is unstable (spectral radius {aff.radius:.6g}): no stationary moments")
        if np.abs(P_next - P).max() <= tol * scale and np.abs(m_next - m).max() <= tol * max(1.0, np.abs(m).max()):
            return m_next, P_next
        m, P = m_next, P_next
    raise ValueError(f"stationary moments did not converge (spectral radius {aff.radius:.6g})")


def x_moments(aff: Affine, mean: np.ndarray, cov: np.ndarray, K: int, d: int):
    """Per-worker iterate mean (K, d) and covariance (K·d, K·d) out of the state moments."""
    s = aff.slice("x")
    return mean[s].reshape(K, d), cov[s, s]


def consensus_cov(xmean: np.ndarray, xcov: np.ndarray, K: int, d: int) -> np.ndarray:
    """E[Ξ] with Ξ = (1/K) Σ_k (x_k − x̄)(x_k − x̄)ᵀ: projection (I − 11ᵀ/K) ⊗ I_d."""
    Pi = np.kron(np.eye(K) - np.full((K, K), 1.0 / K), np.eye(d))
    C = Pi @ xcov @ Pi.T
    dm = (Pi @ xmean.reshape(-1)).reshape(K, d)
    return sum(C[k * d:(k + 1) * d, k * d:(k + 1) * d] for k in range(K)) / K + dm.T @ dm / K


def centroid_moments(xmean: np.ndarray, xcov: np.ndarray, K: int, d: int, weights=None):
    """Mean and covariance of the centroid Σ_k p_k x_k (p uniform by default)."""
    p = np.full(K, 1.0 / K) if weights is None else np.asarray(weights, dtype=np.float64)
    E = np.kron(p[None, :], np.eye(d))
    return E @ xmean.reshape(-1), E @ xcov @ E.T


def quadratic_excess(H: np.ndarray, x_star: np.ndarray, mean: np.ndarray, cov: np.ndarray) -> float:
    """E f(w) − f* = ½Tr(H P) + ½(m − x*)ᵀH(m − x*) for f = ½(w − x*)ᵀH(w − x*)."""
    e = mean - x_star
    return 0.5 * float(np.trace(H @ cov)) + 0.5 * float(e @ H @ e)


def excess_risk_decomposition(H, x_star, xmean, xcov, K, d):
    """(network, centroid, ½Tr(H E[Ξ])) with network = (1/K) Σ_k E f(x_k) − f* (common H).
    Identity: network = centroid + ½Tr(H E[Ξ]) (docs/theory.md §3)."""
    H = np.asarray(H, dtype=np.float64)
    net = np.mean([quadratic_excess(H, x_star, xmean[k], xcov[k * d:(k + 1) * d, k * d:(k + 1) * d])
                   for k in range(K)])
    cm, cc = centroid_moments(xmean, xcov, K, d)
    cen = quadratic_excess(H, x_star, cm, cc)
    return float(net), float(cen), 0.5 * float(np.trace(H @ consensus_cov(xmean, xcov, K, d)))


def stationary_x(method, A, b, x0, S, period: int = 1):
    """Convenience: stationary per-worker mean (K,d) and covariance (K·d,K·d) from init at x0."""
    x0 = torch.as_tensor(x0, dtype=torch.float64)
    K, d = x0.shape[-2:]
    st = init_state(method, A, b, x0)
    aff = period_map(method, A, b, st, 0, period)
    m, P = stationary(aff, noise_blocks(S, K, d, period), _flatten(st).numpy())
    return x_moments(aff, m, P, K, d)
