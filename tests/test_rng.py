"""landscapes.rng: counter-based streams. Bounds are standard errors of the sampled statistic."""
import math

import numpy as np
import pytest
import scipy.stats
import torch

from landscapes import rng


def test_reproducible():
    a = rng.Streams(7, 4).normal(3, (5, 2), stream=1)
    b = rng.Streams(7, 4).normal(3, (5, 2), stream=1)
    assert a.shape == (4, 5, 2) and a.dtype == torch.float64
    assert torch.equal(a, b)


def test_replica_draws_independent_of_R_and_others():
    sub = rng.Streams(11, torch.tensor([5, 9]))
    full = rng.Streams(11, 16)
    for draw in ("normal", "uniform"):
        s, f = getattr(sub, draw)(4, (3, 2), 2), getattr(full, draw)(4, (3, 2), 2)
        assert torch.equal(s[0], f[5]) and torch.equal(s[1], f[9])
    assert torch.equal(sub.randint(4, 7, (3,), 1)[1], full.randint(4, 7, (3,), 1)[9])


def test_normal_mean_variance_within_bounds():
    z = rng.Streams(0, 200).normal(0, (500,)).flatten()
    n = z.numel()
    assert abs(float(z.mean())) < 4 / math.sqrt(n)              # SE of mean = 1/sqrt(n)
    assert abs(float(z.var()) - 1) < 4 * math.sqrt(2 / n)      # SE of s^2 = sqrt(2/n) for N(0,1)


def test_ks_uniform_and_normal():
    u = rng.Streams(1, 20).uniform(2, (500,)).flatten().numpy()
    assert u.min() > 0 and u.max() < 1
    assert scipy.stats.kstest(u, "uniform").pvalue > 1e-4
    z = rng.Streams(1, 20).normal(2, (500,)).flatten().numpy()
    assert scipy.stats.kstest(z, "norm").pvalue > 1e-4


def test_different_t_and_stream_differ_and_decorrelate():
    s = rng.Streams(3, 50)
    base = s.normal(0, (200,)).flatten()
    n = base.numel()
    for other in (s.normal(1, (200,)), s.normal(0, (200,), stream=1), rng.Streams(4, 50).normal(0, (200,))):
        other = other.flatten()
        assert not torch.equal(base, other)
        r = float(torch.corrcoef(torch.stack([base, other]))[0, 1])
        assert abs(r) < 4 / math.sqrt(n)                        # SE of r ≈ 1/sqrt(n) under independence


def test_randint_range_and_uniformity():
    v = rng.Streams(5, 100).randint(0, 6, (300,)).flatten().numpy()
    assert v.min() >= 0 and v.max() <= 5
    counts = np.bincount(v, minlength=6)
    assert scipy.stats.chisquare(counts).pvalue > 1e-4


def test_generator_path():
    g1, g2 = torch.Generator().manual_seed(0), torch.Generator().manual_seed(0)
    a, b = rng.normal(g1, 9, (3, 4, 2)), rng.normal(g2, 0, (3, 4, 2))
    assert a.shape == (3, 4, 2) and a.dtype == torch.float64
    assert torch.equal(a, b)                                     # t ignored for generators
    u = rng.uniform(torch.Generator().manual_seed(1), 0, (4,))
    assert u.shape == (4,) and bool(((u >= 0) & (u < 1)).all())
    k = rng.randint(torch.Generator().manual_seed(1), 0, 5, (10,))
    assert k.shape == (10,) and int(k.max()) < 5


def test_entry_point_matches_streams():
    s = rng.Streams(2, 3)
    assert torch.equal(rng.normal(s, 4, (2,), 1), s.normal(4, (2,), 1))


@pytest.mark.parametrize("call, word", [
    (lambda: rng.Streams(0, 0), "replicas"),
    (lambda: rng.Streams(-1, 2), "seed"),
    (lambda: rng.Streams(0, torch.zeros(2, 2, dtype=torch.int64)), "replica ids"),
    (lambda: rng.Streams(0, 2).randint(0, 0, (1,)), "high"),
    (lambda: rng.normal(np.random.default_rng(0), 0, (1,)), "random source"),
])
def test_bad_input(call, word):
    with pytest.raises(ValueError, match=word):
        call()


