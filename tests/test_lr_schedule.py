"""`lr` as a number or a schedule t -> lr (dynamics.base.lr_schedule, docs/CONTRACTS.md): a
constant schedule is the number bit for bit, a schedule is the Method rebuilt with lr(t) at every
step bit for bit (what the trainer relied on before it built its Method once), hand-written
D-SGD and EASGD recursions with lr(t), and bad schedules refused with one line naming lr."""
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as hs

import dynamics
from dynamics import topology as T
from landscapes.hetero import hetero_quadratics
from landscapes.noise import oracle as make_oracle
from landscapes.rng import Streams

R = 2
# extra hyper-parameters (rho is required by admm_rr; the others exercise lr-derived constants,
# periods and asynchrony); every other algorithm runs at its defaults
EXTRA = {"admm_rr": dict(rho=1.5), "easgd": dict(rho=0.5), "easgd_rr": dict(rho=0.5),
         "easgd_async": dict(rho=0.5, tau=2), "eamsgd": dict(tau=2), "downpour": dict(tau=2, staleness=1),
         "local_sgd": dict(period=2), "lsgd": dict(tau=2), "csgd": dict(beta=0.5)}
NAMES = dynamics.names()


def _problem(K, d, seed):
    prob = hetero_quadratics(K, d, zeta=1.0, hess_spread=1.0, seed=seed)
    x0 = torch.randn(R, K, d, generator=torch.Generator().manual_seed(seed + 1), dtype=torch.float64)
    return prob, make_oracle(prob, noise="isotropic", sigma=0.3), x0


def _make(name, K, lr):
    return dynamics.make(name, T.ring(K), lr=lr, **EXTRA.get(name, {}))


def _steps(method_at, oracle, x0, steps, seed=0):
    """Every state of the run whose step t is taken by method_at(t) (init by method_at(0)), on
    the counter-based streams Streams(seed, R): the reference for a Method rebuilt per step."""
    rng = Streams(seed, R)
    out = [method_at(0).init(x0.clone(), oracle, rng)]
    for t in range(steps):
        out.append(method_at(t).step(out[-1], oracle, t, rng))
    return out


def _equal_states(a, b):
    for sa, sb in zip(a, b, strict=True):
        for name, u, v in zip(sa._fields, sa, sb):
            assert torch.equal(u, v), name


SIZES = dict(c=hs.floats(1e-3, 0.3), K=hs.integers(2, 4), d=hs.integers(1, 3), steps=hs.integers(1, 5),
             seed=hs.integers(0, 50))


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=8, deadline=None)
@given(**SIZES)
def test_constant_schedule_is_the_number_bit_for_bit(name, c, K, d, steps, seed):
    _, orc, x0 = _problem(K, d, seed)
    num, sch = _make(name, K, c), _make(name, K, lambda t: c)
    runs = [dynamics.simulate(m, orc, x0, steps, seed=seed, record_every=1, recorders=("field:x",),
                              divergence=None) for m in (num, sch)]
    np.testing.assert_array_equal(runs[0].records["field:x"], runs[1].records["field:x"], strict=True)
    assert num.hp["lr"] == c and sch.hp["lr"] == "schedule"
    assert {k: v for k, v in num.hp.items() if k not in ("lr", "alpha")} == \
        {k: v for k, v in sch.hp.items() if k not in ("lr", "alpha")}


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=6, deadline=None)
@given(c=hs.floats(0.01, 0.3), decay=hs.floats(0.0, 1.0), **{k: v for k, v in SIZES.items() if k != "c"})
def test_schedule_equals_the_method_rebuilt_at_every_step(name, c, decay, K, d, steps, seed):
    """Every field of every state; lr-derived constants (α = lr(t)ρ, ADMM's lr(t)ρ, ...) included."""
    _, orc, x0 = _problem(K, d, seed)
    lr = lambda t: c / (1 + decay * t)
    once = _make(name, K, lr)
    _equal_states(_steps(lambda t: once, orc, x0, steps, seed),
                  _steps(lambda t: _make(name, K, lr(t)), orc, x0, steps, seed))


def test_dsgd_follows_the_hand_written_recursion():
    """x^{t+1} = W x^t − lr(t) ∇f_k(x_k^t) (docs/theory.md §1), exact gradients, lr(t) = 0.2/(1+t)."""
    K, d, steps = 4, 3, 6
    prob, _, x0 = _problem(K, d, 3)
    orc = make_oracle(prob, noise="none")
    lr = lambda t: 0.2 / (1 + t)
    W = T.ring(K).W(0)
    x = x0.clone()
    got = dynamics.simulate(_make("dsgd", K, lr), orc, x0, steps, record_every=1, recorders=("field:x",))
    for t in range(steps):
        x = torch.einsum("ij,rjd->rid", W, x) - lr(t) * prob.grad_i(x)
        np.testing.assert_allclose(got.records["field:x"][t + 1], x.numpy(), rtol=1e-13, atol=1e-14)
    assert not np.allclose(got.records["field:x"][-1], dynamics.simulate(
        _make("dsgd", K, 0.2), orc, x0, steps, record_every=1, recorders=("field:x",)).records["field:x"][-1])


