"""Fused fast path: oracle + counter-based noise + update over a block of steps in one kernel.

`simulate` calls Method.step once per step, and each step runs ~40 tensor passes over memory
(the hash rounds of `landscapes.rng.Streams`, Box–Muller, the gradient, the mixing terms).
`run_fused` instead writes the same step as one pure tensor function of a block of `block`
consecutive steps and hands it to `torch.compile` (inductor, C++/OpenMP codegen on the CPU),
which fuses each step into a few loops over (R, K, d) that never leave the registers between
the hash, the normal, the gradient and the update. Without a compiler (or compile=False) the
same function runs eagerly (same numbers, slower).

Noise: the draws are those of `Streams(seed, replicas).normal(t, (K, d), stream)` (the same
keys, hash rounds and Box–Muller in float64): a replica's path depends on (seed, replica id)
only, whatever R or the block length. Integer hashing is exact; log/sqrt/cos/sin may come from
the compiler's vector math library, so compiled draws equal the streams' to ~1 ulp (tested to
1e-12), eager draws are bit-identical. A compiled kernel is specific to its configuration and to
torch's thread count (inductor guards on it): a run at another count compiles once more (from
torch's on-disk cache when it has seen that count before).

Supported: methods 'dsgd' (x <- W x - lr g) and 'dsgdm' (m <- beta m + g; x <- W(x - lr m)),
a fixed topology (period 1), isotropic noise g = grad f(x) + (sigma/sqrt(B)) z from any
`Landscape` whose grad is a tensor expression, records of the consensus distance
(docs/theory.md §0). `dynamics.simulate(..., fused=True)` runs the same kernel through
`stepper` in leaps of steps between its record times, with its own recorders: each call also
returns the largest |x_ij| reached, from which simulate knows whether a divergence check could
have fired inside the leap (if so it steps that stretch again one step at a time, on the same
draws). Anything else: use `dynamics.simulate` on its per-step path.
"""
from __future__ import annotations

import contextlib
import math
import shutil

import numpy as np
import torch

from landscapes.rng import _M32, _i32, _mix32_int, _to_i32

__all__ = ["SUPPORTED", "FusedResult", "compiler_available", "run_fused", "stepper"]

SUPPORTED = ("dsgd", "dsgdm")
# compiled graphs allowed per code object while a fused kernel runs: every (method, landscape,
# sizes, step constants) and every torch thread count (inductor guards on it) is one graph of the
# same `block` code; dynamo's default of 8 failed the peers benchmark (3 workloads x 3 thread
# settings) with FailOnRecompileLimitHit
RECOMPILE_LIMIT = 256


def _recompile_scope():
    """torch._dynamo.config with the recompile limit raised to RECOMPILE_LIMIT (restored after)."""
    cfg = torch._dynamo.config
    name = "recompile_limit" if hasattr(cfg, "recompile_limit") else "cache_size_limit"
    return cfg.patch(**{name: max(getattr(cfg, name), RECOMPILE_LIMIT)})


def compiler_available() -> bool:
    """torch.compile's CPU backend needs a C++ compiler on PATH."""
    return any(shutil.which(c) for c in ("g++", "c++", "clang++"))


def _keys(seed: int, stream: int, t0: int, steps: int) -> torch.Tensor:
    """(steps, 3) int32 keys of the three hash chains of `Streams._make_normal` at t0.. ."""
    k0 = [_mix32_int((seed * 0x9E3779B1 + st * 0x85EBCA77 + salt) & _M32)
          for st, salt in ((2 * stream, 0x3C6EF372), (2 * stream, 0x1B873593), (2 * stream + 1, 0x5BD1E995))]
    out = [[_i32(_mix32_int(_mix32_int(k ^ (u & _M32)) ^ ((u >> 32) & _M32))) for k in k0]
           for u in range(t0, t0 + steps)]
    return torch.tensor(out, dtype=torch.int32).reshape(steps, 3)


def _mix(x):
    """lowbias32 on int32 bit patterns (logical shifts by masking; products wrap mod 2^32)."""
    x = x ^ ((x >> 16) & 0xFFFF)
    x = x * _C1
    x = x ^ ((x >> 15) & 0x1FFFF)
    x = x * _C2
    return x ^ ((x >> 16) & 0xFFFF)


_C1, _C2 = 0x7FEB352D, _i32(0x846CA68B)


