"""flatness.accuracy_flatness_and_error and flatness.diffusion_better_balance: the regression
helpers against independent constructions (known linear relations, brute-force leave-one-out,
hand-computable RMSE gaps), the verdict rules on synthetic data with known signs, and (slow) the
claims in quick mode."""
import math

import numpy as np
import pytest

from analysis.stats import ols
from verify.catalog import load
from verify.claims import VERDICTS, Context
from verify.claims_flatness_accuracy import balance, coef_ci, judge, loo_residuals, rmse_gap_ci

CID = "flatness.accuracy_flatness_and_error"


def _synthetic(n_batches=4, noise=0.05, beta_trace=-3.0, seed=0, R=12, atc_shift=0.0):
    """test = 1 + 2·excess + beta_trace·trace + noise (− atc_shift for ATC runs) with independent
    regressors, laid out as `run_grid` output: R replicas × (csgd, dsgd/ring, atc/ring) ×
    n_batches cells."""
    cells = [(m, g, B) for m, g in (("csgd", "-"), ("dsgd", "ring"), ("atc", "ring"))
             for B in range(n_batches)]
    lay = [(m, g, B, r) for (m, g, B) in cells for r in range(R)]
    n = len(lay)
    rng = np.random.default_rng(seed)
    trace, excess = rng.normal(size=n), rng.normal(size=n)
    test = 1.0 + 2.0 * excess + beta_trace * trace + noise * rng.normal(size=n)
    m, g, B, r = (np.array(c) for c in zip(*lay))
    test = test - atc_shift * (m == "atc")
    return {"test": test, "trace": trace, "excess": excess, "replica": r, "method": m, "graph": g, "batch": B,
                "f_star_hat": 0.0, "config": {"label_noise": 0.3}}


def test_ols_recovers_known_relation():
    d = _synthetic(n_batches=50, noise=0.05)
    X = np.column_stack([d["trace"], d["excess"]])
    fit = ols(X, d["test"])
    # standard error of each slope ≈ noise/√n ≈ 0.002 (unit-variance regressors): 5 SE
    assert fit["coef"] == pytest.approx([1.0, -3.0, 2.0], abs=0.01)
    assert fit["r2"] > 0.99
    one = [ols(d[k][:, None], d["test"]) for k in ("trace", "excess")]
    assert all(fit["loo_rmse"] < o["loo_rmse"] for o in one)
    # each single model leaves the other regressor's variance: RMSE ≈ its slope · SD (≈ 2, ≈ 3)
    assert one[0]["loo_rmse"] == pytest.approx(2.0, rel=0.15)
    assert one[1]["loo_rmse"] == pytest.approx(3.0, rel=0.15)


def test_loo_residuals_match_brute_force():
    rng = np.random.default_rng(3)
    X, y = rng.normal(size=(15, 2)), rng.normal(size=15)
    want = []
    for i in range(15):
        keep = np.arange(15) != i
        A = np.column_stack([np.ones(14), X[keep]])
        b = np.linalg.lstsq(A, y[keep], rcond=None)[0]
        want.append(y[i] - np.r_[1.0, X[i]] @ b)
    assert loo_residuals(X, y) == pytest.approx(np.array(want), rel=1e-9, abs=1e-12)
    assert math.sqrt(np.mean(np.square(want))) == pytest.approx(ols(X, y)["loo_rmse"], rel=1e-9)


def test_rmse_gap_ci_exact_cases():
    rng = np.random.default_rng(1)
    b = rng.normal(size=40)
    cl = np.arange(40) % 8
    same = rmse_gap_ci(b, b, cl)
    assert same["value"] == same["ci_low"] == same["ci_high"] == 0.0
    # a = 2b: RMSE(a) − RMSE(b) = RMSE(b) > 0 in every resample, so the whole interval is > 0
    g = rmse_gap_ci(2 * b, b, cl)
    assert g["value"] == pytest.approx(math.sqrt(np.mean(b ** 2)), rel=1e-12)
    assert g["ci_low"] > 0
    with pytest.raises(ValueError, match="clusters"):
        rmse_gap_ci(b, b, np.zeros(40))
    with pytest.raises(ValueError, match="res_a"):
        rmse_gap_ci(b, b[:-1], cl)


