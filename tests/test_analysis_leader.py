"""analysis.leader: T1 fixed points, linearised rates, the T2 descent bound, communication
accounting (docs/theory.md §7), and the lsgd.* claims in quick mode."""
import functools
import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import landscapes
from analysis import leader as L
from dynamics import make, topology

QUARTIC = landscapes.get("symmetric", d=1)   # (x² − 1)², stationary points −1, 0, 1


@functools.cache
def _land(name):
    land = landscapes.get(name, d=2) if name in ("rastrigin", "styblinski_tang", "symmetric") \
        else landscapes.get(name)
    return land, land.critical_points


@given(st.integers(1, 6), st.sampled_from(["rastrigin", "styblinski_tang", "himmelblau",
                                            "double_well_2d", "symmetric"]),
       st.floats(1e-3, 0.2), st.floats(0.0, 0.9), st.integers(0, 50))
def test_all_workers_at_a_stationary_point_is_a_fixed_point(K, name, lr, lam, pick):
    land, cps = _land(name)
    cp = cps[pick % len(cps)]
    x = cp.x.expand(K, -1).clone()
    r = L.fixed_point_residuals(land.f, land.grad, x, lr, lam)
    gnorm = float(land.grad(cp.x).norm())
    assert r["map"] <= lr * gnorm + 1e-14
    assert L.is_fixed_point(land.f, land.grad, x, lr, lam, tol=max(1e-9, 2 * lr * gnorm))


def test_followers_off_the_minimum_are_not_fixed_but_balance_is():
    # leader at −1; follower at x with η f'(x) = −λ(x + 1): 4x(x²−1)η = −λ(x+1) — solve by hand
    lr, lam = 0.1, 0.05
    from scipy.optimize import brentq
    xf = brentq(lambda x: lr * 4 * x * (x * x - 1) + lam * (x + 1), 0.8, 1.0)
    x = torch.tensor([[-1.0], [xf]], dtype=torch.float64)
    assert L.is_fixed_point(QUARTIC.f, QUARTIC.grad, x, lr, lam, tol=1e-12)
    x_bad = torch.tensor([[-1.0], [1.0]], dtype=torch.float64)   # both stationary, different
    assert not L.is_fixed_point(QUARTIC.f, QUARTIC.grad, x_bad, lr, lam, tol=1e-6)


@given(st.floats(0.1, 10), st.floats(0.01, 0.15), st.floats(0.0, 0.5), st.integers(2, 6))
def test_linearised_rate_equals_hand_built_matrix(h, lr, lam, K):
    r = L.linear_rates(np.array([[h]]), lr, K, lam=lam, alpha=0.1)
    # eq. 2 with worker 0 the leader: lower triangular, so the eigenvalues are the diagonal
    M = np.diag(np.full(K, 1 - lr * h - lam))
    M[0, 0], M[1:, 0] = 1 - lr * h, lam
    np.testing.assert_allclose(L.lgd_matrix(h, lr, lam, K), M, rtol=0, atol=1e-15)
    assert r["lsgd"] == pytest.approx(max(abs(1 - lr * h), abs(1 - lr * h - lam)), abs=1e-12)
    assert r["gd"] == pytest.approx(abs(1 - lr * h), abs=1e-12)
    assert r["lsgd_followers"] == pytest.approx(abs(1 - lr * h - lam), abs=1e-12)


def test_easgd_rate_matches_two_by_two_mean_mode():
    # THEORY §6: mean mode [[1−a−α, α], [β, 1−β]], disagreement modes 1 − a − α
    h, lr, al, K = 2.0, 0.1, 0.1, 4
    a, be = lr * h, K * al
    M = np.array([[1 - a - al, al], [be, 1 - be]])
    pred = max(np.max(np.abs(np.linalg.eigvals(M))), abs(1 - a - al))
    assert L.linear_rates(np.array([[h]]), lr, K, alpha=al)["easgd"] == pytest.approx(pred, abs=1e-12)


