"""analysis.stats against scipy / statsmodels-free independent computations."""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sst

from analysis import stats as S


def test_mean_ci_matches_scipy_t_interval():
    x = np.random.default_rng(1).normal(3.0, 2.0, 37)
    lo, hi = sst.t.interval(0.95, len(x) - 1, loc=x.mean(), scale=sst.sem(x))
    v = S.mean_ci(x)
    assert v["value"] == pytest.approx(x.mean(), rel=1e-12)
    assert (v["ci_low"], v["ci_high"]) == pytest.approx((lo, hi), rel=1e-12)


def test_mean_ci_nonfinite_and_single():
    assert S.mean_ci([1.0, math.inf])["value"] == math.inf
    v = S.mean_ci([2.0])
    assert v["value"] == 2.0 and v["ci_low"] == -math.inf
    with pytest.raises(ValueError, match="level"):
        S.mean_ci([1, 2], level=1.5)
    with pytest.raises(ValueError, match="x"):
        S.mean_ci([])


def test_diff_ci_welch_matches_scipy():
    g = np.random.default_rng(2)
    a, b = g.normal(1.0, 1.0, 20), g.normal(0.0, 3.0, 31)
    v = S.diff_ci(a, b)
    r = sst.ttest_ind(a, b, equal_var=False).confidence_interval(0.95)
    assert (v["ci_low"], v["ci_high"]) == pytest.approx((r.low, r.high), rel=1e-10)
    p = S.diff_ci(a[:20], b[:20], paired=True)
    rp = sst.ttest_rel(a[:20], b[:20]).confidence_interval(0.95)
    assert (p["ci_low"], p["ci_high"]) == pytest.approx((rp.low, rp.high), rel=1e-10)


def test_wilson_matches_scipy():
    for k, n in [(0, 10), (3, 10), (10, 10), (57, 200)]:
        ci = sst.binomtest(k, n).proportion_ci(0.95, method="wilson")
        v = S.wilson(k, n)
        assert (v["ci_low"], v["ci_high"]) == pytest.approx((ci.low, ci.high), abs=1e-12)
    with pytest.raises(ValueError, match="k"):
        S.wilson(5, 3)


def test_poisson_rate_garwood_and_zero_events():
    r = S.poisson_rate(10, 1000.0)
    # Garwood limits from the Poisson-gamma duality, written independently with gamma.ppf
    assert r.lo == pytest.approx(sst.gamma.ppf(0.025, 10) / 1000.0, rel=1e-10)
    assert r.hi == pytest.approx(sst.gamma.ppf(0.975, 11) / 1000.0, rel=1e-10)
    z = S.poisson_rate(0, 500.0)
    assert z.lo == 0.0 and z.hi == pytest.approx(-math.log(0.025) / 500.0, rel=1e-10)
    with pytest.raises(ValueError, match="exposure"):
        S.poisson_rate(1, 0.0)


def test_censored_mean_zero_escapes_is_a_bound():
    v = S.censored_mean_ci([np.inf] * 50, cap=100)
    assert v["value"] == math.inf and v["ci_high"] == math.inf
    assert v["ci_low"] == pytest.approx(5000 / -math.log(0.025), rel=1e-10)


def test_censored_mean_switches_interval_for_non_exponential_times():
    g = np.random.default_rng(3)
    expo = g.exponential(50.0, 2000)
    v = S.censored_mean_ci(expo, cap=1e9)
    assert v["method"] == "poisson" and v["ci_low"] < 50 < v["ci_high"]
    plateau = 80 + g.exponential(10.0, 2000)   # a long plateau: CV ≈ 0.11, far from 1
    w = S.censored_mean_ci(plateau, cap=1e9)
    assert w["method"] == "km-bootstrap"
    assert w["ci_low"] < 90 < w["ci_high"]


def test_km_restricted_mean_equals_mean_of_min_without_ties():
    t = np.random.default_rng(4).exponential(10, 300)
    assert S.km_restricted_mean(t, 15.0) == pytest.approx(np.minimum(t, 15.0).mean(), rel=1e-12)


