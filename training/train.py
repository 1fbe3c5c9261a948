"""K simulated workers on one device, fused into one batched CNN, stepped by a `dynamics` algorithm.

    python -m training --algo dsgd --topology ring --workers 16 --batch 64 --model resnet18 \
        --steps 2000 --data shared/data/cifar10-jpeg.tar.gz --device cuda
    python -m training --synthetic 100 --model lenet --width 0.5 --workers 4 --batch 8 --steps 10

Design (one screen):
* Worker stack: one flat (K, P) float32 master tensor x, row k = worker k's parameters
  (`models.Layout`). The forward is the K-wide network of `models.widen` (grouped convs,
  channels_last on CUDA) fed with x reshaped per parameter through `functional_call`; bf16
  autocast on CUDA only. The master, the mixing and the optimiser step stay float32 and are a
  few large kernels over (K, P).
* Oracle (docs/CONTRACTS.md): oracle(x (K,P), t, rng) -> (loss (K,), grad (K,P)) on the
  minibatch of step t (worker k: its own shard, its own order; `cifar.Augmented.batch(t)`),
  loss = cross-entropy (label smoothing optional), grad += wd·x (L2 weight decay).
* Step: state = method.step(state, oracle, t, None), the Method built once by `method(cfg, W)`
  = dynamics.make(algo, W, lr=t -> lr(t), **hp) (a schedule, dynamics.base.lr_schedule: step t
  computes exactly what a Method built with the number lr(t) computes; scaling the gradient
  instead would not be exact for momentum/tracking).
  lr(t) = lr · (K·B/256 if linear scaling, Goyal et al. 2017) · min(1, (t+1)/warmup) ·
  {1 | ½(1+cos(π t/T)) | γ^#{milestones ≤ t}}.
* BatchNorm (norm='batch'): per-worker running statistics in a (K, Pb) stack; bn_buffers='mix'
  (default) mixes them with W(t) after every step like parameters, so the averaged model's
  statistics (mean over workers) track its parameters; 'local' keeps them per worker.
* Metrics: test loss/acc of the model the method reports (the average for the gossip family)
  and of every worker, consensus distance (1/K) Σ_k ‖x_k − x̄‖², Hessian λ_max and trace of
  the reported model on a fixed training batch (analysis/flatness.py), images/s.
* Run folder runs/<time>-train/, written through dynamics/runfolder.py (atomic files, fsynced
  JSON lines): config.json, metrics.jsonl, summary.json (`completed: true`), checkpoint.pt
  (state, BatchNorm stack, next step; the data order is counter-based in (seed, t), so
  `--resume DIR` reproduces the uninterrupted run exactly).
"""
from __future__ import annotations

import argparse
import dataclasses
import io
import json
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F

import dynamics
from dynamics import runfolder
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
    train_images: int = 0              # > 0: a class-balanced subset of this many training images
    test_images: int = 0               # > 0: a class-balanced subset of this many test images
    image_size: int = 0                # > 0: average-pool the images to this side (must divide it)
    synthetic: int = 0                 # > 0: random tiny data set of this many images
    synthetic_size: int = 16
    augment: bool = True
    seed: int = 0
    device: str = "cpu"
    dtype: str = "float32"
    amp: bool = True                   # bf16 autocast, CUDA only
    channels_last: str = "auto"        # 'auto' (CUDA only) | 'on' | 'off'
    threads: int = 0                   # > 0: torch.set_num_threads(threads)
    eval_every: int = 0                # 0: at the end only
    eval_workers: str = "all"          # test every worker at 'all' evaluations | at the 'end' | 'none'
    eval_batch: int = 1000
    log_every: int = 0                 # > 0: a cheap line (minibatch loss, consensus) every N steps
    flatness_every: int = 0            # 0: never
    flatness_batch: int = 256
    flatness_iters: int = 100          # Hessian-vector products at most for λ_max (power iteration)
    hutchinson_samples: int = 20
    checkpoint_every: int = 0
    stop_after: int = 0                # testing: stop (as if killed) after this many steps
    out: str = "runs"


