"""dynamics.threads and simulate(threads=...): the free-core count sees other jobs, 'auto' never
uses more threads than are free, the count is restored, bad values are refused in one line, and
results do not depend on the thread count (bit for bit)."""
import os
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

import dynamics
from dynamics import threads as TH
from dynamics import topology as T
from landscapes.hetero import hetero_quadratics
from landscapes.noise import oracle as make_oracle

LINUX = sys.platform.startswith("linux")


def test_choose_passes_ints_and_none_and_refuses_the_rest():
    with TH.using(2):
        assert TH.choose(3, 10 ** 9) == 3 and TH.choose(None, 10 ** 9) == 2
        assert TH.choose("auto", TH.AUTO_MIN_WORK - 1) == 2          # small run: no sampling
    assert TH.choose(np.int64(3), 10 ** 9) == 3
    for bad in (0, -1, 1.5, True, "two", np.array([2, 2])):
        with pytest.raises(ValueError, match=r"^threads must be 'auto', None or an int >= 1, got "):
            TH.choose(bad, 10 ** 9)


@pytest.mark.parametrize("free,want", [(0.0, 1), (0.6, 1), (1.2, 1), (1.3, 2), (1.6, 2), (2.0, 2), (None, 2)])
def test_auto_uses_no_more_threads_than_free_cores(monkeypatch, free, want):
    monkeypatch.setattr(TH, "free_cores", lambda window=0.05: free)
    with TH.using(2):
        assert TH.choose("auto", 10 ** 9) == want
        assert TH.choose("auto", 10 ** 9, device="meta") == 2   # not a CPU run: unchanged
    with TH.using(1):
        assert TH.choose("auto", 10 ** 9) == 1


def test_using_restores_the_count_even_on_error():
    before = torch.get_num_threads()
    with pytest.raises(RuntimeError):
        with TH.using(before + 1):
            assert torch.get_num_threads() == before + 1
            raise RuntimeError
    assert torch.get_num_threads() == before


@pytest.mark.skipif(not LINUX, reason="reads /proc/stat")
def test_free_cores_sees_busy_processes():
    """One spinning process per CPU of this set leaves (almost) no core free."""
    n = len(os.sched_getaffinity(0))
    idle = TH.free_cores(0.2)
    assert idle is not None and -1e-9 <= idle <= n + 1e-9
    spin = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]
    try:
        time.sleep(0.5)
        busy = TH.free_cores(0.3)
    finally:
        for p in spin:
            p.kill()
    assert busy is not None and busy < 0.5, (idle, busy)


def _run(name, threads, R=2048, steps=40):  # R K d = 49 152 numbers: ops split over threads
    K, d = 8, 3
    prob = hetero_quadratics(K, d, zeta=1.0, hess_spread=1.0, seed=2)
    hp = {"easgd": dict(rho=0.5), "lsgd": dict(tau=2)}.get(name, {})
    m = dynamics.make(name, T.ring(K), lr=0.05, **hp)
    x0 = torch.randn(R, K, d, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    return dynamics.simulate(m, make_oracle(prob, noise="isotropic", sigma=0.5), x0, steps,
                             seed=3, threads=threads, record_every=10)


@pytest.mark.parametrize("name", ["dsgd", "dsgdm", "gt", "easgd", "lsgd", "mt"])
def test_results_do_not_depend_on_the_thread_count(name):
    before = torch.get_num_threads()
    a, b = _run(name, 1), _run(name, 2)
    assert torch.get_num_threads() == before
    assert a.config["threads"] == 1 and b.config["threads"] == 2
    assert np.array_equal(a.x, b.x)
    for k in a.records:
        assert np.array_equal(a.records[k], b.records[k]), k


def test_simulate_refuses_a_bad_thread_count():
    with pytest.raises(ValueError, match=r"^threads must be 'auto', None or an int >= 1, got 0$"):
        _run("dsgd", 0)


@pytest.mark.parametrize("land", ["double_gaussian", "rastrigin"])
@pytest.mark.parametrize("algo", ["dsgd", "eamsgd"])
def test_transcendental_landscapes_do_not_depend_on_the_thread_count(land, algo):
    """exp / sin / cos split over threads: the chunk borders must not change a bit."""
    import landscapes
    L = landscapes.get(land)
    orc = landscapes.oracle(L, noise="isotropic", sigma=0.5)
    m = dynamics.make("dsgd", T.ring(16), lr=0.01) if algo == "dsgd" else \
        dynamics.make("eamsgd", None, lr=0.01, K=16, tau=4)
    x0 = torch.full((16, L.dim), 0.3, dtype=torch.float64)
    a, b = (dynamics.simulate(m, orc, x0, 40, replicas=2048, threads=n, record_every=20, fused=False)
            for n in (1, 2))
    assert np.array_equal(a.x, b.x)
    assert all(np.array_equal(a.records[k], b.records[k]) for k in a.records)