def test_int32_mixer_is_bit_identical_to_int64():
    """The int32 fast path of the hash equals the reference int64 lowbias32 on random words."""
    from landscapes.rng import _mix32, _mix32_i32_, _to_i32
    g = torch.Generator().manual_seed(3)
    v = torch.randint(0, 2 ** 32, (200000,), generator=g, dtype=torch.int64)
    v[:4] = torch.tensor([0, 1, 2 ** 31, 2 ** 32 - 1])
    w = _to_i32(v)
    assert torch.equal(_mix32(v), _mix32_i32_(w, torch.empty_like(w)).to(torch.int64) & 0xFFFFFFFF)


def _lowbias32(x: int) -> int:
    """Wellons' lowbias32 written out on Python ints (the specification the tensors follow)."""
    x ^= x >> 16
    x = (x * 0x7FEB352D) % 2 ** 32
    x ^= x >> 15
    x = (x * 0x846CA68B) % 2 ** 32
    return x ^ (x >> 16)


def _chain(seed, stream, salt, t, r, i):
    k = _lowbias32((seed * 0x9E3779B1 + stream * 0x85EBCA77 + salt) % 2 ** 32)
    k = _lowbias32(k ^ (t % 2 ** 32))
    k = _lowbias32(k ^ ((t >> 32) % 2 ** 32))
    h = _lowbias32((r * 0x27D4EB2F + k) % 2 ** 32)
    return _lowbias32(_lowbias32(h ^ ((i * 0x165667B1) % 2 ** 32)) ^ ((i >> 16) % 2 ** 32))


@pytest.mark.parametrize("seed,t,stream", [(0, 0, 0), (11, 2 ** 33 + 5, 2), (2 ** 40 + 1, 977, 1)])
def test_streams_follow_the_documented_hash(seed, t, stream):
    """Uniforms and normals equal a scalar Python re-computation of the documented hash chain
    and Box–Muller map (uniforms exactly; normals to a few ulps of math.log / math.cos)."""
    ids = [0, 5, 2 ** 31 + 7]
    s = rng.Streams(seed, torch.tensor(ids))
    n = 5
    u = s.uniform(t, (n,), stream)
    z = s.normal(t, (n,), stream)
    m = (n + 1) // 2
    for a, r in enumerate(ids):
        for i in range(n):
            hi = _chain(seed, stream, 0x3C6EF372, t, r, i) >> 5
            lo = _chain(seed, stream, 0x1B873593, t, r, i) >> 6
            assert float(u[a, i]) == (hi * 2.0 ** 26 + lo + 0.5) / 2.0 ** 53
        for j in range(m):
            hi = _chain(seed, 2 * stream, 0x3C6EF372, t, r, j) >> 5
            lo = _chain(seed, 2 * stream, 0x1B873593, t, r, j) >> 6
            rad = math.sqrt(-2.0 * math.log((hi * 2.0 ** 26 + lo + 0.5) / 2.0 ** 53))
            th = (_chain(seed, 2 * stream + 1, 0x5BD1E995, t, r, j) + 0.5) * (2 * math.pi / 2 ** 32)
            assert float(z[a, j]) == pytest.approx(rad * math.cos(th), rel=1e-13, abs=1e-14)
            if m + j < n:
                assert float(z[a, m + j]) == pytest.approx(rad * math.sin(th), rel=1e-13, abs=1e-14)


def test_python_key_mixer_matches_tensor_mixer():
    from landscapes.rng import _mix32, _mix32_int
    vals = [0, 1, 2 ** 31, 2 ** 32 - 1, 0x9E3779B1, 123456789]
    got = _mix32(torch.tensor(vals, dtype=torch.int64)).tolist()
    assert got == [_mix32_int(v) for v in vals] == [_lowbias32(v) for v in vals]


def test_blocked_draws_equal_one_step_draws(monkeypatch):
    """Draws made several steps per pass (the default for small ensembles) equal draws made
    one step at a time, whatever order the times are asked in; callers get their own copy."""
    s = rng.Streams(4, 6)
    order = [0, 1, 2, 3, 40, 41, 7, 3, 2 ** 33, 5]
    blocked = [(s.normal(t, (3, 2), 1), s.uniform(t, (5,), 2)) for t in order]
    blocked[0][0].fill_(123.0)  # must not leak into the cache
    monkeypatch.setattr(rng, "_MAX_STEPS", 1)
    single = rng.Streams(4, 6)
    for t, (z, u) in zip(order[1:], blocked[1:]):
        assert torch.equal(z, single.normal(t, (3, 2), 1))
        assert torch.equal(u, single.uniform(t, (5,), 2))
    assert torch.equal(s.normal(0, (3, 2), 1), single.normal(0, (3, 2), 1))