def test_ols_matches_numpy_and_scipy_linregress():
    g = np.random.default_rng(5)
    x = g.normal(size=40)
    y = 2.0 + 3.0 * x + g.normal(0, 0.5, 40)
    o = S.ols(x, y)
    lr = sst.linregress(x, y)
    assert o["coef"] == pytest.approx([lr.intercept, lr.slope], rel=1e-10)
    assert o["se"][1] == pytest.approx(lr.stderr, rel=1e-10)
    assert o["p"][1] == pytest.approx(lr.pvalue, rel=1e-6, abs=1e-300)
    assert o["r2"] == pytest.approx(lr.rvalue ** 2, rel=1e-10)
    with pytest.raises(ValueError, match="points"):
        S.ols([1.0, 2.0], [1.0, 2.0])


@settings(max_examples=60)
@given(lo=st.floats(-10, 10), w=st.floats(0, 10), claimed=st.sampled_from([">", "<"]))
def test_direction_three_way(lo, w, claimed):
    hi = lo + w
    v = S.direction((lo, hi), claimed)
    if lo > 0:
        assert v == ("holds" if claimed == ">" else "fails")
    elif hi < 0:
        assert v == ("fails" if claimed == ">" else "holds")
    else:
        assert v == "inconclusive"


def test_direction_ratio_and_p():
    assert S.direction({"ci_low": 2.4, "ci_high": 8.0}, "<", null=1.0) == "fails"
    assert S.direction({"ci_low": 0.2, "ci_high": 0.8}, "<", null=1.0) == "holds"
    assert S.direction_p(0.01, 0.99) == "holds"
    assert S.direction_p(0.99, 0.01) == "fails"
    assert S.direction_p(0.3, 0.7) == "inconclusive"
    with pytest.raises(ValueError, match="claimed"):
        S.direction((0, 1), "=")


def test_bootstrap_ci_covers_mean():
    x = np.random.default_rng(6).normal(1.0, 1.0, 400)
    v = S.bootstrap_ci(np.mean, x, n_boot=500)
    assert v["ci_low"] < 1.0 < v["ci_high"]
    t = S.mean_ci(x)
    assert v["ci_high"] - v["ci_low"] == pytest.approx(t["ci_high"] - t["ci_low"], rel=0.2)


def test_contrast_matches_pooled_t_by_hand():
    rng = np.random.default_rng(5)
    cells = {"a": rng.normal(1.0, 0.3, 4), "b": rng.normal(0.5, 0.3, 3), "c": rng.normal(0.0, 0.3, 5)}
    w = {"a": 1.0, "b": -0.5, "c": -0.5}
    # by hand: pooled variance over all three cells, df = (4-1)+(3-1)+(5-1) = 9
    ss = sum(((v - v.mean()) ** 2).sum() for v in cells.values())
    df = 9
    est = cells["a"].mean() - 0.5 * cells["b"].mean() - 0.5 * cells["c"].mean()
    se = math.sqrt(ss / df * (1 / 4 + 0.25 / 3 + 0.25 / 5))
    lo, hi = sst.t.interval(0.95, df, loc=est, scale=se)
    v = S.contrast(cells, w, pool=["a", "b", "c"])
    assert v["df"] == df
    assert v["value"] == pytest.approx(est, rel=1e-12)
    assert v["se"] == pytest.approx(se, rel=1e-12)
    assert (v["ci_low"], v["ci_high"]) == pytest.approx((lo, hi), rel=1e-12)


def test_contrast_two_cells_equals_pooled_two_sample_t():
    # mean(a) - mean(b), pooled over a and b only = the equal-variance two-sample t interval
    a, b = np.array([0.31, 0.35, 0.30]), np.array([0.25, 0.22])
    v = S.contrast({"a": a, "b": b, "z": [9.0, -9.0]}, {"a": 1, "b": -1})
    res = sst.ttest_ind(a, b, equal_var=True)
    d = a.mean() - b.mean()
    assert v["df"] == 3 and d / v["se"] == pytest.approx(res.statistic, rel=1e-12)
    ci = res.confidence_interval(0.95)
    assert (v["ci_low"], v["ci_high"]) == pytest.approx((ci.low, ci.high), rel=1e-12)


def test_contrast_single_values_and_bad_input():
    v = S.contrast({"a": [1.0], "b": [0.5]}, {"a": 1, "b": -1})
    assert v == {"value": 0.5, "df": 0}
    with pytest.raises(ValueError, match="cell 'b'"):
        S.contrast({"a": [1.0, 2.0]}, {"a": 1, "b": -1})
    with pytest.raises(ValueError, match="level"):
        S.contrast({"a": [1.0, 2.0]}, {"a": 1}, level=0)