@given(st.integers(1, 4), st.integers(0, 10_000), st.floats(0.0, 1.0), st.floats(-4, 2))
def test_t2_on_random_quadratics(d, seed, frac, log_lam):
    g = np.random.default_rng(seed)
    ev = np.exp(g.uniform(-2, 2, d))
    Q, _ = np.linalg.qr(g.normal(size=(d, d)))
    A = Q @ np.diag(ev) @ Q.T
    m, M, lam = ev.min(), ev.max(), math.exp(log_lam)
    lr = max(frac, 1e-6) / (M + lam)
    xs = g.normal(size=d)
    x, z = xs + g.normal(size=d) * 2, xs + g.normal(size=d)
    f = lambda v: 0.5 * (v - xs) @ A @ (v - xs)
    if f(z) > f(x):
        x, z = z, x
    S = np.diag(np.exp(g.uniform(-2, 1, d)))
    lhs = L.t2_lhs_quadratic(A, xs, x, z, lr, lam, S)
    # independent Monte Carlo of the expectation (numpy), then the bound
    xi = g.multivariate_normal(np.zeros(d), S, size=20000)
    xp = x - lr * (A @ (x - xs) + xi + lam * (x - z))
    mc = 0.5 * np.einsum("ni,ij,nj->n", xp - xs, A, xp - xs)
    assert lhs == pytest.approx(mc.mean(), abs=6 * mc.std() / math.sqrt(len(mc)) + 1e-12)
    rhs = L.t2_rhs(f(x), f(z), 0.0, lr, lam, m, M, float(np.trace(S)))
    assert lhs <= rhs + 1e-12 * max(1.0, abs(rhs))


def test_t2_rhs_value_by_hand():
    # (1 − mη)(f(x) − f*) − ηλ(f(x) − f(z)) + η²Mσ²/2 at fx = 3, fz = 1, f* = 0.5, η = 0.1, λ = 2,
    # m = 1, M = 4, σ² = 0.5: 0.9·2.5 − 0.2·2 + 0.01·4·0.5/2 = 2.25 − 0.4 + 0.01 = 1.86
    assert L.t2_rhs(3.0, 1.0, 0.5, 0.1, 2.0, 1.0, 4.0, 0.5) == pytest.approx(1.86, abs=1e-14)
    # the leader term alone: λ = 0 gives the SGD bound, ηλ(f(x) − f(z)) = 0.4 higher
    assert L.t2_rhs(3.0, 1.0, 0.5, 0.1, 0.0, 1.0, 4.0, 0.5) == pytest.approx(2.26, abs=1e-14)


@given(st.floats(0.05, 2.0), st.floats(1.05, 8.0), st.floats(0.05, 1.0), st.integers(1, 4),
       st.floats(0.1, 3.0))
def test_t2_leader_term_matters(m, lam_over_m, frac, d, r):
    # A = mI (m = M), leader at the optimum (f(z) = f*), no noise, λ > m: the LGD step meets the
    # bound, LHS = (1 − η(m + λ))² f0 ≤ RHS = (1 − ηm − ηλ) f0, while the step WITHOUT its leader
    # pull (plain SGD, LHS = (1 − ηm)² f0) exceeds the same bound: (1 − ηm)² > 1 − ηm − ηλ iff
    # λ > m(1 − ηm). A bound without its leader term, (1 − ηm) f0, would not be violated.
    lam = lam_over_m * m
    lr = frac / (m + lam)
    A, xs = m * np.eye(d), np.zeros(d)
    x = np.full(d, r / math.sqrt(d))
    f0 = 0.5 * m * r * r
    rhs = L.t2_rhs(f0, 0.0, 0.0, lr, lam, m, m, 0.0)
    assert rhs == pytest.approx((1 - lr * m - lr * lam) * f0, rel=1e-12)
    lgd = L.t2_lhs_quadratic(A, xs, x, xs, lr, lam, 0.0)
    sgd = L.t2_lhs_quadratic(A, xs, x, xs, lr, 0.0, 0.0)
    assert lgd == pytest.approx((1 - lr * (m + lam)) ** 2 * f0, rel=1e-12)
    assert sgd == pytest.approx((1 - lr * m) ** 2 * f0, rel=1e-12)
    assert lgd <= rhs * (1 + 1e-12)
    assert sgd > rhs + 1e-12 * f0


def test_t2_rejects_outside_regime():
    with pytest.raises(ValueError, match="lr"):
        L.t2_rhs(1.0, 0.5, 0.0, 1.0, 0.1, 1.0, 2.0, 0.0)
    with pytest.raises(ValueError, match="leader"):
        L.t2_rhs(1.0, 2.0, 0.0, 0.1, 0.1, 1.0, 2.0, 0.0)


