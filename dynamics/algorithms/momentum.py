"""Decentralised SGD with momentum: DSGDm (ATC heavy ball), QG-DSGDm, DecentLaM.

docs/theory.md §1 (update rules, [code] Takezawa's and Lin et al.'s repositories) and §5 (fixed
points with exact gradients [derived]: QG-DSGDm and DecentLaM solve X = W(X - lr grad F(X)),
DSGDm solves it with step lr/(1 - beta)). Convention x_i <- sum_j W_ij x_j; stacks (..., K, d);
the gradient at x^t is drawn as oracle(x^t, t, rng). Model = average; comm = edges per step
(one vector per edge). `lr` is a number or a schedule t -> lr (`dynamics.base.lr_schedule`): step t
uses lr(t) in its update and in its divisions by lr (QG-DSGDm's d, DecentLaM's g̃).
"""
from __future__ import annotations

from typing import NamedTuple

import torch

from ..base import Method, averager, check_unit, check_x0, lr_schedule, need_topology, register


class MomentumState(NamedTuple):
    x: torch.Tensor   # (..., K, d) per-worker iterates
    m: torch.Tensor   # (..., K, d) momentum buffer (m-hat for QG-DSGDm), zeros at start


def _build(name, update, topology, lr, beta) -> Method:
    top = need_topology(topology, name)
    lr, beta = lr_schedule(lr), check_unit(beta, "beta")

    def init(x0, oracle=None, rng=None):
        x0 = check_x0(x0, top, name)
        return MomentumState(x0.clone(), torch.zeros_like(x0))

    def step(state, oracle, t, rng=None):
        return MomentumState(*update(state, top, lr(t), beta, oracle, t, rng))

    return Method(name, init, step, averager(top), float(top.edges_per_step()),
                  dict(lr=lr.hp, beta=beta), top)


def _dsgdm(s, top, lr, beta, oracle, t, rng):
    _, g = oracle(s.x, t, rng)
    m = beta * s.m + g
    return top.mix(s.x - lr * m, t), m


def _qg(s, top, lr, beta, oracle, t, rng):
    _, g = oracle(s.x, t, rng)
    x_half = s.x - lr * (beta * s.m + g)
    x = top.mix(x_half, t)
    d = (s.x - x) / lr
    return x, beta * s.m + (1 - beta) * d


def _decentlam(s, top, lr, beta, oracle, t, rng):
    _, g = oracle(s.x, t, rng)
    g_tilde = (s.x - top.mix(s.x - lr * g, t)) / lr
    m = beta * s.m + g_tilde
    return s.x - lr * m, m


@register("dsgdm")
def dsgdm(topology=None, lr=None, beta=0.9) -> Method:
    """DSGDm (ATC heavy ball): m_i <- beta m_i + g_i(x_i); x_i <- sum_j W_ij (x_j - lr m_j).
    docs/theory.md §1 [code, Takezawa]. m^0 = 0."""
    return _build("dsgdm", _dsgdm, topology, lr, beta)


@register("qg_dsgdm")
def qg_dsgdm(topology=None, lr=None, beta=0.9) -> Method:
    """Quasi-global momentum (Lin et al. 2021): x_i^½ = x_i - lr(beta m̂_i + g_i);
    x_i⁺ = sum_j W_ij x_j^½; d_i = (x_i - x_i⁺)/lr; m̂_i <- beta m̂_i + (1 - beta) d_i.
    docs/theory.md §1 [code, Lin et al. and Takezawa]. m̂^0 = 0."""
    return _build("qg_dsgdm", _qg, topology, lr, beta)


@register("decentlam")
def decentlam(topology=None, lr=None, beta=0.9) -> Method:
    """DecentLaM (Yuan et al. 2021): g̃_i = (x_i - sum_j W_ij (x_j - lr g_j))/lr;
    m_i <- beta m_i + g̃_i; x_i <- x_i - lr m_i. docs/theory.md §1 [code]. m^0 = 0."""
    return _build("decentlam", _decentlam, topology, lr, beta)
