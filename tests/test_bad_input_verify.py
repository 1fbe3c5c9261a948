"""Bad input to the claim infrastructure and runner (verify/claims.py, verify/runner.py,
dynamics/runfolder.py's resume check) -> ValueError naming the argument; the CLI answers a
user error with one line and exit code 2, creating no run folder."""
from pathlib import Path

import pytest

from dynamics import runfolder
from verify import runner
from verify.__main__ import main
from verify.claims import Claim, Evidence, Registry, combine, compare, value, within_ci
from _bad_input import check, table


def _ok(ctx):
    return Evidence("holds", predicted={"a": 1}, measured={"a": 1})


def _other(ctx):
    return _ok(ctx)


META = dict(paper="p", statement="s", predicted="p", measured="m", tolerance=0.0, tolerance_reason="t",
            run=_ok, tags=("synthetic",))
REG = Registry([Claim(id="topology.gap", **META), Claim(id="escape.rate", **META)])


def _claims_file(tmp, text):
    d = Path(tmp)
    d.mkdir(parents=True, exist_ok=True)
    (d / "claims.json").write_text(text)
    return d


TMP = Path(__import__("tempfile").mkdtemp())

CASES = [
    ("select-unknown", lambda: REG.select(["topolgy.gap"]), r"unknown claim id or prefix 'topolgy.gap'.*did you mean 'topology.gap'"),
    ("getitem-unknown", lambda: REG["escape.rat"], r"unknown claim id 'escape.rat'.*did you mean 'escape.rate'"),
    ("register-twice", lambda: REG.add(Claim(id="topology.gap", **{**META, "run": _other})), r"claim id 'topology.gap' is already registered"),
    ("claim-id-space", lambda: Claim(id="a b", **META), r"Claim id must be a non-empty string without spaces"),
    ("claim-empty-statement", lambda: Claim(id="x", **{**META, "statement": ""}), r"statement must not be empty"),
    ("claim-run", lambda: Claim(id="x", **{**META, "run": 3}), r"run must be callable"),
    ("claim-tags", lambda: Claim(id="x", **{**META, "tags": ("fast",)}), r"unknown tags"),
    ("evidence-verdict", lambda: Evidence("maybe"), r"Evidence verdict must be one of"),
    ("value-ci-half", lambda: value(1.0, ci_low=0.0), r"give both ci_low and ci_high"),
    ("value-ci-order", lambda: value(1.0, 2.0, 0.0), r"ci_low \(2.0\) must not exceed ci_high"),
    ("compare-kind", lambda: compare(1.0, 1.0, 0.1, kind="sq"), r"compare: kind must be"),
    ("compare-tol", lambda: compare(1.0, 1.0, -0.1), r"compare: tol must be >= 0"),
    ("within-ci-tol", lambda: within_ci(1.0, 0.0, 2.0, tol=-1), r"within_ci: tol must be >= 0"),
    ("combine-empty", lambda: combine([]), r"combine: no verdicts given"),
    ("combine-unknown", lambda: combine(["holds", "nope"]), r"combine: unknown verdicts"),
    ("resume-no-file", lambda: runner.load_claims_json(TMP / "none"), r"resume: no claims.json"),
    ("resume-truncated", lambda: runner.load_claims_json(_claims_file(TMP / "t", '{"schema": "decentlab.claims/1", "cla')), r"claims.json is not valid JSON \(truncated"),
    ("resume-schema", lambda: runner.load_claims_json(_claims_file(TMP / "s", '{"schema": "x/1", "claims": []}')), r"has schema 'x/1'"),
    ("resume-no-list", lambda: runner.load_claims_json(_claims_file(TMP / "l", '[1, 2]')), r"holds no claims list"),
    ("run-claims-jobs", lambda: runner.run_claims([], TMP / "j", jobs=0), r"jobs must be >= 1"),
    ("check-resume", lambda: runfolder.check_resume({"quick": True, "seed": 0}, {"quick": False, "seed": 7}, "--resume D"), r"differing keys: quick: True -> False; seed: 0 -> 7"),
    ("read-json-missing", lambda: runfolder.read_json(TMP / "nope.json", "config"), r"config .*nope.json does not exist"),
]


@table(CASES)
def test_bad_input(thunk, match):
    check(thunk, match)


def test_count():
    assert len(CASES) >= 20


@pytest.mark.parametrize("argv, what", [
    (["nosuch.claim"], "unknown claim id or prefix 'nosuch.claim'"),
    (["topolgy.gap"], "did you mean 'topology.gap'"),
    (["--jobs", "0"], "--jobs must be >= 1"),
    (["--seed", "-1"], "--seed must be >= 0"),
    (["--plugin", "no_such_module_xyz"], "--plugin"),
    (["--list", "escap."], "unknown claim id or prefix 'escap.'"),
])
def test_cli_user_error_one_line_no_folder(tmp_path, capsys, argv, what):
    out = tmp_path / "run"
    assert main([*argv, "--out", str(out)], registry=REG) == 2
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert len(err) == 1 and what in err[0], err
    assert not out.exists()


def test_cli_list_filters_with_statements(capsys):
    assert main(["--list", "escape."], registry=REG) == 0
    out = capsys.readouterr().out
    assert "escape.rate" in out and "topology.gap" not in out and "    s" in out


def test_cli_default_is_quick_and_says_how_to_get_the_full_run(tmp_path, capsys):
    assert main(["escape.", "--out", str(tmp_path / "r")], registry=REG) == 0
    out = capsys.readouterr().out
    assert "quick" in out and "python -m verify --full" in out and "20-30 min" in out
    assert runfolder.read_json(tmp_path / "r" / "config.json")["quick"] is True


def test_cli_scorecard_dispatch(monkeypatch):
    import sys
    import types
    seen = {}
    fake = types.ModuleType("verify.scorecard")
    fake.main = lambda argv: seen.setdefault("argv", argv) and 0
    monkeypatch.setitem(sys.modules, "verify.scorecard", fake)
    assert main(["scorecard", "--quick", "x"]) == 0
    assert seen["argv"] == ["--quick", "x"]
