"""Counter-based random streams: a replica's draws depend only on (seed, replica id, stream, t).

The simulator runs R replicas at once; a shared `torch.Generator` would make replica r's path
depend on R. `Streams` instead hashes (seed, stream, t, replica, index) to uniforms with a
32-bit integer mixer (Wellons' lowbias32 applied in rounds) and maps them to normals with
Box–Muller, all in vectorised torch integer ops.

`normal(source, t, shape, stream)` accepts either a `Streams` (shape excludes the replica
axis; the result is (R, *shape)) or a plain `torch.Generator` (shape is the full shape).
"""
from __future__ import annotations

import math

import torch

_M32 = 0xFFFFFFFF
_C1, _C2 = 0x7FEB352D, 0x846CA68B
_BLOCK = 1 << 18      # hash values per pass (several steps of a small ensemble at once)
_MAX_STEPS = 16


def _mix32_int(x: int) -> int:
    """`_mix32` on a Python int (keys: no tensor dispatch for scalars)."""
    x ^= x >> 16
    x = (x * _C1) & _M32
    x ^= x >> 15
    x = (x * _C2) & _M32
    return x ^ (x >> 16)


def _i32(v: int) -> int:
    """A 32-bit value as the signed int with the same bit pattern."""
    return v - 4294967296 if v >= 2147483648 else v


def _mix32(x: torch.Tensor) -> torch.Tensor:
    """lowbias32 on int64 tensors holding 32-bit values (products wrap; low 32 bits kept)."""
    x = x ^ (x >> 16)
    x = (x * _C1) & _M32
    x = x ^ (x >> 15)
    x = (x * _C2) & _M32
    return x ^ (x >> 16)


def _to_i32(x: torch.Tensor) -> torch.Tensor:
    """int64 holding a 32-bit value -> int32 with the same bit pattern."""
    return (x - ((x >> 31) & 1) * 4294967296).to(torch.int32)


def _mix32_i32_(x: torch.Tensor, tmp: torch.Tensor) -> torch.Tensor:
    """`_mix32` in place on int32 bit patterns x (logical shifts by masking, products wrap mod
    2^32; bit-identical, tested), `tmp` a scratch tensor of x's shape (no allocations)."""
    torch.bitwise_right_shift(x, 16, out=tmp).bitwise_and_(0xFFFF)
    x.bitwise_xor_(tmp).mul_(_C1)
    torch.bitwise_right_shift(x, 15, out=tmp).bitwise_and_(0x1FFFF)
    x.bitwise_xor_(tmp).mul_(_i32(_C2))
    torch.bitwise_right_shift(x, 16, out=tmp).bitwise_and_(0xFFFF)
    return x.bitwise_xor_(tmp)