def test_easgd_alpha_follows_the_schedule():
    """α(t) = lr(t)ρ in both updates: x ← x − lr(t)g − α(t)(x − x̃), x̃ ← (1 − Kα(t))x̃ + Kα(t) mean x."""
    K, d, rho, steps = 3, 2, 0.8, 5
    prob, _, x0 = _problem(K, d, 5)
    orc = make_oracle(prob, noise="none")
    lr = lambda t: 0.3 * 0.5 ** t
    m = dynamics.make("easgd", None, lr=lr, rho=rho)
    s = m.init(x0, orc, None)
    x, c = x0.clone(), x0.mean(-2)
    for t in range(steps):
        s = m.step(s, orc, t, None)
        a = lr(t) * rho
        x, c = x - lr(t) * prob.grad_i(x) - a * (x - c.unsqueeze(-2)), (1 - K * a) * c + K * a * x.mean(-2)
        torch.testing.assert_close(s.x, x, rtol=1e-13, atol=1e-14)
        torch.testing.assert_close(s.center, c, rtol=1e-13, atol=1e-14)
    assert m.hp["alpha"] == f"lr(t) * {rho!r}"


def test_a_step_at_lr_zero_moves_nothing():
    """C-SGD with beta = 0 is w ← w − lr(t) ḡ: a step with lr(t) = 0 leaves every worker where it was
    (only lr(0) is checked; later values are the schedule's business)."""
    K, d = 3, 2
    _, orc, x0 = _problem(K, d, 7)
    lr = lambda t: 0.0 if t == 1 else 0.1
    xs = dynamics.simulate(dynamics.make("csgd", None, lr=lr), orc, x0, 3, record_every=1,
                           recorders=("field:x",)).records["field:x"]
    assert np.array_equal(xs[2], xs[1]) and not np.array_equal(xs[1], xs[0]) and not np.array_equal(xs[3], xs[2])


def _raises():
    raise RuntimeError("no step size today")


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("bad, match", [
    (lambda t: -0.1, "positive finite number, got -0.1 at t = 0"),
    (lambda t: 0.0, "positive finite number, got 0.0 at t = 0"),
    (lambda t: math.nan, "positive finite number, got nan"),
    (lambda t: math.inf, "positive finite number, got inf"),
    (lambda t: "0.1", "positive finite number, got '0.1'"),
    (lambda t: True, "positive finite number, got True"),
    (lambda t: None, "failed at t = 0: TypeError"),
    (lambda t: _raises(), "failed at t = 0: RuntimeError: no step size today"),
    (lambda: 0.1, "failed at t = 0: TypeError"),
])
def test_bad_schedules_are_refused_naming_lr(name, bad, match):
    with pytest.raises(ValueError, match=r"^lr schedule .*" + match.replace("(", r"\(").replace(")", r"\)")) as e:
        _make(name, 3, bad)
    assert "\n" not in str(e.value)


def test_lr_schedule_itself():
    from dynamics.base import lr_schedule
    c = lr_schedule(0.25)
    assert c(0) == c(10 ** 9) == 0.25 and type(c(3)) is float and c.hp == 0.25
    s = lr_schedule(lambda t: torch.tensor(0.5) / (t + 1))                 # any number-like value
    assert s(1) == 0.25 and type(s(1)) is float and s.hp == "schedule"
    with pytest.raises(ValueError, match=r"^lr \(step size\) must be a positive finite number, got -1"):
        lr_schedule(-1)
    with pytest.raises(ValueError, match=r"^eta schedule"):
        lr_schedule(lambda t: -1.0, name="eta")


@pytest.mark.parametrize("schedule", [False, True])
def test_sabotage_lr_scale_scales_a_number_and_a_schedule(schedule):
    """verify.sabotage.make(lr_scale=s) steps as the method built at s·lr (a number, or s·lr(t) at every t)."""
    from verify import sabotage
    K, d, steps = 4, 2, 5
    _, orc, x0 = _problem(K, d, seed=3)
    lr = (lambda t: 0.1 / (1 + t)) if schedule else 0.1
    scaled = (lambda t: 2.5 * 0.1 / (1 + t)) if schedule else 0.25
    got = _steps(lambda t: sabotage.make("dsgd", T.ring(K), lr=lr, lr_scale=2.5), orc, x0, steps)
    want = _steps(lambda t: dynamics.make("dsgd", T.ring(K), lr=scaled), orc, x0, steps)
    nominal = _steps(lambda t: dynamics.make("dsgd", T.ring(K), lr=lr), orc, x0, steps)
    for a, b in zip(got, want):
        torch.testing.assert_close(a.x, b.x, rtol=1e-15, atol=1e-15)
    assert not torch.allclose(got[-1].x, nominal[-1].x)  # the scaling did something
