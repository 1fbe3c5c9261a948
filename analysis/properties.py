"""Property checks for ANY `dynamics.Method`: each returns a `Check` with numbers.

A check treats the algorithm as a black box: it calls only `method.init`, `method.step`,
`method.model`, `method.comm`, `method.hp` and `method.topology` (docs/CONTRACTS.md), so it works
for an algorithm the toolkit has never seen. Linear checks differentiate the algorithm's own
step with `torch.func.jacrev` (analysis/linear.py); nothing is re-derived by hand.

    preserves_average(m)              mixing alone (zero gradients) keeps x̄ = (1/K) Σ_k x_k
    exact_fixed_point(m, problem)     exact-gradient fixed point on heterogeneous quadratics vs
                                      1x*ᵀ (docs/theory.md §5): the heterogeneity bias
    stationary_points(m, landscape)   workers in consensus at a critical point of f stay there
    stability(m, H)                   spectral radius of the linearised step (period) map
    sharpness_penalty(m, H, sigma2)   stationary E[Ξ] and ½Tr(H E[Ξ]) (docs/theory.md §3)
    escape_ratio(m)                   mean escape time over C-SGD's on the quartic double well
                                      (docs/theory.md §2), Monte Carlo with censoring
    communication(m)                  declared `Method.comm` vs vectors counted by instrumenting
                                      `Topology.mix` and the worker-axis reductions

`Check(name, value, bound, ok, detail)`: `value` the measured number, `bound` what it is held
against (expected value or limit, nan when informational), `ok` True / False / None (None: not
judged), `detail` a JSON-ready dict of the other numbers. `check.require()` raises AssertionError
with the numbers when `ok` is False — usable directly in pytest and in claims.

Time-dependent steps (time-varying graphs, round robin, communication every τ steps) are
handled by composing the maps of one period; `detect_period` finds the period from the step maps
themselves (the smallest p with map(t) = map(t mod p) over two candidate periods).
"""
from __future__ import annotations

import math
from contextlib import contextmanager
from typing import NamedTuple

import numpy as np
import torch

import dynamics

from . import linear
from .stats import bootstrap_ci, poisson_rate

__all__ = [
    "Check",
    "communication",
    "count_communication",
    "detect_period",
    "escape_ratio",
    "exact_fixed_point",
    "preserves_average",
    "regime",
    "sharpness_penalty",
    "stability",
    "stationary_points",
    "workers_of",
]


class Check(NamedTuple):
    name: str
    value: float
    bound: float
    ok: bool | None
    detail: dict

    def require(self) -> Check:
        """Raise AssertionError naming the numbers when the check did not pass (ok is False)."""
        if self.ok is False:
            raise AssertionError(f"{self.name}: value {self.value:.6g} vs bound {self.bound:.6g}; "
                                 f"{_short(self.detail)}")
        return self

    def as_dict(self) -> dict:
        return {"name": self.name, "value": _num(self.value), "bound": _num(self.bound), "ok": self.ok,
                "detail": self.detail}


def _num(v):
    v = float(v)
    return v if math.isfinite(v) else (None if math.isnan(v) else ("inf" if v > 0 else "-inf"))


def _short(d: dict) -> str:
    return ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in list(d.items())[:8])


# ---------------------------------------------------------------- helpers

def workers_of(method, K=None) -> int:
    """K from the method's topology, its `K` hyper-parameter or the argument."""
    if K is not None:
        return int(K)
    top = getattr(method, "topology", None)
    if top is not None:
        return int(top.K)
    if isinstance(method.hp, dict) and method.hp.get("K"):
        return int(method.hp["K"])
    raise ValueError(f"K: method {method.name!r} has no topology; pass K=")


def _zero_oracle(x, t, rng):
    return torch.zeros(x.shape[:-1], dtype=x.dtype), torch.zeros_like(x)


def _gen(seed=0):
    return torch.Generator().manual_seed(int(seed))


def _floating(state):
    return [(n, v) for n, v in zip(state._fields, state) if torch.is_tensor(v) and v.is_floating_point()]


def _blocks3(A, K, d):
    A = torch.as_tensor(np.asarray(A, dtype=np.float64))
    return A.expand(K, d, d).clone() if A.shape == (d, d) else A


