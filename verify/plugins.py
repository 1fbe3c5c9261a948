"""User algorithms as plug-ins: `load_plugin("mypkg.mymod")` and the entry-point group
`decentlab.algorithms`.

A plug-in is any importable module that registers builders with the public decorator
`dynamics.base.register(name)` (docs/CONTRACTS.md "Algorithms"). Loading imports it, finds the
builders it added and checks each one's contract (`check_builder`); a builder that breaks the
contract is removed from the registry again and `PluginError` (a ValueError) names the
algorithm and what is wrong. Installed packages declare their modules in pyproject.toml:

    [project.entry-points."decentlab.algorithms"]
    my_algorithms = "mypkg.mymod"

The contract (checked on a ring of 4 workers, d = 3, with and without a leading replica axis):
  - the builder returns a `dynamics.Method` (init, step, model, comm, hp);
  - init / step return a NamedTuple state with a field `x` of the input's shape (..., K, d) and
    the step keeps every floating field's shape;
  - step is pure: its input state's tensors are unchanged afterwards, and the same inputs (same
    seeded random source) give the same output twice;
  - model(state) has shape (..., d).
A module may define `SCORECARD_HP = {name: {hyper-parameters}}` (default {"lr": 0.1}); the
check and `python -m verify.scorecard` build the algorithm with them.
"""
from __future__ import annotations

import importlib
import math
import sys
from typing import Any

import torch

ENTRY_POINT_GROUP = "decentlab.algorithms"
DEFAULT_HP = {"lr": 0.1}

__all__ = ["DEFAULT_HP", "ENTRY_POINT_GROUP", "PluginError", "check_builder", "check_method", "hp_for",
           "load_entry_points", "load_plugin", "unregister"]

_HP: dict[str, dict] = {}


class PluginError(ValueError):
    """A plug-in that cannot be loaded or whose builder breaks the algorithm contract."""


def hp_for(name: str) -> dict:
    """Hyper-parameters the scorecard uses for `name` (a plug-in's SCORECARD_HP, else lr = 0.1)."""
    return dict(_HP.get(name, DEFAULT_HP))


def _oracle(K, d, seed=0):
    import landscapes
    prob = landscapes.hetero_quadratics(K, d, zeta=1.0, hess_spread=1.0, seed=seed)
    return landscapes.oracle(prob, "isotropic", sigma=0.3)


def _tensors(state):
    return {n: v.clone() for n, v in zip(state._fields, state) if torch.is_tensor(v)}


def _same(a, b) -> bool:
    return a.shape == b.shape and bool(torch.equal(torch.nan_to_num(a), torch.nan_to_num(b)))


def _state_ok(name, where, state, shape):
    if not (isinstance(state, tuple) and hasattr(state, "_fields")):
        raise PluginError(f"algorithm {name!r}: {where} must return a NamedTuple state, got {type(state).__name__}")
    if "x" not in state._fields:
        raise PluginError(f"algorithm {name!r}: {where} returned a state without a field 'x' "
                          f"(fields: {', '.join(state._fields)})")
    if not torch.is_tensor(state.x) or tuple(state.x.shape) != tuple(shape):
        got = tuple(state.x.shape) if torch.is_tensor(state.x) else type(state.x).__name__
        raise PluginError(f"algorithm {name!r}: {where} returned state.x of shape {got}, expected "
                          f"{tuple(shape)} (..., K, d) as the input")


