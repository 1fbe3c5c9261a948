"""dynamics/distributed.py on CPU/gloo over loopback: the distributed run of an algorithm equals
the single-process loop of the same Method (same seeds) to 1e-10; sent bytes match the neighbour
counts of W; a dead or hanging rank gives PeerFailure on the others within the timeout; a
restart from the checkpoint reaches the uninterrupted final iterate."""
from __future__ import annotations

import json
import os
import time

import pytest
import torch
import torch.multiprocessing as mp
from _spawn import free_port, join_group, leave, spawn

import dynamics
import landscapes
from dynamics import topology as T

K, D, R, STEPS, SEED = 4, 3, 2, 100, 5

CASES = {  # name: (algorithm, topology name or None, hyper-parameters)
    "dsgd_ring": ("dsgd", "ring", dict(lr=0.05)),
    "dsgd_complete": ("dsgd", "complete", dict(lr=0.05)),          # dense: all_gather path
    "atc_onepeer": ("atc", "one_peer_exponential", dict(lr=0.05)),  # time-varying W(t)
    "gt_ring": ("gt", "ring", dict(lr=0.05)),
    "mt_ring": ("mt", "ring", dict(lr=0.05, beta=0.8)),
    "easgd": ("easgd", None, dict(lr=0.05, alpha=0.1)),
    "lsgd": ("lsgd", None, dict(lr=0.05, lam=0.1, lam_global=0.2, tau=2, tau_local=1, groups=2)),
}


def _problem():
    prob = landscapes.hetero_quadratics(K, D, zeta=1.0, hess_spread=2.0, seed=1)
    return landscapes.oracle(prob, noise="isotropic", sigma=0.3)


def _x0():
    return torch.randn(R, K, D, generator=torch.Generator().manual_seed(SEED), dtype=torch.float64)


def _top(name):
    return None if name is None else T.get(name, K)


def _reference(algo, top, hp, steps=STEPS):
    """Plain single-process loop of the same Method with the same seeds."""
    return dynamics.rollout(dynamics.make(algo, _top(top), **hp), _problem(), _x0(), steps, seed=SEED).state.x


def _worker(rank, world, port, tasks, outdir, timeout):
    from dynamics import distributed as Dd
    join_group(rank, world, port, timeout)
    out = {}
    for key, (algo, top, hp, kw) in tasks.items():
        try:
            res = Dd.run(algo, _top(top), _problem(), _x0(), STEPS, hp=hp, seed=SEED,
                         timeout=timeout, **kw)
            out[key] = {k: res[k] for k in ("x", "bytes_sent", "measured_comm", "declared_comm", "start_step")}
        except Dd.PeerFailure as e:
            out[key] = dict(error=str(e), t_err=time.time())
            leave(out, outdir, rank, broken=True)
    leave(out, outdir, rank)


def _spawn(world, tasks, outdir, timeout=20.0, join=60.0, kill_after=None):
    return spawn(_worker, world, tasks, outdir, timeout, join, kill_after)[0]


