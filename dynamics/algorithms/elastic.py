"""Elastic averaging and its parameter-server baselines (docs/theory.md §6; Zhang, Choromanska,
LeCun, arXiv 1412.6651): 'easgd', 'easgd_async', 'easgd_rr', 'eamsgd', 'downpour', 'admm_rr'.

All keep a center (master) variable x̃ of shape (..., d); `model(state)` returns x̃. The
topology is not used (centralised parameter server); it may be None. K comes from x0; when
neither `topology` nor `K=` is given, `comm` is nan (it depends on K). The center starts at
the worker average x̃⁰ = mean_i x0^i (the paper starts from x^i = x̃).

Clock: `step(state, oracle, t, rng)` is called with t = 0, 1, 2, ...; "τ | t" is checked on
that Python integer (all workers share one clock), so communication happens at t = 0.
`comm` counts each vector transmitted once (worker -> master and master -> worker), all
workers together, averaged per step; scalars are not counted.

`lr` is a number or a schedule t -> η(t) (`dynamics.base.lr_schedule`): step t uses η(t) for
the gradient step and for every constant derived from η — α = η(t)ρ when `rho` is given
(recorded in hp as 'lr(t) * ρ'), ADMM's ηρ, DOWNPOUR's accumulator −η(t)g.
"""
from __future__ import annotations

from typing import NamedTuple

import torch

from ..base import (Method, check_int, check_nonneg, check_workers, check_x0, local_K, lr_schedule,
                    register, worker_count, worker_mean, worker_sum)


class EasgdState(NamedTuple):
    x: torch.Tensor        # (..., K, d) workers
    center: torch.Tensor   # (..., d) x̃


class EamsgdState(NamedTuple):
    x: torch.Tensor
    center: torch.Tensor
    v: torch.Tensor        # (..., K, d) Nesterov velocity


class DownpourState(NamedTuple):
    x: torch.Tensor
    center: torch.Tensor
    acc: torch.Tensor      # (..., K, d) accumulated -η g since the last push
    hist: torch.Tensor     # (..., staleness+1, d) center after each of the last steps, oldest first


class AdmmState(NamedTuple):
    x: torch.Tensor
    lam: torch.Tensor      # (..., K, d) rescaled multipliers λ^i
    center: torch.Tensor


# ---------------------------------------------------------------- validation helpers

def _coupling(lr, rho, alpha):
    """(α_at(t, K), the α recorded in hp): α = η(t)ρ given rho (with a schedule η(t) = lr(t) of
    the same step; hp 'lr(t) * ρ'), α given, or the paper's default α = 0.9/K (hp None)."""
    if rho is not None and alpha is not None:
        raise ValueError("give either rho or alpha (alpha = lr * rho), not both")
    if rho is not None:
        rho = check_nonneg(rho, "rho")
        hp = f"lr(t) * {rho!r}" if isinstance(lr.hp, str) else lr.hp * rho
        return (lambda t, K: lr(t) * rho), hp
    if alpha is not None:
        a = check_nonneg(alpha, "alpha")
        return (lambda t, K: a), a
    return (lambda t, K: 0.9 / K), None


def _comm(K, per_K):
    return float("nan") if K is None else float(per_K(K))


def _center_init(x0, K=None, topology=None):
    x0 = check_x0(x0, K=K if topology is None else local_K(topology))
    return x0.clone(), worker_mean(x0, topology)


def _single_process(topology, who):
    """Round-robin / sequential methods index workers one at a time: not distributed."""
    if getattr(topology, "distributed", False):
        raise ValueError(f"{who} runs single-process only; got a distributed topology")


# ---------------------------------------------------------------- synchronous EASGD