class Streams:
    """Independent, reproducible random streams for R replicas.

    `Streams(seed, replicas)` where `replicas` is an int R (ids 0..R-1) or a 1-D integer
    tensor of replica ids (so a sub-ensemble reproduces the same paths).
    """

    def __init__(self, seed: int, replicas, device="cpu", dtype=torch.float64):
        import numbers
        if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
            raise ValueError(f"seed must be an integer >= 0, got {seed!r}")  # 1.5 is not seed 1
        if isinstance(replicas, bool):
            raise ValueError(f"replicas must be an int >= 1 or a 1-D tensor of replica ids, got {replicas!r}")
        if isinstance(replicas, int):
            if replicas < 1:
                raise ValueError(f"replicas must be >= 1, got {replicas}")
            replicas = torch.arange(replicas)
        if torch.is_tensor(replicas) and (replicas.dtype.is_floating_point or replicas.dtype == torch.bool):
            raise ValueError(f"replicas: replica ids must be integers, got dtype {replicas.dtype}")
        replicas = torch.as_tensor(replicas, dtype=torch.int64, device=device)
        if replicas.ndim != 1:
            raise ValueError(f"replica ids must be 1-D, got shape {tuple(replicas.shape)}")
        if int(seed) < 0:
            raise ValueError(f"seed must be >= 0, got {seed}")
        self.seed = int(seed)
        self.ids = replicas
        self.device = torch.device(device)
        self.dtype = dtype
        self._idc = _to_i32((self.ids * 0x27D4EB2F) & _M32)  # replica term of the hash
        self._iterms = {}
        self._cache = {}

    @property
    def R(self) -> int:
        return int(self.ids.numel())

    def _index_terms(self, n: int):
        if n not in self._iterms:
            if len(self._iterms) >= 8:
                self._iterms.clear()
            i = torch.arange(n, dtype=torch.int64, device=self.device)
            self._iterms[n] = (_to_i32((i * 0x165667B1) & _M32), _to_i32(i >> 16))
        return self._iterms[n]

    def _chains(self, t: int, n: int, specs, steps: int = 1) -> torch.Tensor:
        """(S, steps, R, n) int32 hash values at times t, ..., t + steps - 1, one chain per
        (stream, salt) in `specs`: chain s of replica r at time u and index i is
        mix(mix(mix(key_s(u) + c·r) ^ a(i)) ^ b(i)), mix = lowbias32,
        key_s(u) = mix(mix(mix(seed·c0 + stream·c1 + salt) ^ u_lo) ^ u_hi) (Python ints)."""
        keys = []
        for stream, salt in specs:
            k0 = _mix32_int((self.seed * 0x9E3779B1 + stream * 0x85EBCA77 + salt) & _M32)
            for u in range(int(t), int(t) + steps):
                k = _mix32_int(k0 ^ (u & _M32))
                keys.append(_i32(_mix32_int(k ^ ((u >> 32) & _M32))))
        keys = torch.tensor(keys, dtype=torch.int32, device=self.device).view(len(specs), steps, 1)
        r = self._idc + keys
        r = _mix32_i32_(r, torch.empty_like(r))
        a, b = self._index_terms(n)
        x = torch.bitwise_xor(r[..., None], a)
        tmp = torch.empty_like(x)
        return _mix32_i32_(_mix32_i32_(x, tmp).bitwise_xor_(b), tmp)

    def _blocked(self, what: str, t: int, n: int, stream: int, make) -> torch.Tensor:
        """Draws at time t (R, n) in float64, computed `_BLOCK` elements at a time: a pass makes
        the draws of steps t, t+1, ... (each element depends on (seed, replica, stream, time,
        index) only, so blocking changes no value) and keeps them for the calls that follow."""
        t = int(t)
        key = (what, stream, n)
        hit = self._cache.get(key)
        if hit is None or not 0 <= t - hit[0] < hit[1].shape[0]:
            steps = max(1, min(_MAX_STEPS, _BLOCK // max(1, self.R * n)))
            if len(self._cache) >= 16:
                self._cache.clear()
            hit = self._cache[key] = (t, make(t, n, stream, steps))
        return hit[1][t - hit[0]]

    def _u53_from(self, hi: torch.Tensor, lo: torch.Tensor) -> torch.Tensor:
        """Uniforms on (0, 1) from the top 27 bits of `hi` and the top 26 bits of `lo` (in place)."""
        hi.bitwise_right_shift_(5).bitwise_and_(0x7FFFFFF)
        lo.bitwise_right_shift_(6).bitwise_and_(0x3FFFFFF)
        return hi.to(torch.float64).mul_(67108864.0).add_(lo).add_(0.5).div_(9007199254740992.0)

    def _make_uniform(self, t: int, n: int, stream: int, steps: int) -> torch.Tensor:
        x = self._chains(t, n, ((stream, 0x3C6EF372), (stream, 0x1B873593)), steps)
        return self._u53_from(x[0], x[1])

    def _make_normal(self, t: int, m: int, stream: int, steps: int) -> torch.Tensor:
        """(steps, R, 2m) normals: Box–Muller pairs (r cos θ, r sin θ) in columns (j, m + j)."""
        x = self._chains(t, m, ((2 * stream, 0x3C6EF372), (2 * stream, 0x1B873593),
                                (2 * stream + 1, 0x5BD1E995)), steps)
        r = self._u53_from(x[0], x[1]).log_().mul_(-2.0).sqrt_()
        # angle: the chain's unsigned value u = s + 2^31 with s = bits ^ 0x80000000 (signed)
        theta = x[2].bitwise_xor_(-2147483648).to(torch.float64).add_(2147483648.5)
        theta.mul_(2.0 * math.pi / 4294967296.0)
        z = torch.empty((steps, self.R, 2 * m), dtype=torch.float64, device=self.device)
        torch.mul(r, torch.cos(theta), out=z[..., :m])
        torch.mul(r, theta.sin_(), out=z[..., m:])
        return z

    def uniform(self, t: int, shape: tuple, stream: int = 0) -> torch.Tensor:
        """Uniform(0, 1) with 53 random bits from two hash chains, never exactly 0 or 1;
        shape (R, *shape)."""
        u = self._blocked("uniform", t, math.prod(shape), stream, self._make_uniform)
        return u.to(self.dtype, copy=True).reshape(self.R, *shape)

    def normal(self, t: int, shape: tuple, stream: int = 0) -> torch.Tensor:
        """Standard normal, shape (R, *shape): Box–Muller using both outputs of each pair;
        the radius uses a 53-bit uniform, the angle a 32-bit one (computed in float64)."""
        n = math.prod(shape)
        z = self._blocked("normal", t, (n + 1) // 2, stream, self._make_normal)
        return z[:, :n].to(self.dtype, copy=True).reshape(self.R, *shape)

    def randint(self, t: int, high: int, shape: tuple, stream: int = 0) -> torch.Tensor:
        """Integers uniform on [0, high), shape (R, *shape)."""
        if high < 1:
            raise ValueError(f"high must be >= 1, got {high}")
        return torch.floor(self.uniform(t, shape, stream) * high).to(torch.int64).clamp_(max=high - 1)


def normal(source, t: int, shape: tuple, stream: int = 0, dtype=torch.float64, device="cpu"):
    """Standard normals from a `Streams` ((R, *shape)) or a `torch.Generator` (shape as given)."""
    if isinstance(source, Streams):
        return source.normal(t, tuple(shape), stream)
    if isinstance(source, torch.Generator):
        return torch.randn(tuple(shape), generator=source, dtype=dtype, device=source.device)
    raise ValueError(f"random source must be a landscapes.rng.Streams or torch.Generator, got {type(source).__name__}")


def uniform(source, t: int, shape: tuple, stream: int = 0, dtype=torch.float64):
    if isinstance(source, Streams):
        return source.uniform(t, tuple(shape), stream)
    if isinstance(source, torch.Generator):
        return torch.rand(tuple(shape), generator=source, dtype=dtype, device=source.device)
    raise ValueError(f"random source must be a landscapes.rng.Streams or torch.Generator, got {type(source).__name__}")


def randint(source, t: int, high: int, shape: tuple, stream: int = 0):
    if isinstance(source, Streams):
        return source.randint(t, high, tuple(shape), stream)
    if isinstance(source, torch.Generator):
        return torch.randint(high, tuple(shape), generator=source, device=source.device)
    raise ValueError(f"random source must be a landscapes.rng.Streams or torch.Generator, got {type(source).__name__}")