def _normals(key, idc, a, b, n):
    """(R, n) standard normals of one step: key (3,) int32, idc (R, 1), a/b (m,) index terms."""
    h = []
    for c in range(3):
        r = _mix(idc + key[c])
        h.append(_mix(_mix(r ^ a) ^ b))
    hi = (h[0] >> 5) & 0x7FFFFFF
    lo = (h[1] >> 6) & 0x3FFFFFF
    u = (hi.to(torch.float64) * 67108864.0 + lo.to(torch.float64) + 0.5) / 9007199254740992.0
    rad = torch.sqrt(torch.log(u) * -2.0)
    theta = ((h[2] ^ -2147483648).to(torch.float64) + 2147483648.5) * (2.0 * math.pi / 4294967296.0)
    return torch.cat([rad * torch.cos(theta), rad * torch.sin(theta)], dim=1)[:, :n]


def _plan(W: torch.Tensor):
    """W @ x as a sum over W's nonzero diagonals in increasing offset (the order of
    `topology.mix`): [(coefficients (K, 1), offset)]."""
    W = torch.as_tensor(W, dtype=torch.float64)
    K = W.shape[0]
    i = torch.arange(K)
    return [(W[i, (i + o) % K].unsqueeze(-1).clone(), o) for o in range(K)
            if bool((W[i, (i + o) % K] != 0).any())]


def _mixed(plan, x):
    out = None
    for c, o in plan:
        src = x.roll(-o, -2) if o else x
        out = src * c if out is None else out + src * c
    return out


def _consensus(x):
    return (x - x.mean(dim=-2, keepdim=True)).square().sum(dim=-1).mean(dim=-1)


def _make_block(name, plan, grad, lr, beta, noise_scale, K, d):
    n = K * d

    def block(x, m, keys, idc, a, b):
        """keys.shape[0] steps from (x, m) -> (x, m, the largest |x_ij| of the states after
        each step; NaN when one holds a NaN)."""
        R = x.shape[0]
        peak = None
        for s in range(keys.shape[0]):
            z = _normals(keys[s], idc, a, b, n).reshape(R, K, d)
            g = grad(x) + noise_scale * z
            if name == "dsgd":
                x = _mixed(plan, x) - lr * g
            else:
                m = beta * m + g
                x = _mixed(plan, x - lr * m)
            top = x.abs().amax()
            peak = top if peak is None else torch.maximum(peak, top)
        return x, m, peak
    return block


