"""Leader SGD with local and global leaders: 'lsgd' (docs/theory.md §7; Teng et al., NeurIPS 2019,
arXiv 1905.10395, eq. 2).

K workers in `groups` = n consecutive groups of l = K/n (group j = workers j·l .. j·l + l − 1).
At step t (one shared clock, t = 0, 1, ...), with pre-step values throughout:
    x ← x − η g(x) − λ·[τ_local | t](x − x̃^j) − λ_G·[τ | t](x − x̃),
x̃^j the leader of the worker's group, x̃ the global leader. A leader's own pull terms are
exactly zero (x − x̃ = 0), so its iterate is a plain SGD step.

The leader is the worker with the smallest loss estimate, ties to the lowest index
(`torch.argmin` returns the first minimum); the global leader is then always its own group's
leader. Estimate (`leader_loss`): 'minibatch' — the loss the oracle returns at this step
(the paper); 'running' — the mean of the last `avg_size` losses including this one (official
code; fewer at the start). Leaders are chosen with argmin + gather, vectorised over replicas.

`model(state)` is the worker that was the global leader at the last step (its post-step
iterate); before any step, worker 0. The topology is not used (it may be None).
`lr` is a number or a schedule t -> η(t) (`dynamics.base.lr_schedule`): step t uses η(t).
"""
from __future__ import annotations

import math
from typing import NamedTuple

import torch

from ..base import (Method, check_int, check_nonneg, check_workers, check_x0, local_K, lr_schedule, register,
                    worker_all, worker_argmin, worker_count, worker_gather, worker_ids)


class LsgdState(NamedTuple):
    x: torch.Tensor      # (..., K, d)
    score: torch.Tensor  # (..., K) loss estimate that chose the last leaders (0 before any step)
    hist: torch.Tensor   # (..., avg_size, K) last losses, oldest first ('running'; 0 rows else)
    seen: torch.Tensor   # (...,) number of losses seen so far (float, for the running mean)


_MODES = ("minibatch", "running")


def leader_index(score: torch.Tensor, topology=None) -> torch.Tensor:
    """Global leader: argmin of the loss estimate over workers, ties to the lowest index
    (an all_gather of the losses when distributed)."""
    return worker_argmin(score, topology)


def _local_leaders(x, score, n, topology=None):
    """Each worker's group leader (..., K, d): argmin within each group of l = K/n."""
    l = worker_count(x, topology) // n
    full = worker_all(score.unsqueeze(-1), topology).squeeze(-1)             # (..., K)
    idx = torch.argmin(full.reshape(*full.shape[:-1], n, l), dim=-1)        # (..., n)
    idx = idx + l * torch.arange(n, device=idx.device)                      # global ids
    lead = worker_gather(x, idx, topology)                                  # (..., n, d)
    return lead.index_select(-2, worker_ids(x, topology) // l)


@register("lsgd")
def lsgd(topology=None, lr=None, lam=0.1, lam_global=0.1, tau=1, tau_local=None, groups=1,
         leader_loss="minibatch", avg_size=1, K=None) -> Method:
    """Leader SGD (eq. 2 of Teng et al.; module docstring). λ = `lam` (local pull, every
    `tau_local` steps, default τ), λ_G = `lam_global` (global pull, every `tau` steps); official
    settings λ = λ_G = 0.1, τ ∈ {4, 16, 64}, τ_local = τ/4. groups = 1 is single-leader LSGD with
    pull λ + λ_G on steps where both apply.
    comm (vectors, each once, per step averaged over lcm(τ, τ_local)): a local pull sends each
    group leader to its l − 1 followers (K − n); a global pull sends the global leader to K − 1
    workers, of which the l − 1 in its own group already get that vector when both pulls fall
    on one step. Losses (scalars) are not counted."""
    lr = lr_schedule(lr)
    lam = check_nonneg(lam, "lam")
    lam_g = check_nonneg(lam_global, "lam_global")
    tau = check_int(tau, "tau")
    tau_l = tau if tau_local is None else check_int(tau_local, "tau_local")
    n = check_int(groups, "groups")
    if leader_loss not in _MODES:
        raise ValueError(f"leader_loss must be one of {_MODES}, got {leader_loss!r}")
    A = check_int(avg_size, "avg_size") if leader_loss == "running" else 0
    Kn = check_workers(topology, K)
    if Kn is not None:
        _check_groups(Kn, n)

    def init(x0, oracle=None, rng=None):
        x = check_x0(x0, K=Kn if topology is None else local_K(topology))
        _check_groups(worker_count(x, topology), n)
        lead = x.shape[:-1]
        return LsgdState(x.clone(), x.new_zeros(lead), x.new_zeros(*lead[:-1], A, lead[-1]),
                         x.new_zeros(lead[:-1]))

    def step(s, oracle, t, rng):
        loss, g = oracle(s.x, t, rng)
        if A:
            hist = torch.cat([s.hist[..., 1:, :], loss.unsqueeze(-2)], dim=-2)
            cnt = torch.clamp(s.seen + 1, max=A)                                  # (...,)
            rows = torch.arange(A, device=loss.device, dtype=loss.dtype)
            mask = (rows >= A - cnt.unsqueeze(-1)).to(loss.dtype)                 # (..., A)
            score = (hist * mask.unsqueeze(-1)).sum(-2) / cnt.unsqueeze(-1)
        else:
            hist, score = s.hist, loss
        x = s.x - lr(t) * g
        if int(t) % tau_l == 0 and lam:
            x = x - lam * (s.x - _local_leaders(s.x, score, n, topology))
        if int(t) % tau == 0 and lam_g:
            x = x - lam_g * (s.x - worker_gather(s.x, leader_index(score, topology), topology).unsqueeze(-2))
        return LsgdState(x, score, hist, s.seen + 1)

    def model(s):
        """The global leader of the last step (post-step iterate)."""
        return worker_gather(s.x, leader_index(s.score, topology), topology)

    def comm(k):
        L = math.lcm(tau, tau_l)
        tot = 0
        for t in range(L):
            loc, glo = t % tau_l == 0, t % tau == 0
            tot += (k - n) * loc + (k - 1) * glo - (k // n - 1) * (loc and glo)
        return tot / L

    hp = dict(lr=lr.hp, lam=lam, lam_global=lam_g, tau=tau, tau_local=tau_l, groups=n,
              leader_loss=leader_loss, avg_size=A)
    return Method("lsgd", init, step, model, float("nan") if Kn is None else comm(Kn), hp, topology)


def _check_groups(K, n):
    if K % n:
        raise ValueError(f"groups = {n} must divide the number of workers K = {K}")