CHOICES = {"model": tuple(sorted(models.MODELS)), "topology": tuple(topo.names()) if hasattr(topo, "names") else None,
           "norm": models.NORMS, "bn_buffers": ("mix", "local"), "schedule": SCHEDULES,
           "split": ("iid", "dirichlet", "classes"), "dtype": ("float32", "float64"),
           "channels_last": ("auto", "on", "off"), "eval_workers": ("all", "end", "none")}


def check(cfg: Config):
    """Every field of cfg valid, or ValueError naming the field (nothing is created before this)."""
    if cfg.model not in models.MODELS:
        raise ValueError(f"model must be one of {sorted(models.MODELS)}, got {cfg.model!r}")
    if cfg.algo not in dynamics.names():
        raise ValueError(f"algo must be one of {dynamics.names()}, got {cfg.algo!r}")
    for name, val, ok in (("norm", cfg.norm, models.NORMS), ("bn_buffers", cfg.bn_buffers, ("mix", "local")),
                          ("schedule", cfg.schedule, SCHEDULES), ("split", cfg.split, CHOICES["split"]),
                          ("channels_last", cfg.channels_last, CHOICES["channels_last"]),
                          ("eval_workers", cfg.eval_workers, CHOICES["eval_workers"])):
        if val not in ok:
            raise ValueError(f"{name} must be one of {list(ok)}, got {val!r}")
    if cfg.dtype not in CHOICES["dtype"]:
        raise ValueError(f"dtype must be one of {list(CHOICES['dtype'])} (float16/bfloat16 masters are not "
                         f"supported; --amp gives bf16 compute on CUDA), got {cfg.dtype!r}")
    for name in ("workers", "batch", "steps", "eval_batch", "flatness_batch", "flatness_iters",
                 "hutchinson_samples", "synthetic_size"):
        if getattr(cfg, name) < 1:
            raise ValueError(f"{name} must be >= 1, got {getattr(cfg, name)}")
    for name in ("eval_every", "log_every", "flatness_every", "checkpoint_every", "stop_after", "warmup",
                 "threads", "train_images", "test_images", "image_size", "synthetic"):
        if getattr(cfg, name) < 0:
            raise ValueError(f"{name} must be >= 0, got {getattr(cfg, name)}")
    if not (isinstance(cfg.lr, (int, float)) and math.isfinite(cfg.lr) and cfg.lr > 0):
        raise ValueError(f"lr must be a finite number > 0, got {cfg.lr}")
    if not cfg.width > 0:
        raise ValueError(f"width must be > 0, got {cfg.width}")
    if not 0 <= cfg.label_smoothing < 1:
        raise ValueError(f"label_smoothing must be in [0, 1), got {cfg.label_smoothing}")
    if cfg.wd < 0:
        raise ValueError(f"wd must be >= 0, got {cfg.wd}")
    if cfg.split == "dirichlet" and not cfg.alpha > 0:
        raise ValueError(f"alpha must be > 0, got {cfg.alpha}")
    if cfg.split == "classes" and cfg.classes_per_worker < 1:
        raise ValueError(f"classes_per_worker must be >= 1, got {cfg.classes_per_worker}")
    if not isinstance(cfg.hp, dict) or "lr" in cfg.hp:
        raise ValueError("hp: give the step size with --lr, not --hp lr=...")
    if cfg.data is None and cfg.synthetic <= 0:
        raise ValueError("data: give --data PATH or --synthetic N")
    if cfg.data is not None and cfg.synthetic > 0:
        raise ValueError("data: give either --data PATH or --synthetic N, not both")
    if cfg.data is not None and not Path(cfg.data).expanduser().exists():
        raise ValueError(f"data: {cfg.data!r} does not exist")
    if cfg.model == "lenet" and (cfg.synthetic > 0 and cfg.synthetic_size < 14):
        raise ValueError(f"synthetic_size must be >= 14 for lenet, got {cfg.synthetic_size}")
    dev = str(cfg.device)
    if not (dev == "cpu" or dev.startswith("cuda")):
        raise ValueError(f"device must be 'cpu' or 'cuda[:N]', got {dev!r}")
    if dev.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {dev!r}: CUDA is not available on this machine")
    try:
        topo.get(cfg.topology, cfg.workers)
    except (ValueError, KeyError) as e:
        raise ValueError(f"topology: {e}") from None


