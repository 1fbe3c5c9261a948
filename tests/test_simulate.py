"""Tests of the ensemble simulator (dynamics/simulate.py).

Algorithms and oracles are written inline here (a 5-line D-SGD on dynamics.topology.ring, a
1-D double-Gaussian landscape), so these tests do not depend on dynamics.algorithms.
Expected values come from numpy recomputations or closed forms, never from the simulator.
"""
import json
import math
from typing import NamedTuple

import numpy as np
import pytest
import torch

from dynamics.base import Method
from dynamics.simulate import SimResult, simulate
from dynamics.topology import ring
from landscapes import rng as lrng


class S(NamedTuple):
    x: torch.Tensor


def dsgd(top, lr):
    """x_i <- sum_j W_ij x_j - lr g_i(x_i) (docs/theory.md §1)."""
    W = top.W(0)

    def step(s, oracle, t, rng):
        return S(W @ s.x - lr * oracle(s.x, t, rng)[1])
    return Method("dsgd-inline", lambda x0, o, r: S(x0), step, lambda s: s.x.mean(-2), 2.0 * top.K,
                  {"lr": lr}, top)


def dg_f(x):
    """Double Gaussian: L(x) = -exp(-(x+1)^2/(2*0.25^2)) - exp(-(x-1.5)^2/(2*0.75^2)), x (..., 1)."""
    x = x[..., 0]
    return -torch.exp(-(x + 1) ** 2 / (2 * 0.25 ** 2)) - torch.exp(-(x - 1.5) ** 2 / (2 * 0.75 ** 2))


def dg_f_np(x):
    return -np.exp(-(x + 1) ** 2 / (2 * 0.25 ** 2)) - np.exp(-(x - 1.5) ** 2 / (2 * 0.75 ** 2))


class DG:
    """Oracle: exact double-Gaussian gradient plus isotropic noise sigma/sqrt(B)."""
    def __init__(self, sigma=0.5, batch=1):
        self.sigma, self.batch = sigma, batch
        self.landscape = type("L", (), {"f": staticmethod(dg_f)})()

    def __call__(self, x, t, rng):
        xs = x[..., 0]
        g = ((xs + 1) / 0.25 ** 2 * torch.exp(-(xs + 1) ** 2 / (2 * 0.25 ** 2))
             + (xs - 1.5) / 0.75 ** 2 * torch.exp(-(xs - 1.5) ** 2 / (2 * 0.75 ** 2)))[..., None]
        if self.sigma:
            g = g + self.sigma / math.sqrt(self.batch) * lrng.normal(rng, t, x.shape[1:])
        return dg_f(x), g


class Quad:
    """Noiseless quadratic f(x) = h ||x||^2 / 2."""
    def __init__(self, h):
        self.h = h

    def __call__(self, x, t, rng):
        return 0.5 * self.h * x.square().sum(-1), self.h * x


K, TOP = 6, ring(6)


def x0_spread(R, K=K, seed=1):
    return torch.tensor(np.random.default_rng(seed).normal(-1.0, 0.3, (R, K, 1)))


def test_subensemble_reproduces_rows_exactly():
    m, o = dsgd(TOP, 0.05), DG(sigma=0.7)
    full = simulate(m, o, torch.full((K, 1), -1.0), 60, replicas=8, seed=11, record_every=5)
    sub = simulate(m, o, torch.full((K, 1), -1.0), 60, replicas=torch.tensor([3, 5]), seed=11, record_every=5)
    assert np.array_equal(sub.x, full.x[[3, 5]])
    for name in ("loss_avg", "consensus", "loss_workers"):
        assert np.array_equal(sub.records[name], full.records[name][:, [3, 5]])
    assert not np.array_equal(full.x[3], full.x[5])  # the noise really differs between replicas
    other_seed = simulate(m, o, torch.full((K, 1), -1.0), 60, replicas=8, seed=12)
    assert not np.array_equal(other_seed.x, full.x)


