"""dynamics.rollout: the light path (advance a state on the counter-based streams, no records).

Expected values come from explicit `method.step` loops on `Streams`, `simulate`, or closed
forms, never from rollout itself."""
import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import dynamics
import landscapes
from dynamics import topology as T
from dynamics.rollout import Rollout, rollout
from landscapes.rng import Streams

DT = torch.float64
NAMES = ["dsgd", "dsgdm", "gt", "easgd", "lsgd", "local_sgd"]


def _setup(name, K=4, d=2, sigma=0.7):
    land = landscapes.get("quadratic", H=torch.diag(torch.tensor([1.0, 3.0], dtype=DT)))
    orc = landscapes.oracle(land, noise="isotropic", sigma=sigma)
    return dynamics.make(name, T.ring(K), lr=0.05), orc, torch.linspace(-1, 1, K * d, dtype=DT).view(K, d)


def _loop(m, orc, x0, steps, seed, ids, t0=0):
    """The hand loop rollout replaces (an independent reference), returning every state."""
    rng = Streams(seed, torch.as_tensor(ids))
    s = m.init(x0.expand(len(ids), *x0.shape).clone(), orc, rng)
    out = [s]
    for t in range(t0, t0 + steps):
        s = m.step(s, orc, t, rng)
        out.append(s)
    return out


@given(name=st.sampled_from(NAMES), seed=st.integers(0, 10_000), steps=st.integers(0, 12),
       R=st.integers(1, 4), t0=st.integers(0, 5))
