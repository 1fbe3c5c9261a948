"""simulate(..., fused=...): the fused kernel (dynamics/fused.py) inside the simulator gives the
per-step path's records, iterates and events; eligibility and its refusals.

The reference is always simulate(..., fused=False) (the per-step path of method.step), never the
fused path itself. The eager kernel must agree bit for bit, the compiled one to 1e-12.
"""
import importlib

import numpy as np
import pytest
import torch

import dynamics
from dynamics import fused
from dynamics.base import Method
from dynamics.simulate import simulate
from dynamics.topology import one_peer_exponential, ring
from landscapes import get
from landscapes.noise import oracle

sim_mod = importlib.import_module("dynamics.simulate")  # the name dynamics.simulate is the function
K, LAND = 6, get("double_gaussian")
TOP = ring(K)  # one topology object: the compiled kernel is cached per (topology, landscape, ...)
ORC = oracle(LAND, noise="isotropic", sigma=1.0, batch=2)
X0 = torch.linspace(-1.2, -0.8, K, dtype=torch.float64).reshape(K, 1)


def _meth(name):
    return dynamics.make(name, TOP, lr=0.2, **({"beta": 0.5} if name == "dsgdm" else {}))


def _both(name, **kw):
    args = dict(replicas=torch.tensor([7, 2, 5, 0]), seed=4, record_every=3)
    args.update(kw)
    ref = simulate(_meth(name), ORC, X0, 40, fused=False, **args)
    got = simulate(_meth(name), ORC, X0, 40, fused=True, **args)
    assert ref.config["path"] == "steps" and got.config["path"] == "fused"
    return ref, got


def _events_equal(ref, got):
    for a in ("event_step", "event_kind", "diverged", "diverged_step", "times", "replicas"):
        assert np.array_equal(getattr(ref, a), getattr(got, a)), a


# thresholds 1.8 / 1.4: some of the 4 replicas leave the ball mid-run, others do not
@pytest.mark.parametrize("name,divergence", [("dsgd", 1e6), ("dsgdm", 1e6), ("dsgd", 1.8), ("dsgdm", 1.4)])
def test_eager_kernel_is_bit_identical(monkeypatch, name, divergence):
    monkeypatch.setattr(sim_mod, "_FUSED_COMPILE", False)
    ref, got = _both(name, divergence=divergence)
    _events_equal(ref, got)
    assert np.array_equal(ref.x, got.x)
    assert list(got.records) == ["loss_avg", "consensus", "loss_workers"]
    for k in ref.records:
        assert np.array_equal(ref.records[k], got.records[k]), k
    if divergence < 10:
        n = int(ref.diverged.sum())
        assert 0 < n < 4 and (ref.diverged_step[ref.diverged] > 0).all()  # the case really diverges


@pytest.mark.slow
@pytest.mark.skipif(not fused.compiler_available(), reason="no C++ compiler for torch.compile")
def test_compiled_kernel_agrees_to_1e12():
    ref, got = _both("dsgdm", divergence=1.4)  # one compile: dsgdm, this TOP, LAND, lr, beta
    _events_equal(ref, got)
    assert ref.diverged.any()
    np.testing.assert_allclose(got.x, ref.x, rtol=1e-12, atol=1e-300)
    for k in ref.records:
        np.testing.assert_allclose(got.records[k], ref.records[k], rtol=1e-12, atol=1e-300)


def test_auto_takes_fused_only_for_large_eligible_runs(monkeypatch):
    small = simulate(_meth("dsgd"), ORC, X0, 5, replicas=2)
    assert small.config["path"] == "steps"  # 2 * 6 * 5 worker-steps < _FUSED_MIN_WORK
    monkeypatch.setattr(sim_mod, "_FUSED_MIN_WORK", 1)
    monkeypatch.setattr(sim_mod, "_FUSED_COMPILE", False)
    assert simulate(_meth("dsgd"), ORC, X0, 5, replicas=2).config["path"] == "fused"
    stopped = simulate(_meth("dsgd"), ORC, X0, 5, replicas=2, stop=lambda c: c[:, 0] > 9)
    assert stopped.config["path"] == "steps"


def _foreign_dsgd():
    """A Method named 'dsgd' whose step is not the registered one."""
    m = _meth("dsgd")
    return Method("dsgd", m.init, lambda s, o, t, r: m.step(s, o, t, r), m.model, m.comm, m.hp, m.topology)


@pytest.mark.parametrize("make,kw,word", [
    (lambda: _meth("atc"), {}, "not one of"),
    (_foreign_dsgd, {}, "step differs"),
    (lambda: dynamics.make("dsgd", TOP, lr=lambda t: 0.2 / (1 + t)), {}, "constant step size"),
    (lambda: dynamics.make("dsgd", one_peer_exponential(8), lr=0.1), {}, "time-varying"),
    (lambda: _meth("dsgd"), {"orc": oracle(LAND, noise="none")}, "isotropic"),
    (lambda: _meth("dsgd"), {"stop": lambda c: c[:, 0] > 9}, "stop"),
    (lambda: _meth("dsgd"), {"dtype": torch.float32}, "float64"),
    (lambda: _meth("dsgd"), {"checkpoint": "ck.pt"}, "checkpoint"),
])
def test_fused_true_refused_with_the_reason(monkeypatch, tmp_path, make, kw, word):
    monkeypatch.setattr(sim_mod, "_FUSED_COMPILE", False)
    m = make()
    orc = kw.pop("orc", ORC)
    if "checkpoint" in kw:
        kw["checkpoint"] = tmp_path / "ck.pt"
    x0 = torch.zeros(m.topology.K, 1)
    with pytest.raises(ValueError, match=word):
        simulate(m, orc, x0, 3, fused=True, **kw)
    if "dtype" not in kw:  # (the oracle computes in float64: float32 is refused on any path)
        assert simulate(m, orc, x0, 3, **kw).config["path"] == "steps"  # auto falls back silently