def _maps(method, A, b, st, t0, n):
    """One-step affine maps for t = t0 .. t0+n−1 from state st (templates carried along)."""
    out = []
    for t in range(t0, t0 + n):
        m = linear.step_map(method, A, b, st, t)
        out.append(m)
        st = m.template
    return out


def _same_map(a, b) -> bool:
    return (np.allclose(a.M, b.M, atol=1e-13, rtol=0) and np.allclose(a.c, b.c, atol=1e-13, rtol=0)
            and np.allclose(a.N, b.N, atol=1e-13, rtol=0))


def regime(method, A, b, state, max_period: int = 16, max_transient: int = 2):
    """(t0, p, state at t0): after a transient of t0 <= max_transient steps (a first step that
    starts a recursion, e.g. x¹ = Wx⁰ − lr g⁰) the step map is periodic: the smallest (t0, p),
    p <= max_period, with map(t) = map(t0 + (t − t0) mod p) for t0 <= t < t0 + 2p + 2. Maps are
    computed lazily (one jacrev each); the state at t0 is the noiseless evolution of `state`.
    ValueError when no (t0, p) fits."""
    ms = []

    def get(t):
        while len(ms) <= t:
            st = ms[-1].template if ms else state
            ms.append(linear.step_map(method, A, b, st, len(ms)))
        return ms[t]
    for t0 in range(max_transient + 1):
        for p in range(1, max_period + 1):
            if all(_same_map(get(t), get(t0 + (t - t0) % p)) for t in range(t0, t0 + 2 * p + 2)):
                return t0, p, (get(t0 - 1).template if t0 else state)
    raise ValueError(f"max_period: the step of {method.name!r} is not periodic with period <= "
                     f"{max_period} after {max_transient} steps")


def detect_period(method, A, b, state, max_period: int = 16) -> int:
    """The period p of `regime` (smallest p with map(t) = map(t0 + (t − t0) mod p))."""
    return regime(method, A, b, state, max_period)[1]


def _period_affine(method, A, b, st, period, max_period=16, transient=None):
    """(t0, p, state at t0, period map from t0) for the checks below: detected by `regime`
    unless `period` is given (then t0 = `transient` or 0, skipping the detection)."""
    if period is None:
        t0, p, st0 = regime(method, A, b, st, max_period)
    else:
        t0, p, st0 = int(transient or 0), int(period), st
        for t in range(t0):
            st0 = linear.step_map(method, A, b, st0, t).template
    return t0, p, st0, linear.period_map(method, A, b, st0, t0, p)


def _conserved(M, rcond=1e-10):
    """Left null vectors U of (I − M) (conserved quantities uᵀz) and the count."""
    L = np.eye(len(M)) - M
    Uf, s, _ = np.linalg.svd(L)
    null = s <= rcond * max(1.0, s.max() if s.size else 1.0)
    return L, Uf[:, null]


def _radius_off_conserved(M, n_conserved):
    if not M.size:
        return 0.0
    lam = np.linalg.eigvals(M)
    ev = np.abs(lam)
    if n_conserved:  # drop the n eigenvalues closest to 1 (the conserved directions)
        ev = np.delete(ev, np.argsort(np.abs(lam - 1.0))[:n_conserved])
    return float(ev.max()) if ev.size else 0.0


def _is_affine(method, A, b, st, t, aff, seed=1) -> bool:
    """The step evaluated at a random state equals M z + c (the step is affine on quadratics)."""
    g = _gen(seed)
    z = torch.randn(aff.M.shape[0], generator=g, dtype=torch.float64)
    out = linear._flatten(method.step(linear._unflatten(z, st), linear.quadratic_oracle(A, b), t, _gen()))
    ref = aff.M @ z.numpy() + aff.c
    return bool(np.allclose(out.numpy(), ref, atol=1e-9 * max(1.0, np.abs(ref).max()), rtol=0))


# ---------------------------------------------------------------- 1. network average