@register("easgd")
def easgd(topology=None, lr=None, rho=None, alpha=None, beta=None, K=None) -> Method:
    """Synchronous EASGD [paper eqs 3–6, docs/theory.md §6], both updates from pre-step values:
    x^i ← x^i − η g^i(x^i) − α(x^i − x̃);  x̃ ← (1 − β) x̃ + β mean_i x^i,
    α = ηρ (or `alpha`; default 0.9/K), β = Kα unless given. comm = 2K (each worker sends x^i
    and receives x̃ every step). With β = Kα this is `easgd_async(tau=1, order='simultaneous')`
    in exact arithmetic, but not in floating point: that one computes (x − αd) − ηg and
    x̃ + αΣd (d = x − x̃), this one x − ηg − αd and (1 − β)x̃ + β mean x (they differ by
    rounding, ~1e-16 in float64), and β here is free; both are kept so recorded runs reproduce
    bit-for-bit."""
    lr = lr_schedule(lr)
    al_at, a = _coupling(lr, rho, alpha)
    b = None if beta is None else check_nonneg(beta, "beta")
    Kn = check_workers(topology, K)

    def init(x0, oracle=None, rng=None):
        x, c = _center_init(x0, Kn, topology)
        return EasgdState(x, c)

    def step(s, oracle, t, rng):
        k = worker_count(s.x, topology)
        al = al_at(t, k)
        be = k * al if b is None else b
        _, g = oracle(s.x, t, rng)
        c = s.center.unsqueeze(-2)
        x = s.x - lr(t) * g - al * (s.x - c)
        center = (1 - be) * s.center + be * worker_mean(s.x, topology)
        return EasgdState(x, center)

    hp = dict(lr=lr.hp, alpha=a, beta=b)
    return Method("easgd", init, step, _model, _comm(Kn, lambda k: 2 * k), hp, topology)


def _model(s):
    """The center variable x̃ (..., d)."""
    return s.center


def _elastic(x, center, al, order, topology=None):
    """Elastic exchange of Algorithm 1 a)–b) for all K workers from pre-step x.
    'simultaneous': x^i ← x^i − α(x^i − x̃), x̃ ← x̃ + α Σ_i (x^i − x̃) (one x̃ for all);
    'sequential': workers i = 0..K−1 in turn, each seeing the x̃ left by the previous one."""
    if order == "simultaneous":
        diff = x - center.unsqueeze(-2)
        return x - al * diff, center + al * worker_sum(diff, topology)
    rows = []
    for i in range(x.shape[-2]):
        d = x[..., i, :] - center
        rows.append(x[..., i, :] - al * d)
        center = center + al * d
    return torch.stack(rows, dim=-2), center


_ORDERS = ("simultaneous", "sequential")


def _check_order(order):
    if order not in _ORDERS:
        raise ValueError(f"order must be one of {_ORDERS}, got {order!r}")
    return order


def _async_setup(name, topology, lr, rho, alpha, tau, order, K):
    """Checked (lr_at, α_at, α for hp, τ, order, K) shared by Algorithms 1 and 2 (easgd_async, eamsgd)."""
    lr = lr_schedule(lr)
    al_at, a = _coupling(lr, rho, alpha)
    tau = check_int(tau, "tau")
    order = _check_order(order)
    Kn = check_workers(topology, K)
    if order == "sequential":
        _single_process(topology, f"{name} with order='sequential'")
    return lr, al_at, a, tau, order, Kn


@register("easgd_async")
def easgd_async(topology=None, lr=None, rho=None, alpha=None, tau=1, order="simultaneous",
                K=None) -> Method:
    """Asynchronous EASGD, Algorithm 1 [paper, docs/theory.md §6], all workers on one clock t.
    With x the pre-step iterate: if τ | t: x^i ← x^i − α(x − x̃), x̃ ← x̃ + α(x − x̃) (across
    workers per `order`, see `_elastic`); then x^i ← x^i − η g^i(x) (gradient at the pre-step x,
    as in Algorithm 1). α = ηρ or `alpha` (default 0.9/K, the paper's β = pα = 0.9).
    τ = 1 with order='simultaneous' is synchronous EASGD with β = Kα. comm = 2K/τ."""
    lr, al_at, a, tau, order, Kn = _async_setup("easgd_async", topology, lr, rho, alpha, tau, order, K)

    def init(x0, oracle=None, rng=None):
        x, c = _center_init(x0, Kn, topology)
        return EasgdState(x, c)

    def step(s, oracle, t, rng):
        _, g = oracle(s.x, t, rng)
        x, c = s.x, s.center
        if int(t) % tau == 0:
            x, c = _elastic(x, c, al_at(t, worker_count(x, topology)), order, topology)
        return EasgdState(x - lr(t) * g, c)

    hp = dict(lr=lr.hp, alpha=a, tau=tau, order=order)
    return Method("easgd_async", init, step, _model, _comm(Kn, lambda k: 2 * k / tau), hp, topology)


