"""benchmarks/peers.py and benchmarks/chain.py: same workload law across paths; section writer."""
import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from analysis.stats import diff_ci

ROOT = Path(__file__).resolve().parents[1]


def _load(name):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", ROOT / "benchmarks" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


peers = _load("peers")
R, T = 400, 100


def _same_law(a, b):
    """Final consensus of two implementations: the 99.9% Welch interval of the difference of
    means contains 0, and it is narrow enough (< 20% of the mean) to catch a wrong law."""
    ci = diff_ci(a, b, level=0.999)
    assert ci["ci_low"] <= 0 <= ci["ci_high"], ci
    assert ci["ci_high"] - ci["ci_low"] < 0.2 * np.mean(a)


@pytest.fixture(scope="module")
def reference():
    return {c: peers.run_simulate(peers.CASES[c], R, T, 1)[2] for c in ("dsgd_dg", "dsgdm_dg")}


@pytest.mark.parametrize("case", ["dsgd_dg", "dsgdm_dg"])
def test_numpy_peer_same_law_as_simulate(case, reference):
    _same_law(reference[case], peers.run_numpy(peers.CASES[case], R, T, 1)[2])


def test_a_wrong_law_is_caught(reference, monkeypatch):
    monkeypatch.setattr(peers, "SCALE", peers.SCALE * 1.3)  # noise sd off by 30%
    b = peers.run_numpy(peers.CASES["dsgd_dg"], R, T, 1)[2]
    with pytest.raises(AssertionError):
        _same_law(reference["dsgd_dg"], b)


def test_jax_peer_same_law_as_simulate(reference):
    pytest.importorskip("jax")
    _same_law(reference["dsgdm_dg"], peers.run_jax(peers.CASES["dsgdm_dg"], R, T, 1)[2])


@pytest.mark.slow
def test_numba_peer_same_law_as_simulate(reference):
    pytest.importorskip("numba")
    _same_law(reference["dsgd_dg"], peers.run_numba(peers.CASES["dsgd_dg"], R, T, 1)[2])


def test_fused_path_eager_is_simulate(monkeypatch):
    from dynamics import fused
    monkeypatch.setattr(fused, "compiler_available", lambda: False)
    a = peers.run_simulate(peers.CASES["dsgdm_dg"], 16, 40, 1)[2]
    b = peers.run_fused_path(peers.CASES["dsgdm_dg"], 16, 40, 1)[2]
    assert np.array_equal(a, b)


def test_roofline_counts():
    rates = {"copy_bytes_per_s": 1e10, **{k + "_per_s": 1e8 for k in ("exp", "log", "sin", "cos", "sqrt")}}
    per, t_comp, t_mem = peers.roofline(peers.CASES["dsgd_dg"], rates)
    assert per == {"exp": 2, "log": 0.5, "sqrt": 0.5, "sin": 0.5, "cos": 0.5}
    assert t_comp == pytest.approx(4 / 1e8 / 2) and t_mem == pytest.approx(16 / 1e10)


@pytest.mark.parametrize("name", ["peers", "chain"])
def test_write_section_replaces_only_its_block(tmp_path, monkeypatch, name):
    mod = peers if name == "peers" else _load("chain")
    f = tmp_path / "RESULTS.md"
    f.write_text("# Benchmark results\n\n## Other\nkeep me\n")
    monkeypatch.setattr(mod, "RESULTS", f)
    mod.write_section("first")
    mod.write_section("second")
    body = f.read_text()
    assert "keep me" in body and "second" in body and "first" not in body
    assert body.count(mod.BEGIN) == 1 and body.count(mod.END) == 1
