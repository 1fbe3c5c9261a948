"""Elastic averaging family (docs/theory.md §6): EASGD (sync, async, round robin), EAMSGD, DOWNPOUR,
round-robin ADMM. References are numpy re-implementations of the paper's equations or closed
forms; the ADMM cycle matrix is built by hand from the equations."""
import numpy as np
import pytest
import torch
from _helpers import advance as run
from hypothesis import given
from hypothesis import strategies as st

import dynamics
from dynamics import topology as tp

torch.set_default_dtype(torch.float64)


def quad(h):
    """f = h x^2 / 2 per coordinate (exact gradients)."""
    return lambda x, t, rng: (0.5 * h * (x ** 2).sum(-1), h * x)


def hetero(K, d, seed=0):
    """Worker i: f_i = sum_k H_ik (x_k - B_ik)^2 / 2, plus a t-dependent shift (a fake 'noise'
    that a step must pass through unchanged). Returns (torch oracle, numpy gradient)."""
    r = np.random.default_rng(seed)
    H, B = r.uniform(0.5, 2.0, (K, d)), r.normal(size=(K, d))

    def g_np(x, t):
        return H * (x - B) + 0.1 * np.sin(t + 1.0)

    def orc(x, t, rng):
        Ht, Bt = torch.tensor(H), torch.tensor(B)
        return 0.5 * (Ht * (x - Bt) ** 2).sum(-1), Ht * (x - Bt) + 0.1 * np.sin(t + 1.0)
    return orc, g_np


def x0_np(K, d, seed=1):
    return np.random.default_rng(seed).normal(size=(K, d))


# ---------------------------------------------------------------- EASGD, rho = 0

@pytest.mark.parametrize("name,kw", [("easgd", dict(rho=0.0)), ("easgd_async", dict(alpha=0.0, tau=2)),
                                     ("easgd_async", dict(rho=0.0, order="sequential"))])