def test_rollout_is_the_explicit_loop_bit_for_bit(name, seed, steps, R, t0):
    m, orc, x0 = _setup(name)
    ref = _loop(m, orc, x0, steps, seed, list(range(R)), t0)[-1]
    r = rollout(m, orc, x0, steps, t0=t0, seed=seed, replicas=R)
    assert isinstance(r, Rollout) and r.t == t0 + steps and r.means == {}
    assert r._fields == ("state", "t", "rng", "means")
    assert all(torch.equal(a, b) for a, b in zip(r.state, ref))
    # an (R, K, d) x0 gives the same run; so does continuing from r.state with r.t / r.rng
    r3 = rollout(m, orc, x0.expand(R, *x0.shape).clone(), steps, t0=t0, seed=seed)
    assert torch.equal(r3.state.x, ref.x)
    h = rollout(m, orc, x0, steps // 2, t0=t0, seed=seed, replicas=R)
    h = rollout(m, orc, h.state, steps - steps // 2, t0=h.t, rng=h.rng)
    assert h.t == t0 + steps and torch.equal(h.state.x, ref.x)


@pytest.mark.parametrize("name", ["dsgd", "dsgdm"])
def test_rollout_ends_where_simulate_ends(name):
    m, orc, x0 = _setup(name)
    sim = dynamics.simulate(m, orc, x0, 30, replicas=3, seed=4, recorders=["consensus"])
    assert np.array_equal(rollout(m, orc, x0, 30, seed=4, replicas=3).state.x.numpy(), sim.x)


@pytest.mark.parametrize("name", NAMES)
def test_sub_ensemble_rows_equal_the_full_run(name):
    m, orc, x0 = _setup(name)
    full = rollout(m, orc, x0, 15, seed=9, replicas=8).state
    sub = rollout(m, orc, x0, 15, seed=9, replicas=[3, 5]).state
    for a, b in zip(sub, full):
        assert torch.equal(a, b[[3, 5]])
    assert not torch.equal(full.x[3], full.x[5])  # the rows do differ (noise is per replica)


@given(q=st.floats(0.05, 0.95), steps=st.integers(1, 40), data=st.data())
def test_average_with_burn_in_is_the_closed_form_mean(q, steps, data):
    """Noise-free D-SGD on ½‖x‖² with x0 = c·1 (consensus): x_t = (1 − η)^t c, so the mean of
    x_t over t = b+1..n is c q^{b+1} (1 − q^{n−b}) / ((1 − q)(n − b)), q = 1 − η."""
    b = data.draw(st.integers(0, steps - 1))
    K, c = 3, torch.tensor([2.0, -1.0], dtype=DT)
    m = dynamics.make("dsgd", T.ring(K), lr=1 - q)
    orc = landscapes.oracle(landscapes.get("quadratic", H=torch.eye(2, dtype=DT)))
    r = rollout(m, orc, c.expand(K, 2).clone(), steps, average="x", burn_in=b)
    want = c * q ** (b + 1) * (1 - q ** (steps - b)) / ((1 - q) * (steps - b))
    assert r.state.x.shape == (1, K, 2)  # (K, d) is one replica, as in simulate
    assert torch.allclose(r.means["x"], want.expand(1, K, 2), rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("burn_in", [0, 3, 9])
def test_average_is_the_mean_of_the_states_after_burn_in(burn_in):
    m, orc, x0 = _setup("dsgdm")
    states = _loop(m, orc, x0, 10, 2, [0, 1, 2])
    fns = {"cons": lambda s, meth: ((s.x - meth.model(s).unsqueeze(-2)) ** 2).sum((-1, -2))}
    r = rollout(m, orc, x0, 10, seed=2, replicas=3, average=["x", "m"], burn_in=burn_in)
    rf = rollout(m, orc, x0, 10, seed=2, replicas=3, average=fns, burn_in=burn_in)
    kept = states[burn_in + 1:]
    assert len(kept) == 10 - burn_in
    for f in ("x", "m"):
        assert torch.allclose(r.means[f], torch.stack([getattr(s, f) for s in kept]).mean(0), rtol=1e-13)
    cons = torch.stack([((s.x - s.x.mean(-2, keepdim=True)) ** 2).sum((-1, -2)) for s in kept]).mean(0)
    assert rf.means["cons"].shape == (3,) and torch.allclose(rf.means["cons"], cons, rtol=1e-13)
    assert torch.equal(r.state.x, states[-1].x) and torch.equal(rf.state.x, states[-1].x)


def test_bad_input():
    m, orc, x0 = _setup("dsgd")
    cases = [
        (dict(method=object()), "method must be a dynamics Method"),
        (dict(oracle=3), "oracle must be callable"),
        (dict(steps=-1), "steps must be an integer >= 0"),
        (dict(steps=1.5), "steps must be an integer"),
        (dict(t0=-2), "t0 must be an integer >= 0"),
        (dict(x0=torch.zeros(4)), "x0_or_state must be a tensor"),
        (dict(x0=[[0.0]]), "x0_or_state must be a tensor"),
        (dict(seed=-1), "seed must be"),
        (dict(replicas=0), "replicas must be >= 1"),
        (dict(replicas=[1, 1]), "distinct"),
        (dict(rng=torch.Generator()), "rng must be a landscapes.rng.Streams"),
        (dict(rng=Streams(0, 2), replicas=2), "not both"),
        (dict(rng=Streams(0, 2)), r"holds 1 replicas but replicas=/rng= give R = 2"),
        (dict(x0=torch.zeros(2, 4, 2, dtype=DT), replicas=3), "holds 2 replicas but .* R = 3"),
        (dict(burn_in=2), "burn_in is the start of the time average"),
        (dict(average="x", burn_in=5), "burn_in must be < steps"),
        (dict(average="y"), "no field 'y'; fields: x"),
        (dict(average=[]), "average must be a state field name"),
        (dict(average={"a": 1}), "average: a dict must map names"),
    ]
    for kw, msg in cases:
        args = dict(method=m, oracle=orc, x0=x0, steps=5) | kw
        with pytest.raises(ValueError, match=msg) as e:
            rollout(args.pop("method"), args.pop("oracle"), args.pop("x0"), args.pop("steps"), **args)
        assert "\n" not in str(e.value)
