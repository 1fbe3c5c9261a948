"""The light path: roll a method forward `steps` steps on the counter-based streams.

    r = dynamics.rollout(m, oracle, x0, steps, seed=0)          # r.state at time r.t = steps
    r = dynamics.rollout(m, oracle, r.state, 50, t0=r.t, rng=r.rng)  # continue the same run

`rollout` is the loop `for t in range(t0, t0 + steps): state = method.step(state, oracle, t,
rng)` and nothing else: no recorders, events, freezing or checkpoints (that is
`dynamics.simulate`). The draws come from `landscapes.rng.Streams(seed, replica_ids)`, so
replica r's path depends on (seed, r) only (docs/theory.md §0), the same streams `simulate`
builds; a sub-ensemble `replicas=[3, 5]` reproduces rows 3 and 5 of the full run bit for bit.

Time convention (as in `simulate`): the given state is at time t0 (`init` when x0 is a tensor);
`method.step(state, oracle, t, rng)` takes it from time t to t + 1.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import torch

from landscapes.rng import Streams

from .base import check_int, replica_ids

__all__ = ["Rollout", "rollout"]


class Rollout(NamedTuple):
    state: Any        # the method's state at time t
    t: int            # t0 + steps: the time of `state` (the next step to take; pass as t0=)
    rng: Streams      # the streams the steps drew from (pass as rng= to continue the run)
    means: dict       # name -> time average of average[name] (see `rollout`); {} without average=


def _averages(average, state) -> dict[str, Callable]:
    """average= as a dict name -> fn(state, method)."""
    if isinstance(average, str):
        average = (average,)
    if isinstance(average, Mapping):
        bad = [k for k, f in average.items() if not (isinstance(k, str) and callable(f))]
        if bad:
            raise ValueError(f"average: a dict must map names to fn(state, method), got {bad[0]!r}")
        return dict(average)
    if not isinstance(average, (list, tuple)) or not average or not all(isinstance(a, str) for a in average):
        raise ValueError(f"average must be a state field name, a list of them or a dict name -> "
                         f"fn(state, method), got {average!r}")
    missing = [a for a in average if a not in state._fields]
    if missing:
        raise ValueError(f"average: state has no field {missing[0]!r}; fields: {', '.join(state._fields)}")
    return {a: (lambda s, m, a=a: getattr(s, a)) for a in average}


def _is_state(v) -> bool:
    return isinstance(v, tuple) and hasattr(v, "_fields") and "x" in v._fields and torch.is_tensor(v.x)


def rollout(method, oracle, x0_or_state, steps: int, *, t0: int = 0, seed: int = 0, replicas=None,
            rng: Streams | None = None, average=None, burn_in: int = 0) -> Rollout:
    """Advance `method` `steps` steps: state_{t+1} = method.step(state_t, oracle, t, rng) for
    t = t0, ..., t0 + steps − 1; returns `Rollout(state, t0 + steps, rng, means)`.

    `x0_or_state`: a tensor x0 (..., K, d) (then state_{t0} = method.init(x0, oracle, rng)) or a
    method state (a NamedTuple with field x, taken as the state at time t0, e.g. r.state).
    A tensor x0 of shape (K, d) is broadcast to (R, K, d) (R = 1 without `replicas`), as in
    `simulate`; other shapes are kept as given.
    Randomness: `rng=Streams(seed, ids, device=x.device, dtype=x.dtype)` with ids = `replicas`
    (an int R -> 0..R−1, or distinct ids >= 0; default 0..R−1 for x of shape (R, K, d), else
    [0]); or give `rng` (a `landscapes.rng.Streams`, instead of seed/replicas). A
    torch.Generator is refused: its draws would depend on R.
    `average`: a state field name, a list of names, or a dict name -> fn(state, method) -> tensor;
    then means[name] = (1/n) Σ_{t = t0+burn_in+1}^{t0+steps} fn(state_t, method),
    n = steps − burn_in: the states after the last n steps (the first `burn_in` steps are
    dropped; the state at t0 is never averaged). The sum runs in time order from zero, as a
    hand loop `acc += v` after burn-in then `acc / n` would compute it.
    """
    if not (all(hasattr(method, a) for a in ("init", "step", "model")) and callable(method.step)):
        raise ValueError(f"method must be a dynamics Method (dynamics.make(...)), "
                         f"got {type(method).__name__}")
    if not callable(oracle):
        raise ValueError(f"oracle must be callable oracle(x, t, rng) -> (loss, grad), "
                         f"got {type(oracle).__name__}")
    steps, t0 = check_int(steps, "steps", 0), check_int(t0, "t0", 0)
    burn_in = check_int(burn_in, "burn_in", 0)
    if average is None and burn_in:
        raise ValueError("burn_in is the start of the time average: give average= as well")
    if average is not None and burn_in >= steps:
        raise ValueError(f"burn_in must be < steps so that a state is averaged, got burn_in = {burn_in}, "
                         f"steps = {steps}")
    given = _is_state(x0_or_state)
    x = x0_or_state.x if given else x0_or_state
    if not torch.is_tensor(x) or x.dim() < 2:
        shape = f" of shape {tuple(x.shape)}" if torch.is_tensor(x) else ""
        raise ValueError(f"x0_or_state must be a tensor x0 (..., K, d) or a method state with a field x, "
                         f"got {type(x0_or_state).__name__}{shape}")
    if rng is None:
        ids = replica_ids(replicas, x)
        if x.dim() == 2 and not given:
            x = x0_or_state = x.expand(ids.numel(), *x.shape).clone()
        rng = Streams(seed, ids.to(x.device), device=x.device, dtype=x.dtype)
    elif not isinstance(rng, Streams):
        raise ValueError(f"rng must be a landscapes.rng.Streams (counter-based), got {type(rng).__name__}")
    elif replicas is not None or seed != 0:
        raise ValueError("give rng= or seed=/replicas=, not both (rng already fixes seed and replicas)")
    if x.dim() <= 3 and (x.shape[0] if x.dim() == 3 else 1) != rng.R:
        raise ValueError(f"x of shape {tuple(x.shape)} holds {x.shape[0] if x.dim() == 3 else 1} replicas "
                         f"but replicas=/rng= give R = {rng.R}")
    state = x0_or_state if given else method.init(x0_or_state, oracle, rng)
    fns = {} if average is None else _averages(average, state)
    sums: dict[str, torch.Tensor] = {}
    for t in range(t0, t0 + steps):
        state = method.step(state, oracle, t, rng)
        if fns and t >= t0 + burn_in:
            for name, fn in fns.items():
                v = torch.as_tensor(fn(state, method))
                sums[name] = (torch.zeros_like(v) if name not in sums else sums[name]) + v
    n = steps - burn_in
    return Rollout(state, t0 + steps, rng, {name: s / n for name, s in sums.items()})