@register("eamsgd")
def eamsgd(topology=None, lr=None, rho=None, alpha=None, tau=1, delta=0.99,
           order="simultaneous", K=None) -> Method:
    """EAMSGD, Algorithm 2 [paper, docs/theory.md §6]: with x the pre-step iterate, if τ | t the
    elastic exchange of Algorithm 1 (see `easgd_async`); then Nesterov momentum
    v^i ← δ v^i − η g^i(x + δ v^i), x^i ← x^i + v^i. v⁰ = 0; δ = `delta` (paper 0.99).
    comm = 2K/τ."""
    lr, al_at, a, tau, order, Kn = _async_setup("eamsgd", topology, lr, rho, alpha, tau, order, K)
    if isinstance(delta, bool) or not isinstance(delta, (int, float)) or not 0 <= delta < 1:
        raise ValueError(f"delta (momentum) must lie in [0, 1), got {delta!r}")
    delta = float(delta)

    def init(x0, oracle=None, rng=None):
        x, c = _center_init(x0, Kn, topology)
        return EamsgdState(x, c, torch.zeros_like(x))

    def step(s, oracle, t, rng):
        _, g = oracle(s.x + delta * s.v, t, rng)
        x, c = s.x, s.center
        if int(t) % tau == 0:
            x, c = _elastic(x, c, al_at(t, worker_count(x, topology)), order, topology)
        v = delta * s.v - lr(t) * g
        return EamsgdState(x + v, c, v)

    hp = dict(lr=lr.hp, alpha=a, tau=tau, delta=delta, order=order)
    return Method("eamsgd", init, step, _model, _comm(Kn, lambda k: 2 * k / tau), hp, topology)


# ---------------------------------------------------------------- round robin

def _active_mask(x, t):
    """(K, 1) boolean mask of worker i = t mod K (integer t only)."""
    k = x.shape[-2]
    return (torch.arange(k, device=x.device) == int(t) % k).unsqueeze(-1)


@register("easgd_rr")
def easgd_rr(topology=None, lr=None, rho=None, alpha=None, K=None) -> Method:
    """Round-robin EASGD [paper §4, docs/theory.md §6]: at step t only worker i = t mod K
    (0-based; the paper's i ≡ t+1 mod p, 1-based) acts, from its pre-update x^i:
    x^i ← x^i − η∇F(x^i) − α(x^i − x̃);  x̃ ← x̃ + α(x^i − x̃).  α = ηρ or `alpha`
    (default 0.9/K). The oracle is evaluated on all workers; only row i is used.
    comm = 2 (x^i up, x̃ down, per step)."""
    lr = lr_schedule(lr)
    al_at, a = _coupling(lr, rho, alpha)
    Kn = check_workers(topology, K)
    _single_process(topology, "easgd_rr")

    def init(x0, oracle=None, rng=None):
        x, c = _center_init(x0, Kn)
        return EasgdState(x, c)

    def step(s, oracle, t, rng):
        al = al_at(t, s.x.shape[-2])
        i = int(t) % s.x.shape[-2]
        _, g = oracle(s.x, t, rng)
        xi = s.x[..., i, :]
        new_i = xi - lr(t) * g[..., i, :] - al * (xi - s.center)
        x = torch.where(_active_mask(s.x, t), new_i.unsqueeze(-2), s.x)
        return EasgdState(x, s.center + al * (xi - s.center))

    hp = dict(lr=lr.hp, alpha=a)
    return Method("easgd_rr", init, step, _model, _comm(Kn, lambda k: 2.0), hp, topology)


