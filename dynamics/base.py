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


def mean_workers(x: torch.Tensor) -> torch.Tensor:
    """Average over the worker axis: (..., K, d) -> (..., d)."""
    return x.mean(dim=-2)