def lr_at(cfg: Config, t: int) -> float:
    lr = cfg.lr * (cfg.workers * cfg.batch / 256 if cfg.linear_scaling else 1.0)
    if cfg.warmup > 0:
        lr *= min(1.0, (t + 1) / cfg.warmup)
    if cfg.schedule == "cosine":
        lr *= 0.5 * (1 + math.cos(math.pi * t / cfg.steps))
    elif cfg.schedule == "multistep":
        lr *= cfg.gamma ** sum(t >= m for m in cfg.milestones)
    return max(lr, 1e-12)   # a step size must be > 0 (cosine reaches 0 only at t = T)


def method(cfg: Config, top) -> dynamics.Method:
    """cfg's algorithm on `top`, built once with the schedule t -> lr_at(cfg, t) as its lr."""
    return dynamics.make(cfg.algo, top, lr=lambda t: lr_at(cfg, t), **cfg.hp)


def autocast(device: torch.device, amp: bool):
    on = amp and device.type == "cuda"
    return torch.autocast("cuda", dtype=torch.bfloat16, enabled=on) if on else torch.autocast("cpu", enabled=False)


def build_oracle(wide, layout, batch_fn, wd: float, label_smoothing: float = 0.0, amp: bool = True,
                 bn: dict | None = None, channels_last: bool | None = None, losses: dict | None = None):
    """oracle(x (K,P), t, rng) -> (loss (K,), grad (K,P)) on batch_fn(t) = (images (K,B,3,H,W),
    labels (K,B)); grad includes wd·x. `bn['b']` is the (K, Pb) BatchNorm stack, updated in place
    of the dict by training-mode forwards. `losses` (if given) receives {t: mean minibatch loss}."""
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
            logits, nb = models.fused_forward(wide, layout, xr, xb, None if bn is None else bn["b"], channels_last)
            loss = F.cross_entropy(logits.to(x.dtype).reshape(K * B, -1), yb.reshape(-1), reduction="none",
                                   label_smoothing=label_smoothing).view(K, B).mean(1)
        (g,) = torch.autograd.grad(loss.sum(), xr)
        if bn is not None and nb is not None:
            bn["b"] = nb.detach()
        if losses is not None:
            losses.clear()
            losses[t] = float(loss.detach().mean())
        return loss.detach(), g + wd * x.detach()
    return oracle


@torch.no_grad()
def evaluate(wide, layout, flat, flat_b, x_u8, y, norm_fn, chunk: int, amp: bool, channels_last: bool | None = None):
    """Test loss (mean CE) and accuracy of each row of flat (n, P) -> (loss (n,), acc (n,))."""
    n = flat.shape[0]
    tot_l = torch.zeros(n, device=flat.device)
    tot_c = torch.zeros(n, device=flat.device)
    wide.eval()
    for s in range(0, y.shape[0], chunk):
        xb = norm_fn(x_u8[s:s + chunk])
        yb = y[s:s + chunk]
        with autocast(flat.device, amp):
            logits, _ = models.fused_forward(wide, layout, flat, xb.unsqueeze(0).expand(n, *xb.shape), flat_b,
                                             channels_last)
        logits = logits.to(flat.dtype)
        tot_l += F.cross_entropy(logits.transpose(1, 2), yb.expand(n, -1), reduction="none").sum(1)
        tot_c += (logits.argmax(-1) == yb).sum(1)
    wide.train()
    return (tot_l / y.shape[0]).cpu(), (tot_c / y.shape[0]).cpu()


