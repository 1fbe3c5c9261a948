"""verify: verdict helpers, Evidence JSON schema, runner (errors, Ctrl-C, resume, jobs), CLI, reports."""
import json
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from verify import Claim, Context, Evidence, Registry, combine, compare, load_recorded, value, within_ci
from verify.__main__ import main
from verify.claims_topology import closed_form_gap


def make_claim(cid, fn, tol=1e-3):
    return Claim(id=cid, paper="test paper", statement=f"statement of {cid}", predicted="p", measured="m",
                 tolerance=tol, tolerance_reason="test", run=fn, tags=("synthetic",))


def counted(path, verdict_fn):
    """A run function that appends a line to `path` each time it runs."""
    def run(ctx):
        with open(path, "a") as f:
            f.write("x\n")
        return verdict_fn(ctx)
    return run


def n_runs(path):
    return len(path.read_text().splitlines()) if path.exists() else 0


# ---------------------------------------------------------------- helpers

def test_compare_abs_rel():
    assert compare(1.0, 1.0 + 0.5e-3, 1e-3) == "holds"
    assert compare(1.0, 1.0 + 2e-3, 1e-3) == "fails"
    assert compare(100.0, 101.0, 0.02, "rel") == "holds"
    assert compare(100.0, 103.0, 0.02, "rel") == "fails"
    assert compare(1.0, float("nan"), 1.0) == "inconclusive"
    assert compare(1.0, float("inf"), 1.0) == "fails"
    assert compare(2.0, value(2.0004), 1e-3) == "holds"


def test_compare_ci_equivalence():
    # band [0.9, 1.1]
    assert compare(1.0, value(1.0, 0.95, 1.05), 0.1, "ci") == "holds"
    assert compare(1.0, value(1.5, 1.3, 1.7), 0.1, "ci") == "fails"
    assert compare(1.0, value(1.0, 0.5, 1.5), 0.1, "ci") == "inconclusive"  # CI too wide
    with pytest.raises(ValueError, match="ci_low"):
        compare(1.0, 1.0, 0.1, "ci")
    with pytest.raises(ValueError, match="kind"):
        compare(1.0, 1.0, 0.1, "bogus")
    with pytest.raises(ValueError, match="tol"):
        compare(1.0, 1.0, -1.0)


def test_within_ci_and_combine():
    assert within_ci(1.0, 0.9, 1.1) and not within_ci(1.2, 0.9, 1.1)
    assert within_ci(1.2, value(1.0, 0.9, 1.1), tol=0.15)
    assert combine(["holds", "inconclusive"]) == "inconclusive"
    assert combine(["holds", "fails", "inconclusive"]) == "fails"
    assert combine(["holds", "holds"]) == "holds"


def test_bad_input_named():
    with pytest.raises(ValueError, match="verdict"):
        Evidence("maybe")
    with pytest.raises(ValueError, match="tags"):
        Claim(id="a.b", paper="p", statement="s", predicted="p", measured="m", tolerance=0.1,
              tolerance_reason="r", run=lambda c: None, tags=("gpu", "weird"))
    with pytest.raises(ValueError, match="ci_low"):
        value(1.0, 2.0, 0.0)


numbers = st.floats(allow_nan=False, allow_infinity=False, width=64)
entries = st.dictionaries(st.text(min_size=1, max_size=8), st.one_of(
    numbers, st.integers(-10**6, 10**6), st.builds(lambda a, b: value(a, min(a, b), max(a, b)), numbers, numbers)),
    max_size=4)


@given(pred=entries, meas=entries, verdict=st.sampled_from(["holds", "fails", "inconclusive", "error"]),
       notes=st.text(max_size=20), recorded=st.booleans(), elapsed=st.floats(0, 1e4))
def test_evidence_json_round_trip(pred, meas, verdict, notes, recorded, elapsed):
    ev = Evidence(verdict, predicted=pred, measured=meas, notes=notes, regime={"K": 8, "flag": True},
                  figures=["figures/a/x.png"], elapsed=elapsed, recorded=recorded,
                  source={"machine": "m"} if recorded else {}, error="tb" if verdict == "error" else "")
    back = Evidence.from_json(json.dumps(json.loads(ev.to_json())))
    assert back == ev


