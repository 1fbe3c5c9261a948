"""Fault tests: asymmetric graphs over torch.distributed (gloo on loopback, bounded timeouts),
restarts and resumes under a changed configuration are refused naming the keys, and an
interrupted `python -m verify --jobs 2` leaves no process behind (checked by PID)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch
from _spawn import join_group, leave, spawn

import dynamics
import landscapes
from dynamics import topology as T

REPO = Path(__file__).resolve().parents[1]
D, R, STEPS, SEED = 2, 2, 12, 3

# every topology family with a K that 2 and 4 processes divide (torus 3 x 4 = 12)
FAMILIES = {
    "ring": (8, {}), "torus": (12, {"cols": 4}), "grid": (8, {"cols": 4}), "hypercube": (8, {}),
    "exponential": (8, {}), "exponential_undirected": (8, {}), "one_peer_exponential": (8, {}),
    "star": (8, {}), "complete": (4, {}), "erdos_renyi": (8, {"p": 0.4, "seed": 2}),
}


def _oracle(K):
    prob = landscapes.hetero_quadratics(K, D, zeta=1.0, hess_spread=2.0, seed=1)
    return landscapes.oracle(prob, noise="isotropic", sigma=0.3)


def _x0(K):
    return torch.randn(R, K, D, generator=torch.Generator().manual_seed(SEED), dtype=torch.float64)


def _reference(name, K, kw, algo="dsgd", steps=STEPS):
    m = dynamics.make(algo, T.get(name, K, **kw), lr=0.05)
    return dynamics.rollout(m, _oracle(K), _x0(K), steps, seed=SEED).state.x


def _worker(rank, world, port, tasks, outdir, timeout):
    from dynamics import distributed as Dd
    join_group(rank, world, port, timeout)
    out = {}
    for key, (name, K, kw, extra) in tasks.items():
        try:
            res = Dd.run(extra.get("algo", "dsgd"), T.get(name, K, **kw), _oracle(K), _x0(K),
                         extra.get("steps", STEPS), hp=extra.get("hp", dict(lr=0.05)),
                         seed=extra.get("seed", SEED), timeout=timeout, out=extra.get("out"),
                         checkpoint_every=extra.get("checkpoint_every", 0))
            out[key] = {"x": res["x"], "start_step": res["start_step"]}
        except Dd.PeerFailure as e:
            out[key] = {"error": f"PeerFailure: {e}"}
            leave(out, outdir, rank, broken=True)
        except ValueError as e:
            out[key] = {"error": str(e)}
    leave(out, outdir, rank)


def _spawn(world, tasks, outdir, timeout=20.0, join=240.0):
    res, hung = spawn(_worker, world, tasks, outdir, timeout, join)
    assert not hung, f"ranks {hung} did not finish within {join} s (dead-lock?)"
    return res


def _check_equal(res, tasks):
    for key, (name, K, kw, _) in tasks.items():
        ref = _reference(name, K, kw)
        for r, got in enumerate(res):
            assert "error" not in got[key], f"{key} rank {r}: {got[key].get('error')}"
            # the same summation order per row as the single-process mix: bit-identical
            assert torch.equal(got[key]["x"], ref), \
                f"{key} rank {r}: max err {(got[key]['x'] - ref).abs().max():.3g}"


@pytest.mark.slow
def test_star_on_two_processes_completes(tmp_path):
    """The hub's rank needs every row, the other rank only the hub's: one global plan for both
    (a per-rank dense/sparse choice dead-locked here)."""
    tasks = {"star": ("star", 8, {}, {}), "star4": ("star", 4, {}, {})}
    _check_equal(_spawn(2, tasks, tmp_path, timeout=15.0, join=180.0), tasks)


@pytest.mark.slow
@pytest.mark.parametrize("world", [2, 4])
def test_every_topology_family_distributed(tmp_path, world):
    tasks = {n: (n, K, kw, {}) for n, (K, kw) in FAMILIES.items()}
    _check_equal(_spawn(world, tasks, tmp_path, timeout=20.0, join=400.0), tasks)


def test_exchange_plan_is_global():
    """The dense/sparse choice is the same on every rank, for every family and 2 or 4 ranks,
    and every send has its matching receive (computed without a process group)."""
    from dynamics.distributed import DistTopology
    for n, (K, kw) in FAMILIES.items():
        top = T.get(n, K, **kw)
        for world in (2, 4):
            for t in range(top.period):
                plans = [DistTopology(K, top, rank=r, world=world)._plan(t) for r in range(world)]
                assert len({p.dense for p in plans}) == 1, (n, world)
                kl = K // world
                for r, p in enumerate(plans):
                    for q, pos in p.send.items():
                        assert [r * kl + a for a in pos] == plans[q].recv[r], (n, world, r, q)


@pytest.mark.slow
def test_distributed_restart_refuses_changed_configuration(tmp_path):
    run = tmp_path / "run"
    base_extra = dict(out=str(run), checkpoint_every=4, steps=8)
    res = _spawn(2, {"a": ("ring", 8, {}, base_extra)}, tmp_path, timeout=15.0, join=180.0)
    assert all("error" not in r["a"] for r in res)
    cfg = json.loads((run / "config.json").read_text())
    assert json.loads((run / "summary.json").read_text())["complete"] is True
    changed = {
        "lr": dict(hp=dict(lr=0.07)), "seed": dict(seed=4), "steps": dict(steps=12),
        "algo": dict(algo="atc"),
    }
    tasks = {k: ("ring", 8, {}, {**base_extra, **v}) for k, v in changed.items()}
    res = _spawn(2, tasks, tmp_path, timeout=15.0, join=180.0)
    want = {"lr": "hp.lr: 0.05 -> 0.07", "seed": "seed: 3 -> 4", "steps": "steps: 8 -> 12",
            "algo": "algo: 'dsgd' -> 'atc'"}
    for k, text in want.items():
        for r in res:
            assert "cannot resume under a different configuration" in r[k]["error"], r[k]
            assert text in r[k]["error"], r[k]["error"]
    assert json.loads((run / "config.json").read_text()) == cfg  # not overwritten


@pytest.mark.slow
def test_distributed_cli_user_errors_are_one_line_and_create_no_folder(tmp_path):
    out = tmp_path / "never"
    for args, what in ((["--algo", "dsgd", "--topology", "none"], "--topology none"),
                       (["--algo", "dsgd", "--steps", "-5"], "--steps"),
                       (["--algo", "dsgd", "--timeout", "0"], "--timeout"),
                       (["--algo", "dsgdd"], "did you mean 'dsgd'"),
                       (["--algo", "dsgd", "--topology", "rnig"], "did you mean 'ring'"),
                       (["--algo", "dsgd", "--hp", "beta=0.9"], "unknown hyper-parameter 'beta'")):
        p = subprocess.run([sys.executable, "-m", "dynamics.distributed", "--K", "4", "--out", str(out), *args],
                           cwd=REPO, capture_output=True, text=True, timeout=120)
        assert p.returncode == 2, (args, p.stderr)
        lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
        assert len(lines) == 1 and what in lines[0], (args, p.stderr)
        assert not out.exists()


# ---------------------------------------------------------------- verify: resume and interruption

_SCRIPT = textwrap.dedent('''
    import os, sys, time
    from verify.claims import Evidence, Registry
    from verify.__main__ import main
    PIDS = sys.argv[1]
    reg = Registry()
    def _pid(tag):
        with open(os.path.join(PIDS, f"{tag}.{os.getpid()}"), "w") as f:
            f.write(str(os.getpid()))
    def fast(ctx):
        _pid("fast")
        return Evidence("holds", predicted={"a": 1}, measured={"a": 1})
    def slow(ctx):
        _pid("slow")
        time.sleep(600)
        return Evidence("holds", predicted={"a": 1}, measured={"a": 1})
    META = dict(paper="p", statement="s", predicted="p", measured="m", tolerance=0.0,
                tolerance_reason="t", tags=("synthetic",))
    from verify.claims import Claim
    reg.add(Claim(id="t.fast", run=fast, **META))
    reg.add(Claim(id="t.slow1", run=slow, **META))
    reg.add(Claim(id="t.slow2", run=slow, **META))
    sys.exit(main(sys.argv[2:], registry=reg))
''')


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is dead
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def _start_verify(tmp_path):
    pids = tmp_path / "pids"
    pids.mkdir()
    script = tmp_path / "run_verify.py"
    script.write_text(_SCRIPT)
    out = tmp_path / "run"
    p = subprocess.Popen([sys.executable, str(script), str(pids), "--quick", "--jobs", "2", "--out", str(out)],
                         cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env={**os.environ, "PYTHONPATH": str(REPO)})
    t0 = time.time()
    while len(list(pids.glob("slow.*"))) < 2 or not list(pids.glob("fast.*")):
        assert time.time() - t0 < 120, "the claims did not start"
        assert p.poll() is None, p.communicate()
        time.sleep(0.2)
    time.sleep(0.5)
    workers = sorted({int(f.read_text()) for f in pids.iterdir()})
    return p, workers, out


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PID checks via /proc")
def test_sigkill_of_verify_jobs_leaves_no_process(tmp_path):
    p, workers, _ = _start_verify(tmp_path)
    assert p.pid not in workers and all(_alive(w) for w in workers)
    p.kill()
    p.wait(10)
    t0 = time.time()
    while any(_alive(w) for w in workers) and time.time() - t0 < 10:
        time.sleep(0.1)
    assert not [w for w in workers if _alive(w)], "pool workers outlived the killed parent"


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PID checks via /proc")
def test_sigint_of_verify_jobs_stops_fast_and_keeps_finished(tmp_path):
    p, workers, out = _start_verify(tmp_path)
    t0 = time.time()
    p.send_signal(signal.SIGINT)
    stdout, stderr = p.communicate(timeout=60)
    assert p.returncode == 130, stderr
    assert not [w for w in workers if _alive(w)]
    doc = json.loads((out / "claims.json").read_text())
    ev = {c["id"]: c["evidence"] for c in doc["claims"]}
    assert ev["t.fast"]["verdict"] == "holds"  # the finished claim is kept
    assert ev["t.slow1"] is None and ev["t.slow2"] is None  # the running ones are not invented
    # the parent stops the running claims within about a second (report writing aside)
    assert time.time() - t0 < 30


def test_verify_resume_refuses_other_mode_or_seed(tmp_path, capsys):
    from verify.__main__ import main
    from verify.claims import Claim, Evidence, Registry

    reg = Registry()
    reg.add(Claim(id="t.one", run=_holds, paper="p", statement="s", predicted="p", measured="m",
                  tolerance=0.0, tolerance_reason="t", tags=("synthetic",)))
    out = tmp_path / "run"
    assert main(["--quick", "--out", str(out)], registry=reg) == 0
    before = (out / "claims.json").read_text()
    capsys.readouterr()
    assert main(["--resume", str(out), "--full", "--seed", "7"], registry=reg) == 2
    err = capsys.readouterr().err
    assert "quick: True -> False" in err and "seed: 0 -> 7" in err
    assert (out / "claims.json").read_text() == before
    # a truncated claims.json is named
    (out / "claims.json").write_text(before[: len(before) // 2])
    assert main(["--resume", str(out)], registry=reg) == 2
    err = capsys.readouterr().err
    assert "claims.json" in err and "not valid JSON" in err
    assert isinstance(Evidence, type)


def _holds(ctx):
    from verify.claims import Evidence
    return Evidence("holds", predicted={"a": 1}, measured={"a": 1})


def test_simulate_resume_refuses_other_topology_and_oracle(tmp_path):
    from dynamics.simulate import simulate
    ck = tmp_path / "ck.pt"
    orc = _oracle(4)
    x0 = _x0(4)
    m = dynamics.make("dsgd", T.ring(4), lr=0.05)
    simulate(m, orc, x0, 10, replicas=R, checkpoint=ck, checkpoint_every=5)
    with pytest.raises(ValueError, match="topology"):
        simulate(dynamics.make("dsgd", T.complete(4), lr=0.05), orc, x0, 10, replicas=R, checkpoint=ck, resume=True)
    other = landscapes.oracle(landscapes.hetero_quadratics(4, D, zeta=2.0, hess_spread=2.0, seed=1),
                              noise="isotropic", sigma=0.3)
    with pytest.raises(ValueError, match="oracle.problem"):
        simulate(m, other, x0, 10, replicas=R, checkpoint=ck, resume=True)
    with pytest.raises(ValueError, match="oracle.sigma"):
        simulate(m, landscapes.oracle(orc.problem, noise="isotropic", sigma=0.4), x0, 10, replicas=R,
                 checkpoint=ck, resume=True)
    simulate(m, orc, x0, 10, replicas=R, checkpoint=ck, resume=True)  # the same run resumes