def test_recorders_match_numpy():
    m, o = dsgd(TOP, 0.05), DG(sigma=0.5)
    r = simulate(m, o, x0_spread(4), 20, seed=3, record_every=[0, 1, 7, 20],
                 recorders=("loss_avg", "consensus", "loss_workers", "field:x", "model"))
    assert r.times.tolist() == [0, 1, 7, 20]
    X = r.records["field:x"]  # (T, R, K, 1)
    assert X.shape == (4, 4, K, 1)
    assert np.array_equal(X[0], x0_spread(4).numpy())
    xbar = X.mean(axis=2, keepdims=True)
    cons = ((X - xbar) ** 2).sum(-1).mean(-1)
    np.testing.assert_allclose(r.records["consensus"], cons, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(r.records["loss_avg"], dg_f_np(X.mean(axis=2)[..., 0]), rtol=1e-12)
    np.testing.assert_allclose(r.records["loss_workers"], dg_f_np(X[..., 0]), rtol=1e-12)
    np.testing.assert_allclose(r.records["model"], X.mean(axis=2), rtol=1e-12)
    np.testing.assert_array_equal(X[-1], r.x)


def test_dsgd_step_matches_numpy_recursion():
    """Noiseless D-SGD x <- W x - lr grad recomputed in numpy."""
    m, o = dsgd(TOP, 0.1), DG(sigma=0.0)
    x = x0_spread(3).numpy()
    r = simulate(m, o, torch.tensor(x), 30, record_every=30, recorders=("consensus",))
    W = TOP.W(0).numpy()
    for _ in range(30):
        xs = x[..., 0]
        g = ((xs + 1) / 0.0625 * np.exp(-(xs + 1) ** 2 / 0.125)
             + (xs - 1.5) / 0.5625 * np.exp(-(xs - 1.5) ** 2 / 1.125))[..., None]
        x = W @ x - 0.1 * g
    np.testing.assert_allclose(r.x, x, rtol=1e-12, atol=1e-14)


def test_stop_freezes_replica_without_touching_others():
    m, o = dsgd(TOP, 0.1), DG(sigma=1.5)
    x0 = torch.full((K, 1), -1.0)
    free = simulate(m, o, x0, 80, replicas=6, seed=5, recorders=("field:x",))
    peaks = np.sort(free.records["field:x"].mean(axis=2)[..., 0].max(axis=0))
    thr = float(peaks[2] + peaks[3]) / 2  # half the replicas' centroids cross it
    stopped = simulate(m, o, x0, 80, replicas=6, seed=5, recorders=("field:x",),
                       stop=lambda c: c[:, 0] > thr, stop_on="centroid")
    X = free.records["field:x"]
    cent = X.mean(axis=2)[..., 0]  # (T, R)
    for r in range(6):
        cross = np.flatnonzero(cent[:, r] > thr)
        if len(cross) == 0:
            assert stopped.event_step[r] == -1 and stopped.event_kind[r] == "none"
            np.testing.assert_array_equal(stopped.x[r], free.x[r])
            continue
        e = cross[0]
        assert stopped.event_step[r] == e and stopped.event_kind[r] == "stop"
        np.testing.assert_array_equal(stopped.x[r], X[e, r])  # frozen at the event
        np.testing.assert_array_equal(stopped.records["field:x"][e:, r], np.broadcast_to(X[e, r], X[e:, r].shape))
        np.testing.assert_array_equal(stopped.records["field:x"][:e + 1, r], X[:e + 1, r])
    n_stop = (stopped.event_kind == "stop").sum()
    assert 0 < n_stop < 6, "test needs some but not all replicas to stop"
    assert not stopped.diverged.any()


@pytest.mark.parametrize("stop_on,thr", [("any", -0.5), ("all", -1.0)])
def test_stop_on_workers(stop_on, thr):
    """'any': some worker above thr (moved out); 'all': every worker below thr at once."""
    m, o = dsgd(TOP, 0.1), DG(sigma=2.0)
    x0 = x0_spread(5, seed=2)
    free = simulate(m, o, x0, 60, seed=8, recorders=("field:x",))
    X = free.records["field:x"][..., 0]  # (T, R, K)
    red = (X > thr).any(-1) if stop_on == "any" else (X < thr).all(-1)
    expected = [int(np.flatnonzero(red[:, r])[0]) if red[:, r].any() else -1 for r in range(5)]
    pred = (lambda x: x[..., 0] > thr) if stop_on == "any" else (lambda x: x[..., 0] < thr)
    r = simulate(m, o, x0, 60, seed=8, recorders=("consensus",), stop=pred, stop_on=stop_on)
    assert r.event_step.tolist() == expected
    assert len(set(expected) - {-1, 0}) > 1


def test_all_stopped_ends_early_and_fills_records():
    m, o = dsgd(TOP, 0.1), DG(sigma=0.0)
    # noiseless from x = 0: every replica moves the same way, crossing 0.5 at the same step
    r = simulate(m, o, torch.zeros(K, 1), 5000, replicas=3, stop=lambda c: c[:, 0] > 0.5,
                 record_every=100, recorders=("field:x",))
    x = 0.0
    for e in range(1, 5000):  # independent scalar recursion (all workers equal, W x = x)
        g = (x + 1) / 0.0625 * math.exp(-(x + 1) ** 2 / 0.125) + (x - 1.5) / 0.5625 * math.exp(-(x - 1.5) ** 2 / 1.125)
        x = x - 0.1 * g
        if x > 0.5:
            break
    assert 1 < e < 4900
    assert r.event_step.tolist() == [e] * 3
    assert r.steps_run < 5000 and r.steps_run >= e
    assert r.times.tolist() == list(range(0, 5001, 100))
    assert r.records["field:x"].shape == (51, 3, K, 1)
    np.testing.assert_allclose(r.records["field:x"][-1], x, rtol=1e-12)


def test_divergence_flagged_per_replica():
    h, lr = 1.0, 3.0  # |1 - lr h| = 2: unstable, x_t = x0 (-2)^t exactly (all workers equal)
    m = dsgd(TOP, lr)
    x0 = torch.ones(4, K, 1)
    x0[1] = 1e3
    x0[2, 3, 0] = float("nan")
    r = simulate(m, Quad(h), x0, 15, recorders=("field:x",), divergence=1e6)
    t_div = next(t for t in range(100) if 1e3 * 2 ** t > 1e6)  # = 10
    assert r.diverged.tolist() == [False, True, True, False]
    assert r.diverged_step.tolist() == [-1, t_div, 0, -1]
    assert r.event_kind.tolist() == ["none", "diverged", "diverged", "none"]
    assert r.event_step.tolist() == [-1, t_div, 0, -1]
    np.testing.assert_array_equal(r.x[[0, 3]], np.full((2, K, 1), (-2.0) ** 15))
    np.testing.assert_array_equal(r.x[1], np.full((K, 1), 1e3 * (-2.0) ** t_div))  # frozen
    assert np.isnan(r.x[2]).any()
    # the healthy replicas are untouched by their neighbours' blow-up
    alone = simulate(m, Quad(h), torch.ones(K, 1), 15, replicas=torch.tensor([0, 3]), recorders=("field:x",))
    np.testing.assert_array_equal(alone.records["field:x"], r.records["field:x"][:, [0, 3]])


def test_events_found_mid_run_while_every_replica_is_active():
    """Onsets after step 0 (the simulator skips bookkeeping while nothing can have happened):
    x_t = x0 (-2)^t exactly, threshold 1e6 on ‖x_k‖ in d = 2; a NaN injected at one step."""
    class NaNAt(Quad):
        def __call__(self, x, t, rng):
            loss, g = super().__call__(x, t, rng)
            if t == 5:
                g = g.clone()
                g[3, 0, 1] = float("nan")
            return loss, g
    m = dsgd(TOP, 3.0)
    x0 = torch.zeros(3, K, 2)
    x0[0, :, 0] = 1.0
    x0[1, :, 0] = 800.0   # coordinate bound exceeded at t = 10 (819200 > 1e6/sqrt 2), norm only at 11
    x0[2, :, :] = 700.0   # norm 700 sqrt 2 * 2^t > 1e6 first at t = 10 (coordinates still < 1e6)
    first = [next(t for t in range(64) if c * 2 ** t > 1e6) for c in (800.0, 700.0 * math.sqrt(2))]
    assert first == [11, 10]
    r = simulate(m, Quad(1.0), x0, 15, recorders=("consensus",), divergence=1e6)
    assert r.diverged_step.tolist() == [-1, 11, 10]
    assert r.event_kind.tolist() == ["none", "diverged", "diverged"]
    np.testing.assert_array_equal(r.x[0, :, 0], np.full(K, (-2.0) ** 15))
    np.testing.assert_array_equal(r.x[1, :, 0], np.full(K, 800.0 * (-2.0) ** 11))  # frozen at onset
    x1 = torch.zeros(4, K, 2)
    x1[:, :, 0] = 1.0
    r = simulate(m, NaNAt(1.0), x1, 15, recorders=("consensus",), divergence=1e6)
    assert r.diverged_step.tolist() == [-1, -1, -1, 6]  # NaN in the step at t = 5 -> found at 6
    np.testing.assert_array_equal(r.x[:3, :, 0], np.full((3, K), (-2.0) ** 15))


def test_inf_and_overflow_flagged():
    m = dsgd(TOP, 3.0)
    x0 = torch.ones(3, K, 1)
    x0[0] = float("inf")
    x0[1] = 1e200  # ||x||^2 overflows to inf: still a divergence, not a crash
    r = simulate(m, Quad(1.0), x0, 3, recorders=("consensus",), divergence=None)
    assert r.diverged.tolist() == [True, False, False]  # no threshold: only non-finite counts
    r = simulate(m, Quad(1.0), x0, 3, recorders=("consensus",))
    assert r.diverged.tolist() == [True, True, False] and r.diverged_step.tolist() == [0, 0, -1]


def test_save_load_round_trip(tmp_path):
    m, o = dsgd(TOP, 0.1), DG(sigma=1.0)
    r = simulate(m, o, torch.full((K, 1), -1.0), 40, replicas=5, seed=2, record_every=10,
                 stop=lambda c: c[:, 0] > -0.6)
    r.save(tmp_path / "run")
    q = SimResult.load(tmp_path / "run")
    for k in SimResult._ARRAYS:
        a, b = getattr(r, k), getattr(q, k)
        assert a.dtype == b.dtype and np.array_equal(a, b, equal_nan=a.dtype.kind == "f"), k
    assert q.records.keys() == r.records.keys()
    for k in r.records:
        np.testing.assert_array_equal(q.records[k], r.records[k])
    assert q.config == r.config and q.seed == 2 and q.steps_run == r.steps_run
    assert r.config["hp"] == {"lr": 0.1} and r.config["R"] == 5
    with pytest.raises(ValueError, match="SimResult"):
        SimResult.load(tmp_path / "nothing")


def test_checkpoint_resume_equals_uninterrupted(tmp_path):
    m = dsgd(TOP, 0.05)
    x0 = torch.full((K, 1), -1.0)
    kw = dict(replicas=4, seed=9, record_every=7, stop=lambda c: c[:, 0] > -0.5)
    ref = simulate(m, DG(sigma=1.0), x0, 100, **kw)

    class Crash(DG):
        def __call__(self, x, t, rng):
            if t == 53:
                raise KeyboardInterrupt
            return super().__call__(x, t, rng)
    ck = tmp_path / "ck.pt"
    with pytest.raises(KeyboardInterrupt):
        simulate(m, Crash(sigma=1.0), x0, 100, checkpoint=ck, checkpoint_every=20, **kw)
    assert torch.load(ck, weights_only=True)["t"] == 40
    out = simulate(m, DG(sigma=1.0), x0, 100, checkpoint=ck, checkpoint_every=20, resume=True, **kw)
    np.testing.assert_array_equal(out.x, ref.x)
    np.testing.assert_array_equal(out.times, ref.times)
    for k in ref.records:
        np.testing.assert_array_equal(out.records[k], ref.records[k])
    np.testing.assert_array_equal(out.event_step, ref.event_step)
    with pytest.raises(ValueError, match="seed: 9 -> 10"):
        simulate(m, DG(sigma=1.0), x0, 100, checkpoint=ck, resume=True, **{**kw, "seed": 10})
    # every input that shapes the path is part of the fingerprint
    with pytest.raises(ValueError, match="hp.lr"):
        simulate(dsgd(TOP, 0.07), DG(sigma=1.0), x0, 100, checkpoint=ck, resume=True, **kw)
    with pytest.raises(ValueError, match="oracle.sigma"):
        simulate(m, DG(sigma=0.9), x0, 100, checkpoint=ck, resume=True, **kw)
    with pytest.raises(ValueError, match="x0"):
        simulate(m, DG(sigma=1.0), x0 + 1e-12, 100, checkpoint=ck, resume=True, **kw)


def test_default_recorders_and_objective():
    m = dsgd(TOP, 0.1)
    r = simulate(m, Quad(2.0), torch.ones(K, 1), 3)  # no landscape on the oracle
    assert list(r.records) == ["consensus"]
    r = simulate(m, Quad(2.0), torch.ones(K, 2), 3, objective=lambda w: w.square().sum(-1))
    assert list(r.records) == ["loss_avg", "consensus", "loss_workers"]
    np.testing.assert_allclose(r.records["loss_avg"][:, 0], [2 * 0.8 ** (2 * t) for t in range(4)], rtol=1e-12)
    assert r.records["loss_workers"].shape == (4, 1, K)


@pytest.mark.parametrize("steps,every", [(3, 1), (100, 1), (250, 2), (205, 2), (2000, 20)])
def test_default_schedule_is_about_100_records(steps, every):
    """record_every=None: every max(1, steps // 100) steps, 0 and the final step included."""
    m = dsgd(TOP, 0.1)
    r = simulate(m, Quad(2.0), torch.ones(K, 1), steps, recorders=("consensus",))
    want = sorted(set(range(0, steps + 1, every)) | {steps})
    assert r.times.tolist() == want and r.records["consensus"].shape == (len(want), 1)
    one = simulate(m, Quad(2.0), torch.ones(K, 1), steps, record_every=1, recorders=("consensus",))
    assert np.array_equal(r.records["consensus"], one.records["consensus"][want])


def test_record_bytes_estimate_and_warning(monkeypatch, capsys):
    """config['record_bytes'] = (R + R*K) float64 per record time; printed above the threshold."""
    import importlib
    sim_mod = importlib.import_module("dynamics.simulate")
    m, R, T = dsgd(TOP, 0.1), 3, 10
    r = simulate(m, DG(), torch.ones(K, 1), T, replicas=R, record_every=2, recorders=("consensus", "loss_workers"))
    assert r.config["record_bytes"] == 6 * (R + R * K) * 8
    assert capsys.readouterr().err == ""  # far below 1 GB
    monkeypatch.setattr(sim_mod, "_WARN_BYTES", 100)
    simulate(m, DG(), torch.ones(K, 1), T, replicas=R, record_every=2, recorders=("consensus", "loss_workers"))
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "recorders will hold" in err and "record_every" in err
    assert simulate(m, DG(), torch.ones(K, 1), T, record_every=[]).config["record_bytes"] == 0
    # every replica diverged at step 0: the run ends at once and its only record is taken after
    late = simulate(m, DG(), torch.full((K, 1), 9.0), T, replicas=R, record_every=[5], divergence=1.0,
                    recorders=("consensus",))
    assert late.steps_run == 0 and late.config["record_bytes"] == R * 8


def test_custom_recorder_dict_and_progress(capsys):
    m = dsgd(TOP, 0.1)
    seen = []

    def rec(s, meth, o, t):
        seen.append(t)
        return s.x[..., 0, 0] * 0 + t
    r = simulate(m, Quad(1.0), torch.ones(K, 1), 9, replicas=2, record_every=3, recorders={"t": rec}, progress=True)
    assert seen == [0, 3, 6, 9]
    np.testing.assert_array_equal(r.records["t"], np.repeat([[0.0], [3], [6], [9]], 2, axis=1))
    assert "simulate" in capsys.readouterr().err
    with pytest.raises(ValueError, match="recorder 'bad'"):
        simulate(m, Quad(1.0), torch.ones(K, 1), 2, recorders={"bad": lambda s, *a: torch.zeros(3)})


def test_zero_steps():
    r = simulate(dsgd(TOP, 0.1), Quad(1.0), torch.ones(K, 1), 0, recorders=("consensus",))
    assert r.times.tolist() == [0] and r.steps_run == 0 and r.records["consensus"].shape == (1, 1)


@pytest.mark.parametrize("kw,word", [
    (dict(steps=-1), "steps"),
    (dict(steps=2.5), "steps"),
    (dict(x0=torch.ones(K)), "x0"),
    (dict(x0=torch.ones(2, 2, K, 1)), "x0"),
    (dict(x0=torch.ones(3, K, 1), replicas=4), "replicas"),
    (dict(recorders=("nope",)), "nope"),
    (dict(recorders=("field:nope",)), "field:nope"),
    (dict(recorders=("loss_avg",)), "objective"),
    (dict(stop_on="centre"), "stop_on"),
    (dict(record_every=0), "record_every"),
    (dict(record_every=[0, 99]), "record_every"),
    (dict(divergence=-1.0), "divergence"),
    (dict(replicas=0), "replicas"),
    (dict(replicas=torch.tensor([1, 1])), "replicas"),
    (dict(checkpoint_every=5), "checkpoint"),
    (dict(stop=lambda c: c[:, :1] > 0), "stop"),
])
def test_bad_input(kw, word):
    args = dict(x0=torch.ones(K, 1), steps=5, recorders=("consensus",))
    args.update(kw)
    with pytest.raises(ValueError, match=word):
        simulate(dsgd(TOP, 0.1), Quad(1.0), args.pop("x0"), args.pop("steps"), **args)


def test_library_dsgd_and_oracle_subensemble():
    """Integration with dynamics.make('dsgd') and landscapes.noise.oracle."""
    import dynamics
    import landscapes
    from landscapes import noise
    m = dynamics.make("dsgd", TOP, lr=0.05)
    o = noise.oracle(landscapes.get("double_gaussian"), noise="isotropic", sigma=0.7)
    full = simulate(m, o, torch.full((K, 1), -1.0), 30, replicas=6, seed=4, record_every=10)
    sub = simulate(m, o, torch.full((K, 1), -1.0), 30, replicas=torch.tensor([4, 1]), seed=4, record_every=10)
    np.testing.assert_array_equal(sub.x, full.x[[4, 1]])
    np.testing.assert_array_equal(sub.records["loss_avg"], full.records["loss_avg"][:, [4, 1]])
    np.testing.assert_allclose(full.records["loss_avg"][0], dg_f_np(-1.0), rtol=1e-12)


def test_resume_of_finished_early_stopped_run(tmp_path):
    m, o = dsgd(TOP, 0.1), DG(sigma=0.0)
    kw = dict(replicas=2, stop=lambda c: c[:, 0] > 0.5, record_every=50, recorders=("field:x",),
              checkpoint=tmp_path / "c.pt", checkpoint_every=1000)
    a = simulate(m, o, torch.zeros(K, 1), 3000, **kw)
    assert a.steps_run < 3000
    b = simulate(m, o, torch.zeros(K, 1), 3000, resume=True, **kw)
    assert b.steps_run == a.steps_run and b.times.tolist() == a.times.tolist()
    np.testing.assert_array_equal(b.records["field:x"], a.records["field:x"])


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-CUDA error path")
def test_cuda_request_without_cuda_names_device():
    with pytest.raises(ValueError, match="device"):
        simulate(dsgd(TOP, 0.1), Quad(1.0), torch.ones(K, 1), 2, recorders=("consensus",), device="cuda")


def test_sub_ensembles_are_bit_exact_whatever_R():
    """A replica's path does not depend on how many replicas are stepped with it (README):
    rows of R = 1, 5 and 256 agree bit for bit, with the library D-SGD and Topology.mix on a
    ring and on a dense graph (a GEMM over all replicas rounded differently with R)."""
    import dynamics
    import landscapes
    from dynamics import topology as T
    orc = landscapes.oracle(landscapes.hetero_quadratics(8, 3, zeta=1.0, hess_spread=2.0, seed=2),
                            noise="isotropic", sigma=0.5)
    x0 = torch.linspace(-1.0, 1.0, 24, dtype=torch.float64).reshape(8, 3)
    for top in (T.ring(8), T.complete(8), T.erdos_renyi(8, 0.5, seed=1)):
        m = dynamics.make("dsgd", top, lr=0.05)
        full = simulate(m, orc, x0, 40, replicas=256, seed=4, record_every=10)
        for ids in (torch.tensor([7]), torch.tensor([0, 3, 100, 200, 255])):
            sub = simulate(m, orc, x0, 40, replicas=ids, seed=4, record_every=10)
            np.testing.assert_array_equal(sub.x, full.x[ids.numpy()])
            for k in full.records:
                np.testing.assert_array_equal(sub.records[k], full.records[k][:, ids.numpy()])
        one = simulate(m, orc, x0, 40, replicas=1, seed=4)
        np.testing.assert_array_equal(one.x, full.x[:1])


def test_save_is_atomic_and_marked_complete(tmp_path):
    m = dsgd(TOP, 0.05)
    r = simulate(m, DG(sigma=0.5), torch.full((K, 1), -1.0), 10, replicas=3, seed=1)
    d = r.save(tmp_path / "res")
    meta = json.loads((d / "result.json").read_text())
    assert meta["complete"] is True
    assert not [f for f in d.iterdir() if f.name.endswith(".tmp")]
    back = SimResult.load(d)
    np.testing.assert_array_equal(back.x, r.x)
    (d / "result.json").write_text('{"config": ')  # torn
    with pytest.raises(ValueError, match="result.json"):
        SimResult.load(d)


def test_dtype_not_honoured_is_refused():
    """float16 / float32 with an oracle that computes in float64 would run as float64 while
    the config says otherwise: refused naming dtype."""
    import dynamics
    import landscapes
    from dynamics import topology as T
    orc = landscapes.oracle(landscapes.get("quartic"), noise="isotropic", sigma=0.1)
    m = dynamics.make("dsgd", T.ring(4), lr=0.05)
    for dt in (torch.float16, torch.float32):
        with pytest.raises(ValueError, match="dtype"):
            simulate(m, orc, torch.zeros(4, 1), 3, dtype=dt)
    with pytest.raises(ValueError, match="dtype"):
        simulate(m, orc, torch.zeros(4, 1), 3, dtype=torch.int64)