@given(st.integers(1, 4), st.integers(1, 4), st.sampled_from([1, 2, 4, 8]), st.sampled_from([1, 2, 4]))
def test_comm_accounting_matches_method_comm(n, l, tau, tau_local):
    K = n * l
    m = make("lsgd", lr=0.1, K=K, groups=n, tau=tau, tau_local=tau_local)
    assert L.comm_vectors("lsgd", K, n, tau, tau_local) == pytest.approx(m.comm, abs=1e-12)
    assert L.comm_vectors("easgd", K, tau=tau) == pytest.approx(
        make("easgd_async", lr=0.1, K=K, tau=tau).comm, abs=1e-12)
    assert L.comm_vectors("allreduce", K, tau=tau) == pytest.approx(
        make("local_sgd", topology.complete(K), lr=0.1, period=tau).comm, abs=1e-12)
    if K > 1:   # one leader sends K − 1 < 2K vectors
        assert L.comm_vectors("lsgd", K, 1, tau) < L.comm_vectors("easgd", K, tau=tau)


def test_comm_bytes_and_ring_allreduce():
    assert L.comm_bytes("easgd", 4, 1000, 4) == 2 * 4 * 1000 * 4
    assert L.allreduce_bytes_per_worker(4, 1000, 8) == pytest.approx(1.5 * 1000 * 8)
    # per worker × K = total vectors · P · bytes
    assert 4 * L.allreduce_bytes_per_worker(4, 10, 4) == pytest.approx(L.comm_bytes("allreduce", 4, 10, 4))
    with pytest.raises(ValueError, match="groups"):
        L.comm_vectors("lsgd", 6, 4)
    with pytest.raises(ValueError, match="method"):
        L.comm_vectors("gossip", 6)


def test_lgd_objective_matches_hand_sum():
    x = torch.tensor([[0.5], [-1.0], [2.0]], dtype=torch.float64)
    f = QUARTIC.f
    z = -1.0   # f(−1) = 0 is the best
    pred = sum((v * v - 1) ** 2 + 0.05 * (v - z) ** 2 for v in (0.5, -1.0, 2.0))
    assert float(L.lgd_objective(f, x, 0.1)) == pytest.approx(pred, abs=1e-12)


@pytest.mark.parametrize("name", [
    "communication",
    pytest.param("stationary_points_unchanged", marks=pytest.mark.slow),
    pytest.param("curse_of_symmetry", marks=pytest.mark.slow),
    pytest.param("convergence_speed", marks=pytest.mark.slow),
    pytest.param("multi_leader", marks=pytest.mark.slow),
    pytest.param("descent_bound_t2", marks=pytest.mark.slow)])
def test_claims_run_quick(name, tmp_path):
    from verify import claims_lsgd as C
    from verify.catalog import load
    from verify.claims import Context
    ev = getattr(C, name)(Context(quick=True, seed=0, out_dir=tmp_path))
    assert ev.verdict in ("holds", "fails", "inconclusive")
    assert ev.predicted and ev.measured          # the verdict rests on recorded numbers
    assert ev.headline and ev.finding and ev.data
    assert f"lsgd.{name}" in load(["verify.claims_lsgd"])


@pytest.mark.slow
@pytest.mark.parametrize("mod", ["lsgd_symmetric_trajectories", "lsgd_loss_vs_steps", "lsgd_descent_bound"])
def test_figures_build(mod, tmp_path):
    import importlib

    from paper_figs.__main__ import render  # runs the figure's claims (quick), then draws
    paths, _ = render(mod, importlib.import_module(f"paper_figs.{mod}"), tmp_path, True, None, None)
    assert [p.suffix for p in paths] == [".png", ".pdf"] and all(p.stat().st_size > 0 for p in paths)


def test_trajectory_shows_the_curse():
    # the claim's figure runs: async EASGD's center ends at the saddle (f = 1), LSGD's leader at a
    # minimum (f = λ − λ²/4 = 0.4375 for λ = 0.5), within the noise σ = 0.02
    from verify.claims_lsgd import symmetric_trajectories
    land = landscapes.get("symmetric", d=2, lam=0.5)
    _, _, me = symmetric_trajectories("easgd", 300)
    _, _, ml = symmetric_trajectories("lsgd", 300)
    assert float(land.f(torch.tensor(me[-1]))) == pytest.approx(1.0, abs=0.02)
    assert float(land.f(torch.tensor(ml[-1]))) == pytest.approx(0.4375, abs=0.02)
