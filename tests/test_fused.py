"""dynamics/fused.py: the fused path reproduces `simulate` and the counter-based streams."""
import numpy as np
import pytest
import torch

import dynamics
from dynamics import fused
from dynamics.simulate import simulate
from dynamics.topology import ring
from landscapes import get
from landscapes.noise import oracle
from landscapes.rng import Streams

LAND = get("double_gaussian")


def _pair(name, R, T, seed=3, compile=False, K=8, land=LAND, d=1, **kw):
    meth = dynamics.make(name, ring(K), lr=0.05, **kw)
    orc = oracle(land, noise="isotropic", sigma=1.0, batch=2, with_loss=False)
    x0 = torch.linspace(-1.2, -0.8, K * d, dtype=torch.float64).reshape(K, d)
    ref = simulate(meth, orc, x0, T, replicas=R, seed=seed, record_every=10, recorders=("consensus",))
    got = fused.run_fused(meth, land, x0, T, replicas=R, seed=seed, sigma=1.0, batch=2,
                          record_every=10, compile=compile)
    return ref, got


def test_normals_are_the_streams_draws_bit_for_bit():
    st = Streams(11, 5)
    for n in (1, 7, 16):
        m = (n + 1) // 2
        i = torch.arange(m, dtype=torch.int64)
        a, b = fused._to_i32((i * 0x165667B1) & fused._M32), fused._to_i32(i >> 16)
        idc = fused._to_i32((torch.arange(5) * 0x27D4EB2F) & fused._M32).view(5, 1)
        keys = fused._keys(11, 2, 40, 3)
        for s in range(3):
            want = st.normal(40 + s, (n,), stream=2)
            got = fused._normals(keys[s], idc, a, b, n)
            assert torch.equal(got, want)


@pytest.mark.parametrize("name,kw", [("dsgd", {}), ("dsgdm", {"beta": 0.9})])
def test_eager_equals_simulate_bit_for_bit(name, kw):
    ref, got = _pair(name, R=6, T=40, **kw)
    assert np.array_equal(np.asarray(ref.times), got.times)
    assert torch.equal(torch.as_tensor(ref.x), got.x)
    assert torch.equal(torch.as_tensor(ref.records["consensus"]), got.consensus)
    assert float(got.consensus[-1].mean()) > 0  # the noise moved the workers apart


def test_quadratic_d10_equals_simulate():
    land = get("quadratic", H=np.diag(np.linspace(0.5, 2.0, 10)), x_star=np.zeros(10))
    ref, got = _pair("dsgd", R=3, T=20, land=land, d=10)
    assert torch.equal(torch.as_tensor(ref.x), got.x)


def test_replica_path_depends_on_seed_and_id_only():
    _, big = _pair("dsgd", R=7, T=20)
    _, small = _pair("dsgd", R=3, T=20)
    assert torch.equal(big.x[:3], small.x)
    meth = dynamics.make("dsgd", ring(8), lr=0.05)
    x0 = torch.linspace(-1.2, -0.8, 8, dtype=torch.float64).reshape(8, 1)
    sub = fused.run_fused(meth, LAND, x0, 20, replicas=torch.tensor([5, 2]), seed=3, sigma=1.0, batch=2,
                          record_every=10, compile=False)
    assert torch.equal(sub.x, big.x[[5, 2]])
    _, other = _pair("dsgd", R=3, T=20, seed=4)
    assert not torch.equal(other.x, small.x)


@pytest.mark.slow
@pytest.mark.skipif(not fused.compiler_available(), reason="no C++ compiler for torch.compile")
def test_compiled_equals_simulate_to_1e12():
    ref, got = _pair("dsgdm", R=16, T=40, compile=True, beta=0.9)
    assert got.compiled
    torch.testing.assert_close(got.x, torch.as_tensor(ref.x), rtol=0, atol=1e-12)
    torch.testing.assert_close(got.consensus, torch.as_tensor(ref.records["consensus"]), rtol=0, atol=1e-12)


def test_bad_input():
    meth = dynamics.make("dsgd", ring(4), lr=0.05)
    x0 = torch.zeros(4, 1, dtype=torch.float64)
    with pytest.raises(ValueError, match="method"):
        fused.run_fused(dynamics.make("gt", ring(4), lr=0.05), LAND, x0, 20, replicas=2)
    with pytest.raises(ValueError, match="steps"):
        fused.run_fused(meth, LAND, x0, 15, replicas=2, compile=False)
    with pytest.raises(ValueError, match="block"):
        fused.run_fused(meth, LAND, x0, 20, replicas=2, block=3, compile=False)
    with pytest.raises(ValueError, match="x0"):
        fused.run_fused(meth, LAND, torch.zeros(5, 1), 20, replicas=2, compile=False)
    with pytest.raises(ValueError, match="replicas"):
        fused.run_fused(meth, LAND, x0, 20, replicas=0, compile=False)


def test_compiled_kernels_run_with_the_raised_recompile_limit(monkeypatch):
    """Each (method, sizes, constants, thread count) is one more graph of the same `block` code:
    the compiled kernel is called with dynamo's recompile limit raised to RECOMPILE_LIMIT (the
    default 8 failed the peers benchmark), and the limit is restored after."""
    cfg = torch._dynamo.config
    name = "recompile_limit" if hasattr(cfg, "recompile_limit") else "cache_size_limit"
    seen = []

    def fake_compile(fn, **kw):          # "compiles" to the eager function, noting the limit
        def run(*a):
            seen.append(getattr(cfg, name))
            return fn(*a)
        return run

    monkeypatch.setattr(fused, "compiler_available", lambda: True)
    monkeypatch.setattr(torch, "compile", fake_compile)
    before, cached = getattr(cfg, name), set(fused._CACHE)
    meth = dynamics.make("dsgd", ring(4), lr=0.0123)   # a key no other test compiled
    adv, compiled = fused.stepper(meth, LAND, 3, seed=0, sigma=1.0, batch=1, stream=0, K=4, d=1)
    x = torch.zeros(3, 4, 1, dtype=torch.float64)
    adv(x, x, 0, 2)
    assert compiled and seen == [max(before, fused.RECOMPILE_LIMIT)] * 2
    assert getattr(cfg, name) == before
    for k in set(fused._CACHE) - cached:  # drop the fake-compiled kernel
        del fused._CACHE[k]
