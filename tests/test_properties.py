"""analysis.properties against closed forms computed here with numpy (never by the code under
test), over hypothesis-drawn mixing matrices, problems and step sizes inside stated regions."""

import numpy as np
import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy.linalg import block_diag

import dynamics
import landscapes
from analysis import properties as P
from dynamics import strategies as ds
from dynamics import topology as T
from landscapes import strategies as ls


def _draw_problem(data, symmetric, zeta):
    """A hypothesis-drawn mixing matrix W (K ≤ 6) and a K-worker quadratic problem in d = 2,
    with its A (K, 2, 2) and b (K, 2) as numpy arrays."""
    W = data.draw(ds.mixing_matrices(symmetric=symmetric, max_K=6))
    prob = data.draw(ls.hetero_quadratics(K=len(W), d=2, zeta=zeta))
    return W, len(W), prob, prob.A.numpy(), prob.b.numpy()


def _bias(X, xs):
    return float(np.sqrt(((X - xs) ** 2).sum(-1).mean()))


# ---------------------------------------------------------------- network average

@given(top=ds.topologies(max_K=9), name=st.sampled_from(["dsgd", "atc", "gt", "d2", "dsgdm", "mt"]))
@settings(max_examples=15)
def test_gossip_preserves_the_average(top, name):
    c = P.preserves_average(dynamics.make(name, top, lr=0.1))
    assert c.ok and c.value <= c.bound


def test_leader_pull_does_not_preserve_the_average():
    c = P.preserves_average(dynamics.make("lsgd", T.ring(6), lr=0.1))
    assert c.ok is False and c.value > 1e-3
    with pytest.raises(AssertionError, match="preserves_average"):
        c.require()


# ---------------------------------------------------------------- fixed point / bias

@given(data=st.data())
@settings(max_examples=12)
def test_dsgd_bias_equals_the_linear_fixed_point_system(data):
    """D-SGD X = WX − η(A X − A B): (I − W⊗I + η𝒜) vec X = η𝒜 vec B, solved here."""
    W, K, prob, A, b = _draw_problem(data, None, (0.2, 2.0))
    xs = prob.x_star.numpy()
    lr = data.draw(st.floats(0.01, 0.3))
    Ab = block_diag(*A)
    X = np.linalg.solve(np.eye(2 * K) - np.kron(W, np.eye(2)) + lr * Ab, lr * Ab @ b.reshape(-1)).reshape(K, 2)
    c = P.exact_fixed_point(dynamics.make("dsgd", T.custom(W), lr=lr), prob)
    assert c.value == pytest.approx(_bias(X, xs), rel=1e-7, abs=1e-12)
    assert c.ok is False  # heterogeneity with zeta > 0 leaves a bias
    np.testing.assert_allclose(np.asarray(c.detail["X"]), X, atol=1e-9)


@given(data=st.data())
@settings(max_examples=10)
def test_tracking_methods_have_no_bias(data):
    """GT / MT / D² converge to 1x*ᵀ, x* = (Σ A_k)⁻¹ Σ A_k b_k (docs/theory.md §5)."""
    W, K, prob, A, b = _draw_problem(data, True, (0.5, 2.0))
    xs = np.linalg.solve(A.sum(0), np.einsum("kij,kj->i", A, b))
    name = data.draw(st.sampled_from(["gt", "mt", "d2"]))
    c = P.exact_fixed_point(dynamics.make(name, T.custom(W), lr=0.05), prob)
    assert c.ok and c.detail["mean_error"] < 1e-8
    np.testing.assert_allclose(np.asarray(c.detail["X"]), np.tile(xs, (K, 1)), atol=1e-8)


def test_round_robin_fixed_point_uses_the_period():
    prob = landscapes.hetero_quadratics(4, 2, zeta=1.0, hess_spread=1.0, seed=3)
    c = P.exact_fixed_point(dynamics.make("admm_rr", T.ring(4), lr=0.1, rho=1.0), prob)
    assert c.detail["period"] == 4 and c.ok  # ADMM's consensus constraint: exact


def test_non_affine_step_is_iterated():
    prob = landscapes.hetero_quadratics(4, 2, zeta=1.0, seed=0)
    c = P.exact_fixed_point(dynamics.make("lsgd", T.ring(4), lr=0.1), prob, iterate_steps=300)
    assert c.detail["affine"] is False and c.ok is False


# ---------------------------------------------------------------- stationary points

def test_stationary_points_kept_and_a_drift_is_caught():
    land = landscapes.get("double_well_2d")
    m = dynamics.make("dsgd", T.ring(4), lr=0.1)
    assert P.stationary_points(m, land).ok
    drift = m._replace(step=lambda s, o, t, r=None: type(s)(m.step(s, o, t, r).x + 1e-6))
    c = P.stationary_points(drift, land, steps=1)
    assert c.ok is False and c.value == pytest.approx(1e-6, rel=1e-6)


# ---------------------------------------------------------------- stability radius

@given(W=ds.mixing_matrices(symmetric=True, max_K=7), h=st.floats(0.2, 3.0), u=st.floats(0.05, 1.2))
@settings(max_examples=15)
def test_stability_radius_closed_forms(W, h, u):
    """H = h·I: D-SGD modes λ_j − ηh, ATC λ_j(1 − ηh), C-SGD 1 − ηh (λ_j of symmetric W)."""
    lam = np.linalg.eigvalsh(W)
    lr = u / h
    top = T.custom(W)
    H = h * np.eye(2)
    r = P.stability(dynamics.make("dsgd", top, lr=lr), H)
    assert r.value == pytest.approx(np.abs(lam - lr * h).max(), rel=1e-9, abs=1e-12)
    assert r.ok == (np.abs(lam - lr * h).max() < 1)
    a = P.stability(dynamics.make("atc", top, lr=lr), H)
    assert a.value == pytest.approx(np.abs(lam * (1 - lr * h)).max(), rel=1e-9, abs=1e-12)
    c = P.stability(dynamics.make("csgd", top, lr=lr), H)
    assert c.value == pytest.approx(abs(1 - lr * h), rel=1e-9, abs=1e-12)


