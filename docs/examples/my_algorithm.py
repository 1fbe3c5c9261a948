"""A worked example of the bring-your-own-algorithm kit: EXTRA (Shi, Ling, Wu, Yin, SIAM J.
Optim. 2015, eq. 3.3), which decentlab does not ship.

    x¹ = W x⁰ − lr g(x⁰);   x^{t+1} = x^t + W x^t − ½(x^{t−1} + W x^{t−1}) − lr (g(x^t) − g(x^{t−1}))

(the paper's (I + W)x^t − W̃x^{t−1} with W̃ = (I + W)/2). W x^{t−1} is kept from the previous
step, so each step mixes once: comm = edges. With exact gradients the fixed point is the
exact minimiser 1x*ᵀ of the average objective (no heterogeneity bias), like gradient tracking.
Registered with the public decorator; `python -m verify.scorecard --plugin docs.examples.my_algorithm`
(from the repository root) scores it next to the built-in algorithms.
"""
from typing import NamedTuple

import torch

import dynamics
from dynamics.base import averager


class ExtraState(NamedTuple):
    x: torch.Tensor        # (..., K, d) x^t
    x_prev: torch.Tensor   # x^{t-1}
    wx_prev: torch.Tensor  # W x^{t-1}
    g_prev: torch.Tensor   # g(x^{t-1})


@dynamics.register("extra")
def extra(topology=None, lr=None) -> dynamics.Method:
    lr = dynamics.base.check_lr(lr)
    top = dynamics.topology.require_doubly(topology, "extra")

    def init(x0, oracle=None, rng=None):
        return ExtraState(x0.clone(), x0.clone(), x0.clone(), torch.zeros_like(x0))

    def step(s, oracle, t, rng=None):
        _, g = oracle(s.x, t, rng)
        wx = top.mix(s.x, t)
        if int(t) == 0:  # x¹ = W x⁰ − lr g⁰ (a branch on the clock, not on tensor values)
            return ExtraState(wx - lr * g, s.x, wx, g)
        x = s.x + wx - 0.5 * (s.x_prev + s.wx_prev) - lr * (g - s.g_prev)
        return ExtraState(x, s.x, wx, g)

    return dynamics.Method("extra", init, step, averager(top), float(top.edges_per_step()), dict(lr=lr), top)


SCORECARD_HP = {"extra": {"lr": 0.1}}