def preserves_average(method, K=None, d: int = 3, steps: int = 10, seed: int = 0, tol: float = 1e-12) -> Check:
    """With zero gradients (f ≡ 0) the worker average x̄ = (1/K) Σ_k x_k stays at its start:
    value = max_t ‖x̄_t − x̄_0‖_∞ over `steps` steps from x0 ~ N(0, I) (seeded), bound = tol
    (relative to max|x0|). Holds for doubly stochastic gossip; fails e.g. for a leader pull."""
    K = workers_of(method, K)
    x0 = torch.randn(K, d, generator=_gen(seed), dtype=torch.float64)
    st = method.init(x0, _zero_oracle, _gen())
    xbar0 = x0.mean(-2)
    dev, model_dev = 0.0, 0.0
    for t in range(steps):
        st = method.step(st, _zero_oracle, t, _gen())
        dev = max(dev, float((st.x.mean(-2) - xbar0).abs().max()))
        model_dev = max(model_dev, float((method.model(st) - xbar0).abs().max()))
    bound = tol * max(1.0, float(x0.abs().max()))
    return Check("preserves_average", dev, bound, bool(dev <= bound),
                 {"K": K, "d": d, "steps": steps, "seed": seed, "model_drift": model_dev,
                  "final_consensus_rms": float(((st.x - st.x.mean(-2)) ** 2).sum(-1).mean().sqrt())})


# ---------------------------------------------------------------- 2. heterogeneity fixed point

def fixed_point(method, A, b, x0=None, period: int | None = None, max_period: int = 16,
                transient: int | None = None):
    """Exact-gradient fixed point X* (K, d) of the algorithm's own step (period map) on
    f_k = ½(x − b_k)ᵀA_k(x − b_k), reached from init(x0): solves [(I − M); Uᵀ] z = [c; Uᵀz_0]
    with U the conserved quantities (left null vectors of I − M). Returns (X*, info); X* is
    None when the step is not affine on quadratics (info['affine'] False)."""
    b = torch.as_tensor(np.asarray(b, dtype=np.float64))
    K, d = b.shape
    A = _blocks3(A, K, d)
    x0 = torch.zeros(K, d, dtype=torch.float64) if x0 is None else torch.as_tensor(x0, dtype=torch.float64)
    st = linear.init_state(method, A, b, x0)
    if not _is_affine(method, A, b, st, 0, linear.step_map(method, A, b, st, 0)):
        return None, {"affine": False}
    t0, p, st0, aff = _period_affine(method, A, b, st, period, max_period, transient)
    z0 = linear._flatten(st0).numpy()
    L, U = _conserved(aff.M)
    z, *_ = np.linalg.lstsq(np.vstack([L, U.T]), np.concatenate([aff.c, U.T @ z0]), rcond=None)
    res = float(np.abs(L @ z - aff.c).max())
    info = {"affine": True, "period": p, "transient": t0, "conserved": int(U.shape[1]), "residual": res,
            "radius": _radius_off_conserved(aff.M, U.shape[1]) ** (1.0 / p)}
    if res > 1e-8 * max(1.0, np.abs(aff.c).max(), np.abs(z).max()):
        raise ValueError(f"method {method.name!r} has no fixed point on this problem "
                         f"(drift along a conserved direction; residual {res:.3g})")
    return z[aff.slice("x")].reshape(K, d), info


def _iterate_fixed_point(method, A, b, x0, steps):
    """x0 (K, d) after `steps` exact-gradient steps (dynamics.rollout, one replica) and the
    largest move of the last step."""
    orc = linear.quadratic_oracle(A, b)
    prev = dynamics.rollout(method, orc, x0, max(steps - 1, 0))
    last = dynamics.rollout(method, orc, prev.state, 1, t0=prev.t, rng=prev.rng) if steps else prev
    return last.state.x[0].numpy(), float((last.state.x - prev.state.x).abs().max())


