"""verify.scorecard: rows agree with closed forms computed here with numpy, and the command
writes scorecard.json / .md / figure."""
import json

import numpy as np
import pytest
from scipy.linalg import block_diag

import landscapes
from dynamics import topology as T
from verify import scorecard as S

LINEAR = ("average", "bias", "radius", "penalty", "vectors")


def _problem():
    p = landscapes.hetero_quadratics(**S.HETERO)
    return p.A.numpy(), p.b.numpy(), p.x_star.numpy()


def _ring_eigs():
    return np.linalg.eigvalsh(T.ring(S.K).W().numpy())


def test_dsgd_row_against_closed_forms():
    row = S.score("dsgd", checks=LINEAR)
    c = row["checks"]
    A, b, xs = _problem()
    K, d = b.shape
    W = T.ring(K).W().numpy()
    Ab = block_diag(*A)
    # D-SGD fixed point: (I − W⊗I + η𝒜) vec X = η𝒜 vec B
    X = np.linalg.solve(np.eye(K * d) - np.kron(W, np.eye(d)) + S.LR * Ab, S.LR * Ab @ b.reshape(-1)).reshape(K, d)
    assert c["bias"]["value"] == pytest.approx(np.sqrt(((X - xs) ** 2).sum(-1).mean()), rel=1e-8)
    assert c["bias"]["ok"] is False
    lam = _ring_eigs()
    h = np.diag(S.H)
    assert c["radius"]["value"] == pytest.approx(np.abs(lam[:, None] - S.LR * h[None]).max(), rel=1e-10)
    # ½Tr(HΞ) for diagonal H: coordinates decouple, modes j >= 2 of W
    lj = np.sort(lam)[:-1]
    pen = sum(0.5 * hi / K * np.sum(S.LR ** 2 * S.SIGMA2 / (1 - (lj - S.LR * hi) ** 2)) for hi in h)
    assert c["penalty"]["value"] == pytest.approx(pen, rel=1e-8)
    assert c["vectors"]["value"] == 2 * K and c["vectors"]["ok"]
    assert c["average"]["ok"]


def test_atc_row_and_theory_column():
    row = S.score("atc", checks=("bias",))
    A, b, xs = _problem()
    K, d = b.shape
    Wk, Ab = np.kron(T.ring(K).W().numpy(), np.eye(d)), block_diag(*A)
    # ATC fixed point X = W(X − η𝒜(X − B)): (I − 𝒲(I − η𝒜)) X = η𝒲𝒜B
    X = np.linalg.solve(np.eye(K * d) - Wk @ (np.eye(K * d) - S.LR * Ab), S.LR * Wk @ Ab @ b.reshape(-1))
    bias = np.sqrt(((X.reshape(K, d) - xs) ** 2).sum(-1).mean())
    assert row["checks"]["bias"]["value"] == pytest.approx(bias, rel=1e-8)
    assert row["theory"]["bias"] == pytest.approx(bias, rel=1e-8)


@pytest.mark.parametrize("name", ["gt", "mt", "d2"])
def test_exact_methods_rows(name):
    row = S.score(name, checks=("bias", "vectors"))
    assert row["checks"]["bias"]["ok"] and row["checks"]["bias"]["value"] < 1e-10
    assert row["checks"]["vectors"]["ok"]


def test_csgd_row():
    row = S.score("csgd", checks=("radius", "penalty", "vectors"))
    assert row["checks"]["radius"]["value"] == pytest.approx(1 - S.LR * 0.5, rel=1e-12)
    assert abs(row["checks"]["penalty"]["value"]) < 1e-14  # one replicated model: Ξ = 0
    assert row["checks"]["vectors"]["value"] == 2 * (S.K - 1)


def test_unknown_check_and_algorithm():
    with pytest.raises(ValueError, match="checks"):
        S.score("dsgd", checks=("nope",))
    assert "error" in S.score("no_such_algo")


def test_command_writes_the_run_folder(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(S, "ESCAPE", {True: dict(replicas=16, steps=100), False: dict(replicas=16, steps=100)})
    out = tmp_path / "run"
    assert S.main(["--only", "dsgd", "gt", "--out", str(out), "--no-entry-points"]) == 0
    table = json.loads((out / "scorecard.json").read_text())
    assert [r["algorithm"] for r in table["rows"]] == ["dsgd", "gt"]
    md = (out / "scorecard.md").read_text()
    assert md.count("\n| dsgd |") == 1 and md.count("\n| gt |") == 1 and "heterogeneity bias" in md
    assert not (out / "scorecard.png").exists()  # verify draws no figure: paper_figs does, from the json
    from paper_figs.scorecard import render
    render(table, out)
    assert (out / "scorecard.png").read_bytes()[:4] == b"\x89PNG"
    assert S.main(["--only", "nope", "--out", str(out), "--no-entry-points"]) == 2
