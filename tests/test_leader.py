"""Leader SGD (docs/theory.md §7, eq. 2 of Teng et al.): references are plain-numpy loops over
workers with an explicit first-minimum leader choice."""
import numpy as np
import pytest
import torch
from _helpers import advance as run
from hypothesis import given
from hypothesis import strategies as st

import dynamics
from dynamics import topology as tp

torch.set_default_dtype(torch.float64)


def hetero(K, d, seed=0, wobble=0.3):
    """Worker i: f_i = sum H_i (x - B_i)^2 / 2; the reported loss gets a t-dependent per-worker
    perturbation (a stand-in for minibatch noise), the gradient a t-dependent shift."""
    r = np.random.default_rng(seed)
    H, B = r.uniform(0.5, 2.0, (K, d)), r.normal(size=(K, d))
    k = np.arange(K)

    def np_orc(x, t):
        return (0.5 * (H * (x - B) ** 2).sum(-1) + wobble * np.cos(t * (k + 1.0)),
                H * (x - B) + 0.1 * np.sin(t + 1.0))

    def orc(x, t, rng):
        Ht, Bt = torch.tensor(H), torch.tensor(B)
        return (0.5 * (Ht * (x - Bt) ** 2).sum(-1) + wobble * torch.cos(t * (torch.tensor(k) + 1.0)),
                Ht * (x - Bt) + 0.1 * np.sin(t + 1.0))
    return orc, np_orc


def first_argmin(v):
    best = 0
    for i in range(len(v)):
        if v[i] < v[best]:
            best = i
    return best


