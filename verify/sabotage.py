"""Building blocks for negative controls: sabotaged worlds built through public interfaces.

A claim declares its controls (`Claim.controls`, name -> what it breaks) and, inside its run,
asks `ctx.sabotaged(name)` to build the broken world with these helpers. The judging code is
never touched: the same verdict rule must then say something other than 'holds'.
"""
from __future__ import annotations

import dynamics
from dynamics.base import Method


def make(name: str, topology=None, *, lr_scale: float = 1.0, **hp) -> Method:
    """`dynamics.make` with the step size multiplied by lr_scale (a mis-tuned or mis-specified
    algorithm whose prediction, made at the nominal lr, is then wrong); a schedule lr(t) is
    scaled at every t."""
    if "lr" in hp and lr_scale != 1.0:
        lr = hp["lr"]
        hp = {**hp, "lr": (lambda t: lr(t) * lr_scale) if callable(lr) else lr * lr_scale}
    return dynamics.make(name, topology, **hp)


def wrap_step(method: Method, transform) -> Method:
    """A Method whose step is `transform(old_state, new_state) -> state` applied after the real
    step (e.g. drop the mixing, add a bias, half the update)."""
    inner = method.step

    def step(state, oracle, t, rng):
        return transform(state, inner(state, oracle, t, rng))
    return method._replace(step=step, name=method.name + "+sabotaged")


def half_step(method: Method) -> Method:
    """The update x_{t+1} − x_t halved (every other field of the state kept as the real step)."""
    def tr(old, new):
        return new._replace(x=old.x + 0.5 * (new.x - old.x))
    return wrap_step(method, tr)


def perturbed(prediction: float, factor: float) -> float:
    """A prediction scaled by `factor` (a wrong theory: the claim must then not hold)."""
    return float(prediction) * float(factor)
