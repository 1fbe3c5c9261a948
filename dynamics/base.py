"""The algorithm contract: optax-style pure `init`/`step` over a stacked worker state.

An algorithm builder takes a topology and hyper-parameters and returns a `Method`:

    m = dynamics.make("dsgd", topology, lr=0.1)
    state = m.init(x0, oracle, rng)          # x0: (..., K, d)
    state = m.step(state, oracle, t, rng)    # pure: a new NamedTuple, inputs untouched
    w = m.model(state)                       # (..., d): the model the method reports
    m.comm                                   # vectors sent per step, all workers (mean)

Every state is a NamedTuple whose field `x` is the per-worker iterate `(..., K, d)`.
`oracle(x, t, rng) -> (loss (..., K), grad (..., K, d))`. Steps use torch ops only (no
in-place writes to inputs, no Python branching on tensor values) so that
`torch.func.jacrev` can differentiate them (analysis/linear.py).
"""
from __future__ import annotations

import math
import numbers
from functools import partial
from typing import Any, Callable, NamedTuple

import torch

from landscapes.registry import Registry, did_you_mean  # noqa: F401  (did_you_mean: used as base.did_you_mean)

# name -> builder `f(topology, **hp) -> Method` (the registry idiom of landscapes.registry)
ALGORITHMS = Registry("algorithm", word="hyper-parameter", positional=1)


class Method(NamedTuple):
    name: str
    init: Callable[..., Any]
    step: Callable[..., Any]
    model: Callable[[Any], torch.Tensor]
    comm: float
    hp: dict
    topology: Any = None


register = ALGORITHMS.register  # decorator adding a builder `f(topology, **hp) -> Method`


def names() -> list[str]:
    return ALGORITHMS.names()


def hyper_parameters(name: str) -> dict:
    """Accepted hyper-parameters of algorithm `name` and their defaults (None = required)."""
    return ALGORITHMS.defaults(name)


def make(name: str, topology=None, **hp) -> Method:
    """Build a registered algorithm; unknown name -> ValueError listing the names (with a
    'did you mean'); unknown hyper-parameter -> ValueError listing the accepted ones."""
    return ALGORITHMS.build(name, topology, **hp)


def _is_number(v) -> bool:
    """A real number that is not a bool (True is not 1.0 here) and not a string."""
    import numbers
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


def check_lr(lr, name="lr"):
    """A positive finite number (the step size as a float)."""
    if not _is_number(lr) or not math.isfinite(lr) or lr <= 0:
        raise ValueError(f"{name} (step size) must be a positive finite number, got {lr!r}")
    return float(lr)


def replica_ids(replicas, x0: torch.Tensor) -> torch.Tensor:
    """The replica ids of a run (simulate, rollout): None -> 0..R-1 with R from x0 (R, K, d) or 1
    for (K, d); an int R >= 1 -> 0..R-1; a 1-D tensor of distinct ids >= 0 (a sub-ensemble whose
    rows reproduce those rows of the full run). Anything else: ValueError naming replicas."""
    if replicas is None:
        n = x0.shape[0] if x0.ndim == 3 else 1
        return torch.arange(n)
    if isinstance(replicas, bool):
        raise ValueError(f"replicas must be an int >= 1 or a 1-D tensor of replica ids, got {replicas!r}")
    if isinstance(replicas, numbers.Integral):
        if replicas < 1:
            raise ValueError(f"replicas must be >= 1, got {replicas}")
        return torch.arange(int(replicas))
    ids = torch.as_tensor(replicas)
    if ids.ndim != 1 or ids.numel() == 0 or ids.dtype.is_floating_point or ids.dtype == torch.bool:
        raise ValueError(f"replicas must be an int >= 1 or a non-empty 1-D integer tensor of ids, "
                         f"got {replicas!r}")
    if bool((ids < 0).any()):
        raise ValueError("replicas: replica ids must be >= 0")
    if ids.unique().numel() != ids.numel():
        raise ValueError("replicas: replica ids must be distinct")
    return ids.to(torch.int64).cpu()


def lr_schedule(lr, name="lr"):
    """The step size as a callable `lr_at(t) -> float` (the one idiom every algorithm uses).

    `lr` is a positive finite number c (then lr_at(t) returns float(c) itself, so a step
    computes exactly what it did with the number) or a schedule `t -> lr` (optax's
    ScalarOrSchedule), checked once by calling it at t = 0 (a positive finite number, else
    ValueError); later values are taken as float(lr(t)) unchecked. `lr_at.hp` is what
    `Method.hp` records: the float for a number, the string 'schedule' for a schedule."""
    if not callable(lr):
        c = check_lr(lr, name)
        lr_at = lambda t: c                                   # noqa: E731
        lr_at.hp = c
        return lr_at
    try:
        v0 = lr(0)
        ok = not isinstance(v0, (bool, str)) and math.isfinite(float(v0)) and float(v0) > 0
    except Exception as e:  # a schedule that raises, or returns a non-number
        raise ValueError(f"{name} schedule failed at t = 0: {type(e).__name__}: {e}") from None
    if not ok:
        raise ValueError(f"{name} schedule must give a positive finite number, got {v0!r} at t = 0")
    lr_at = lambda t: float(lr(t))                            # noqa: E731
    lr_at.hp = "schedule"
    return lr_at


