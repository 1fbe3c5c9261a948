"""Mixing matrices (topologies) with validation and spectral data.

Convention (everywhere in decentlab): x_i <- sum_j W_ij x_j, i.e. `x <- W @ x` on a worker
stack (..., K, d). Row i holds the weights worker i gives its neighbours, so every W must be
row-stochastic; doubly stochastic is required by averaging algorithms (D-SGD, GT, ...).
Codes that store W with rows as senders (BlueFog) use the transpose.

Spectral quantities (docs/theory.md §0, §8): for one matrix, `eigvals` are sorted by decreasing
real part, `rho` = max_{j>=2} |lambda_j| (= ||W - 11^T/K||_2 for symmetric W), `lambda2` the
second largest real eigenvalue, `spectral_gap` = 1 - rho. A time-varying topology (a period
of matrices W(0), ..., W(P-1)) reports those of the period product's P-th root:
rho = ||W(P-1)...W(0) - 11^T/K||_2^(1/P).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import torch

from landscapes.registry import Registry

_TOL = 1e-10


@dataclass(frozen=True, eq=False)
class Topology:
    name: str
    matrices: tuple = field(repr=False)

    @property
    def K(self) -> int:
        return int(self.matrices[0].shape[0])

    @property
    def period(self) -> int:
        return len(self.matrices)

    def W(self, t: int = 0) -> torch.Tensor:
        return self.matrices[int(t) % self.period]

    @cached_property
    def _cast(self) -> dict:
        return {}

    def mix(self, x: torch.Tensor, t: int = 0) -> torch.Tensor:
        """x_i <- sum_j W(t)_ij x_j on a stack (..., K, d).

        Bit-exact per row whatever the leading (replica) axes: row i is summed in a fixed order
        over the diagonals of W (`mix_rows`), with elementwise kernels only, so a replica's path
        does not depend on how many replicas are stepped with it (a GEMM's blocking does)."""
        key = (int(t) % self.period, x.dtype, x.device)
        plan = self._cast.get(key)
        if plan is None:
            plan = self._cast[key] = row_plan(self.W(t), dtype=x.dtype, device=x.device)
        return mix_rows(plan, x)

    @cached_property
    def symmetric(self) -> bool:
        return all(bool(torch.allclose(W, W.T, atol=_TOL, rtol=0)) for W in self.matrices)

    @cached_property
    def doubly_stochastic(self) -> bool:
        return all(bool(torch.allclose(W.sum(0), torch.ones_like(W[0]), atol=1e-9, rtol=0))
                   for W in self.matrices)

    @cached_property
    def _product(self) -> np.ndarray:
        P = np.eye(self.K)
        for W in self.matrices:
            P = W.numpy() @ P
        return P

    @cached_property
    def eigvals(self) -> np.ndarray:
        """Eigenvalues of W (static) or of the period product (time-varying), by decreasing real part."""
        A = self.matrices[0].numpy() if self.period == 1 else self._product
        ev = np.linalg.eigvalsh(A) if self.period == 1 and self.symmetric else np.linalg.eigvals(A)
        ev = ev[np.argsort(-np.real(ev), kind="stable")]
        return np.real_if_close(ev, tol=1e6)

    @cached_property
    def rho(self) -> float:
        if self.K == 1:
            return 0.0
        if self.period == 1:
            return float(np.max(np.abs(self.eigvals[1:])))
        J = np.full((self.K, self.K), 1.0 / self.K)
        return float(np.linalg.norm(self._product - J, 2) ** (1.0 / self.period))

    @property
    def spectral_gap(self) -> float:
        return 1.0 - self.rho

    @cached_property
    def lambda2(self) -> float:
        return float(np.real(self.eigvals[1])) if self.K > 1 else 0.0

    @cached_property
    def perron(self) -> torch.Tensor:
        """Left Perron vector pi: pi^T W = pi^T, sum(pi) = 1 (uniform when W is doubly stochastic)."""
        A = self.matrices[0].numpy() if self.period == 1 else self._product
        w, V = np.linalg.eig(A.T)
        v = np.real(V[:, np.argmin(np.abs(w - 1.0))])
        return torch.tensor(v / v.sum(), dtype=torch.float64)

    def neighbours(self, i: int, t: int = 0) -> list[int]:
        """Workers j != i with W_ij > 0: the ones worker i receives from."""
        row = self.W(t)[i]
        return [j for j in range(self.K) if j != i and float(row[j]) > 0]

    def degree(self, i: int, t: int = 0) -> int:
        return len(self.neighbours(i, t))

    def edges_per_step(self) -> float:
        """Directed messages per step, averaged over the period (off-diagonal nonzeros)."""
        return sum(int((W > 0).sum()) - int((torch.diagonal(W) > 0).sum()) for W in self.matrices) / self.period


def row_plan(W: torch.Tensor, rows=None, dtype=torch.float64, device="cpu") -> list:
    """The fixed summation plan of W @ x for the rows `rows` (default all): one term per
    diagonal o of W that has a nonzero entry anywhere (j = (i + o) mod K), in increasing o,
    as (coefficients (len(rows), 1), offset o, source indices (len(rows),) or None for all rows).
    A function of the whole W only, so every process (dynamics/distributed.py) and every
    replica count sums each row in the same order."""
    W = torch.as_tensor(W, dtype=torch.float64)
    K = W.shape[0]
    i = torch.arange(K)
    r = i if rows is None else torch.as_tensor(list(rows), dtype=torch.int64)
    plan = []
    for o in range(K):
        if bool((W[i, (i + o) % K] != 0).any()):
            src = (r + o) % K
            idx = None if rows is None else src.to(device)
            plan.append((W[r, src].to(dtype=dtype, device=device).unsqueeze(-1), o, idx))
    return plan


def mix_rows(plan: list, x: torch.Tensor) -> torch.Tensor:
    """sum over the plan's terms of coefficient * x[..., source, :], left to right (out of
    place, elementwise: bit-identical for any leading shape and differentiable). All rows: the
    sources of diagonal o are x rolled by -o on the worker axis."""
    out = None
    for c, o, idx in plan:
        src = x.index_select(-2, idx) if idx is not None else (x.roll(-o, -2) if o else x)
        if out is None:
            out = src * c              # a fresh tensor: accumulating into it in place is safe
        else:
            out.add_(src * c)
    return out


def _validate(mats: list[np.ndarray], name: str) -> tuple:
    if not mats:
        raise ValueError(f"topology {name!r}: no mixing matrix given")
    out = []
    K = None
    for n, A in enumerate(mats):
        A = np.asarray(A, dtype=np.float64)
        tag = f"topology {name!r}" + (f", matrix {n}" if len(mats) > 1 else "")
        if A.ndim != 2 or A.shape[0] != A.shape[1]:
            raise ValueError(f"{tag}: mixing matrix must be square (K, K), got shape {A.shape}")
        if K is not None and A.shape[0] != K:
            raise ValueError(f"{tag}: all matrices of a period must have the same size {K}, got {A.shape[0]}")
        K = A.shape[0]
        if not np.all(np.isfinite(A)):
            raise ValueError(f"{tag}: mixing matrix has non-finite entries")
        neg = np.argwhere(A < -_TOL)
        if len(neg):
            i, j = neg[0]
            raise ValueError(f"{tag}: mixing matrix has a negative entry W[{i},{j}] = {A[i, j]:.6g} (must be >= 0)")
        rows = A.sum(1)
        bad = np.flatnonzero(np.abs(rows - 1) > 1e-9)
        if len(bad):
            raise ValueError(f"{tag}: not row-stochastic: row {bad[0]} sums to {rows[bad[0]]:.12g} "
                             "(x_i <- sum_j W_ij x_j needs every row to sum to 1)")
        out.append(np.clip(A, 0, None))
    union = sum((A > 0).astype(int) for A in out) > 0
    reach = _reachable(union, 0)
    back = _reachable(union.T, 0)
    if not (reach.all() and back.all()):
        missing = int(np.flatnonzero(~(reach & back))[0])
        raise ValueError(f"topology {name!r}: graph is not (strongly) connected: worker {missing} "
                         "cannot exchange information with worker 0")
    return tuple(torch.tensor(A, dtype=torch.float64) for A in out)


def _reachable(adj: np.ndarray, s: int) -> np.ndarray:
    seen = np.zeros(len(adj), bool)
    seen[s] = True
    stack = [s]
    while stack:
        i = stack.pop()
        for j in np.flatnonzero(adj[i]):
            if not seen[j]:
                seen[j] = True
                stack.append(j)
    return seen


def _check_K(K, minimum=1, name="K"):
    # bools are ints in Python, not numbers of workers here: ring(True) is refused, not K = 1
    if isinstance(K, (bool, np.bool_)) or not isinstance(K, (int, np.integer)) or K < minimum:
        raise ValueError(f"{name} (number of workers) must be an integer >= {minimum}, got {K!r}")
    return int(K)


def _pow2(K, who):
    if K < 1 or K & (K - 1):
        raise ValueError(f"{who} needs K a power of two, got K = {K}")
    return int(math.log2(K))


def custom(W, name: str = "custom", require_doubly_stochastic: bool = False) -> Topology:
    """Validate a user matrix (or a list: a periodic sequence W(0), W(1), ...)."""
    if isinstance(W, (list, tuple)) and len(W) and np.asarray(W[0]).ndim == 2:
        mats = [np.asarray(torch.as_tensor(w).cpu().numpy() if torch.is_tensor(w) else w) for w in W]
    else:
        mats = [np.asarray(W.cpu().numpy() if torch.is_tensor(W) else W)]
    top = Topology(name, _validate(mats, name))
    if require_doubly_stochastic:
        require_doubly(top, "custom topology")  # the module function (the argument shadows its name)
    return top


def require_doubly_stochastic(top: Topology, who: str) -> Topology:
    """Raise naming the algorithm and the column when an algorithm needs a doubly stochastic W."""
    for n, W in enumerate(top.matrices):
        cols = W.sum(0)
        bad = torch.nonzero((cols - 1).abs() > 1e-9).flatten()
        if len(bad):
            j = int(bad[0])
            raise ValueError(f"{who} needs a doubly stochastic mixing matrix; topology {top.name!r}"
                             f" (matrix {n}) has column {j} summing to {float(cols[j]):.12g}")
    return top


require_doubly = require_doubly_stochastic  # the older name, kept for existing callers


def _circulant(K, offsets, weight):
    A = np.zeros((K, K))
    for i in range(K):
        for o in offsets:
            A[i, (i + o) % K] += weight
    return A


def _metropolis(adj: np.ndarray) -> np.ndarray:
    """Metropolis–Hastings weights W_ij = 1/(1 + max(d_i, d_j)) on edges, rest on the diagonal."""
    adj = (adj > 0) & ~np.eye(len(adj), dtype=bool)
    d = adj.sum(1)
    A = np.zeros(adj.shape)
    for i, j in zip(*np.nonzero(adj)):
        A[i, j] = 1.0 / (1 + max(d[i], d[j]))
    A[np.diag_indices_from(A)] = 1 - A.sum(1)
    return A


def ring(K: int) -> Topology:
    """Ring, weight 1/3 on self and both neighbours (K=2: 1/2; K=1: trivial). Gap (4/3)sin^2(pi/K)."""
    K = _check_K(K)
    if K <= 2:
        return complete(K, name="ring")
    return Topology("ring", _validate([_circulant(K, {0, 1, K - 1}, 1 / 3)], "ring"))


def complete(K: int, name: str = "complete") -> Topology:
    """Exact averaging 11^T/K. Gap 1."""
    K = _check_K(K)
    return Topology(name, _validate([np.full((K, K), 1.0 / K)], name))


def star(K: int) -> Topology:
    """Star with worker 0 at the centre, Metropolis–Hastings weights. Gap 1/K."""
    K = _check_K(K, 2)
    adj = np.zeros((K, K), bool)
    adj[0, 1:] = adj[1:, 0] = True
    return Topology("star", _validate([_metropolis(adj)], "star"))


def torus(K: int, cols: int | None = None) -> Topology:
    """Periodic r x c grid, weight 1/5 on self and four neighbours (K = r*c; square if cols is None).
    Gap (4/5)sin^2(pi/sqrt(K)) for a square torus with side >= 4."""
    K = _check_K(K)
    r, c = _grid_shape(K, cols, "torus")
    if r < 3 or c < 3:
        raise ValueError(f"torus needs both sides >= 3 (got {r} x {c}); use grid() for smaller ones")
    A = np.zeros((K, K))
    for a in range(r):
        for b in range(c):
            i = a * c + b
            for da, db in ((0, 0), (1, 0), (-1, 0), (0, 1), (0, -1)):
                A[i, ((a + da) % r) * c + (b + db) % c] += 0.2
    return Topology("torus", _validate([A], "torus"))


def _grid_shape(K, cols, who):
    if cols is None:
        s = int(round(math.sqrt(K)))
        if s * s != K:
            raise ValueError(f"{who} with one argument needs K a perfect square, got K = {K}; pass cols")
        return s, s
    cols = _check_K(cols, 1, "cols")
    if K % cols:
        raise ValueError(f"{who}: K = {K} is not divisible by cols = {cols}")
    return K // cols, cols


def grid(K: int, cols: int | None = None) -> Topology:
    """Non-periodic r x c grid with Metropolis–Hastings weights."""
    K = _check_K(K)
    r, c = _grid_shape(K, cols, "grid")
    adj = np.zeros((K, K), bool)
    for a in range(r):
        for b in range(c):
            i = a * c + b
            if a + 1 < r:
                adj[i, i + c] = adj[i + c, i] = True
            if b + 1 < c:
                adj[i, i + 1] = adj[i + 1, i] = True
    return Topology("grid", _validate([_metropolis(adj) if K > 1 else np.ones((1, 1))], "grid"))


def hypercube(K: int) -> Topology:
    """Hypercube on K = 2^m workers, weight 1/(1+m) on self and each of m neighbours. Gap 2/(1+m)."""
    K = _check_K(K)
    m = _pow2(K, "hypercube")
    A = np.zeros((K, K))
    for i in range(K):
        A[i, i] = 1 / (1 + m)
        for k in range(m):
            A[i, i ^ (1 << k)] = 1 / (1 + m)
    return Topology("hypercube", _validate([A], "hypercube"))


def exponential(K: int) -> Topology:
    """Directed static exponential graph: weight 1/(m+1), m = ceil(log2 K), on i and i + 2^k
    (k < m). Doubly stochastic (circulant). Gap 2/(1+m) for even K."""
    K = _check_K(K)
    if K == 1:
        return complete(1, "exponential")
    m = math.ceil(math.log2(K))
    offs = [0] + [2 ** k for k in range(m)]
    A = np.zeros((K, K))
    for i in range(K):
        for o in offs:
            A[i, (i + o) % K] += 1 / (m + 1)
    return Topology("exponential", _validate([A], "exponential"))


def exponential_undirected(K: int) -> Topology:
    """Undirected exponential graph: i <-> i +- 2^k, uniform weights 1/(1 + #neighbours).
    For K = 2^m that is 1/(2m) and gap 2/m (docs/theory.md §8)."""
    K = _check_K(K)
    if K <= 2:
        return complete(K, "exponential_undirected")
    offs = set()
    k = 0
    while 2 ** k < K:
        offs |= {2 ** k % K, (-(2 ** k)) % K}
        k += 1
    offs.discard(0)
    w = 1 / (1 + len(offs))
    return Topology("exponential_undirected",
                    _validate([_circulant(K, offs | {0}, w)], "exponential_undirected"))


def one_peer_exponential(K: int) -> Topology:
    """Time-varying one-peer exponential graph: W(t) = (I + P_{2^(t mod m)})/2, P_s the shift
    x_i <- x_{i+s}; for K = 2^m the product over one period is exactly 11^T/K."""
    K = _check_K(K, 2)
    m = math.ceil(math.log2(K))
    mats = [_circulant(K, [0], 0.5) + _circulant(K, [2 ** k], 0.5) for k in range(m)]
    return Topology("one_peer_exponential", _validate(mats, "one_peer_exponential"))


def erdos_renyi(K: int, p: float = 0.3, seed: int = 0, tries: int = 1000) -> Topology:
    """G(K, p) with Metropolis–Hastings weights, redrawn (seeded) until connected."""
    K = _check_K(K)
    if isinstance(p, bool) or not isinstance(p, (int, float, np.floating)) or not (0 < p <= 1):
        raise ValueError(f"erdos_renyi edge probability p must be a number in (0, 1], got {p!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"erdos_renyi seed must be an integer >= 0, got {seed!r}")
    rs = np.random.default_rng(seed)
    for _ in range(tries):
        up = np.triu(rs.random((K, K)) < p, 1)
        adj = up | up.T
        if K == 1 or _reachable(adj, 0).all():
            return Topology("erdos_renyi", _validate([_metropolis(adj)], "erdos_renyi"))
    raise ValueError(f"erdos_renyi: no connected graph in {tries} draws at K={K}, p={p}; raise p")


TOPOLOGIES = Registry("topology", positional=1, also="(or custom(W))")  # name -> builder(K, **kw)
for _name, _fn in (("ring", ring), ("torus", torus), ("grid", grid), ("hypercube", hypercube),
                   ("exponential", exponential), ("exponential_undirected", exponential_undirected),
                   ("one_peer_exponential", one_peer_exponential), ("star", star),
                   ("complete", complete), ("erdos_renyi", erdos_renyi)):
    TOPOLOGIES.register(_name, _fn)


def names() -> list[str]:
    return TOPOLOGIES.names() + ["custom"]


def get(name: str, K: int, **kw) -> Topology:
    """Build a named topology; unknown name or parameter -> ValueError listing the valid ones."""
    return TOPOLOGIES.build(name, K, **kw)