def exact_fixed_point(method, problem, tol: float = 1e-8, x0=None, period: int | None = None,
                      iterate_steps: int = 5000, transient: int | None = None) -> Check:
    """Heterogeneity bias: value = sqrt((1/K) Σ_k ‖x*_k − x*‖²) at the exact-gradient fixed point
    X* of the method on a heterogeneous quadratic problem (`landscapes.hetero_quadratics`), x*
    the global minimiser; bound = tol·max(1, ‖x*‖); ok = bias <= bound ("converges to the exact
    minimiser"). detail: mean_error ‖x̄* − x*‖, consensus_rms, radius (< 1: X* is reached),
    zeta2, period. A step that is not affine on quadratics (e.g. a leader chosen by argmin) is
    iterated `iterate_steps` times instead (detail 'affine': False)."""
    if getattr(problem, "A", None) is None or getattr(problem, "b", None) is None:
        raise ValueError("problem must be a quadratic Heterogeneous problem with A and b "
                         "(landscapes.hetero_quadratics)")
    A, b = problem.A, problem.b
    K, d = b.shape
    x_star = problem.x_star.numpy()
    X, info = fixed_point(method, A, b, x0=x0, period=period, transient=transient)
    if X is None:
        X, last_move = _iterate_fixed_point(method, A, b, torch.zeros(K, d, dtype=torch.float64)
                                            if x0 is None else torch.as_tensor(x0), iterate_steps)
        info["last_move"] = last_move
    bias = float(np.sqrt(((X - x_star) ** 2).sum(-1).mean()))
    bound = tol * max(1.0, float(np.linalg.norm(x_star)))
    from .heterogeneity import consensus_rms, zeta2_star
    info.update(mean_error=float(np.linalg.norm(X.mean(0) - x_star)), consensus_rms=consensus_rms(X),
                zeta2=zeta2_star(problem), X=X.tolist())
    return Check("exact_fixed_point", bias, bound, bool(bias <= bound), info)


# ---------------------------------------------------------------- 3. stationary points of f

def stationary_points(method, landscape, points=None, K=None, steps: int = 5, tol: float = 1e-10) -> Check:
    """Workers in consensus at a critical point x_c of f (exact gradients, all workers on the same
    f) stay there: value = max over critical points, steps and workers of ‖x_k − x_c‖_∞ and of the
    model's distance; bound = tol·max(1, ‖x_c‖_∞). `points` default: landscape.critical_points."""
    from landscapes.noise import oracle as make_oracle
    K = workers_of(method, K)
    pts = [c.x for c in landscape.critical_points] if points is None else [torch.as_tensor(p) for p in points]
    if not pts:
        raise ValueError(f"landscape {landscape.name!r}: no critical points to check")
    orc = make_oracle(landscape, "none")
    worst, bound, kinds = 0.0, 0.0, []
    for xc in pts:
        xc = torch.as_tensor(xc, dtype=torch.float64).reshape(-1)
        st = method.init(xc.expand(K, -1).clone(), orc, _gen())
        for t in range(steps):
            st = method.step(st, orc, t, _gen())
            worst = max(worst, float((st.x - xc).abs().max()), float((method.model(st) - xc).abs().max()))
        bound = max(bound, tol * max(1.0, float(xc.abs().max())))
        kinds.append(float(landscape.grad(xc).abs().max()))
    return Check("stationary_points", worst, bound, bool(worst <= bound),
                 {"landscape": landscape.name, "points": len(pts), "steps": steps,
                  "max_grad_at_points": max(kinds)})


# ---------------------------------------------------------------- 4. linear stability

def _homogeneous(H, K):
    H = np.atleast_2d(np.asarray(H, dtype=np.float64))
    d = H.shape[0]
    A = torch.as_tensor(H).expand(K, d, d).clone()
    return A, torch.zeros(K, d, dtype=torch.float64), d


def stability(method, H, K=None, period: int | None = None, max_period: int = 16,
              transient: int | None = None) -> Check:
    """Spectral radius per step ρ = ρ(M_period)^(1/p) of the linearised step (jacrev of
    `method.step`) on the homogeneous quadratic f = ½xᵀHx on every worker, conserved directions
    (eigenvalue exactly 1, quantities the step never changes) excluded; bound 1, ok = ρ < 1.
    `period` (and `transient`, steps before the periodic regime) skip the detection."""
    K = workers_of(method, K)
    A, b, d = _homogeneous(H, K)
    st = linear.init_state(method, A, b, torch.zeros(K, d, dtype=torch.float64))
    t0, p, _, aff = _period_affine(method, A, b, st, period, max_period, transient)
    _, U = _conserved(aff.M)
    r = _radius_off_conserved(aff.M, U.shape[1]) ** (1.0 / p)
    return Check("stability", r, 1.0, bool(r < 1.0),
                 {"period": p, "transient": t0, "conserved": int(U.shape[1]), "state_size": int(aff.M.shape[0]),
                  "H_eigvals": np.linalg.eigvalsh(np.atleast_2d(H)).tolist()})


