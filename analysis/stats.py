"""The one statistics module: intervals for means, proportions, rates and censored times, least
squares, and the rule that turns an interval into a directional verdict.

Every interval returned here is a `value()`-style dict {'value', 'ci_low', 'ci_high'} or a plain
tuple where stated; all levels are two-sided (default 95%). Claims import from here and nowhere
else (docs/theory.md §9).

Directional rule (`direction`): a claim "A > B" is judged on an interval for A − B (or log A/B):
  interval wholly on the claimed side            -> 'holds'
  interval wholly on the other side              -> 'fails'   (significant evidence against)
  interval straddles the null                    -> 'inconclusive'
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from scipy import stats as _st

LEVEL = 0.95


def _v(m, lo, hi) -> dict:
    return {"value": float(m), "ci_low": float(lo), "ci_high": float(hi)}


def _check_level(level):
    if not 0 < level < 1:
        raise ValueError(f"level must lie in (0, 1), got {level!r}")


def _sample(x, name="x", min_n=1) -> np.ndarray:
    a = np.asarray(x, dtype=float).ravel()
    if a.size < min_n:
        raise ValueError(f"{name}: need at least {min_n} values, got {a.size}")
    return a


# ---------------------------------------------------------------- means

def mean_ci(x, level: float = LEVEL) -> dict:
    """Mean with a Student-t interval m ± t_{n−1}(½+level/2)·s/√n. A non-finite sample (a diverged
    replica) gives value = ci = inf; n = 1 gives an infinite interval around the value."""
    _check_level(level)
    a = _sample(x)
    if not np.all(np.isfinite(a)):
        return _v(math.inf, math.inf, math.inf)
    m = float(a.mean())
    if a.size == 1:
        return _v(m, -math.inf, math.inf)
    h = float(_st.t.ppf(0.5 + level / 2, a.size - 1) * a.std(ddof=1) / math.sqrt(a.size))
    return _v(m, m - h, m + h)


def diff_ci(a, b, level: float = LEVEL, paired: bool = False) -> dict:
    """mean(a) − mean(b): Welch's t-interval (unequal variances, Welch–Satterthwaite df), or the
    paired t-interval of a − b when `paired` (common random numbers)."""
    _check_level(level)
    a, b = _sample(a, "a", 2), _sample(b, "b", 2)
    if paired:
        if a.size != b.size:
            raise ValueError(f"diff_ci(paired): a and b need equal sizes, got {a.size} and {b.size}")
        return mean_ci(a - b, level)
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        return _v(math.nan, -math.inf, math.inf)
    va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
    d = float(a.mean() - b.mean())
    se = math.sqrt(va + vb)
    if se == 0:
        return _v(d, d, d)
    df = (va + vb) ** 2 / (va ** 2 / (a.size - 1) + vb ** 2 / (b.size - 1))
    h = float(_st.t.ppf(0.5 + level / 2, df) * se)
    return _v(d, d - h, d + h)


def bootstrap_ci(stat, *samples, level: float = LEVEL, n_boot: int = 2000, seed: int = 0,
                 paired: bool = False) -> dict:
    """Percentile bootstrap of stat(*samples). `paired`: all samples resampled with one index
    (they must have equal length)."""
    _check_level(level)
    arrs = [_sample(s, f"sample {i}", 1) for i, s in enumerate(samples)]
    if not arrs:
        raise ValueError("bootstrap_ci: give at least one sample")
    if paired and len({a.size for a in arrs}) != 1:
        raise ValueError("bootstrap_ci(paired): samples need equal sizes")
    g = np.random.default_rng(seed)
    est = float(stat(*arrs))
    out = np.empty(n_boot)
    for i in range(n_boot):
        if paired:
            idx = g.integers(0, arrs[0].size, arrs[0].size)
            out[i] = stat(*[a[idx] for a in arrs])
        else:
            out[i] = stat(*[a[g.integers(0, a.size, a.size)] for a in arrs])
    lo, hi = np.nanquantile(out, [(1 - level) / 2, (1 + level) / 2])
    return _v(est, lo, hi)


# ---------------------------------------------------------------- proportions

def wilson(k: int, n: int, level: float = LEVEL) -> dict:
    """Binomial proportion k/n with the Wilson score interval."""
    _check_level(level)
    if not (isinstance(k, (int, np.integer)) and isinstance(n, (int, np.integer))) or n < 1 or not 0 <= k <= n:
        raise ValueError(f"wilson: need integers 0 <= k <= n and n >= 1, got k={k!r}, n={n!r}")
    z = float(_st.norm.ppf(0.5 + level / 2))
    p = k / n
    den = 1 + z * z / n
    c = (p + z * z / (2 * n)) / den
    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return _v(p, max(0.0, c - h), min(1.0, c + h))


# ---------------------------------------------------------------- rates and censored times

class Rate(NamedTuple):
    """An event rate from censored exposures."""
    rate: float        # MLE events / exposure
    lo: float          # lower limit (0 when there were no events)
    hi: float          # upper limit (finite even with no events: a censored bound)
    events: int        # number of observed events
    exposure: float    # total observed time, sum_r min(T_r, cap)


def poisson_rate(events: int, exposure: float, level: float = LEVEL) -> Rate:
    """Exact (Garwood) interval for a Poisson/exponential rate: [χ²_{2n}(a/2), χ²_{2n+2}(1−a/2)]/(2T).
    Valid when exit times are exponential (memoryless); see `exponentiality`. Zero events give
    lo = 0 and the one-sided bound hi = χ²_2(1−a/2)/(2T): a censored bound, not an error."""
    _check_level(level)
    if events < 0 or not exposure > 0:
        raise ValueError(f"poisson_rate: need events >= 0 and exposure > 0, got {events}, {exposure}")
    a = 1 - level
    lo = 0.0 if events == 0 else float(_st.chi2.ppf(a / 2, 2 * events) / (2 * exposure))
    hi = float(_st.chi2.ppf(1 - a / 2, 2 * events + 2) / (2 * exposure))
    return Rate(events / exposure, lo, hi, int(events), float(exposure))


def censor(times, cap: float) -> tuple[np.ndarray, np.ndarray]:
    """(min(T, cap), observed) from event times with nan/inf/> cap meaning 'not seen by cap'."""
    t = np.asarray(times, dtype=float).ravel()
    seen = np.isfinite(t) & (t <= cap)
    return np.where(seen, t, cap), seen


def km_restricted_mean(times, cap: float) -> float:
    """Restricted mean survival time ∫_0^cap S(t) dt of the Kaplan–Meier estimate (no
    exponential assumption). With every replica censored at the same cap (our Monte Carlo) the
    KM curve is the empirical survival function, and this is mean(min(T, cap))."""
    t, seen = censor(times, cap)
    order = np.argsort(t, kind="stable")
    t, seen = t[order], seen[order]
    n, s, prev, area = t.size, 1.0, 0.0, 0.0
    at_risk = n
    for ti, di in zip(t, seen):
        area += s * (ti - prev)
        prev = ti
        if di:
            s *= 1 - 1 / at_risk
        at_risk -= 1
    return float(area + s * (cap - prev))


def exponentiality(times, cap: float) -> dict:
    """Is an exponential model fit for censored exit times? Returns {'cv': coefficient of variation
    of the observed times (≈ 1 for exponential, uncensored), 'p_ks': Kolmogorov–Smirnov p of the
    observed times against the rate MLE truncated at cap, 'n': events}. Few events (< 20) give
    nan."""
    t, seen = censor(times, cap)
    obs = t[seen]
    if obs.size < 20:
        return {"cv": math.nan, "p_ks": math.nan, "n": int(obs.size)}
    lam = seen.sum() / t.sum()
    F_cap = 1 - math.exp(-lam * cap)
    p = _st.kstest(obs, lambda u: (1 - np.exp(-lam * np.asarray(u))) / F_cap).pvalue
    return {"cv": float(obs.std(ddof=1) / obs.mean()), "p_ks": float(p), "n": int(obs.size)}


def censored_mean_ci(times, cap: float, level: float = LEVEL, n_boot: int = 1000, seed: int = 0,
                     alpha_ks: float = 0.01) -> dict:
    """Mean exit time from censored times, with the interval chosen by the data:
    - exponential model accepted (KS p ≥ alpha_ks, or too few events to test): 1/rate with the
      exact Poisson interval (a zero-escape sample gives value inf and a finite lower bound);
    - rejected (e.g. a long plateau, CV far from 1): the KM restricted mean over [0, cap] with a
      bootstrap interval (a lower bound on the true mean when censoring is heavy).
    Returns a value() dict plus 'method' ('poisson' | 'km-bootstrap'), 'events', 'exposure', 'cv'."""
    t, seen = censor(times, cap)
    ex = exponentiality(times, cap)
    n, T = int(seen.sum()), float(t.sum())
    if not T > 0:
        raise ValueError("censored_mean_ci: total exposure is 0 (all events at time 0?)")
    if math.isnan(ex["p_ks"]) or ex["p_ks"] >= alpha_ks:
        r = poisson_rate(n, T, level)
        out = _v(math.inf if n == 0 else 1 / r.rate, 1 / r.hi, math.inf if r.lo == 0 else 1 / r.lo)
        method = "poisson"
    else:
        out = bootstrap_ci(lambda a: km_restricted_mean(a, cap), np.where(seen, t, np.inf),
                           level=level, n_boot=n_boot, seed=seed)
        method = "km-bootstrap"
    out.update(method=method, events=n, exposure=T, cv=ex["cv"])
    return out


# ---------------------------------------------------------------- regression

def ols(X, y) -> dict:
    """y ≈ [1, X] b by least squares -> {coef, se, p, r2, adj_r2, loo_rmse, n}. se from
    σ̂²(AᵀA)⁻¹ with σ̂² = RSS/(n − p − 1); p two-sided t; LOO residuals e_i/(1 − h_ii) (PRESS);
    adj R² = 1 − (1 − R²)(n − 1)/(n − p − 1)."""
    y = np.asarray(y, float).ravel()
    X = np.asarray(X, float).reshape(len(y), -1)
    n, p = X.shape
    if n <= p + 1:
        raise ValueError(f"ols: need more than {p + 1} points for {p} regressors, got n = {n}")
    A = np.column_stack([np.ones(n), X])
    b, *_ = np.linalg.lstsq(A, y, rcond=None)
    e = y - A @ b
    G = np.linalg.pinv(A.T @ A)
    h = np.einsum("ij,ji->i", A, G @ A.T)
    sst = float(np.sum((y - y.mean()) ** 2))
    rss = float(e @ e)
    r2 = 1 - rss / sst if sst > 0 else float("nan")
    dof = n - p - 1
    s2 = rss / dof
    se = np.sqrt(np.clip(np.diag(G) * s2, 0, None))
    with np.errstate(divide="ignore", invalid="ignore"):
        tval = np.where(se > 0, b / se, np.inf * np.sign(b))
    pv = 2 * _st.t.sf(np.abs(tval), dof)
    loo = e / np.clip(1 - h, 1e-12, None)
    return {"coef": b.tolist(), "se": se.tolist(), "p": pv.tolist(), "r2": r2,
            "adj_r2": 1 - (1 - r2) * (n - 1) / dof if sst > 0 else float("nan"),
            "loo_rmse": float(np.sqrt(np.mean(loo ** 2))), "n": n}


# ---------------------------------------------------------------- contrasts of cell means

def contrast(cells: dict, weights: dict, pool=None, level: float = LEVEL) -> dict:
    """A linear contrast L = Σ_c w_c · mean(cells[c]) of cell means with a pooled-variance
    Student-t interval (the one-way ANOVA contrast).

    cells: {cell: sequence of replicate values}; weights: {cell: w_c} (the cells the contrast uses;
    e.g. {A: 1, B: −1} for mean(A) − mean(B)); pool: the cells whose within-cell variance is pooled
    (default: the weighted cells; cells without values are skipped). With
    s² = Σ_{c∈pool} Σ_i (v_ci − v̄_c)² / df, df = Σ_{c∈pool} (n_c − 1), the standard error is
    se = s·sqrt(Σ_c w_c²/n_c) and the interval L ± t_df(½ + level/2)·se.
    -> {'value', 'df'} plus 'ci_low', 'ci_high', 'se' when df > 0 (no interval from single values).
    A weighted cell without values -> ValueError."""
    _check_level(level)
    if not weights:
        raise ValueError("contrast: weights must name at least one cell")
    for c in weights:
        if cells.get(c) is None or len(cells[c]) == 0:
            raise ValueError(f"contrast: cell {c!r} has no values")
    pool = list(weights) if pool is None else [c for c in pool if cells.get(c) is not None and len(cells[c])]
    ss = sum(float(np.sum((np.asarray(cells[c], float) - np.mean(cells[c])) ** 2)) for c in pool)
    df = sum(len(cells[c]) - 1 for c in pool)
    est = sum(float(w) * float(np.mean(cells[c])) for c, w in weights.items())
    out = {"value": est, "df": df}
    if df > 0:
        se = math.sqrt(ss / df * sum(float(w) ** 2 / len(cells[c]) for c, w in weights.items()))
        h = float(_st.t.ppf(0.5 + level / 2, df)) * se
        out.update(ci_low=est - h, ci_high=est + h, se=se)
    return out


# ---------------------------------------------------------------- verdicts from intervals

def direction(ci, claimed: str = ">", null: float = 0.0) -> str:
    """Verdict of a directional claim from an interval (a value() dict or (lo, hi)) for a
    difference (null 0) or a ratio (give null = 1) — see the module docstring.
    claimed '>' : the quantity exceeds `null`; '<' : it is below."""
    if claimed not in (">", "<"):
        raise ValueError(f"direction: claimed must be '>' or '<', got {claimed!r}")
    lo, hi = (ci["ci_low"], ci["ci_high"]) if isinstance(ci, dict) else ci
    lo, hi = float(lo), float(hi)
    if math.isnan(lo) or math.isnan(hi):
        return "inconclusive"
    if lo > hi:
        raise ValueError(f"direction: interval low {lo} exceeds high {hi}")
    above, below = lo > null, hi < null
    if claimed == ">":
        return "holds" if above else "fails" if below else "inconclusive"
    return "holds" if below else "fails" if above else "inconclusive"


def direction_p(p_claimed: float, p_reverse: float, alpha: float = 0.05) -> str:
    """Verdict from two one-sided p-values: claimed direction significant -> 'holds'; the reverse
    significant -> 'fails'; neither -> 'inconclusive'."""
    if not 0 < alpha < 1:
        raise ValueError(f"direction_p: alpha must lie in (0, 1), got {alpha!r}")
    if p_claimed < alpha:
        return "holds"
    if p_reverse < alpha:
        return "fails"
    return "inconclusive"