def _pair_rows(W, world):
    """Independent count: vectors rank q receives from rank r = distinct j owned by r with
    W[i, j] > 0 for some i owned by q (brute force over all entries)."""
    kl = K // world
    tot = 0
    for q in range(world):
        got = {j for i in range(q * kl, (q + 1) * kl) for j in range(K)
               if W[i, j] > 0 and j // kl != q}
        tot += len(got)
    return tot


def test_distributed_equals_single_process(tmp_path):
    world = 2
    tasks = {k: (a, top, hp, {}) for k, (a, top, hp) in CASES.items()}
    res = _spawn(world, tasks, tmp_path)
    assert all(r is not None for r in res), "a rank did not finish"
    for key, (algo, top, hp) in CASES.items():
        ref = _reference(algo, top, hp)
        for r in range(world):
            x = res[r][key]["x"]
            assert x.shape == ref.shape
            assert torch.allclose(x, ref, atol=1e-10, rtol=0), f"{key} rank {r}: max err {(x - ref).abs().max():.3g}"
    # bytes of the sparse exchange = distinct neighbour rows held by the other rank, per step
    W = T.ring(K).W(0)
    sent = sum(res[r]["dsgd_ring"]["bytes_sent"] for r in range(world))
    assert sent == STEPS * _pair_rows(W, world) * R * D * 8
    # declared comm counts every edge; edges inside one process cost nothing
    inside = sum(1 for i in range(K) for j in range(K) if i != j and W[i, j] > 0 and i // 2 == j // 2)
    measured = res[0]["dsgd_ring"]["measured_comm"]
    assert res[0]["dsgd_ring"]["declared_comm"] == T.ring(K).edges_per_step() == 8.0
    assert measured == pytest.approx(8.0 - inside, abs=1e-12)
    # dense graph: all_gather, each rank sends its K/2 rows to the other once per step
    assert sum(res[r]["dsgd_complete"]["bytes_sent"] for r in range(world)) == STEPS * K * R * D * 8


def test_dead_rank_errors_then_restart_matches(tmp_path):
    """Rank 1 of 2 dies at step 57: rank 0 raises PeerFailure within seconds; a restart from
    the step-40 checkpoint reaches the uninterrupted final iterate (the single-process loop)."""
    world, timeout = 2, 4.0
    run = tmp_path / "run"
    hp = dict(lr=0.05, beta=0.8)
    kw = dict(out=str(run), checkpoint_every=20, fail_at=dict(rank=1, step=57, mode="exit"))
    res = _spawn(world, {"a": ("mt", "ring", hp, kw)}, tmp_path, timeout=timeout)
    t_died = float((run / "died_rank1.txt").read_text())
    assert "error" in res[0]["a"], "rank 0 did not report the dead peer"
    assert "died or did not answer" in res[0]["a"]["error"]
    assert res[0]["a"]["t_err"] - t_died < timeout + 3.0
    assert (run / "ckpt" / "LATEST").read_text() == "40"
    kw = dict(out=str(run), checkpoint_every=20)
    res = _spawn(world, {"a": ("mt", "ring", hp, kw)}, tmp_path, timeout=timeout)
    ref = _reference("mt", "ring", hp)
    for r in range(world):
        assert res[r]["a"]["start_step"] == 40
        assert torch.allclose(res[r]["a"]["x"], ref, atol=1e-10, rtol=0)
    assert (run / "config.json").exists() and (run / "summary.json").exists()
    assert all((run / "logs" / f"rank{r}.log").exists() for r in range(world))


def test_hanging_rank_times_out(tmp_path):
    """Rank 1 of 2 stops answering at step 30: rank 0 raises PeerFailure after ~timeout s.
    (timeout 5 s: on a loaded 2-core machine a 2 s stall can happen before rank 1 reaches step
    30, and rank 0 then rightly times out first, leaving no hang to measure from)"""
    world, timeout = 2, 5.0
    kw = dict(out=str(tmp_path / "run"), fail_at=dict(rank=1, step=30, mode="hang"))
    res = _spawn(world, {"a": ("gt", "ring", dict(lr=0.05), kw)}, tmp_path, timeout=timeout,
                 join=60, kill_after=1)
    t_hang = float((tmp_path / "run" / "died_rank1.txt").read_text())
    err = res[0]["a"]
    assert "error" in err and "timeout = 5 s" in err["error"]
    assert err["t_err"] - t_hang < timeout + 3.0


def test_dist_topology_validation():
    from dynamics.distributed import DistTopology
    with pytest.raises(ValueError, match="divisible"):
        DistTopology(5, T.ring(5), rank=0, world=2)
    with pytest.raises(ValueError, match="timeout"):
        DistTopology(4, T.ring(4), rank=0, world=2, timeout=0)
    dt = DistTopology(4, T.ring(4), rank=1, world=2)
    assert dt.K == 4 and dt.K_local == 2 and dt.rows == [2, 3]
    assert dt.rho == pytest.approx(T.ring(4).rho) and dt.period == 1
    with pytest.raises(ValueError, match="single-process"):
        dynamics.make("easgd_rr", dt, lr=0.1)


def test_run_folder_records_what_was_optimised_and_a_finished_run_is_kept(tmp_path):
    """metrics.jsonl holds the consensus distance and the reported model's loss at every log
    step (checked against the single-process reference at the last step); config.json names the
    oracle's problem and noise; running the finished folder again is refused and its summary is
    untouched."""
    run = tmp_path / "run"
    kw = dict(out=str(run), log_every=STEPS)
    res = _spawn(2, {"a": ("dsgd", "ring", dict(lr=0.05), kw)}, tmp_path)
    assert "error" not in res[0]["a"]
    recs = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in recs] == [STEPS]
    x = _reference("dsgd", "ring", dict(lr=0.05))
    xbar = x.mean(-2, keepdim=True)
    assert recs[-1]["consensus"] == pytest.approx(float(((x - xbar) ** 2).sum(-1).mean()), rel=1e-12)
    f = _problem().problem.f
    assert recs[-1]["loss_model"] == pytest.approx(float(f(x.mean(-2)).mean()), rel=1e-12)
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["oracle"]["noise"] == "isotropic" and cfg["oracle"]["sigma"] == 0.3
    before = (run / "summary.json").read_text()
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=_rerun_worker, args=(free_port(), str(run), q))
    p.start()
    msg = q.get(timeout=60)
    p.join(10)
    assert "already finished" in msg
    assert (run / "summary.json").read_text() == before


def _rerun_worker(port, out, q):
    """One process runs the same configuration into a finished folder and reports the error."""
    from dynamics import distributed as Dd
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK="0", WORLD_SIZE="1")
    Dd.init("gloo", 20.0)
    try:
        Dd.run("dsgd", _top("ring"), _problem(), _x0(), STEPS, hp=dict(lr=0.05), seed=SEED, timeout=20.0,
               out=out, log_every=STEPS)
        q.put("ran again")
    except ValueError as e:
        q.put(str(e))