def flatness(wide1, layout, w, b, xb, yb, samples: int, seed: int, maxiter: int = 200,
             channels_last: bool | None = None) -> dict:
    """λ_max and Hutchinson trace of the Hessian of the training CE (no wd) at w (P,), float32.
    λ_max by power iteration on Hessian-vector products (PyHessian's method: the eigenvalue of
    largest magnitude, the top one near a minimum), at most `maxiter` products, stopped when the
    Rayleigh quotient changes by < 1e-3 relative; trace by `samples` Rademacher probes."""
    from analysis.flatness import hutchinson_trace, hvp_fn
    wide1.eval()

    def loss(p):
        logits, _ = models.fused_forward(wide1, layout, p[None], xb[None], None if b is None else b[None],
                                         channels_last)
        return F.cross_entropy(logits[0].to(p.dtype), yb)
    f = hvp_fn(loss, w)
    gen = torch.Generator().manual_seed(int(seed))
    v = torch.randn(w.numel(), generator=gen).to(w.device, w.dtype)
    v, lam, iters = v / v.norm(), float("nan"), 0
    for iters in range(1, maxiter + 1):
        hv = f(v)
        new = float((v * hv).sum())
        n = float(hv.norm())
        if n == 0:
            lam = 0.0
            break
        v = hv / n
        if iters > 1 and abs(new - lam) <= 1e-3 * max(abs(new), 1e-12):
            lam = new
            break
        lam = new
    tr = hutchinson_trace(loss, w, samples=samples, seed=seed)
    wide1.train()
    return {"hess_top": lam, "hess_top_iters": iters, "hess_trace": tr.mean, "hess_trace_ci": [tr.low, tr.high]}


def load_data(cfg: Config) -> cifar.Dataset:
    """The data set of cfg, cut to the class-balanced subsets train_images / test_images (the same
    subset for every seed: it is drawn with a fixed generator)."""
    if cfg.synthetic > 0:
        ds = cifar.synthetic(cfg.synthetic, size=cfg.synthetic_size, seed=cfg.seed)
    else:
        ds = cifar.load(cfg.data)
    return cifar.downsample(cifar.subset(ds, cfg.train_images, cfg.test_images), cfg.image_size)


def write_json(path: Path, obj):
    """A run-folder JSON file (indent 1, no final newline: the format of the recorded runs),
    atomically (dynamics.runfolder.write_text)."""
    runfolder.write_text(path, json.dumps(obj, indent=1))


def _save(obj, path: Path):
    buf = io.BytesIO()
    torch.save(obj, buf)
    runfolder.write_bytes(path, buf.getvalue())


