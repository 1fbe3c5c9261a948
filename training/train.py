"""K simulated workers on one device, fused into one batched CNN, stepped by a `dynamics` algorithm.

    python -m training --algo dsgd --topology ring --workers 16 --batch 64 --model resnet18 \
        --steps 2000 --data shared/data/cifar10-jpeg.tar.gz --device cuda
    python -m training --synthetic 256 --model lenet --width 0.5 --workers 4 --batch 8 --steps 20

Design (one screen):
* Worker stack: one flat (K, P) float32 master tensor x, row k = worker k's parameters
  (`models.Layout`). The forward is the K-wide network of `models.widen` (grouped convs,
  channels_last on CUDA) fed with x reshaped per parameter through `functional_call`; bf16
  autocast on CUDA only. The master, the mixing and the optimiser step stay float32 and are a
  few large kernels over (K, P).
* Oracle (docs/CONTRACTS.md): oracle(x (K,P), t, rng) -> (loss (K,), grad (K,P)) on the
  minibatch of step t (worker k: its own shard, its own order; `cifar.Augmented.batch(t)`),
  loss = cross-entropy (label smoothing optional), grad += wd·x (L2 weight decay).
* Step: state = dynamics.make(algo, topology, lr=lr(t), **hp).step(state, oracle, t, None).
  States hold no lr, so rebuilding the Method when lr changes and continuing with the same
  state is exact for every algorithm (gradient scaling would not be for momentum/tracking).
  lr(t) = lr · (K·B/256 if linear scaling, Goyal et al. 2017) · min(1, (t+1)/warmup) ·
  {1 | ½(1+cos(π t/T)) | γ^#{milestones ≤ t}}.
* BatchNorm (norm='batch'): per-worker running statistics in a (K, Pb) stack; bn_buffers='mix'
  (default) mixes them with W(t) after every step like parameters, so the averaged model's
  statistics (mean over workers) track its parameters; 'local' keeps them per worker.
* Metrics: test loss/acc of the model the method reports (the average for the gossip family)
  and of every worker, consensus distance (1/K) Σ_k ‖x_k − x̄‖², Hessian λ_max and trace of
  the reported model on a fixed training batch (analysis/flatness.py), images/s.
* Run folder runs/<time>-train/: config.json, metrics.jsonl, summary.json, checkpoint.pt
  (state, BatchNorm stack, next step; the data order is counter-based in (seed, t), so
  `--resume DIR` reproduces the uninterrupted run exactly).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F

import dynamics
from dynamics import topology as topo

from . import data as cifar
from . import models

SCHEDULES = ("constant", "cosine", "multistep")


@dataclass
class Config:
    algo: str = "dsgd"
    topology: str = "ring"
    workers: int = 16
    batch: int = 64                    # per worker
    model: str = "resnet18"
    width: float = 1.0
    norm: str = "group"                # 'group' | 'batch'
    bn_buffers: str = "mix"            # 'mix' | 'local'
    steps: int = 1000
    lr: float = 0.1
    linear_scaling: bool = False
    warmup: int = 0                    # steps
    schedule: str = "cosine"
    milestones: tuple = ()             # steps, for 'multistep'
    gamma: float = 0.1
    wd: float = 5e-4
    label_smoothing: float = 0.0
    hp: dict = field(default_factory=dict)   # extra algorithm hyper-parameters, e.g. beta
    split: str = "iid"                 # 'iid' | 'dirichlet' | 'classes'
    alpha: float = 0.5
    classes_per_worker: int = 2
    data: str | None = None
    synthetic: int = 0                 # > 0: random tiny data set of this many images
    synthetic_size: int = 8
    augment: bool = True
    seed: int = 0
    device: str = "cpu"
    dtype: str = "float32"
    amp: bool = True                   # bf16 autocast, CUDA only
    eval_every: int = 0                # 0: at the end only
    eval_batch: int = 1000
    flatness_every: int = 0            # 0: never
    flatness_batch: int = 256
    hutchinson_samples: int = 20
    checkpoint_every: int = 0
    stop_after: int = 0                # testing: stop (as if killed) after this many steps
    out: str = "runs"


def check(cfg: Config):
    if cfg.model not in models.MODELS:
        raise ValueError(f"model must be one of {sorted(models.MODELS)}, got {cfg.model!r}")
    if cfg.algo not in dynamics.names():
        raise ValueError(f"algo must be one of {dynamics.names()}, got {cfg.algo!r}")
    for name, val, ok in (("norm", cfg.norm, models.NORMS), ("bn_buffers", cfg.bn_buffers, ("mix", "local")),
                          ("schedule", cfg.schedule, SCHEDULES), ("dtype", cfg.dtype, ("float32", "float64"))):
        if val not in ok:
            raise ValueError(f"{name} must be one of {list(ok)}, got {val!r}")
    for name in ("workers", "batch", "steps"):
        if getattr(cfg, name) < 1:
            raise ValueError(f"{name} must be >= 1, got {getattr(cfg, name)}")
    if cfg.data is None and cfg.synthetic <= 0:
        raise ValueError("data: give --data PATH or --synthetic N")


def lr_at(cfg: Config, t: int) -> float:
    lr = cfg.lr * (cfg.workers * cfg.batch / 256 if cfg.linear_scaling else 1.0)
    if cfg.warmup > 0:
        lr *= min(1.0, (t + 1) / cfg.warmup)
    if cfg.schedule == "cosine":
        lr *= 0.5 * (1 + math.cos(math.pi * t / cfg.steps))
    elif cfg.schedule == "multistep":
        lr *= cfg.gamma ** sum(t >= m for m in cfg.milestones)
    return max(lr, 1e-12)   # dynamics.check_lr needs lr > 0 (cosine reaches 0 only at t = T)


def autocast(device: torch.device, amp: bool):
    on = amp and device.type == "cuda"
    return torch.autocast("cuda", dtype=torch.bfloat16, enabled=on) if on else torch.autocast("cpu", enabled=False)


def build_oracle(wide, layout, batch_fn, wd: float, label_smoothing: float = 0.0, amp: bool = True,
                 bn: dict | None = None):
    """oracle(x (K,P), t, rng) -> (loss (K,), grad (K,P)) on batch_fn(t) = (images (K,B,3,H,W),
    labels (K,B)); grad includes wd·x. `bn['b']` is the (K, Pb) BatchNorm stack, updated in place
    of the dict by training-mode forwards."""
    memo = {}

    def oracle(x, t, rng=None):
        t = int(t)
        if t not in memo:
            memo.clear()
            memo[t] = batch_fn(t)
        xb, yb = memo[t]
        K, B = yb.shape
        xr = x.detach().requires_grad_(True)
        with torch.enable_grad(), autocast(x.device, amp):
            logits, nb = models.fused_forward(wide, layout, xr, xb, None if bn is None else bn["b"])
            loss = F.cross_entropy(logits.to(x.dtype).reshape(K * B, -1), yb.reshape(-1), reduction="none",
                                   label_smoothing=label_smoothing).view(K, B).mean(1)
        (g,) = torch.autograd.grad(loss.sum(), xr)
        if bn is not None and nb is not None:
            bn["b"] = nb.detach()
        return loss.detach(), g + wd * x.detach()
    return oracle


@torch.no_grad()
def evaluate(wide, layout, flat, flat_b, x_u8, y, norm_fn, chunk: int, amp: bool):
    """Test loss (mean CE) and accuracy of each row of flat (n, P) -> (loss (n,), acc (n,))."""
    n = flat.shape[0]
    tot_l = torch.zeros(n, device=flat.device)
    tot_c = torch.zeros(n, device=flat.device)
    wide.eval()
    for s in range(0, y.shape[0], chunk):
        xb = norm_fn(x_u8[s:s + chunk])
        yb = y[s:s + chunk]
        with autocast(flat.device, amp):
            logits, _ = models.fused_forward(wide, layout, flat, xb.unsqueeze(0).expand(n, *xb.shape), flat_b)
        logits = logits.to(flat.dtype)
        tot_l += F.cross_entropy(logits.transpose(1, 2), yb.expand(n, -1), reduction="none").sum(1)
        tot_c += (logits.argmax(-1) == yb).sum(1)
    wide.train()
    return (tot_l / y.shape[0]).cpu(), (tot_c / y.shape[0]).cpu()


def flatness(wide1, layout, w, b, xb, yb, samples: int, seed: int) -> dict:
    """λ_max and Hutchinson trace of the Hessian of the training CE (no wd) at w (P,), float32."""
    from analysis.flatness import hutchinson_trace, top_eigenvalue
    wide1.eval()

    def loss(p):
        logits, _ = models.fused_forward(wide1, layout, p[None], xb[None], None if b is None else b[None])
        return F.cross_entropy(logits[0].to(p.dtype), yb)
    lam = top_eigenvalue(loss, w, tol=1e-3, maxiter=200, seed=seed)
    tr = hutchinson_trace(loss, w, samples=samples, seed=seed)
    wide1.train()
    return {"hess_top": lam, "hess_trace": tr.mean, "hess_trace_ci": [tr.low, tr.high]}


def load_data(cfg: Config) -> cifar.Dataset:
    if cfg.synthetic > 0:
        return cifar.synthetic(cfg.synthetic, size=cfg.synthetic_size, seed=cfg.seed)
    return cifar.load(cfg.data)


def _save(obj, path: Path):
    tmp = path.with_suffix(".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def train(cfg: Config, run_dir: Path, resume: bool = False) -> dict:
    check(cfg)
    dev, dtype = torch.device(cfg.device), getattr(torch, cfg.dtype)
    ds = load_data(cfg)
    K, classes = cfg.workers, len(ds.classes)
    shards = cifar.partition(ds.y_train, K, cfg.split, alpha=cfg.alpha, k=cfg.classes_per_worker, seed=cfg.seed)
    data = cifar.Augmented(ds, shards, cfg.batch, seed=cfg.seed, device=dev, dtype=dtype, augment=cfg.augment)
    torch.manual_seed(cfg.seed)
    net = models.build(cfg.model, classes, cfg.width, cfg.norm, image_size=ds.x_train.shape[1])
    layout = models.Layout(net)
    wide, wide1 = models.widen(net, K).to(dev, dtype), models.widen(net, 1).to(dev, dtype)
    x1, b1 = layout.flatten(net, dtype)
    top = topo.get(cfg.topology, K)
    bn = {"b": b1.to(dev).expand(K, -1).clone()} if layout.Pb else None
    oracle = build_oracle(wide, layout, data.batch, cfg.wd, cfg.label_smoothing, cfg.amp, bn)
    make = lambda t: dynamics.make(cfg.algo, top, lr=lr_at(cfg, t), **cfg.hp)
    ckpt, metrics_path = run_dir / "checkpoint.pt", run_dir / "metrics.jsonl"
    if resume:
        ck = torch.load(ckpt, map_location=dev, weights_only=False)
        state, t0 = ck["state"], ck["step"]
        if bn is not None:
            bn["b"] = ck["bn"]
        lines = metrics_path.read_text().splitlines() if metrics_path.exists() else []
        metrics_path.write_text("".join(ln + "\n" for ln in lines if json.loads(ln)["step"] <= t0))
    else:
        state, t0 = make(0).init(x1.to(dev).expand(K, -1).clone(), oracle, None), 0
    fx, fy = (data.normalise(data.x[:cfg.flatness_batch, :, 4:-4, 4:-4]), data.y[:cfg.flatness_batch])
    last, seen, clock, t = {}, 0, time.perf_counter(), t0

    def record(t_done):
        nonlocal seen, clock
        if dev.type == "cuda":
            torch.cuda.synchronize()
        ips = seen / max(time.perf_counter() - clock, 1e-9)
        m = make(max(t_done - 1, 0))
        w = m.model(state).reshape(1, -1)
        bm = None if bn is None else bn["b"].mean(0, keepdim=True)
        la, aa = evaluate(wide1, layout, w, bm, data.x_test, data.y_test, data.normalise, cfg.eval_batch, cfg.amp)
        lk, ak = evaluate(wide, layout, state.x, None if bn is None else bn["b"], data.x_test, data.y_test,
                          data.normalise, max(1, cfg.eval_batch // K), cfg.amp)
        rec = {"step": t_done, "lr": lr_at(cfg, max(t_done - 1, 0)), "test_loss": float(la[0]), "test_acc": float(aa[0]),
                   "worker_acc": ak.tolist(), "worker_loss": lk.tolist(),
                   "consensus": float(((state.x - state.x.mean(0)) ** 2).sum(1).mean()), "images_per_s": ips}
        if cfg.flatness_every and (t_done % cfg.flatness_every == 0 or t_done == cfg.steps):
            rec.update(flatness(wide1, layout, w[0].float() if dtype == torch.float32 else w[0],
                                bm, fx, fy, cfg.hutchinson_samples, cfg.seed))
        with metrics_path.open("a") as f:
            f.write(json.dumps(rec) + "\n")
        print(f"step {t_done:6d}  lr {rec['lr']:.4f}  test acc {rec['test_acc']:.4f}  loss {rec['test_loss']:.4f}  "
              f"worker acc {min(rec['worker_acc']):.3f}..{max(rec['worker_acc']):.3f}  "
              f"consensus {rec['consensus']:.3e}  {ips:,.0f} img/s", flush=True)
        seen, clock = 0, time.perf_counter()
        return rec

    for t in range(t0, cfg.steps):
        state = make(t).step(state, oracle, t, None)
        if bn is not None and cfg.bn_buffers == "mix":
            bn["b"] = top.mix(bn["b"], t)
        seen += K * cfg.batch
        done = t + 1
        if cfg.checkpoint_every and done % cfg.checkpoint_every == 0 or done == cfg.steps:
            _save({"state": state, "bn": None if bn is None else bn["b"], "step": done, "seed": cfg.seed}, ckpt)
        if cfg.eval_every and done % cfg.eval_every == 0 and done != cfg.steps:
            last = record(done)
        if cfg.stop_after and done >= cfg.stop_after and done != cfg.steps:
            return {"stopped_at": done}
    last = record(cfg.steps)
    summary = dict(last, run_dir=str(run_dir), algo=cfg.algo, model=cfg.model, workers=K)
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=1))
    return summary


def parse(argv) -> tuple[Config, str | None]:
    p = argparse.ArgumentParser(prog="python -m training", description=__doc__.split("\n")[0])
    for f in dataclasses.fields(Config):
        flag, d = "--" + f.name.replace("_", "-"), f.default
        if f.name == "hp":
            p.add_argument(flag, nargs="*", default=[], metavar="KEY=VALUE", help="algorithm hyper-parameters")
        elif f.name == "milestones":
            p.add_argument(flag, type=int, nargs="*", default=[])
        elif isinstance(d, bool):
            p.add_argument(flag, action=argparse.BooleanOptionalAction, default=d)
        else:
            p.add_argument(flag, type=type(d) if d is not None else str, default=d)
    p.add_argument("--resume", default=None, metavar="DIR", help="continue the run in DIR")
    a = vars(p.parse_args(argv))
    resume = a.pop("resume")
    a["hp"] = {k: _num(v) for k, v in (s.split("=", 1) for s in a["hp"])}
    a["milestones"] = tuple(a["milestones"])
    return Config(**a), resume


def _num(v: str):
    for cast in (int, float):
        try:
            return cast(v)
        except ValueError:
            pass
    return v


def main(argv=None) -> Path:
    argv = sys.argv[1:] if argv is None else list(argv)
    cfg, resume = parse(argv)
    if resume:
        run_dir = Path(resume)
        saved = json.loads((run_dir / "config.json").read_text())
        saved["milestones"] = tuple(saved["milestones"])
        over = {k: getattr(cfg, k) for k in ("device",) if f"--{k}" in argv}
        over["stop_after"] = cfg.stop_after            # a resumed run runs to the end unless told
        cfg = Config(**{**saved, **over})
    else:
        check(cfg)
        run_dir = Path(cfg.out) / f"{time.strftime('%Y%m%d-%H%M%S')}-train"
        i = 1
        while run_dir.exists():
            run_dir, i = Path(cfg.out) / f"{time.strftime('%Y%m%d-%H%M%S')}-{i}-train", i + 1
        run_dir.mkdir(parents=True)
        (run_dir / "config.json").write_text(json.dumps(dataclasses.asdict(cfg), indent=1))
    print(f"run folder {run_dir}", flush=True)
    train(cfg, run_dir, resume=bool(resume))
    return run_dir


def cli(argv=None) -> int:
    """`python -m training`: bad input -> one line on stderr and exit status 2 (no traceback)."""
    try:
        main(argv)
    except (ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(cli())
