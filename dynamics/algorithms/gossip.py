"""Averaging family without momentum: C-SGD, local SGD, D-SGD (DGD/AWC), diffusion ATC and CTA.

docs/theory.md §1. Convention: x_i <- sum_j W_ij x_j (`topology.mix`), stacks (..., K, d).
Noise indexing: the gradient at iterate x^t is drawn as `oracle(x^t, t, rng)`.
`comm` counts vectors sent per step by all workers together (mean over the period).
`lr` is a number or a schedule t -> lr (`dynamics.base.lr_schedule`): step t uses lr(t).
"""
from __future__ import annotations

from typing import NamedTuple

import torch

from ..base import (Method, average, averager, check_int, check_unit, check_x0, local_K,
                    lr_schedule, need_topology, register, worker_mean)
from ..topology import require_doubly_stochastic


class SGDState(NamedTuple):
    x: torch.Tensor   # (..., K, d) per-worker iterates
    m: torch.Tensor   # (..., K, d) heavy-ball buffer (zeros when beta = 0)


class PlainState(NamedTuple):
    x: torch.Tensor   # (..., K, d)


def allreduce_comm(topology) -> float:
    """Ring all-reduce of one vector: 2(K-1) vectors in all (nan without a topology to give K)."""
    return float("nan") if topology is None else 2.0 * (topology.K - 1)


@register("csgd")
def csgd(topology=None, lr=None, beta=0.0) -> Method:
    """Centralised (mini-batch) SGD with optional heavy ball, one model replicated on K workers.

    m <- beta m + (1/K) sum_k g_k(w);  w <- w - lr m   (docs/theory.md §1; beta = 0: w <- w - lr g-bar).
    init replicates w^0 = mean_k x0_k on every worker; model = w. comm = 2(K-1) (all-reduce).
    """
    lr, beta = lr_schedule(lr), check_unit(beta, "beta")

    def init(x0, oracle=None, rng=None):
        x0 = check_x0(x0, topology, "csgd")
        w = worker_mean(x0, topology).unsqueeze(-2).expand_as(x0).clone()
        return SGDState(w, torch.zeros_like(x0))

    def step(state, oracle, t, rng=None):
        _, g = oracle(state.x, t, rng)
        m = beta * state.m + worker_mean(g, topology, keepdim=True).expand_as(g)
        return SGDState(state.x - lr(t) * m, m)

    return Method("csgd", init, step, averager(topology), allreduce_comm(topology),
                  dict(lr=lr.hp, beta=beta), topology)


@register("local_sgd")
def local_sgd(topology=None, lr=None, period=1) -> Method:
    """Local SGD: x_k <- x_k - lr g_k(x_k) on every worker; after steps t with (t+1) % period == 0
    the workers are replaced by their exact average (Stich 2019). period = 1 is C-SGD with model
    averaging. comm = 2(K-1)/period (one all-reduce per period). Model = average."""
    lr = lr_schedule(lr)
    period = check_int(period, "period (steps between averagings)")

    def init(x0, oracle=None, rng=None):
        return PlainState(check_x0(x0, topology, "local_sgd").clone())

    def step(state, oracle, t, rng=None):
        _, g = oracle(state.x, t, rng)
        x = state.x - lr(t) * g
        if (int(t) + 1) % period == 0:
            x = worker_mean(x, topology, keepdim=True).expand_as(x).clone()
        return PlainState(x)

    return Method("local_sgd", init, step, averager(topology), allreduce_comm(topology) / period,
                  dict(lr=lr.hp, period=period), topology)


def _gossip(name, doc_update):
    def builder(topology=None, lr=None) -> Method:
        # the fixed point (and the average's dynamics) of D-SGD/ATC/CTA is that of the
        # average only when W is doubly stochastic (docs/theory.md §1): refuse any other W
        top = require_doubly_stochastic(need_topology(topology, name), name)
        lr_ = lr_schedule(lr)

        def init(x0, oracle=None, rng=None):
            return PlainState(check_x0(x0, top, name).clone())

        def step(state, oracle, t, rng=None):
            return PlainState(doc_update(state.x, top, lr_(t), oracle, t, rng))

        return Method(name, init, step, averager(top), float(top.edges_per_step()),
                      dict(lr=lr_.hp), top)
    return builder


def _dsgd_update(x, top, lr, oracle, t, rng):
    _, g = oracle(x, t, rng)
    return top.mix(x, t) - lr * g


def _atc_update(x, top, lr, oracle, t, rng):
    _, g = oracle(x, t, rng)
    return top.mix(x - lr * g, t)


def _cta_update(x, top, lr, oracle, t, rng):
    phi = top.mix(x, t)
    _, g = oracle(phi, t, rng)
    return phi - lr * g


dsgd = register("dsgd")(_gossip("dsgd", _dsgd_update))
dsgd.__doc__ = """D-SGD / consensus / DGD (Zhu et al.'s AWC): x_i <- sum_j W_ij x_j - lr g_i(x_i).
docs/theory.md §1. Model = average; comm = edges per step (one vector per edge)."""
atc = register("atc")(_gossip("atc", _atc_update))
atc.__doc__ = """Diffusion adapt-then-combine: x_i <- sum_j W_ij (x_j - lr g_j(x_j)) (docs/theory.md §1,
Sayed). Model = average; comm = edges per step."""
cta = register("cta")(_gossip("cta", _cta_update))
cta.__doc__ = """Diffusion combine-then-adapt: phi_i = sum_j W_ij x_j; x_i <- phi_i - lr g_i(phi_i)
(docs/theory.md §1, Sayed). The gradient is drawn at phi with time index t. Model = average;
comm = edges per step."""
