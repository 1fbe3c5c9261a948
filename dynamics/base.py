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
from typing import Any, Callable, NamedTuple

import torch

_REGISTRY: dict[str, Callable[..., "Method"]] = {}


class Method(NamedTuple):
    name: str
    init: Callable[..., Any]
    step: Callable[..., Any]
    model: Callable[[Any], torch.Tensor]
    comm: float
    hp: dict
    topology: Any = None


def register(name: str):
    """Decorator adding a builder `f(topology, **hp) -> Method` to the registry."""
    def deco(fn):
        if name in _REGISTRY:
            raise ValueError(f"algorithm {name!r} registered twice")
        _REGISTRY[name] = fn
        return fn
    return deco


def names() -> list[str]:
    _load_all()
    return sorted(_REGISTRY)


def make(name: str, topology=None, **hp) -> Method:
    """Build a registered algorithm; unknown name -> ValueError listing the names."""
    _load_all()
    if name not in _REGISTRY:
        raise ValueError(f"unknown algorithm {name!r}; choose from: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name](topology, **hp)


def _load_all():
    # Importing the family modules fills the registry.
    from . import algorithms  # noqa: F401


def check_lr(lr, name="lr"):
    if not isinstance(lr, (int, float)) or not math.isfinite(lr) or lr <= 0:
        raise ValueError(f"{name} (step size) must be a positive finite number, got {lr!r}")
    return float(lr)


def check_unit(v, name, closed_right=False):
    ok = 0 <= v <= 1 if closed_right else 0 <= v < 1
    if not isinstance(v, (int, float)) or not ok:
        rng = "[0, 1]" if closed_right else "[0, 1)"
        raise ValueError(f"{name} must lie in {rng}, got {v!r}")
    return float(v)


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