def train(cfg: Config, run_dir: Path, resume: bool = False, progress: str = "", ds=None) -> dict:
    """Train cfg into run_dir; `progress` prefixes the progress lines (e.g. 'run 3/40'); `ds` the
    data set of cfg when already loaded (`load_data(cfg)`)."""
    check(cfg)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    dev, dtype = torch.device(cfg.device), getattr(torch, cfg.dtype)
    ds = load_data(cfg) if ds is None else ds
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
    cl = cfg.channels_last == "on" or (cfg.channels_last == "auto" and dev.type == "cuda")
    if cl:
        wide, wide1 = wide.to(memory_format=torch.channels_last), wide1.to(memory_format=torch.channels_last)
    memo_loss = {} if cfg.log_every else None
    oracle = build_oracle(wide, layout, data.batch, cfg.wd, cfg.label_smoothing, cfg.amp, bn, cl, memo_loss)
    alg = method(cfg, top)
    ckpt, metrics_path = run_dir / "checkpoint.pt", run_dir / "metrics.jsonl"
    if resume:
        ck = torch.load(ckpt, map_location=dev, weights_only=False)
        state, t0 = ck["state"], ck["step"]
        if bn is not None:
            bn["b"] = ck["bn"]
        runfolder.truncate_jsonl(metrics_path, lambda r: r["step"] <= t0)
    else:
        state, t0 = alg.init(x1.to(dev).expand(K, -1).clone(), oracle, None), 0
    fx, fy = (data.normalise(data.x[:cfg.flatness_batch, :, 4:-4, 4:-4]), data.y[:cfg.flatness_batch])
    last, seen, clock, t = {}, 0, time.perf_counter(), t0
    n_train, t_start = sum(len(s) for s in shards), time.perf_counter()
    seen_total = 0

    def line(t_done, extra):
        el = time.perf_counter() - t_start
        ips_all = seen_total / max(el, 1e-9)
        eta = (cfg.steps - t_done) * K * cfg.batch / max(ips_all, 1e-9)
        epoch = t_done * K * cfg.batch / max(n_train, 1)
        print(f"{progress + '  ' if progress else ''}step {t_done}/{cfg.steps}  epoch {epoch:.2f}  {extra}  "
              f"{ips_all:,.0f} img/s  ETA {eta:.0f} s", flush=True)

    def record(t_done):
        nonlocal seen, clock
        if dev.type == "cuda":
            torch.cuda.synchronize()
        ips = seen / max(time.perf_counter() - clock, 1e-9)
        w = alg.model(state).reshape(1, -1)
        bm = None if bn is None else bn["b"].mean(0, keepdim=True)
        la, aa = evaluate(wide1, layout, w, bm, data.x_test, data.y_test, data.normalise, cfg.eval_batch, cfg.amp, cl)
        rec = {"step": t_done, "epoch": t_done * K * cfg.batch / max(n_train, 1), "lr": lr_at(cfg, max(t_done - 1, 0)),
               "test_loss": float(la[0]), "test_acc": float(aa[0]),
               "consensus": float(((state.x - state.x.mean(0)) ** 2).sum(1).mean()), "images_per_s": ips}
        if cfg.eval_workers == "all" or (cfg.eval_workers == "end" and t_done == cfg.steps):
            lk, ak = evaluate(wide, layout, state.x, None if bn is None else bn["b"], data.x_test, data.y_test,
                              data.normalise, max(1, cfg.eval_batch // K), cfg.amp, cl)
            rec.update(worker_acc=ak.tolist(), worker_loss=lk.tolist())
        if cfg.flatness_every and (t_done % cfg.flatness_every == 0 or t_done == cfg.steps):
            rec.update(flatness(wide1, layout, w[0].float() if dtype == torch.float32 else w[0],
                                bm, fx, fy, cfg.hutchinson_samples, cfg.seed, cfg.flatness_iters, cl))
        runfolder.append_jsonl(metrics_path, rec)
        wa = (f"  worker acc {min(rec['worker_acc']):.3f}..{max(rec['worker_acc']):.3f}"
              if "worker_acc" in rec else "")
        line(t_done, f"lr {rec['lr']:.4f}  test acc {rec['test_acc']:.4f}  loss {rec['test_loss']:.4f}{wa}  "
                     f"consensus {rec['consensus']:.3e}")
        seen, clock = 0, time.perf_counter()
        return rec

    for t in range(t0, cfg.steps):
        state = alg.step(state, oracle, t, None)
        if bn is not None and cfg.bn_buffers == "mix":
            bn["b"] = top.mix(bn["b"], t)
        seen += K * cfg.batch
        seen_total += K * cfg.batch
        done = t + 1
        if cfg.log_every:
            if done % cfg.log_every == 0 and done != cfg.steps and not (cfg.eval_every and done % cfg.eval_every == 0):
                rec = {"step": done, "kind": "train", "lr": lr_at(cfg, t),
                       "consensus": float(((state.x - state.x.mean(0)) ** 2).sum(1).mean())}
                mb = memo_loss.get(t) if memo_loss is not None else None
                if mb is not None:
                    rec["minibatch_loss"] = mb
                runfolder.append_jsonl(metrics_path, rec)
                line(done, f"lr {rec['lr']:.4f}  consensus {rec['consensus']:.3e}"
                           + (f"  minibatch loss {mb:.3f}" if mb is not None else ""))
        if cfg.checkpoint_every and done % cfg.checkpoint_every == 0 or done == cfg.steps:
            _save({"state": state, "bn": None if bn is None else bn["b"], "step": done, "seed": cfg.seed}, ckpt)
        if cfg.eval_every and done % cfg.eval_every == 0 and done != cfg.steps:
            last = record(done)
        if cfg.stop_after and done >= cfg.stop_after and done != cfg.steps:
            return {"stopped_at": done}
    last = record(cfg.steps)
    summary = dict(last, run_dir=str(run_dir), algo=cfg.algo, model=cfg.model, workers=K, completed=True,
                   train_images=n_train, test_images=int(data.y_test.shape[0]),
                   wall_s=time.perf_counter() - t_start)
    write_json(run_dir / "summary.json", summary)
    return summary


HELP = {
    "algo": "the dynamics algorithm", "topology": "gossip graph (ignored by the master/leader methods)",
    "workers": "number of simulated workers K", "batch": "minibatch per worker",
    "model": "network", "width": "channel-width multiplier", "norm": "normalisation layers",
    "bn_buffers": "BatchNorm running statistics: mixed like parameters or kept per worker",
    "steps": "training steps", "lr": "base step size (> 0); per 256 images with --linear-scaling",
    "linear_scaling": "multiply lr by K*B/256 (Goyal et al. 2017)", "warmup": "linear warm-up steps",
    "schedule": "step-size schedule", "milestones": "steps where multistep multiplies lr by gamma",
    "gamma": "multistep factor", "wd": "L2 weight decay", "label_smoothing": "cross-entropy label smoothing",
    "hp": "extra algorithm hyper-parameters, KEY=VALUE (not lr)", "split": "how the data are split to workers",
    "alpha": "Dirichlet concentration (split=dirichlet)", "classes_per_worker": "k classes per worker (split=classes)",
    "data": "CIFAR-10: cifar-10-batches-py folder, image-folder tree, or a .tar.gz of either",
    "train_images": "class-balanced subset of the training images (0: all)",
    "test_images": "class-balanced subset of the test images (0: all)",
    "image_size": "average-pool the images to this side, e.g. 16 (0: native)",
    "synthetic": "random learnable data of N images instead of --data", "synthetic_size": "image side of --synthetic",
    "augment": "random crop + flip", "seed": "seed (init, shards, order, augmentation)",
    "device": "cpu or cuda[:N]", "dtype": "master dtype", "amp": "bf16 autocast (CUDA only)",
    "channels_last": "channels_last memory format (auto: on CUDA only)", "threads": "torch CPU threads (0: torch's default)",
    "eval_every": "test evaluation every N steps (0: at the end only)",
    "eval_workers": "also test every worker at every evaluation ('all'), at the end only, or never",
    "eval_batch": "images per evaluation chunk", "log_every": "cheap progress line every N steps (0: never)",
    "flatness_every": "Hessian λ_max and trace every N steps and at the end (0: never)",
    "flatness_batch": "training images for the Hessian", "flatness_iters": "Hessian-vector products at most for λ_max (power iteration)",
    "hutchinson_samples": "Hutchinson probes for the trace", "checkpoint_every": "checkpoint every N steps (0: at the end)",
    "stop_after": "testing: stop as if killed after N steps", "out": "parent folder of the run folder",
}


class _Parser(argparse.ArgumentParser):
    def error(self, message):          # a ValueError like every other refusal (cli: one line, status 2)
        raise ValueError(message)


def parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m training", description=__doc__.split("\n")[0],
                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    for f in dataclasses.fields(Config):
        flag, d = "--" + f.name.replace("_", "-"), f.default
        h = HELP.get(f.name, f.name)
        ch = CHOICES.get(f.name)
        if f.name == "algo":
            ch = tuple(dynamics.names())
        if f.name == "hp":
            p.add_argument(flag, nargs="*", default=[], metavar="KEY=VALUE", help=h)
        elif f.name == "milestones":
            p.add_argument(flag, type=int, nargs="*", default=[], help=h)
        elif isinstance(d, bool):
            p.add_argument(flag, action=argparse.BooleanOptionalAction, default=d, help=h)
        else:
            p.add_argument(flag, type=type(d) if d is not None else str, default=d, help=h,
                           **({"choices": ch} if ch else {}))
    p.add_argument("--resume", default=None, metavar="DIR",
                   help="continue the run in DIR (the other options must equal its config.json, except --device)")
    return p


def parse_hp(items) -> dict:
    out = {}
    for s in items:
        k, eq, v = s.partition("=")
        if not eq or not k:
            raise ValueError(f"hp: expected KEY=VALUE, got {s!r}")
        if k == "lr":
            raise ValueError("hp: give the step size with --lr, not --hp lr=...")
        if k in out:
            raise ValueError(f"hp: {k!r} given twice")
        out[k] = _num(v)
    return out


def parse(argv) -> tuple[Config, str | None]:
    a = vars(parser().parse_args(argv))
    resume = a.pop("resume")
    a["hp"] = parse_hp(a["hp"])
    a["milestones"] = tuple(a["milestones"])
    return Config(**a), resume


def _num(v: str):
    for cast in (int, float):
        try:
            return cast(v)
        except ValueError:
            pass
    return v


def _given(argv, name: str) -> bool:
    flag = "--" + name.replace("_", "-")
    return any(x == flag or x.startswith(flag + "=") or x == "--no-" + flag[2:] for x in argv)


RESUME_FREE = ("device", "stop_after", "out", "threads")   # may differ between a run and its resumption


def resume_config(argv, cfg: Config, run_dir: Path) -> Config:
    """The saved configuration of run_dir, after checking that every option given on the command
    line equals it (except RESUME_FREE); a mismatch -> ValueError listing the differing keys."""
    if not (run_dir / "config.json").is_file():
        raise ValueError(f"resume: {str(run_dir)!r} has no config.json")
    if not (run_dir / "checkpoint.pt").is_file():
        raise ValueError(f"resume: {str(run_dir)!r} has no checkpoint.pt")
    saved = runfolder.read_json(run_dir / "config.json", "resume: config")
    saved["milestones"] = tuple(saved.get("milestones", ()))
    known = {f.name for f in dataclasses.fields(Config)}
    unknown = sorted(set(saved) - known)
    if unknown:
        raise ValueError(f"resume: config.json has unknown keys {unknown}")
    base = dataclasses.asdict(Config(**saved))
    now = dataclasses.asdict(cfg)
    given = [k for k in known - set(RESUME_FREE) if _given(argv, k)]
    runfolder.check_resume({k: base[k] for k in given}, {k: now[k] for k in given},
                           f"resume of {str(run_dir)!r} (its config.json -> the options given)")
    over = {k: now[k] for k in ("device", "threads") if _given(argv, k)}
    over["stop_after"] = cfg.stop_after            # a resumed run runs to the end unless told
    return Config(**{**base, **over})


def main(argv=None) -> Path:
    argv = sys.argv[1:] if argv is None else list(argv)
    cfg, resume = parse(argv)
    if resume:
        run_dir = Path(resume)
        cfg = resume_config(argv, cfg, run_dir)
        check(cfg)
        ds = load_data(cfg)
    else:
        check(cfg)
        ds = load_data(cfg)                        # a corrupt data set is refused before any folder exists
        run_dir = Path(cfg.out) / f"{time.strftime('%Y%m%d-%H%M%S')}-train"
        i = 1
        while run_dir.exists():
            run_dir, i = Path(cfg.out) / f"{time.strftime('%Y%m%d-%H%M%S')}-{i}-train", i + 1
        run_dir.mkdir(parents=True)
        write_json(run_dir / "config.json", dataclasses.asdict(cfg))
    print(f"run folder {run_dir}", flush=True)
    train(cfg, run_dir, resume=bool(resume), ds=ds)
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