def test_periods_detected():
    A = torch.eye(2).expand(8, 2, 2).clone()
    z = torch.zeros(8, 2)
    for name, top, hp, p in [("dsgd", T.one_peer_exponential(8), {}, 3), ("easgd_rr", T.ring(8), {}, 8),
                             ("easgd_async", T.ring(8), {"tau": 4}, 4), ("dsgd", T.ring(8), {}, 1)]:
        m = dynamics.make(name, top, lr=0.1, **hp)
        from analysis import linear
        assert P.detect_period(m, A, z, linear.init_state(m, A, z, z)) == p, name


# ---------------------------------------------------------------- sharpness penalty

@given(W=ds.mixing_matrices(symmetric=True, max_K=6), h=st.floats(0.3, 3.0), u=st.floats(0.05, 0.6),
       s2=st.floats(0.1, 4.0))
@settings(max_examples=12)
def test_sharpness_penalty_closed_forms(W, h, u, s2):
    """½Tr(HΞ) with H = h I_d, noise σ²I: D-SGD ½h(d/K) Σ_{j≥2} η²σ²/(1 − (λ_j − ηh)²);
    ATC ½h(d/K) Σ_{j≥2} λ_j²η²σ²/(1 − λ_j²(1 − ηh)²) (modes of symmetric W, λ_1 = 1 dropped)."""
    K, d = len(W), 2
    lam = np.sort(np.linalg.eigvalsh(W))[:-1]
    assume(np.abs(lam - u).max() < 0.98)  # D-SGD stable (every mode |λ_j − ηh| < 1): else no stationary Ξ
    lr = u / h
    top = T.custom(W)
    H = h * np.eye(d)
    dsgd = 0.5 * h * d / K * np.sum(lr ** 2 * s2 / (1 - (lam - lr * h) ** 2))
    atc = 0.5 * h * d / K * np.sum(lam ** 2 * lr ** 2 * s2 / (1 - lam ** 2 * (1 - lr * h) ** 2))
    c = P.sharpness_penalty(dynamics.make("dsgd", top, lr=lr), H, s2, expected=dsgd, rtol=1e-7)
    assert c.ok, c
    c = P.sharpness_penalty(dynamics.make("atc", top, lr=lr), H, s2, expected=atc, rtol=1e-7)
    assert c.ok, c


def test_sharpness_penalty_catches_a_wrong_expectation():
    m = dynamics.make("dsgd", T.ring(4), lr=0.1)
    c = P.sharpness_penalty(m, np.eye(2), 1.0)
    assert c.ok is None
    assert P.sharpness_penalty(m, np.eye(2), 1.0, expected=1.01 * c.value).ok is False


def test_sharpness_penalty_monte_carlo_for_a_leader():
    c = P.sharpness_penalty(dynamics.make("lsgd", T.ring(4), lr=0.1), np.eye(2), 1.0, replicas=64,
                            burn=100, samples=100)
    assert c.detail["method"] == "monte_carlo" and c.detail["ci"][0] <= c.value <= c.detail["ci"][1]


# ---------------------------------------------------------------- escape ratio

def test_escape_ratio_csgd_against_itself_and_momentum_faster():
    top = T.ring(4)
    same = P.escape_ratio(dynamics.make("csgd", top, lr=0.05), replicas=96, steps=600, seed=0)
    lo, hi = same.detail["ci"]
    assert lo <= 1.0 <= hi  # the same algorithm: the interval covers 1
    # heavy ball β = 0.9: effective step lr/(1 − β) = 10·lr, diffusion 10× larger
    fast = P.escape_ratio(dynamics.make("dsgdm", top, lr=0.05), replicas=96, steps=600, seed=0)
    assert fast.detail["ci"][1] < 1.0


# ---------------------------------------------------------------- communication

@pytest.mark.parametrize("name,top,hp", [
    ("dsgd", T.ring(8), {}), ("gt", T.exponential(8), {}), ("mt", T.ring(8), {}),
    ("dsgd", T.one_peer_exponential(8), {}), ("csgd", T.ring(8), {}), ("local_sgd", T.ring(8), {"period": 3}),
    ("easgd", T.ring(8), {}), ("easgd_async", T.ring(8), {"tau": 4}), ("downpour", T.ring(8), {"tau": 2}),
    ("lsgd", T.ring(8), {"groups": 2, "tau": 4, "tau_local": 2}), ("lsgd", T.ring(8), {}),
])
def test_counted_vectors_match_the_declared_comm(name, top, hp):
    """Declared values (docstrings): gossip = edges, GT/MT = 2·edges, all-reduce 2(K − 1)/period,
    EASGD 2K/τ, LSGD (K − n)/τ_l + (K − 1)/τ − overlap."""
    c = P.communication(dynamics.make(name, top, lr=0.1, **hp))
    assert c.ok, c.detail


def test_wrong_declared_comm_and_hidden_exchange_are_flagged():
    m = dynamics.make("dsgd", T.ring(8), lr=0.1)
    c = P.communication(m._replace(comm=8.0))
    assert c.ok is False and c.value == 16.0 and c.bound == 8.0
    rr = P.communication(dynamics.make("easgd_rr", T.ring(8), lr=0.1))
    assert rr.ok is False and rr.value == 0.0  # exchanges by direct indexing, outside the hooks