# ---------------------------------------------------------------- 5. consensus covariance

def _stationary_x(aff, S, z0, tol=1e-13, max_doublings=64):
    """Stationary mean / covariance of the x-slice by doubling (analysis.linear.stationary),
    converged on x only: counters or drifting fields that never feed back into x (a step count
    kept as a float) do not stop it."""
    xs = aff.slice("x")
    Q = aff.N @ S @ aff.N.T
    A, c, P = aff.M.copy(), aff.c.copy(), Q.copy()
    m = np.asarray(z0, dtype=np.float64)
    for _ in range(max_doublings):
        m_next, c = A @ m + c, A @ c + c
        P_next = P + A @ P @ A.T
        A = A @ A
        px, pnx = P[xs, xs], P_next[xs, xs]
        if not np.all(np.isfinite(pnx)) or np.abs(A[xs]).max() > 1e12:
            raise ValueError(f"map is unstable (spectral radius {aff.radius:.6g}): no stationary moments")
        if (np.abs(pnx - px).max() <= tol * max(1.0, np.abs(pnx).max())
                and np.abs(m_next[xs] - m[xs]).max() <= tol * max(1.0, np.abs(m[xs]).max())):
            return m_next, P_next
        m, P = m_next, P_next
    raise ValueError(f"stationary moments did not converge (spectral radius {aff.radius:.6g})")