def test_rho_zero_decouples_into_plain_sgd(name, kw):
    K, d, lr, T = 4, 3, 0.1, 7
    orc, g = hetero(K, d)
    x = x0_np(K, d)
    c0 = x.mean(0)
    s = run(dynamics.make(name, None, lr=lr, **kw), orc, torch.tensor(x), T)
    for t in range(T):
        x = x - lr * g(x, t)
    np.testing.assert_allclose(s.x.numpy(), x, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(s.center.numpy(), c0, rtol=1e-13, atol=1e-13)


def test_rho_zero_round_robin_moves_only_the_active_worker_by_sgd():
    K, d, lr, T = 3, 2, 0.1, 8
    orc, g = hetero(K, d)
    x = x0_np(K, d)
    s = run(dynamics.make("easgd_rr", None, lr=lr, rho=0.0), orc, torch.tensor(x), T)
    for t in range(T):
        i = t % K
        x[i] = x[i] - lr * g(x, t)[i]
    np.testing.assert_allclose(s.x.numpy(), x, rtol=1e-13, atol=1e-13)


def test_eamsgd_with_alpha_zero_is_nesterov_per_worker():
    K, d, lr, dl, T = 3, 2, 0.05, 0.9, 9
    orc, g = hetero(K, d)
    x = x0_np(K, d)
    v = np.zeros_like(x)
    s = run(dynamics.make("eamsgd", None, lr=lr, alpha=0.0, delta=dl), orc, torch.tensor(x), T)
    for t in range(T):
        v = dl * v - lr * g(x + dl * v, t)
        x = x + v
    np.testing.assert_allclose(s.x.numpy(), x, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(s.v.numpy(), v, rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------- synchronous EASGD

@pytest.mark.parametrize("beta", [None, 0.3])
def test_sync_easgd_equations_3_to_6(beta):
    K, d, lr, rho, T = 4, 3, 0.1, 0.7, 6
    orc, g = hetero(K, d)
    x = x0_np(K, d)
    c = x.mean(0) + 0.5          # center away from the mean, set after init
    a = lr * rho
    b = K * a if beta is None else beta
    m = dynamics.make("easgd", None, lr=lr, rho=rho, beta=beta)
    s0 = m.init(torch.tensor(x), orc, None)._replace(center=torch.tensor(c))
    s = dynamics.rollout(m, orc, s0, T).state
    for t in range(T):
        x, c = x - lr * g(x, t) - a * (x - c), (1 - b) * c + b * x.mean(0)
    np.testing.assert_allclose(s.x.numpy(), x, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(m.model(s).numpy(), c, rtol=1e-12, atol=1e-12)


@given(st.floats(0.01, 1.5), st.floats(0.0, 0.4), st.integers(1, 5))
def test_sync_easgd_mean_and_center_follow_the_2x2_map(a, alpha, K):
    # docs/theory.md §6: on F = h x^2/2 (exact gradients) (mean_i x^i, x̃) evolves by
    # M = [[1-a-α, α], [β, 1-β]], a = ηh, β = Kα.
    lr, h = 0.1, a / 0.1
    beta = K * alpha
    M = np.array([[1 - a - alpha, alpha], [beta, 1 - beta]])
    x = np.random.default_rng(K).normal(size=(K, 1))
    m = dynamics.make("easgd", None, lr=lr, alpha=alpha)
    s0 = m.init(torch.tensor(x), None, None)._replace(center=torch.tensor([2.0]))
    s = dynamics.rollout(m, quad(h), s0, 5).state
    z = np.linalg.matrix_power(M, 5) @ np.array([x.mean(), 2.0])
    np.testing.assert_allclose([float(s.x.mean()), float(s.center[0])], z, rtol=1e-10, atol=1e-10)


def test_async_tau1_simultaneous_is_sync_easgd_with_beta_K_alpha():
    K, d, lr, al = 5, 2, 0.1, 0.08
    orc, _ = hetero(K, d)
    x0 = torch.tensor(x0_np(K, d))
    sa = run(dynamics.make("easgd_async", None, lr=lr, alpha=al, tau=1), orc, x0, 6)
    ss = run(dynamics.make("easgd", None, lr=lr, alpha=al), orc, x0, 6)
    torch.testing.assert_close(sa.x, ss.x, rtol=1e-13, atol=1e-13)
    torch.testing.assert_close(sa.center, ss.center, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("order", ["simultaneous", "sequential"])
def test_async_algorithm1_with_period(order):
    K, d, lr, al, tau, T = 3, 2, 0.1, 0.2, 3, 10
    orc, g = hetero(K, d)
    x = x0_np(K, d)
    c = x.mean(0)
    s = run(dynamics.make("easgd_async", None, lr=lr, alpha=al, tau=tau, order=order),
            orc, torch.tensor(x), T)
    for t in range(T):
        gx = g(x, t)                      # gradient at the pre-step x (Algorithm 1)
        if t % tau == 0:
            if order == "simultaneous":
                x, c = x - al * (x - c), c + al * (x - c).sum(0)
            else:
                x = x.copy()
                for i in range(K):
                    dlt = x[i] - c
                    x[i], c = x[i] - al * dlt, c + al * dlt
        x = x - lr * gx
    np.testing.assert_allclose(s.x.numpy(), x, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(s.center.numpy(), c, rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------- round robin EASGD

@given(st.floats(0.0, 2.0), st.floats(0.0, 1.0))
def test_round_robin_p1_is_the_2x2_map(a, alpha):
    # docs/theory.md §6: with p = 1 each step is [[1-a-α, α], [α, 1-α]] on (x, x̃), a = ηh.
    lr = 0.01
    h = a / lr
    M = np.array([[1 - a - alpha, alpha], [alpha, 1 - alpha]])
    m = dynamics.make("easgd_rr", None, lr=lr, alpha=alpha)
    s0 = m.init(torch.tensor([[1.5]]), None, None)._replace(center=torch.tensor([-0.5]))
    s = dynamics.rollout(m, quad(h), s0, 6).state
    z = np.linalg.matrix_power(M, 6) @ np.array([1.5, -0.5])
    np.testing.assert_allclose([float(s.x[0, 0]), float(s.center[0])], z, rtol=1e-9, atol=1e-9)
    ev = np.linalg.eigvalsh(M)          # closed form (2 - a - 2α ± sqrt(a² + 4α²))/2
    r = np.sqrt(a * a + 4 * alpha * alpha)
    np.testing.assert_allclose(ev, [(2 - a - 2 * alpha - r) / 2, (2 - a - 2 * alpha + r) / 2], atol=1e-12)


def test_round_robin_worker_order_and_center_uses_pre_update_x():
    K, d, lr, al = 3, 2, 0.1, 0.3
    orc, g = hetero(K, d)
    x = x0_np(K, d)
    c = x.mean(0)
    s = run(dynamics.make("easgd_rr", None, lr=lr, alpha=al), orc, torch.tensor(x), 7)
    for t in range(7):
        i = t % K
        xi = x[i].copy()
        x[i] = xi - lr * g(x, t)[i] - al * (xi - c)
        c = c + al * (xi - c)
    np.testing.assert_allclose(s.x.numpy(), x, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(s.center.numpy(), c, rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------- round robin ADMM

def admm_cycle(p, eta, rho, h=1.0):
    """Cycle matrix on (λ¹, x¹, ..., λ^p, x^p, x̃), built from docs/theory.md §6 equations."""
    n = 2 * p + 1
    P = np.eye(n)
    er = eta * rho
    for i in range(p):
        L, X, C = 2 * i, 2 * i + 1, 2 * p
        A = np.eye(n)
        A[L, X], A[L, C] = -1.0, 1.0                        # λ ← λ − x + x̃
        B = np.eye(n)
        B[X] = 0.0
        B[X, X] = (1 - eta * h) / (1 + er)
        B[X, L] = B[X, C] = er / (1 + er)                    # x ← (x − ηhx + ηρ(λ + x̃))/(1+ηρ)
        D = np.eye(n)
        D[C] = 0.0
        D[C, 1:C:2], D[C, 0:C:2] = 1.0 / p, -1.0 / p          # x̃ ← mean(x − λ)
        P = D @ B @ A @ P
    return P


@pytest.mark.parametrize("p,expected", [(2, 0.999002), (3, 1.000974), (8, 1.002258)])
def test_admm_cycle_spectral_radius_matches_theory(p, expected):
    r = np.max(np.abs(np.linalg.eigvals(admm_cycle(p, 1e-3, 2.5))))
    assert abs(r - expected) < 1e-6


@pytest.mark.parametrize("p", [2, 3, 8])
def test_admm_iterates_equal_matrix_power(p):
    eta, rho, cycles = 1e-3, 2.5, 40
    m = dynamics.make("admm_rr", None, lr=eta, rho=rho)
    s = run(m, quad(1.0), torch.full((p, 1), 1000.0), cycles * p)
    z0 = np.zeros(2 * p + 1)
    z0[1::2] = 1000.0
    z0[-1] = 1000.0
    z = np.linalg.matrix_power(admm_cycle(p, eta, rho), cycles) @ z0
    got = np.empty(2 * p + 1)
    got[0:-1:2], got[1::2], got[-1] = s.lam[:, 0].numpy(), s.x[:, 0].numpy(), float(s.center[0])
    np.testing.assert_allclose(got, z, rtol=1e-10, atol=1e-9)


def test_admm_center_is_mean_of_x_minus_lambda():
    K, d = 3, 2
    orc, _ = hetero(K, d)
    s = run(dynamics.make("admm_rr", None, lr=0.05, rho=1.0), orc, torch.tensor(x0_np(K, d)), 5)
    torch.testing.assert_close(s.center, (s.x - s.lam).mean(0), rtol=0, atol=1e-14)


# ---------------------------------------------------------------- DOWNPOUR

def test_downpour_tau1_center_is_sgd_on_the_sum_of_gradients():
    K, d, lr, T = 3, 2, 0.05, 6
    orc, g = hetero(K, d)
    x = x0_np(K, d)
    c = x.mean(0)
    s = run(dynamics.make("downpour", None, lr=lr), orc, torch.tensor(x), T)
    for t in range(T - 1):                 # the push of step T-1 lands at step T
        c = c - lr * g(np.tile(c, (K, 1)), t).sum(0)
    np.testing.assert_allclose(s.center.numpy(), c, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("tau,stale", [(2, 0), (3, 2), (1, 1)])
def test_downpour_with_period_and_staleness(tau, stale):
    K, d, lr, T = 3, 2, 0.05, 11
    orc, g = hetero(K, d)
    x = x0_np(K, d)
    c = x.mean(0)
    acc = np.zeros_like(x)
    hist = [c.copy()] * (stale + 1)          # master value after each step, oldest first
    s = run(dynamics.make("downpour", None, lr=lr, tau=tau, staleness=stale), orc, torch.tensor(x), T)
    for t in range(T):
        if t % tau == 0:
            c = c + acc.sum(0)
        hist = hist[1:] + [c.copy()]
        if t % tau == 0:
            x, acc = np.tile(hist[0], (K, 1)), np.zeros_like(acc)
        gx = g(x, t)
        x, acc = x - lr * gx, acc - lr * gx
    np.testing.assert_allclose(s.x.numpy(), x, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(s.center.numpy(), c, rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------- contract

ALL = [("easgd", dict(rho=0.5)), ("easgd_async", dict(tau=2, order="sequential")),
       ("eamsgd", dict(tau=2)), ("easgd_rr", {}), ("admm_rr", dict(rho=2.0)),
       ("downpour", dict(tau=2, staleness=1))]


@pytest.mark.parametrize("name,kw", ALL)
def test_steps_are_pure_vectorised_and_differentiable(name, kw):
    K, d, R = 3, 2, 4
    orc, _ = hetero(K, d)
    m = dynamics.make(name, None, lr=0.1, **kw)
    x0 = torch.tensor(np.random.default_rng(0).normal(size=(R, K, d)))
    keep = x0.clone()
    s = m.init(x0, orc, None)
    assert torch.equal(x0, keep)
    s = m.step(s, orc, 0, None)
    before = [v.clone() for v in s]
    s2 = m.step(s, orc, 1, None)
    assert all(torch.equal(a, b) for a, b in zip(s, before))
    assert s2.x.shape == (R, K, d) and m.model(s2).shape == (R, d)
    one = m.step(m.step(m.init(x0[2], orc, None), orc, 0, None), orc, 1, None)
    torch.testing.assert_close(one.x, s2.x[2], rtol=0, atol=1e-14)   # replicas independent
    J = torch.func.jacrev(lambda x: m.step(s._replace(x=x), orc, 1, None).x)(s.x)
    assert J.shape == (R, K, d, R, K, d) and torch.isfinite(J).all()


@pytest.mark.parametrize("name,kw,expected", [
    ("easgd", {}, 8.0), ("easgd_async", dict(tau=4), 2.0), ("eamsgd", dict(tau=2), 4.0),
    ("easgd_rr", {}, 2.0), ("admm_rr", dict(rho=1.0), 2.0), ("downpour", dict(tau=8), 1.0)])
def test_comm_counts(name, kw, expected):
    assert dynamics.make(name, tp.ring(4), lr=0.1, **kw).comm == expected
    assert dynamics.make(name, None, lr=0.1, K=4, **kw).comm == expected
    assert np.isnan(dynamics.make(name, None, lr=0.1, **kw).comm)


@pytest.mark.parametrize("name,kw,param", [
    ("easgd", dict(lr=-0.1, rho=1.0), "lr"), ("easgd", dict(lr=0.1, rho=-1.0), "rho"),
    ("easgd", dict(lr=0.1, alpha=-0.1), "alpha"), ("easgd", dict(lr=0.1, rho=1.0, alpha=0.1), "alpha"),
    ("easgd", dict(lr=0.1, beta=-1.0), "beta"), ("easgd_async", dict(lr=0.1, tau=0), "tau"),
    ("easgd_async", dict(lr=0.1, order="random"), "order"), ("eamsgd", dict(lr=0.1, delta=1.0), "delta"),
    ("easgd_rr", dict(lr=0.0), "lr"), ("admm_rr", dict(lr=0.1, rho=-2.0), "rho"),
    ("admm_rr", dict(lr=0.1), "rho"), ("downpour", dict(lr=0.1, staleness=-1), "staleness"),
    ("downpour", dict(lr=0.1, tau=1.5), "tau"), ("easgd", dict(lr=0.1, K=0), "K")])
def test_bad_input_names_the_parameter(name, kw, param):
    with pytest.raises(ValueError, match=param):
        dynamics.make(name, None, **kw)


def test_x0_disagreeing_with_K_is_rejected():
    m = dynamics.make("easgd", tp.ring(4), lr=0.1)
    with pytest.raises(ValueError, match="workers"):
        m.init(torch.zeros(3, 2), None, None)