def test_judge_holds_when_both_regressors_matter():
    """Both partial effects positive (sharper and larger error -> higher test loss)."""
    ev = judge(_synthetic(beta_trace=3.0))
    assert ev.verdict == "holds"
    assert ev.measured["both/coef_trace"]["ci_low"] > 0
    assert ev.measured["both/coef_trace"]["ci_low"] < 3.0 < ev.measured["both/coef_trace"]["ci_high"]


def test_judge_fails_when_sharper_is_better():
    """A significantly negative trace effect is evidence against the claimed direction."""
    ev = judge(_synthetic(beta_trace=-3.0))
    assert ev.verdict == "fails"
    assert ev.measured["both/coef_trace"]["ci_high"] < 0


def test_judge_not_holds_when_trace_is_irrelevant():
    """trace carries no signal: its coefficient's interval straddles 0 (no significant effect)."""
    ev = judge(_synthetic(beta_trace=0.0, noise=1.0))
    assert ev.verdict == "inconclusive"
    v = ev.measured["both/coef_trace"]
    assert v["ci_low"] < 0 < v["ci_high"]


def test_coef_ci_resamples_whole_initialisations():
    """With every run of an initialisation identical, resampling clusters equals resampling the R
    distinct points: the bootstrap interval must then contain the full-data coefficient."""
    d = _synthetic(beta_trace=3.0)
    c = coef_ci(d, 1)
    assert c["ci_low"] <= c["value"] <= c["ci_high"]
    A = np.column_stack([np.ones(len(d["test"])), d["trace"], d["excess"]])
    assert c["value"] == pytest.approx(np.linalg.lstsq(A, d["test"], rcond=None)[0][1], rel=1e-12)


def test_balance_sign():
    """ATC runs 5 lower in test loss -> consensus − diffusion rises by exactly 5 (same draws;
    the per-initialisation spread of the synthetic differences is about 0.7)."""
    base = balance(_synthetic(beta_trace=3.0))
    ev = balance(_synthetic(beta_trace=3.0, atc_shift=5.0))
    assert ev.measured["test(dsgd)-test(atc)"]["value"] == pytest.approx(
        base.measured["test(dsgd)-test(atc)"]["value"] + 5.0, rel=1e-9)
    assert ev.verdict == "holds"
    assert balance(_synthetic(beta_trace=3.0, atc_shift=-5.0)).verdict == "fails"


def test_registered():
    assert CID in load()
    assert "flatness.diffusion_better_balance" in load()


@pytest.mark.slow
def test_claim_quick_runs():
    ev = load()[CID].run(Context(quick=True, seed=0))
    assert ev.verdict in set(VERDICTS) - {"error"}
    for k in ("trace", "excess", "both"):
        for q in ("r2", "adj_r2", "loo_rmse"):
            assert math.isfinite(ev.reported[f"{k}/{q}"])
    for v in (ev.reported["loo_rmse(both)-loo_rmse(trace)"], ev.reported["loo_rmse(both)-loo_rmse(excess)"],
              ev.measured["both/coef_trace"], ev.measured["both/coef_excess"]):
        assert v["ci_low"] <= v["value"] <= v["ci_high"]
    # nested models: in-sample R² of the two-variable fit is at least that of each single fit
    assert ev.reported["both/r2"] >= max(ev.reported["trace/r2"], ev.reported["excess/r2"]) - 1e-12
    # label noise 0.3: no model beats the Bayes floor σ²/2 = 0.045 on the test set by much
    assert ev.reported["csgd/mean_test"] > 0.045 * 0.9