def check_method(method, K: int, d: int = 3, replicas: int | None = 2, steps: int = 2) -> None:
    """Raise PluginError naming the violated part of the contract (module docstring)."""
    name = getattr(method, "name", "?")
    for attr in ("init", "step", "model"):
        if not callable(getattr(method, attr, None)):
            raise PluginError(f"algorithm {name!r}: Method.{attr} must be callable")
    try:
        comm = float(method.comm)
    except (TypeError, ValueError):
        raise PluginError(f"algorithm {name!r}: Method.comm must be a number (vectors per step), "
                          f"got {method.comm!r}") from None
    if not (math.isnan(comm) or comm >= 0):
        raise PluginError(f"algorithm {name!r}: Method.comm must be >= 0, got {comm}")
    orc = _oracle(K, d)
    lead = () if replicas is None else (replicas,)
    x0 = torch.randn(*lead, K, d, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    x0_copy = x0.clone()
    state = method.init(x0, orc, torch.Generator().manual_seed(2))
    _state_ok(name, "init", state, x0.shape)
    if not _same(x0, x0_copy):
        raise PluginError(f"algorithm {name!r}: init modified its input x0 in place")
    for t in range(steps):
        before = _tensors(state)
        out1 = method.step(state, orc, t, torch.Generator().manual_seed(10 + t))
        changed = [n for n, v in before.items() if not _same(v, getattr(state, n))]
        if changed:
            raise PluginError(f"algorithm {name!r}: step is not pure: it modified the input state's "
                              f"field(s) {', '.join(changed)} in place (return a new state instead)")
        _state_ok(name, f"step (t = {t})", out1, x0.shape)
        out2 = method.step(state, orc, t, torch.Generator().manual_seed(10 + t))
        diff = [n for n, a, b in zip(out1._fields, out1, out2)
                if torch.is_tensor(a) and not (torch.is_tensor(b) and _same(a, b))]
        if diff:
            raise PluginError(f"algorithm {name!r}: step is not pure: the same state, time and random "
                              f"source gave different outputs twice (field(s) {', '.join(diff)}); "
                              "hidden state or unseeded randomness?")
        if type(out1) is not type(state) and getattr(out1, "_fields", None) != state._fields:
            raise PluginError(f"algorithm {name!r}: step changed the state's fields from "
                              f"{state._fields} to {out1._fields}")
        bad = [n for n, a in zip(state._fields, state) if torch.is_tensor(a) and a.is_floating_point()
               and tuple(getattr(out1, n).shape) != tuple(a.shape)]
        if bad:
            n = bad[0]
            raise PluginError(f"algorithm {name!r}: step changed the shape of field {n!r} from "
                              f"{tuple(getattr(state, n).shape)} to {tuple(getattr(out1, n).shape)}")
        state = out1
    w = method.model(state)
    want = tuple(x0.shape[:-2]) + (d,)
    if not torch.is_tensor(w) or tuple(w.shape) != want:
        got = tuple(w.shape) if torch.is_tensor(w) else type(w).__name__
        raise PluginError(f"algorithm {name!r}: model(state) has shape {got}, expected {want} (..., d)")


def check_builder(name: str, builder=None, topology=None, **hp: Any) -> None:
    """Build `name` (registered, or `builder`) on `topology` (default ring of 4) with `hp`
    (default hp_for(name)) and check the contract with and without a replica axis."""
    from dynamics import base
    from dynamics.topology import ring
    builder = builder or base.ALGORITHMS.get(name)
    if builder is None:
        raise PluginError(f"algorithm {name!r} is not registered")
    top = ring(4) if topology is None else topology
    try:
        m = builder(top, **(hp or hp_for(name)))
    except Exception as exc:
        raise PluginError(f"algorithm {name!r}: the builder failed on topology {top.name!r} with "
                          f"{hp or hp_for(name)}: {type(exc).__name__}: {exc}") from exc
    if not all(hasattr(m, a) for a in ("init", "step", "model", "comm", "hp")):
        raise PluginError(f"algorithm {name!r}: the builder must return a dynamics.Method, got {type(m).__name__}")
    for reps in (2, None):
        check_method(m, top.K, replicas=reps)


def load_plugin(module: str) -> list[str]:
    """Import `module`, check every builder it registers, return their names.
    Broken builders are unregistered and raise PluginError naming the problem."""
    import dynamics  # noqa: F401  (the package import fills the registry)
    from dynamics import base
    before = set(base.ALGORITHMS.names())
    try:
        mod = sys.modules.get(module) or importlib.import_module(module)
        new = sorted(set(base.ALGORITHMS.names()) - before)
        if not new:  # imported earlier: its builders are those defined in it
            new = sorted(n for n, f in base.ALGORITHMS.items() if getattr(f, "__module__", None) == mod.__name__)
        if not new:  # imported earlier and unregistered since (or refused): run it again
            mod = importlib.reload(mod)
            new = sorted(set(base.ALGORITHMS.names()) - before)
    except ImportError as exc:
        raise PluginError(f"plugin {module!r} cannot be imported: {exc}") from exc
    except ValueError as exc:  # e.g. dynamics.register: a name registered twice
        raise PluginError(f"plugin {module!r}: {exc}") from exc
    if not new:
        raise PluginError(f"plugin {module!r} registers no algorithm (use @dynamics.register(name))")
    hp = getattr(mod, "SCORECARD_HP", {}) or {}
    for n in new:
        if n in hp:
            _HP[n] = dict(hp[n])
        try:
            check_builder(n)
        except PluginError:
            base.ALGORITHMS.unregister(n)
            _HP.pop(n, None)
            raise
    return new


def unregister(name: str) -> None:
    """Remove a plug-in's algorithm from the registry (tests, re-loading)."""
    from dynamics import base
    base.ALGORITHMS.unregister(name)
    _HP.pop(name, None)


def load_entry_points(group: str = ENTRY_POINT_GROUP) -> list[str]:
    """Load every module declared in the entry-point group (installed packages)."""
    from importlib.metadata import entry_points
    names = []
    for ep in entry_points(group=group):
        names += load_plugin(ep.module)
    return names