def _penalty_mc(method, Hn, sigma2, K, d, replicas, burn, samples, seed):
    from dynamics.simulate import simulate

    from .stats import mean_ci
    A = torch.as_tensor(Hn).expand(K, d, d)
    orc = linear.quadratic_oracle(A, torch.zeros(K, d, dtype=torch.float64))
    H = torch.as_tensor(Hn)

    def noisy(x, t, rng):
        from landscapes.rng import normal
        loss, g = orc(x, t, rng)
        return loss, g + math.sqrt(sigma2) * normal(rng, t, tuple(x.shape[-2:]), 0)

    def pen(state, m, o, t):
        xc = state.x - state.x.mean(-2, keepdim=True)
        return 0.5 * torch.einsum("...ki,ij,...kj->...k", xc, H, xc).mean(-1)
    steps = burn + samples
    res = simulate(method, noisy, torch.zeros(K, d), steps, replicas=replicas, seed=seed,
                   record_every=list(range(burn, steps + 1, max(1, samples // 20))),
                   recorders={"pen": pen}, divergence=None)
    per_rep = np.asarray(res.records["pen"]).mean(0)  # time average per replica (independent)
    return mean_ci(per_rep)


def sharpness_penalty(method, H, sigma2: float = 1.0, K=None, period: int | None = None,
                      expected: float | None = None, rtol: float = 1e-8, replicas: int = 128,
                      burn: int = 400, samples: int = 400, seed: int = 0) -> Check:
    """Stationary consensus covariance E[Ξ], Ξ = (1/K) Σ_k (x_k − x̄)(x_k − x̄)ᵀ, and the
    sharpness penalty ½Tr(H E[Ξ]) (docs/theory.md §3) from the exact moments of the algorithm's
    own step (analysis/linear.py) on f = ½xᵀHx with gradient noise N(0, sigma2·I) per worker.
    value = ½Tr(H E[Ξ]); with `expected` (an independent closed form) ok = |value − expected| <=
    rtol·max(|expected|, 1e-300), else ok = None. detail: Tr Ξ, Ξ, network / centroid excess risk.
    A step that is not affine on quadratics is simulated instead (`replicas` runs, time average
    over `samples` steps after `burn`; detail 'method': 'monte_carlo' with a 95% CI)."""
    K = workers_of(method, K)
    A, b, d = _homogeneous(H, K)
    Hn = A[0].numpy()
    st = linear.init_state(method, A, b, torch.zeros(K, d, dtype=torch.float64))
    if not _is_affine(method, A, b, st, 0, linear.step_map(method, A, b, st, 0)):
        ci = _penalty_mc(method, Hn, float(sigma2), K, d, replicas, burn, samples, seed)
        pen = ci["value"]
        ok = None if expected is None else bool(ci["ci_low"] <= expected <= ci["ci_high"])
        return Check("sharpness_penalty", pen, float("nan") if expected is None else float(expected), ok,
                     {"method": "monte_carlo", "ci": [ci["ci_low"], ci["ci_high"]], "replicas": replicas,
                      "burn": burn, "samples": samples, "sigma2": float(sigma2)})
    _, p, st0, aff = _period_affine(method, A, b, st, period)
    m, P = _stationary_x(aff, linear.noise_blocks(float(sigma2), K, d, p), linear._flatten(st0).numpy())
    xm, xc = linear.x_moments(aff, m, P, K, d)
    Xi = linear.consensus_cov(xm, xc, K, d)
    net, cen, pen = linear.excess_risk_decomposition(Hn, np.zeros(d), xm, xc, K, d)
    ok = None if expected is None else bool(abs(pen - expected) <= rtol * max(abs(expected), 1e-300))
    return Check("sharpness_penalty", pen, float("nan") if expected is None else float(expected), ok,
                 {"method": "exact_moments", "trace_Xi": float(np.trace(Xi)), "Xi": Xi.tolist(),
                  "network_excess": net, "centroid_excess": cen, "period": p, "sigma2": float(sigma2)})


# ---------------------------------------------------------------- 6. escape ratio

QUARTIC_DV = 0.25  # f = x⁴/4 − x²/2: barrier from the minimum −1 to the maximum 0
_REFERENCE: dict = {}


def _escape_run(method, sigma, batch, K, steps, replicas, seed, exit_at, divergence):
    import landscapes
    from dynamics.simulate import simulate
    land = landscapes.get("quartic")
    orc = landscapes.oracle(land, "isotropic", sigma=sigma, batch=batch, with_loss=True)
    res = simulate(method, orc, torch.full((K, 1), -1.0), steps, replicas=replicas, seed=seed,
                   record_every=[0, steps], recorders=["consensus"], stop=lambda c: c[..., 0] > exit_at,
                   divergence=divergence)
    ev = np.asarray(res.event_step, dtype=float)
    kind = np.asarray(res.event_kind)
    hit = (kind == "stop").astype(float)
    exposure = np.where(ev >= 0, ev, steps).astype(float)
    return hit, exposure, float((kind == "diverged").mean())


def _encode(hit, exposure):
    """One number per replica (exposure is a whole number of steps; the half marks an escape),
    so a bootstrap resamples a replica's escape and exposure together."""
    return exposure + 0.5 * hit


def _rate(v):
    hit = 2 * (v % 1.0)
    return hit.sum() / max(float((v - 0.5 * hit).sum()), 1.0)


def escape_ratio(method, *, lr: float | None = None, D: float = QUARTIC_DV / 2, batch: int = 1, K=None,
                 steps: int = 1500, replicas: int = 256, seed: int = 0, exit_at: float = 1.0,
                 divergence: float = 10.0, reference: str = "csgd", n_boot: int = 1000) -> Check:
    """Mean escape time of the method over that of C-SGD on the quartic double well
    f = x⁴/4 − x²/2 (docs/theory.md §2): every worker starts at the minimum −1; an escape is the
    worker centroid x̄ crossing `exit_at` (the other minimum, +1). Both runs use the same lr,
    K, batch and per-worker isotropic gradient noise σ² = 2·D·K·batch/lr, so C-SGD's centroid
    diffuses with D = lr·σ²/(2KB) (dV/D = 2 by default). Rates are escapes / observed steps,
    censored at `steps` (diverged replicas, |x| > `divergence`, are censored at divergence).
    value = time ratio T_method / T_C-SGD = rate_C / rate_method (< 1: escapes faster); 95% CI
    by a percentile bootstrap over replicas (each replica's escape and exposure together;
    escape times from a common start are not exponential, so Poisson intervals would be too
    narrow). ok = None."""
    import dynamics
    K = workers_of(method, K)
    lr = float(method.hp.get("lr")) if lr is None else float(lr)
    sigma = math.sqrt(2.0 * D * K * batch / lr)
    top = method.topology if method.topology is not None else dynamics.topology.complete(K)
    ref = dynamics.make(reference, top, lr=lr)
    h1, e1, div1 = _escape_run(method, sigma, batch, K, steps, replicas, seed, exit_at, divergence)
    key = (reference, top.name, K, lr, sigma, batch, steps, replicas, seed + 1, exit_at, divergence)
    if key not in _REFERENCE:  # the C-SGD run depends only on these: shared by every method
        _REFERENCE[key] = _escape_run(ref, sigma, batch, K, steps, replicas, seed + 1, exit_at, divergence)
    h2, e2, div2 = _REFERENCE[key]
    n1, T1, n2, T2 = int(h1.sum()), float(e1.sum()), int(h2.sum()), float(e2.sum())
    r1, r2 = poisson_rate(n1, max(T1, 1.0)), poisson_rate(n2, max(T2, 1.0))
    detail = {"escapes": n1, "exposure": T1, "diverged_fraction": div1, "reference": reference,
              "reference_escapes": n2, "reference_exposure": T2, "reference_diverged_fraction": div2,
              "rate": r1.rate, "rate_ci": [r1.lo, r1.hi], "reference_rate": r2.rate,
              "reference_rate_ci": [r2.lo, r2.hi], "lr": lr, "sigma": sigma, "D": D, "batch": batch,
              "K": K, "cap": steps, "replicas": replicas, "dV_over_D": QUARTIC_DV / D}
    if n1 == 0:
        detail["ci"] = [float("nan"), float("nan")]
        return Check("escape_ratio", float("inf") if n2 else float("nan"), float("nan"), None, detail)
    with np.errstate(divide="ignore", invalid="ignore"):
        ci = bootstrap_ci(lambda a, b: _rate(b) / _rate(a), _encode(h1, e1), _encode(h2, e2),
                          n_boot=n_boot, seed=seed)
    detail["ci"] = [ci["ci_low"], ci["ci_high"]]
    return Check("escape_ratio", r2.rate / r1.rate, float("nan"), None, detail)


# ---------------------------------------------------------------- 7. communication

_HOOKS = ("worker_mean", "worker_sum", "worker_all", "worker_gather")


class _Counter:
    """Vectors (of the problem's dimension d) per step seen by the communication hooks."""

    def __init__(self, d: int, K: int, has_center: bool):
        self.d, self.K, self.has_center = d, K, has_center
        self.depth, self.vectors, self.pairs, self.calls = 0, 0.0, set(), {}

    def width(self, x) -> int:
        w = x.shape[-1]
        return w // self.d if w % self.d == 0 else 0

    def note(self, kind, n):
        self.calls[kind] = self.calls.get(kind, 0) + 1
        self.vectors += n


@contextmanager
def count_communication(counter: _Counter):
    """Patch `Topology.mix` and every module-level binding of the worker-axis reductions of
    dynamics.base (so `from ..base import worker_mean` in a user module is instrumented too).
    Only the outermost hook call counts (a reduction that calls another is one exchange).

    Counting conventions, per call, in vectors of size d (a stack of width w·d is w vectors):
      mix(x, t)                  one vector per directed edge of W(t) (off-diagonal nonzero);
      worker_mean / worker_sum   all-reduce 2(K − 1), or K up + K down = 2K when the state has
                                 a center field of shape (..., d) (parameter server);
      worker_all                 all-gather K(K − 1) (width-0 stacks: scalars, not counted);
      worker_gather(x, idx)      m gathered rows split the workers into m consecutive blocks,
                                 row r delivered to the other workers of block r (m = 1: to all);
                                 a (source, receiver) pair of the same stack counts once a step.
    """
    import sys

    from dynamics import base
    from dynamics.topology import Topology
    orig_mix = Topology.mix
    origs = {h: getattr(base, h) for h in _HOOKS}
    c = counter

    def mix(self, x, t=0):
        if c.depth == 0:
            W = self.W(t)
            edges = int((W != 0).sum()) - int((torch.diagonal(W) != 0).sum())
            c.note("mix", edges * c.width(x))
        c.depth += 1
        try:
            return orig_mix(self, x, t)
        finally:
            c.depth -= 1

    def wrap(name, fn):
        def hooked(x, *args, **kw):
            if c.depth == 0:
                w = c.width(x)
                K = x.shape[-2]
                if name in ("worker_mean", "worker_sum"):
                    c.note(name, (2 * K if c.has_center else 2 * (K - 1)) * w)
                elif name == "worker_all":
                    c.note(name, K * (K - 1) * w)
                elif name == "worker_gather":
                    idx = args[0] if args else kw["idx"]
                    flat = idx.reshape(-1, *idx.shape[x.dim() - 2:]) if idx.dim() > x.dim() - 2 else idx.reshape(1)
                    rows = flat[0].reshape(-1).tolist() if flat.dim() > 1 else [int(flat[0])]
                    m = len(rows)
                    blk = K // m if m and K % m == 0 else K
                    key = x.data_ptr()
                    before = len(c.pairs)
                    for r, src in enumerate(rows):
                        members = range(K) if m == 1 else range(r * blk, (r + 1) * blk)
                        c.pairs.update((key, int(src), i) for i in members if i != int(src))
                    c.note(name, 0)
                    c.vectors += (len(c.pairs) - before) * max(w, 1)
            c.depth += 1
            try:
                return fn(x, *args, **kw)
            finally:
                c.depth -= 1
        return hooked

    patched = []
    Topology.mix = mix
    try:
        wrappers = {h: wrap(h, origs[h]) for h in _HOOKS}
        for mod in list(sys.modules.values()):
            try:
                d = vars(mod)
            except TypeError:  # not a module-like object
                continue
            for h in _HOOKS:
                if d.get(h) is origs[h]:
                    d[h] = wrappers[h]
                    patched.append((d, h))
        yield c
    finally:
        Topology.mix = orig_mix
        for d, h in patched:
            d[h] = origs[h]


def communication(method, K=None, d: int = 3, steps: int = 24, seed: int = 0, rtol: float = 1e-9) -> Check:
    """Vectors sent per step, all workers together: declared `method.comm` vs the count of the
    instrumented communication hooks (`count_communication`), averaged over steps t = 1..steps
    (`steps` a multiple of the usual periods; step 0, which may start a recursion, is run but not
    averaged) on a heterogeneous quadratic (d = 3 so scalars are not vectors).
    ok = |counted − declared| <= rtol·max(1, declared). A method that exchanges information
    without the hooks (direct indexing of other workers' rows) counts less than it declares."""
    import landscapes
    K = workers_of(method, K)
    prob = landscapes.hetero_quadratics(K, d, zeta=1.0, hess_spread=1.0, seed=seed)
    orc = landscapes.oracle(prob, "isotropic", sigma=0.1)
    x0 = torch.randn(K, d, generator=_gen(seed), dtype=torch.float64)
    st = method.init(x0, orc, _gen(seed))
    centre = any(v.shape == st.x.shape[:-2] + st.x.shape[-1:] for n, v in _floating(st) if n != "x")
    ctr = _Counter(d, K, centre)
    per_step = []
    with count_communication(ctr):
        for t in range(steps + 1):
            ctr.pairs = set()
            v0 = ctr.vectors
            st = method.step(st, orc, t, _gen(seed + t))
            per_step.append(ctr.vectors - v0)
    counted = float(np.mean(per_step[1:]))
    declared = float(method.comm)
    ok = bool(math.isfinite(declared) and abs(counted - declared) <= rtol * max(1.0, abs(declared)))
    return Check("communication", counted, declared, ok,
                 {"declared": declared, "counted": counted, "per_step": per_step[: min(steps + 1, 13)],
                  "calls": ctr.calls, "parameter_server": centre, "K": K, "d": d, "steps": steps})