def check_unit(v, name, closed_right=False):
    ok = _is_number(v) and (0 <= v <= 1 if closed_right else 0 <= v < 1)
    if not ok:
        rng = "[0, 1]" if closed_right else "[0, 1)"
        raise ValueError(f"{name} must be a number in {rng}, got {v!r}")
    return float(v)


def check_int(v, name, minimum=1):
    """An integer >= minimum (bools and floats such as 1.5 refused)."""
    import numbers
    if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {v!r}")
    return int(v)


def check_nonneg(v, name):
    """A finite number >= 0 (bools refused)."""
    if not _is_number(v) or not math.isfinite(v) or v < 0:
        raise ValueError(f"{name} must be a non-negative finite number, got {v!r}")
    return float(v)


def check_workers(topology, K):
    """K from the topology and/or K= (they must agree); None when neither is given."""
    kt = None if topology is None else int(topology.K)
    if K is not None:
        K = check_int(K, "K")
        if kt is not None and kt != K:
            raise ValueError(f"K = {K} disagrees with topology {topology.name!r} (K = {kt})")
        return K
    return kt


def need_topology(topology, who: str):
    """Decentralised methods cannot run without a mixing matrix."""
    if topology is None or not hasattr(topology, "mix"):
        raise ValueError(f"{who} needs a topology (dynamics.topology.Topology), got {topology!r}")
    return topology


def check_x0(x0, topology=None, who: str = "", K: int | None = None) -> torch.Tensor:
    """x0 must be a tensor (..., K, d) whose worker axis matches the topology (or K=)."""
    pre = f"{who}: " if who else ""
    if not torch.is_tensor(x0) or x0.dim() < 2:
        raise ValueError(f"{pre}x0 must be a tensor of shape (..., K, d), got {type(x0).__name__}"
                         + (f" of shape {tuple(x0.shape)}" if torch.is_tensor(x0) else ""))
    if topology is not None and x0.shape[-2] != local_K(topology):
        raise ValueError(f"{pre}x0 has {x0.shape[-2]} workers on axis -2 but topology "
                         f"{topology.name!r} has K = {local_K(topology)}")
    if K is not None and x0.shape[-2] != K:
        raise ValueError(f"{pre}x0 has {x0.shape[-2]} workers on axis -2 but K = {K} was given")
    return x0


def average(state, topology=None) -> torch.Tensor:
    """The model of the averaging family: w_a = (1/K) sum_k x_k, shape (..., d)."""
    return worker_mean(state.x, topology)


def averager(topology):
    """`average` bound to a topology (a collective when it is distributed)."""
    return partial(average, topology=topology)


# ---------------------------------------------------------------- worker-axis reductions
# Every reduction over the worker axis goes through these hooks. With a local `Topology` (or
# None) they are plain torch ops on the full stack (..., K, d); with a
# `dynamics.distributed.DistTopology` (attribute `distributed = True`) the stack holds only this
# process's rows and the hook is a collective over processes (dynamics/distributed.py).

def _dist(topology) -> bool:
    return bool(getattr(topology, "distributed", False))


def local_K(topology):
    """Workers held by this process: topology.K locally, its slice size when distributed."""
    if topology is None:
        return None
    return int(topology.K_local) if _dist(topology) else int(topology.K)


def worker_count(x: torch.Tensor, topology=None) -> int:
    """Global number of workers K (x.shape[-2] unless distributed)."""
    return int(topology.K) if _dist(topology) else int(x.shape[-2])


def worker_all(x: torch.Tensor, topology=None) -> torch.Tensor:
    """The full worker stack (..., K, ...) on the worker axis -2 (all_gather when distributed)."""
    return topology.all_rows(x) if _dist(topology) else x


def worker_mean(x: torch.Tensor, topology=None, keepdim: bool = False) -> torch.Tensor:
    """(1/K) sum_k x_k over the worker axis -2: (..., K, d) -> (..., d) (or (..., 1, d))."""
    return worker_all(x, topology).mean(dim=-2, keepdim=keepdim)


def worker_sum(x: torch.Tensor, topology=None) -> torch.Tensor:
    """sum_k x_k over the worker axis -2: (..., K, d) -> (..., d)."""
    return worker_all(x, topology).sum(dim=-2)


def worker_argmin(score: torch.Tensor, topology=None) -> torch.Tensor:
    """Global index of the smallest score over workers (last axis of (..., K)), ties to the lowest."""
    full = topology.all_rows(score.unsqueeze(-1)).squeeze(-1) if _dist(topology) else score
    return torch.argmin(full, dim=-1)


def worker_gather(x: torch.Tensor, idx: torch.Tensor, topology=None) -> torch.Tensor:
    """Rows of global indices idx: x (..., K, d), idx (...) -> (..., d); idx (..., m) -> (..., m, d)."""
    if _dist(topology):
        return topology.gather_rows(x, idx)
    one = idx.dim() == x.dim() - 2
    i = idx.unsqueeze(-1) if one else idx
    out = torch.gather(x, -2, i.unsqueeze(-1).expand(*i.shape, x.shape[-1]))
    return out.squeeze(-2) if one else out


def worker_ids(x: torch.Tensor, topology=None) -> torch.Tensor:
    """Global indices (K_local,) of the rows this process holds."""
    if _dist(topology):
        return torch.as_tensor(topology.rows, device=x.device)
    return torch.arange(x.shape[-2], device=x.device)