@register("admm_rr")
def admm_rr(topology=None, lr=None, rho=None, K=None) -> Method:
    """Round-robin ADMM [paper §4; reconstruction of docs/theory.md §6, derived], rescaled
    multipliers λ^i (λ⁰ = 0). Active worker i = t mod K:
    λ^i ← λ^i − (x^i − x̃);  x^i ← (x^i − η∇F(x^i) + ηρ(λ^i + x̃)) / (1 + ηρ)  (new λ^i, old x̃);
    x̃ ← (1/K) Σ_j (x^j − λ^j)  (new values). comm = 2 (x̃ down, x^i − λ^i up, per step)."""
    lr = lr_schedule(lr)
    if rho is None:
        raise ValueError("rho (ADMM penalty) is required for admm_rr")
    rho = check_nonneg(rho, "rho")
    Kn = check_workers(topology, K)
    _single_process(topology, "admm_rr")

    def init(x0, oracle=None, rng=None):
        x, c = _center_init(x0, Kn)
        return AdmmState(x, torch.zeros_like(x), c)

    def step(s, oracle, t, rng):
        i = int(t) % s.x.shape[-2]
        m = _active_mask(s.x, t)
        _, g = oracle(s.x, t, rng)
        lr_t = lr(t)
        er = lr_t * rho
        xi = s.x[..., i, :]
        lam_i = s.lam[..., i, :] - (xi - s.center)
        x_i = (xi - lr_t * g[..., i, :] + er * (lam_i + s.center)) / (1 + er)
        x = torch.where(m, x_i.unsqueeze(-2), s.x)
        lam = torch.where(m, lam_i.unsqueeze(-2), s.lam)
        return AdmmState(x, lam, (x - lam).mean(dim=-2))

    hp = dict(lr=lr.hp, rho=rho)
    return Method("admm_rr", init, step, _model, _comm(Kn, lambda k: 2.0), hp, topology)


# ---------------------------------------------------------------- DOWNPOUR

@register("downpour")
def downpour(topology=None, lr=None, tau=1, staleness=0, K=None) -> Method:
    """DOWNPOUR [paper's baseline, docs/theory.md §6], synchronous simulation. Each step: if τ | t:
    the master adds every accumulator, x̃ ← x̃ + Σ_i a^i, each worker
    pulls x^i ← (master value `staleness` steps ago, after that step's push) and a^i ← 0; then,
    at the (pulled) x^i: x^i ← x^i − η g^i(x^i), a^i ← a^i − η g^i(x^i). staleness = 0 pulls the fresh x̃; before
    the start the master value is x̃⁰. comm = 2K/τ (a^i up, x̃ down)."""
    lr = lr_schedule(lr)
    tau = check_int(tau, "tau")
    staleness = check_int(staleness, "staleness", minimum=0)
    Kn = check_workers(topology, K)

    def init(x0, oracle=None, rng=None):
        x, c = _center_init(x0, Kn, topology)
        hist = c.unsqueeze(-2).expand(*c.shape[:-1], staleness + 1, c.shape[-1]).clone()
        return DownpourState(x, c, torch.zeros_like(x), hist)

    def step(s, oracle, t, rng):
        x, c, acc = s.x, s.center, s.acc
        comm_step = int(t) % tau == 0
        if comm_step:
            c = c + worker_sum(acc, topology)
        hist = torch.cat([s.hist[..., 1:, :], c.unsqueeze(-2)], dim=-2)
        if comm_step:
            x = hist[..., :1, :].expand_as(x)
            acc = torch.zeros_like(acc)
        _, g = oracle(x, t, rng)
        lr_t = lr(t)
        return DownpourState(x - lr_t * g, c, acc - lr_t * g, hist)

    hp = dict(lr=lr.hp, tau=tau, staleness=staleness)
    return Method("downpour", init, step, _model, _comm(Kn, lambda k: 2 * k / tau), hp, topology)
