"""Bias-corrected averaging: gradient tracking (GT), D² / exact diffusion, Momentum Tracking (MT).

docs/theory.md §1 (update rules) and §5 (with exact gradients all three converge to the exact
minimiser of the average objective). Convention x_i <- sum_j W_ij x_j (`topology.mix`), stacks
(..., K, d); all three need a doubly stochastic W. Noise indexing: the gradient at iterate x^s
is always drawn as oracle(x^s, s, rng) — `init` draws g^0 at time 0 and step t draws the
gradient at x^{t+1} with time t + 1 (GT, MT) or at x^t with time t (D²). Model = average.
`lr` is a number or a schedule t -> lr (`dynamics.base.lr_schedule`): step t uses lr(t); in D²
it multiplies the whole gradient difference, lr(t)(g^t − g^{t−1}).
"""
from __future__ import annotations

from typing import NamedTuple

import torch

from ..base import Method, averager, check_unit, check_x0, lr_schedule, need_topology, register, worker_mean
from ..topology import require_doubly


class GTState(NamedTuple):
    x: torch.Tensor   # (..., K, d) iterates x^t
    y: torch.Tensor   # (..., K, d) tracker y^t
    g: torch.Tensor   # (..., K, d) gradient at x^t


class D2State(NamedTuple):
    x: torch.Tensor       # x^t
    x_prev: torch.Tensor  # x^{t-1} (x^0 at start)
    g_prev: torch.Tensor  # g^{t-1} (0 at start)


class MTState(NamedTuple):
    x: torch.Tensor   # (..., K, d) iterates x^t
    m: torch.Tensor   # momentum m^{t-1}
    c: torch.Tensor   # correction c^t
    g: torch.Tensor   # gradient at x^t


def _doubly(topology, name):
    return require_doubly(need_topology(topology, name), name)


def _consensus_mean(g, topology=None):
    return worker_mean(g, topology, keepdim=True).expand_as(g)


@register("gt")
def gt(topology=None, lr=None, tracker_start="grad") -> Method:
    """Gradient tracking: x⁺ = W x − lr y;  y⁺ = W y + g(x⁺) − g(x)  (docs/theory.md §1 [code]).

    tracker_start 'grad': y⁰ = g(x⁰) (standard); 'mean': y⁰ = 1 ḡ⁰ᵀ (every node starts at the
    exact average gradient — the start Momentum Tracking implies at beta = 0). Either way
    mean(y^t) = mean(g(x^t)). comm = 2 × edges (x and y are sent).
    """
    top = _doubly(topology, "gt")
    lr = lr_schedule(lr)
    if tracker_start not in ("grad", "mean"):
        raise ValueError(f"tracker_start must be 'grad' or 'mean', got {tracker_start!r}")

    def init(x0, oracle, rng=None):
        x0 = check_x0(x0, top, "gt")
        _, g = oracle(x0, 0, rng)
        return GTState(x0.clone(), g if tracker_start == "grad" else _consensus_mean(g, top), g)

    def step(s, oracle, t, rng=None):
        x = top.mix(s.x, t) - lr(t) * s.y
        _, g = oracle(x, int(t) + 1, rng)
        return GTState(x, top.mix(s.y, t) + g - s.g, g)

    return Method("gt", init, step, averager(top), 2.0 * top.edges_per_step(),
                  dict(lr=lr.hp, tracker_start=tracker_start), top)


@register("d2")
def d2(topology=None, lr=None) -> Method:
    """D² / exact diffusion: x¹ = W(x⁰ − lr g⁰); x^{t+1} = W(2x^t − x^{t−1} − lr(g^t − g^{t−1}))
    (docs/theory.md §1 [code]; Tang et al. 2018 D², Yuan et al. exact diffusion). The first step is
    the general one with x^{−1} = x⁰, g^{−1} = 0. Convergence theory asks symmetric W with
    λ_min(W) > −1/3 (not enforced). comm = edges per step."""
    top = _doubly(topology, "d2")
    lr = lr_schedule(lr)

    def init(x0, oracle=None, rng=None):
        x0 = check_x0(x0, top, "d2")
        return D2State(x0.clone(), x0.clone(), torch.zeros_like(x0))

    def step(s, oracle, t, rng=None):
        _, g = oracle(s.x, t, rng)
        x = top.mix(2 * s.x - s.x_prev - lr(t) * (g - s.g_prev), t)
        return D2State(x, s.x, g)

    return Method("d2", init, step, averager(top), float(top.edges_per_step()), dict(lr=lr.hp), top)


@register("mt")
def mt(topology=None, lr=None, beta=0.9) -> Method:
    """Momentum Tracking (Takezawa et al., TMLR 2023; docs/theory.md §1 [code, official repo]):

        m_i ← β m_i + g_i;  x_i⁺ = Σ_j W_ij x_j − lr (m_i − c_i);  c_i⁺ = m_i + Σ_j W_ij (c_j − m_j),
        start c_i⁰ = m_i⁻¹ = (g_i⁰ − ḡ⁰)/(1 − β).

    [derived, tested in tests/test_tracking.py] With d = m − c (the direction used):
    d⁺ = W d + m⁺ − m, d⁰ = 1ḡ⁰ᵀ — gradient tracking of the momentum buffers. Equivalently
    d^t = β d^{t−1} + y^t (d^{−1} = 0) with y the GT tracker y⁺ = W y + g⁺ − g started at
    y⁰ = 1ḡ⁰ᵀ, and x⁺ = W x − lr d: GT followed by a per-node heavy-ball filter on the tracker.
    β = 0 is GT with tracker_start='mean' (NOT y⁰ = g⁰ unless g⁰ is already in consensus).
    Invariants: mean(c) = 0, mean(d) = mean(m), x̄⁺ = x̄ − lr m̄. comm = 2 × edges (x, c − m).
    """
    top = _doubly(topology, "mt")
    lr, beta = lr_schedule(lr), check_unit(beta, "beta")

    def init(x0, oracle, rng=None):
        x0 = check_x0(x0, top, "mt")
        _, g = oracle(x0, 0, rng)
        c = (g - _consensus_mean(g, top)) / (1 - beta)
        return MTState(x0.clone(), c, c.clone(), g)

    def step(s, oracle, t, rng=None):
        m = beta * s.m + s.g
        x = top.mix(s.x, t) - lr(t) * (m - s.c)
        c = m + top.mix(s.c - m, t)
        _, g = oracle(x, int(t) + 1, rng)
        return MTState(x, m, c, g)

    return Method("mt", init, step, averager(top), 2.0 * top.edges_per_step(),
                  dict(lr=lr.hp, beta=beta), top)