def reference(x, np_orc, T, lr, lam, lam_g, tau, tau_l, n, mode="minibatch", A=1):
    """Eq. 2 with pre-step values, written worker by worker."""
    K = len(x)
    l = K // n
    past = []
    for t in range(T):
        loss, g = np_orc(x, t)
        past.append(loss)
        score = np.mean(past[-A:], axis=0) if mode == "running" else loss
        glob = first_argmin(score)
        new = x.copy()
        for i in range(K):
            j0 = (i // l) * l
            loc = j0 + first_argmin(score[j0:j0 + l])
            new[i] = x[i] - lr * g[i]
            if t % tau_l == 0:
                new[i] -= lam * (x[i] - x[loc])
            if t % tau == 0:
                new[i] -= lam_g * (x[i] - x[glob])
        x = new
    return x, glob


@pytest.mark.parametrize("n,tau,tau_l,mode,A", [
    (2, 1, 1, "minibatch", 1), (2, 4, 2, "minibatch", 1), (3, 3, 1, "running", 4),
    (1, 2, 1, "running", 3), (6, 1, 1, "minibatch", 1)])
def test_matches_eq2_reference(n, tau, tau_l, mode, A):
    K, d, lr, lam, lam_g, T = 6, 2, 0.05, 0.2, 0.1, 9
    orc, np_orc = hetero(K, d)
    x = np.random.default_rng(1).normal(size=(K, d))
    m = dynamics.make("lsgd", None, lr=lr, lam=lam, lam_global=lam_g, tau=tau, tau_local=tau_l,
                      groups=n, leader_loss=mode, avg_size=A)
    s = run(m, orc, torch.tensor(x), T)
    ref, glob = reference(x, np_orc, T, lr, lam, lam_g, tau, tau_l, n, mode, A)
    np.testing.assert_allclose(s.x.numpy(), ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(m.model(s).numpy(), ref[glob], rtol=1e-12, atol=1e-12)


@given(st.integers(0, 10_000), st.sampled_from([1, 2, 4]))
def test_leaders_are_never_pulled(seed, n):
    # The global leader makes a plain SGD step (bit for bit); a local leader feels no local pull,
    # only the global one.
    K, d, lr, lam, lam_g = 4, 3, 0.1, 0.5, 0.3
    orc, np_orc = hetero(K, d, seed)
    x = np.random.default_rng(seed + 1).normal(size=(K, d))
    m = dynamics.make("lsgd", None, lr=lr, lam=lam, lam_global=lam_g, groups=n)
    s = m.step(m.init(torch.tensor(x), orc, None), orc, 0, None)
    loss, g = np_orc(x, 0)
    xt, gt = torch.tensor(x), torch.tensor(g)
    glob = first_argmin(loss)
    assert torch.equal(s.x[glob], xt[glob] - lr * gt[glob])
    l = K // n
    locs = {j * l + first_argmin(loss[j * l:(j + 1) * l]) for j in range(n)}
    assert glob in locs
    for i in locs:
        np.testing.assert_allclose(s.x[i].numpy(), x[i] - lr * g[i] - lam_g * (x[i] - x[glob]),
                                   rtol=1e-14, atol=1e-14)
    for i in set(range(K)) - locs:         # followers do move off their SGD step
        assert not np.allclose(s.x[i].numpy(), x[i] - lr * g[i])


def test_one_worker_is_sgd():
    orc, np_orc = hetero(1, 3)
    x = np.random.default_rng(2).normal(size=(1, 3))
    s = run(dynamics.make("lsgd", None, lr=0.1, lam=0.7, lam_global=0.4), orc, torch.tensor(x), 6)
    for t in range(6):
        x = x - 0.1 * np_orc(x, t)[1]
    np.testing.assert_allclose(s.x.numpy(), x, rtol=1e-13, atol=1e-13)


def test_one_group_equals_single_leader_with_total_pull():
    K, d, lr, lam, lam_g, T = 5, 2, 0.05, 0.15, 0.25, 8
    orc, np_orc = hetero(K, d)
    x = np.random.default_rng(3).normal(size=(K, d))
    s = run(dynamics.make("lsgd", None, lr=lr, lam=lam, lam_global=lam_g, groups=1), orc,
            torch.tensor(x), T)
    for t in range(T):                     # single-leader LSGD: x ← x − ηg − (λ + λ_G)(x − x_leader)
        loss, g = np_orc(x, t)
        x = x - lr * g - (lam + lam_g) * (x - x[int(np.argmin(loss))])
    np.testing.assert_allclose(s.x.numpy(), x, rtol=1e-12, atol=1e-12)


def test_ties_go_to_the_lowest_index():
    # f = |x|^2/2 with rows of equal norm: all losses tie; leaders are workers 0 and 2.
    x = torch.tensor([[1.0, 0.0], [0.0, -1.0], [-1.0, 0.0], [0.0, 1.0]])
    orc = lambda x, t, rng: (0.5 * (x ** 2).sum(-1), x)
    m = dynamics.make("lsgd", None, lr=0.1, lam=0.2, lam_global=0.0, groups=2)
    s = m.step(m.init(x, orc, None), orc, 0, None)
    lead = torch.tensor([0, 0, 2, 2])
    torch.testing.assert_close(s.x, x - 0.1 * x - 0.2 * (x - x[lead]), rtol=0, atol=1e-15)
    assert torch.equal(m.model(s), s.x[0])


def test_vectorised_over_replicas_with_different_leaders():
    K, d, R = 4, 2, 5
    orc, _ = hetero(K, d)
    x0 = torch.tensor(np.random.default_rng(4).normal(size=(R, K, d)) * 2)
    m = dynamics.make("lsgd", None, lr=0.05, groups=2, leader_loss="running", avg_size=2)
    s = run(m, orc, x0, 4)
    assert len(set(dynamics.algorithms.leader.leader_index(s.score).tolist())) > 1
    for r in range(R):
        one = run(m, orc, x0[r], 4)
        torch.testing.assert_close(one.x, s.x[r], rtol=0, atol=1e-14)
        torch.testing.assert_close(m.model(one), m.model(s)[r], rtol=0, atol=1e-14)


def test_pure_and_differentiable():
    K, d, R = 4, 2, 3
    orc, _ = hetero(K, d)
    m = dynamics.make("lsgd", None, lr=0.1, groups=2, leader_loss="running", avg_size=3)
    x0 = torch.tensor(np.random.default_rng(5).normal(size=(R, K, d)))
    keep = x0.clone()
    s = m.step(m.init(x0, orc, None), orc, 0, None)
    assert torch.equal(x0, keep)
    before = [v.clone() for v in s]
    m.step(s, orc, 1, None)
    assert all(torch.equal(a, b) for a, b in zip(s, before))
    J = torch.func.jacrev(lambda x: m.step(s._replace(x=x), orc, 1, None).x)(s.x)
    assert J.shape == (R, K, d, R, K, d) and torch.isfinite(J).all()


@pytest.mark.parametrize("K,n,tau,tau_l,expected", [
    (8, 2, 4, 2, (6 + 7 - 3 + 6) / 4), (4, 1, 1, 1, 3.0), (6, 3, 2, 3, ((3 + 5 - 1) + 5 + 3 + 5) / 6)])
def test_comm_counts(K, n, tau, tau_l, expected):
    # per step t: local pull K - n vectors, global pull K - 1, minus the l - 1 shared when both
    m = dynamics.make("lsgd", tp.complete(K), lr=0.1, groups=n, tau=tau, tau_local=tau_l)
    assert m.comm == pytest.approx(expected, rel=1e-15)


@pytest.mark.parametrize("kw,param", [
    (dict(lr=-0.1), "lr"), (dict(lr=0.1, lam=-0.1), "lam"), (dict(lr=0.1, lam_global=-1.0), "lam_global"),
    (dict(lr=0.1, tau=0), "tau"), (dict(lr=0.1, tau_local=0), "tau_local"), (dict(lr=0.1, groups=0), "groups"),
    (dict(lr=0.1, leader_loss="best"), "leader_loss"),
    (dict(lr=0.1, leader_loss="running", avg_size=0), "avg_size")])
def test_bad_input_names_the_parameter(kw, param):
    with pytest.raises(ValueError, match=param):
        dynamics.make("lsgd", None, **kw)


def test_groups_must_divide_K():
    with pytest.raises(ValueError, match="groups"):
        dynamics.make("lsgd", tp.ring(6), lr=0.1, groups=4)
    m = dynamics.make("lsgd", None, lr=0.1, groups=4)
    with pytest.raises(ValueError, match="groups"):
        m.init(torch.zeros(6, 2), None, None)