def stepper(method, landscape, replicas, *, seed: int, sigma: float, batch: int, stream: int, K: int,
            d: int, block: int = 1, compile: bool = True):
    """(advance, compiled): advance(x, m, t0, n) -> (x, m, peak) runs n >= 1 steps of `method`
    from time t0 (x, m (R, K, d) float64; m is the momentum buffer, passed through unchanged by
    'dsgd') with the draws of `Streams(seed, replicas)` at times t0..t0+n-1, in calls of `block`
    steps (n a multiple of block); peak (a 0-d tensor) is max |x_ij| over the n states after
    each step, NaN when one of them holds a NaN. `replicas` an int R (ids 0..R-1) or the ids (R,). No validation: callers
    (`run_fused`, `dynamics.simulate`) check the method, landscape and sizes."""
    name, top = method.name, method.topology
    lr, beta = float(method.hp["lr"]), float(method.hp.get("beta", 0.0))
    compiled = bool(compile) and compiler_available()
    key = (name, id(top), id(landscape), lr, beta, float(sigma), int(batch), K, d, block, compiled)
    fn = _CACHE.get(key)
    if fn is None:
        fn = _make_block(name, _plan(top.W(0)), landscape.grad, lr, beta,
                         float(sigma) / math.sqrt(batch), K, d)
        if compiled:
            fn = torch.compile(fn, dynamic=False, fullgraph=True)
        _CACHE[key] = fn
    i = torch.arange((K * d + 1) // 2, dtype=torch.int64)
    a, b = _to_i32((i * 0x165667B1) & _M32), _to_i32(i >> 16)
    ids = torch.arange(replicas) if isinstance(replicas, int) else torch.as_tensor(replicas).reshape(-1)
    idc = _to_i32((ids.to(torch.int64) * 0x27D4EB2F) & _M32).view(-1, 1)

    def advance(x, m, t0: int, n: int):
        keys = _keys(int(seed), int(stream), t0, n)
        peaks = []
        with _recompile_scope() if compiled else contextlib.nullcontext():
            for s in range(0, n, block):
                x, m, peak = fn(x, m, keys[s:s + block], idc, a, b)
                peaks.append(peak)
        return x, m, torch.stack(peaks).amax()
    return advance, compiled


class FusedResult(dict):
    """times (T,), consensus (T, R), x (R, K, d) final iterates, compiled (bool)."""
    __getattr__ = dict.__getitem__


_CACHE: dict = {}


def run_fused(method, landscape, x0, steps: int, *, replicas: int, seed: int = 0, sigma: float = 1.0,
              batch: int = 1, stream: int = 0, record_every: int = 20, block: int | None = None,
              compile: bool = True) -> FusedResult:
    """Run a registered 'dsgd'/'dsgdm' `method` on `landscape` with isotropic noise for R =
    `replicas` replicas (an int R: ids 0..R-1, or a 1-D tensor of replica ids) from x0 ((K, d) broadcast or (R, K, d)), recording the consensus distance
    at steps 0, record_every, ..., like `simulate(..., record_every=record_every,
    recorders=('consensus',))` with `landscapes.noise.oracle(landscape, noise='isotropic',
    sigma=sigma, batch=batch, stream=stream)` (no stop, no divergence checks).
    `block` steps per compiled call (unrolled in the graph; default 1 compiled, record_every
    eager; a divisor of record_every). Compile time grows with block (minutes at 20)."""
    name = getattr(method, "name", None)
    if name not in SUPPORTED:
        raise ValueError(f"method must be a registered Method named one of {SUPPORTED}, got {name!r}")
    top = method.topology
    if getattr(top, "period", 1) != 1:
        raise ValueError("method: the fused path needs a fixed topology (period 1)")
    ids = None
    if isinstance(replicas, torch.Tensor):
        ids = replicas.to(torch.int64).reshape(-1)
        if ids.numel() < 1 or replicas.ndim != 1:
            raise ValueError(f"replicas must be an int >= 1 or a 1-D tensor of replica ids, got shape "
                             f"{tuple(replicas.shape)}")
        replicas = int(ids.numel())
    for nm, v in (("steps", steps), ("replicas", replicas), ("record_every", record_every)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < (0 if nm == "steps" else 1):
            raise ValueError(f"{nm} must be an integer >= {0 if nm == 'steps' else 1}, got {v!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
    if not (isinstance(sigma, (int, float)) and sigma >= 0) or isinstance(sigma, bool):
        raise ValueError(f"sigma must be a number >= 0, got {sigma!r}")
    if isinstance(batch, bool) or not isinstance(batch, (int, np.integer)) or batch < 1:
        raise ValueError(f"batch must be an integer >= 1, got {batch!r}")
    if block is None:
        block = 1 if (compile and compiler_available()) else record_every
    block = int(block)
    if block < 1 or record_every % block:
        raise ValueError(f"block must be a positive divisor of record_every={record_every}, got {block}")
    if steps % record_every:
        raise ValueError(f"steps must be a multiple of record_every={record_every}, got {steps}")
    x0 = torch.as_tensor(x0, dtype=torch.float64)
    K = top.K
    if x0.ndim == 2:
        x0 = x0.expand(int(replicas), *x0.shape)
    if x0.ndim != 3 or x0.shape[0] != replicas or x0.shape[1] != K:
        raise ValueError(f"x0 must have shape (K={K}, d) or (R={replicas}, K={K}, d), got {tuple(x0.shape)}")
    R, d = int(replicas), int(x0.shape[2])
    if d != landscape.dim:
        raise ValueError(f"x0: d = {d} but the landscape has dim {landscape.dim}")
    advance, compiled = stepper(method, landscape, ids if ids is not None else R, seed=seed, sigma=sigma,
                                batch=batch, stream=stream, K=K, d=d, block=block, compile=compile)
    x = x0.clone()
    m = torch.zeros_like(x)
    cons = [_consensus(x)]
    for t in range(0, steps, record_every):
        x, m, _ = advance(x, m, t, record_every)
        cons.append(_consensus(x))
    return FusedResult(times=np.arange(0, steps + 1, record_every), consensus=torch.stack(cons),
                       x=x, compiled=compiled)