def test_evidence_converts_numpy():
    ev = Evidence("holds", measured={"a": np.float64(0.25), "v": np.arange(3)})
    assert Evidence.from_json(ev.to_json()).measured == {"a": 0.25, "v": [0, 1, 2]}


def test_load_recorded(tmp_path):
    d = tmp_path / "cnn" / "run1"
    d.mkdir(parents=True)
    (d / "evidence.json").write_text(json.dumps({
        "verdict": "holds", "measured": {"acc": 0.9}, "machine": "h100", "date": "2026-01-01",
        "command": "python -m verify x --device cuda"}))
    ev = load_recorded("cnn/run1", root=tmp_path)
    assert ev.recorded and ev.verdict == "holds" and ev.measured == {"acc": 0.9}
    assert ev.source["machine"] == "h100" and ev.source["command"].startswith("python -m verify")
    missing = load_recorded("cnn/none", root=tmp_path)
    assert missing.verdict == "inconclusive" and not missing.recorded and "no recorded" in missing.notes


# ---------------------------------------------------------------- runner and CLI

def test_fails_error_and_report(tmp_path, capsys):
    def disagree(ctx):  # predicted 1, measured 1.1, tol 1e-3 -> fails
        return Evidence(compare(1.0, 1.1, 1e-3), predicted={"x": 1.0}, measured={"x": 1.1})

    def boom(ctx):
        raise RuntimeError("kaboom in claim")

    def fine(ctx):
        return Evidence(compare(2.0, 2.0, 1e-3), predicted={"x": 2.0}, measured={"x": 2.0})

    reg = Registry([make_claim("t.disagree", disagree), make_claim("t.boom", boom), make_claim("t.fine", fine)])
    out = tmp_path / "run"
    assert main(["--quick", "--out", str(out)], registry=reg) == 0
    doc = json.loads((out / "claims.json").read_text())
    ev = {c["id"]: Evidence.from_dict(c["evidence"]) for c in doc["claims"]}
    assert ev["t.disagree"].verdict == "fails"
    assert ev["t.boom"].verdict == "error" and "kaboom in claim" in ev["t.boom"].notes
    assert "RuntimeError" in ev["t.boom"].error and "Traceback" in ev["t.boom"].error
    assert ev["t.fine"].verdict == "holds"  # the run went on after the error
    for name in ("report.md", "report.html"):
        text = (out / name).read_text()
        assert all(cid in text for cid in ev), name
    assert "kaboom in claim" in (out / "report.md").read_text()
    for name in ("config.json", "env.json"):
        assert json.loads((out / name).read_text())["seed"] == 0
    printed = capsys.readouterr().out
    assert "\r" not in printed  # no progress bar when stdout is not a tty
    assert "t.disagree" in printed and "fails" in printed
    assert main(["--quick", "--strict", "--out", str(tmp_path / "r2")], registry=reg) == 1
    assert main(["t.fine", "--quick", "--strict", "--out", str(tmp_path / "r3")], registry=reg) == 0


def test_unknown_id_exit_2(tmp_path, capsys):
    reg = Registry([make_claim("t.one", lambda c: Evidence("holds")), make_claim("t.two", lambda c: Evidence("holds"))])
    assert main(["t.three", "--out", str(tmp_path / "r")], registry=reg) == 2
    err = capsys.readouterr().err
    assert "t.three" in err and "t.one" in err and "t.two" in err
    assert not (tmp_path / "r").exists()
    assert main(["t.", "--quick", "--out", str(tmp_path / "p")], registry=reg) == 0  # prefix selects both
    assert len(json.loads((tmp_path / "p" / "claims.json").read_text())["claims"]) == 2