def test_fused_flag_must_be_none_or_bool():
    with pytest.raises(ValueError, match="fused"):
        simulate(_meth("dsgd"), ORC, X0, 3, fused="yes")


def test_a_kernel_that_fails_falls_back_unless_required(monkeypatch):
    """fused=None: a first fused call that raises (a gradient the compiler cannot trace) runs
    the whole run on method.step; fused=True lets the error through."""
    def broken(*a, **k):
        def advance(x, m, t0, n):
            raise RuntimeError("cannot trace")
        return advance, True
    monkeypatch.setattr(fused, "stepper", broken)
    monkeypatch.setattr(sim_mod, "_FUSED_COMPILE", False)  # (eligible without a C++ compiler too)
    monkeypatch.setattr(sim_mod, "_FUSED_MIN_WORK", 1)
    ref = simulate(_meth("dsgd"), ORC, X0, 12, replicas=3, fused=False)
    got = simulate(_meth("dsgd"), ORC, X0, 12, replicas=3)
    assert got.config["path"] == "steps" and np.array_equal(got.x, ref.x)
    with pytest.raises(RuntimeError, match="cannot trace"):
        simulate(_meth("dsgd"), ORC, X0, 12, replicas=3, fused=True)


def _spy_advance(monkeypatch):
    """Record (t0, n) of every fused kernel call simulate makes (the eager kernel)."""
    monkeypatch.setattr(sim_mod, "_FUSED_COMPILE", False)
    calls, real = [], fused.stepper

    def stepper(*a, **k):
        advance, compiled = real(*a, **k)

        def spy(x, m, t0, n):
            calls.append((t0, n))
            return advance(x, m, t0, n)
        return spy, compiled
    monkeypatch.setattr(fused, "stepper", stepper)
    return calls


def test_leaps_run_from_record_to_record(monkeypatch):
    """Nothing happens: one kernel call per stretch between records, at most _LEAP steps."""
    calls = _spy_advance(monkeypatch)
    args = dict(replicas=3, seed=2, record_every=[0, 7, 100], recorders=("consensus",))
    got = simulate(_meth("dsgdm"), ORC, X0, 100, fused=True, **args)
    assert calls == [(0, 7), (7, sim_mod._LEAP), (7 + sim_mod._LEAP, 93 - sim_mod._LEAP)]
    ref = simulate(_meth("dsgdm"), ORC, X0, 100, fused=False, **args)
    assert np.array_equal(got.x, ref.x) and np.array_equal(got.records["consensus"], ref.records["consensus"])


def test_a_leap_that_met_a_divergence_is_stepped_again_one_by_one(monkeypatch):
    """The first leap (0..40) holds a divergence: it is retaken step by step from step 0 (the
    same draws), so event steps that fall inside a leap come out as on the per-step path."""
    calls = _spy_advance(monkeypatch)
    args = dict(replicas=torch.tensor([7, 2, 5, 0]), seed=4, record_every=[0, 40], divergence=1.8)
    got = simulate(_meth("dsgd"), ORC, X0, 40, fused=True, **args)
    ref = simulate(_meth("dsgd"), ORC, X0, 40, fused=False, **args)
    assert calls[0] == (0, 40) and calls[1:] == [(t, 1) for t in range(40)]
    assert ref.diverged.any() and ((ref.diverged_step > 1) & (ref.diverged_step < 40)).any()
    _events_equal(ref, got)
    assert np.array_equal(got.x, ref.x)
    for k in ref.records:
        assert np.array_equal(ref.records[k], got.records[k]), k


COMPILED = pytest.param(True, marks=[pytest.mark.slow, pytest.mark.skipif(
    not fused.compiler_available(), reason="no C++ compiler for torch.compile")])


@pytest.mark.parametrize("compiled", [False, COMPILED])
@pytest.mark.parametrize("divergence", [None, 1e6])
def test_overflow_to_nan_inside_a_leap(monkeypatch, divergence, compiled):
    """An unstable step size: the iterates pass the threshold, overflow to inf and NaN inside
    a leap; the events are those of the per-step path (divergence=None: NaN/Inf only), also
    with the compiled kernel (its peak must not drop a NaN)."""
    monkeypatch.setattr(sim_mod, "_FUSED_COMPILE", compiled)
    land = get("quadratic", H=[[1.0]], x_star=[0.0])
    orc = oracle(land, noise="isotropic", sigma=1.0)
    args = dict(replicas=3, seed=1, record_every=[0, 150], divergence=divergence)
    res = {f: simulate(dynamics.make("dsgd", TOP, lr=400.0), orc, X0, 150, fused=f, **args)
           for f in (False, True)}
    ref, got = res[False], res[True]
    assert got.config["path"] == "fused" and ref.diverged.all()
    assert (ref.diverged_step > (100 if divergence is None else 1)).all()  # (inf needs > 100 steps)
    _events_equal(ref, got)
    for k in ref.records:  # (NaN where the per-step path has NaN)
        np.testing.assert_allclose(got.records[k], ref.records[k], rtol=1e-12 if compiled else 0, atol=0)
    np.testing.assert_allclose(got.x, ref.x, rtol=1e-12 if compiled else 0, atol=0)
