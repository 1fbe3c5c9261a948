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


def _mix32(x: torch.Tensor) -> torch.Tensor:
    """lowbias32 on int64 tensors holding 32-bit values (products wrap; low 32 bits kept)."""
    x = x ^ (x >> 16)
    x = (x * 0x7FEB352D) & _M32
    x = x ^ (x >> 15)
    x = (x * 0x846CA68B) & _M32
    return x ^ (x >> 16)


def _to_i32(x: torch.Tensor) -> torch.Tensor:
    """int64 holding a 32-bit value -> int32 with the same bit pattern."""
    return (x - ((x >> 31) & 1) * 4294967296).to(torch.int32)


def _mix32_i32(x: torch.Tensor) -> torch.Tensor:
    """`_mix32` on int32 bit patterns: logical shifts by masking, products wrap mod 2^32
    (half the memory traffic of the int64 version; bit-identical, tested)."""
    x = x ^ ((x >> 16) & 0xFFFF)
    x = x * 0x7FEB352D
    x = x ^ ((x >> 15) & 0x1FFFF)
    x = x * (0x846CA68B - 4294967296)
    return x ^ ((x >> 16) & 0xFFFF)


class Streams:
    """Independent, reproducible random streams for R replicas.

    `Streams(seed, replicas)` where `replicas` is an int R (ids 0..R-1) or a 1-D integer
    tensor of replica ids (so a sub-ensemble reproduces the same paths).
    """

    def __init__(self, seed: int, replicas, device="cpu", dtype=torch.float64):
        if isinstance(replicas, int):
            if replicas < 1:
                raise ValueError(f"replicas must be >= 1, got {replicas}")
            replicas = torch.arange(replicas)
        replicas = torch.as_tensor(replicas, dtype=torch.int64, device=device)
        if replicas.ndim != 1:
            raise ValueError(f"replica ids must be 1-D, got shape {tuple(replicas.shape)}")
        if int(seed) < 0:
            raise ValueError(f"seed must be >= 0, got {seed}")
        self.seed = int(seed)
        self.ids = replicas
        self.device = torch.device(device)
        self.dtype = dtype

    @property
    def R(self) -> int:
        return int(self.ids.numel())

    def _bits(self, t: int, n: int, stream: int, salt: int) -> torch.Tensor:
        """(R, n) hash values as int32 bit patterns (the same 32 bits as `_mix32` on int64)."""
        key = _mix32(torch.tensor((self.seed * 0x9E3779B1 + stream * 0x85EBCA77 + salt) & _M32,
                                  dtype=torch.int64, device=self.device))
        key = _mix32(key ^ (int(t) & _M32))
        key = _mix32(key ^ ((int(t) >> 32) & _M32))
        r = _to_i32(_mix32((self.ids[:, None] * 0x27D4EB2F + key) & _M32))
        i = torch.arange(n, dtype=torch.int64, device=self.device)[None, :]
        return _mix32_i32(_mix32_i32(r ^ _to_i32((i * 0x165667B1) & _M32)) ^ _to_i32(i >> 16))

    def _u53(self, t: int, n: int, stream: int) -> torch.Tensor:
        """(R, n) uniforms on (0, 1) with 53 random bits from two hash chains."""
        hi = (self._bits(t, n, stream, 0x3C6EF372) >> 5) & 0x7FFFFFF     # top 27 bits
        lo = (self._bits(t, n, stream, 0x1B873593) >> 6) & 0x3FFFFFF     # top 26 bits
        return (hi.to(self.dtype) * 67108864.0 + lo.to(self.dtype) + 0.5) / 9007199254740992.0

    def uniform(self, t: int, shape: tuple, stream: int = 0) -> torch.Tensor:
        """Uniform(0, 1), never exactly 0 or 1; shape (R, *shape)."""
        return self._u53(t, math.prod(shape), stream).reshape(self.R, *shape)

    def normal(self, t: int, shape: tuple, stream: int = 0) -> torch.Tensor:
        """Standard normal, shape (R, *shape): Box–Muller using both outputs of each pair;
        the radius uses a 53-bit uniform, the angle a 32-bit one."""
        n = math.prod(shape)
        m = (n + 1) // 2
        u1 = self._u53(t, m, 2 * stream)
        ang = self._bits(t, m, 2 * stream + 1, 0x5BD1E995).to(torch.int64) & _M32
        theta = (ang.to(self.dtype) + 0.5) * (2.0 * math.pi / 4294967296.0)
        r = torch.sqrt(-2.0 * torch.log(u1))
        z = torch.cat([r * torch.cos(theta), r * torch.sin(theta)], dim=-1)[:, :n]
        return z.reshape(self.R, *shape)

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