def test_interrupt_then_resume(tmp_path):
    a_log, b_log, c_log = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    flag = tmp_path / "interrupt"
    flag.write_text("1")

    def b_verdict(ctx):
        if flag.exists():
            flag.unlink()
            raise KeyboardInterrupt
        return Evidence("holds")

    reg = Registry([make_claim("r.a", counted(a_log, lambda c: Evidence("holds"))),
                    make_claim("r.b", counted(b_log, b_verdict)),
                    make_claim("r.c", counted(c_log, lambda c: Evidence("inconclusive")))])
    out = tmp_path / "run"
    assert main(["--quick", "--out", str(out)], registry=reg) == 130
    doc = json.loads((out / "claims.json").read_text())
    assert [c["evidence"] is not None for c in doc["claims"]] == [True, False, False]
    assert "Interrupted" in (out / "report.md").read_text()
    assert main(["--resume", str(out)], registry=reg) == 0
    assert (n_runs(a_log), n_runs(b_log), n_runs(c_log)) == (1, 2, 1)
    doc = json.loads((out / "claims.json").read_text())
    assert [c["evidence"]["verdict"] for c in doc["claims"]] == ["holds", "holds", "inconclusive"]
    assert json.loads((out / "config.json").read_text())["quick"] is True  # mode kept from the first run
    assert "Interrupted" not in (out / "report.md").read_text()
    assert main(["--resume", str(out)], registry=reg) == 0  # nothing left: nothing re-run
    assert (n_runs(a_log), n_runs(b_log), n_runs(c_log)) == (1, 2, 1)


def test_figure_paths_relative_and_embedded(tmp_path):
    def with_fig(ctx):
        p = ctx.figure("f.png")
        p.write_bytes(b"\x89PNG")
        return Evidence("holds", figures=[p])

    out = tmp_path / "run"
    assert main(["--quick", "--out", str(out)], registry=Registry([make_claim("f.fig", with_fig)])) == 0
    ev = Evidence.from_dict(json.loads((out / "claims.json").read_text())["claims"][0]["evidence"])
    assert ev.figures == ["figures/f.fig/f.png"] and (out / ev.figures[0]).is_file()
    assert "](figures/f.fig/f.png)" in (out / "report.md").read_text()
    assert "<img src='figures/f.fig/f.png'" in (out / "report.html").read_text()


# ---------------------------------------------------------------- the topology claims

@pytest.mark.parametrize("K", [3, 4, 5, 8, 16])
def test_ring_closed_form_vs_cosines(K):
    # independent: ring eigenvalues (1 + 2 cos(2 pi j / K)) / 3
    lam = (1 + 2 * np.cos(2 * np.pi * np.arange(1, K) / K)) / 3
    assert math.isclose(closed_form_gap("ring", K), 1 - np.max(np.abs(lam)), abs_tol=1e-12)


def test_topology_claims_hold_with_two_jobs(tmp_path):
    out = tmp_path / "run"
    assert main(["topology.", "--quick", "--jobs", "2", "--out", str(out), "--strict"]) == 0
    doc = json.loads((out / "claims.json").read_text())
    ev = {c["id"]: Evidence.from_dict(c["evidence"]) for c in doc["claims"]}
    assert set(ev) == {"topology.spectral_gap_closed_forms", "topology.one_peer_exact_averaging"}
    assert all(e.verdict == "holds" for e in ev.values())
    assert ev["topology.one_peer_exact_averaging"].measured["K=8"] <= 1e-12  # exact for K = 2^m
    assert ev["topology.spectral_gap_closed_forms"].measured["max_abs_error"] <= 1e-9


def test_every_card_has_its_claim_and_every_claim_its_card():
    from verify import catalog
    from verify.claims import cards
    registered = {c.id for c in catalog.load()}
    assert registered == set(cards())
    assert len(registered) >= 38


def test_catalog_lists_exactly_the_modules_with_cards():
    from verify.catalog import CLAIM_MODULES
    from verify.claims import CARDS
    assert sorted(CLAIM_MODULES) == sorted(f"verify.claims_{p.stem}" for p in CARDS.glob("*.toml"))


def test_claim_text_comes_from_its_card():
    from verify import catalog
    from verify.claims import card
    c = catalog.load()["easgd.exploration"]
    assert c.meta() == {**card("easgd.exploration"), "tags": list(c.tags)}
    assert "exploration_removed" in c.controls


def test_claim_without_card_refused():
    from verify.claims import Registry
    with pytest.raises(ValueError, match="no card"):
        Registry().claim("nosuch.claim")
    with pytest.raises(ValueError, match="id alone"):
        Registry().claim("easgd.exploration", paper="x")
