"""verify/diff.py: two run folders compared bit for bit, claim by claim."""
from __future__ import annotations

import math

from verify.claims import Evidence, value
from verify.diff import compare, largest_change, main
from verify.runner import claims_document, write_json


def _run(tmp_path, name, evidence):
    d = tmp_path / name
    d.mkdir()
    metas = [{"id": cid} for cid in evidence]
    write_json(d / "claims.json", claims_document(metas, evidence))
    return d


def test_identical_runs_are_the_same(tmp_path):
    ev = {"a.x": Evidence("holds", measured={"m": value(1.0, 0.5, 1.5)}, data={"xs": [1.0, 2.0]})}
    a, b = _run(tmp_path, "a", ev), _run(tmp_path, "b", ev)
    assert compare(a, b)["a.x"]["status"] == "same"
    assert main([str(a), str(b)]) == 0


def test_one_ulp_in_the_data_is_a_difference(tmp_path):
    x = 0.1
    y = math.nextafter(x, 1.0)
    a = _run(tmp_path, "a", {"a.x": Evidence("holds", data={"xs": [x]}), "a.y": Evidence("fails")})
    b = _run(tmp_path, "b", {"a.x": Evidence("holds", data={"xs": [y]}), "a.z": Evidence("fails")})
    res = compare(a, b)
    assert res["a.x"]["status"] == "differs"
    assert 0 < res["a.x"]["fields"]["data"] == abs(x - y) / y
    assert res["a.y"]["status"] == "only in A" and res["a.z"]["status"] == "only in B"
    assert main([str(a), str(b)]) == 1


def test_verdict_change_and_shape_change_reported(tmp_path):
    a = _run(tmp_path, "a", {"c": Evidence("holds", measured={"m": 1.0})})
    b = _run(tmp_path, "b", {"c": Evidence("fails", measured={"m": 1.0, "n": 2.0})})
    f = compare(a, b)["c"]["fields"]
    assert math.isinf(f["verdict"]) and math.isinf(f["measured"])
    assert largest_change({"m": [1.0, 2.0]}, {"m": [1.0, 4.0]}) == 0.5


def test_unreadable_run_folder_exit_2(tmp_path, capsys):
    assert main([str(tmp_path / "missing"), str(tmp_path)]) == 2
    assert "claims.json" in capsys.readouterr().err
