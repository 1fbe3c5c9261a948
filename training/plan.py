"""The CIFAR-10 JPEG q75 run matrix of the `cifar.*` claims as data, and a resumable runner for it.

    python -m training.plan list [--results results/cifar]
    python -m training.plan run CALL_ID --out DIR [--data PATH] [--device cuda] [--pack FILE.tar.gz]
    python -m training.plan summarize results/cifar

A *run* is one `training.train` invocation (name, trainer argv, seed); a *call* is a list of runs
that fits one GPU tool call (at most 10 min; planned at <= CALL_BUDGET_S by the estimates below).
`run` trains each run of a call into DIR/cifar/<run>/ (config.json, metrics.jsonl, summary.json,
posthoc.json, plan.json, env.json), skips runs already complete and resumes a run left with a
checkpoint, then (with --pack) writes the finished folders, checkpoints excluded, to one tar.gz:
the GPU tool returns at most 8 files, so one archive per call is what comes back.

posthoc.json adds what the trainer does not record: the final *training* loss / accuracy of the
reported model (plain cross-entropy, eval mode, no augmentation, on POSTHOC_TRAIN_IMAGES fixed
training images; Cao et al.'s optimisation error), the parameter count P, and the bytes sent per
step, comm·P·4 (float32 vectors; `dynamics.Method.comm` = vectors sent per step by all workers).

Estimates (seconds on an H100) come from speed anchors measured there (docs/gpu_runbook.md): grouped 16-worker ResNet-18
trains at ~33k img/s at 16 × 64 and ~50k img/s at 16 × 512; "a single ResNet-20 is launch-bound
(same img/s as ResNet-18)", so ResNet-20 gets the ResNet-18 rates. LeNet has no anchor: it is
taken as launch-bound at STEP_FLOOR_S per step. `list --results DIR` re-estimates from the
images/s recorded by finished runs with the same (model, workers, batch).
"""
from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import os
import shlex
import sys
import tarfile
import time
from dataclasses import dataclass, field
from pathlib import Path

CALL_BUDGET_S = 480.0          # planned ceiling per call (the tool's hard limit is 600 s)
SETUP_S = 45.0                 # per call: process start, JPEG decode of 60k images, CUDA init
PER_RUN_S = 1.5                # per run: data to the device (uint8, padded), model build, post-hoc eval
STEP_FLOOR_S = 0.006           # launch-bound floor per training step (fwd + bwd + method step)
EVAL_FLOOR_S = 0.3             # one evaluation: averaged model + K workers on 10k test images,
                               # forward only (~1/3 of a training step's cost per image)
FLATNESS_S = 6.0               # Lanczos λ_max (<= 200 HVPs) + 20 Hutchinson samples, 256 images
POSTHOC_TRAIN_IMAGES = 10_000
RESULTS_SUBDIR = "cifar"        # GPU recordings: results/cifar/<run>/
CPU_RESULTS_SUBDIR = "cifar-cpu"  # CPU recordings: results/cifar-cpu/<run>/
DATASET_NAME = "CIFAR-10 JPEG q75 (cifar10-jpeg)"
FILES = ("config.json", "metrics.jsonl", "summary.json", "posthoc.json", "plan.json", "env.json")

# img/s of the K-wide grouped network on the H100 by (model, per-worker batch): the H100 speed anchors.
RATES = {("resnet18", 64): 33_000, ("resnet18", 512): 50_000,
         ("resnet20", 64): 33_000, ("resnet20", 128): 40_000, ("resnet20", 512): 50_000}


@dataclass(frozen=True)
class Run:
    """One trainer invocation. `labels` are what the claims group by (claim, method, batch, …)."""
    name: str
    argv: tuple
    seed: int
    labels: dict = field(default_factory=dict, hash=False, compare=False)

    def trainer_argv(self) -> list[str]:
        return [*self.argv, "--seed", str(self.seed)]

    def flag(self, name: str, default=None):
        a = list(self.argv)
        key = "--" + name.replace("_", "-")
        return a[len(a) - 1 - a[::-1].index(key) + 1] if key in a else default


@dataclass(frozen=True)
class Call:
    id: str
    claim: str
    runs: tuple
    note: str = ""


def _argv(**kw) -> tuple:
    out = []
    for k, v in kw.items():
        flag = "--" + k.replace("_", "-")
        if isinstance(v, bool):
            out.append(flag if v else "--no-" + k.replace("_", "-"))
        elif isinstance(v, dict):
            out += [flag, *(f"{a}={b}" for a, b in v.items())]
        else:
            out += [flag, str(v)]
    return tuple(out)


# ------------------------------------------------------------------ the four claims' runs

C1_STEPS, C1_WORKERS = 250, 16
C1_METHODS = {"csgd": ("csgd", "complete"), "dsgd-ring": ("dsgd", "ring"),
              "dsgd-exp": ("dsgd", "exponential"), "atc-ring": ("atc", "ring")}


def c1_run(method: str, total_batch: int, seed: int) -> Run:
    """Claims 1-2 (Zhu et al.; Cao et al.): ResNet-20-BN, 16 workers, total batch 1024 or 8192
    (64 or 512 per worker), lr 0.1 per 256 images under the linear scaling rule (Goyal et al.),
    30-step warm-up then cosine, same iteration budget C1_STEPS; Hessian at the end."""
    algo, top = C1_METHODS[method]
    b = total_batch // C1_WORKERS
    argv = _argv(algo=algo, topology=top, workers=C1_WORKERS, batch=b, model="resnet20", norm="batch",
                 steps=C1_STEPS, lr=0.1, linear_scaling=True, warmup=30, schedule="cosine", wd=5e-4,
                 eval_every=C1_STEPS // 6, flatness_every=C1_STEPS)
    return Run(f"c1-{method}-b{total_batch}-s{seed}", argv, seed,
               {"claim": "c1", "method": method, "total_batch": total_batch})


C3_STEPS, C3_WORKERS, C3_KS, C3_LRS = 600, 8, (2, 4, 10), (0.01, 0.05)
C3_METHODS = ("mt", "dsgdm", "qg_dsgdm", "decentlam", "gt")


def c3_run(method: str, k: int, lr: float, seed: int) -> Run:
    """Claim 3 (Takezawa et al.): LeNet (no normalisation layers), 8 workers on a ring, k classes
    per worker (k = 10: every class, the least heterogeneous split), β = 0.9 for the momentum
    methods, plain SGD steps for GT, step size from C3_LRS, batch 32 per worker, cosine."""
    hp = {} if method == "gt" else {"beta": 0.9}
    argv = _argv(algo=method, topology="ring", workers=C3_WORKERS, batch=32, model="lenet", steps=C3_STEPS,
                 lr=lr, schedule="cosine", warmup=0, wd=1e-4, split="classes", classes_per_worker=k,
                 eval_every=C3_STEPS // 4, **({"hp": hp} if hp else {}))
    return Run(f"c3-{method}-k{k}-lr{lr:g}-s{seed}", argv, seed,
               {"claim": "c3", "method": method, "k": k, "lr": lr})


C4_STEPS, C4_WORKERS, C4_TAU = 600, 8, 4
C4_METHODS = {"allreduce": ("csgd", {}), "localsgd": ("local_sgd", {"period": C4_TAU}),
              "downpour": ("downpour", {"tau": C4_TAU}), "easgd": ("easgd_async", {"tau": C4_TAU}),
              "lsgd": ("lsgd", {"tau": C4_TAU, "lam": 0.1, "lam_global": 0.1})}


def c4_run(method: str, seed: int) -> Run:
    """Claim 4 (Zhang et al.; Teng et al.): ResNet-20-GN, 8 workers × 128 images, plain SGD lr 0.1
    (every worker; C-SGD averages the 8 gradients), cosine after a 50-step warm-up, communication
    period τ = C4_TAU for local SGD (exact averaging), DOWNPOUR, EASGD (α = 0.9/K) and LSGD
    (λ = λ_G = 0.1); all-reduce C-SGD communicates every step."""
    algo, hp = C4_METHODS[method]
    argv = _argv(algo=algo, topology="complete", workers=C4_WORKERS, batch=128, model="resnet20", norm="group",
                 steps=C4_STEPS, lr=0.1, schedule="cosine", warmup=50, wd=5e-4, eval_every=C4_STEPS // 10,
                 **({"hp": hp} if hp else {}))
    return Run(f"c4-{method}-tau{C4_TAU}-s{seed}", argv, seed,
               {"claim": "c4", "method": method, "tau": 1 if method == "allreduce" else C4_TAU})


SEEDS = (0, 1)


def calls() -> list[Call]:
    """The calls in the order a GPU machine should run them (each ≤ CALL_BUDGET_S estimated)."""
    out = [Call(f"c1-s{s}", "cifar.dsgd_vs_csgd_batch",
                tuple(c1_run(m, b, s) for b in (1024, 8192) for m in C1_METHODS),
                f"claims 1-2, total batch 1024 and 8192, seed {s}") for s in SEEDS]
    out.append(Call("c3", "cifar.momentum_tracking_heterogeneity",
                    tuple(c3_run(m, k, lr, s) for s in SEEDS for k in C3_KS for m in C3_METHODS for lr in C3_LRS),
                    f"claim 3, seeds {list(SEEDS)}"))
    out.append(Call("c4", "cifar.easgd_lsgd", tuple(c4_run(m, s) for s in SEEDS for m in C4_METHODS),
                    f"claim 4, τ = {C4_TAU}, seeds {list(SEEDS)}"))
    return out


# ------------------------------------------------------------------ the CPU profile
# The same four questions at a scale a shared 2-core machine trains in <= 45 minutes: the model
# benchmarks/cpu_model_choice.py measured best in accuracy per CPU-minute, 16 fused workers, a
# class-balanced subset of CPU_TRAIN_IMAGES training / CPU_TEST_IMAGES test images average-pooled
# to CPU_IMAGE_SIZE², no augmentation, a few epochs, 2 torch threads. Runs go to OUT/<run>/.

CPU_MODEL, CPU_WIDTH, CPU_CHANNELS_LAST, CPU_WORKERS, CPU_THREADS = "lenet_gn", 1.0, "off", 16, 2
CPU_IMAGE_SIZE = 16            # CIFAR-10 average-pooled 2×2 to 16 × 16: ~5× cheaper than 32 × 32
CPU_TRAIN_IMAGES, CPU_TEST_IMAGES, CPU_POSTHOC_IMAGES = 10000, 2000, 2000
CPU_RATE = 2000.0              # img/s of the fused 16-worker LeNet step on 2 loaded threads (measured)
CPU_SETUP_S = 8.0              # per run: process, cached data, model build
CPU_CHUNK_BUDGET_S = 420.0     # planned ceiling per chunk (each chunk is run under `timeout 600`)
CPU_C1_EPOCHS, CPU_C1_BATCHES = 5, (256, 2048)
CPU_C1_METHODS = {"csgd": ("csgd", "complete"), "dsgd-ring": ("dsgd", "ring"),
                  "dsgd-exp": ("dsgd", "exponential")}
CPU_C3_STEPS, CPU_C3_KS, CPU_C3_BETA = 200, (2, 10), 0.9
CPU_C3_METHODS = ("mt", "dsgdm", "qg_dsgdm", "decentlam", "dsgd")
CPU_C4_STEPS, CPU_C4_TAU = 200, 4
CPU_C4_METHODS = {"localsgd": ("local_sgd", {"period": CPU_C4_TAU}),
                  "downpour": ("downpour", {"tau": CPU_C4_TAU}),
                  "easgd": ("easgd_async", {"tau": CPU_C4_TAU}),
                  "eamsgd": ("eamsgd", {"tau": CPU_C4_TAU}),
                  "lsgd": ("lsgd", {"tau": CPU_C4_TAU, "lam": 0.1, "lam_global": 0.1}),
                  "lsgd-4leaders": ("lsgd", {"tau": CPU_C4_TAU, "lam": 0.1, "lam_global": 0.1,
                                             "groups": 4})}
CPU_COMMON = dict(model=CPU_MODEL, width=CPU_WIDTH, norm="group", workers=CPU_WORKERS,
                  train_images=CPU_TRAIN_IMAGES, test_images=CPU_TEST_IMAGES, image_size=CPU_IMAGE_SIZE,
                  augment=False, threads=CPU_THREADS, eval_workers="none", eval_batch=500,
                  channels_last=CPU_CHANNELS_LAST)


def cpu_c1_run(method: str, total_batch: int, seed: int) -> Run:
    """Claims 1-2 at CPU scale (Zhu et al.; Cao et al.): LeNet-5-GN, 16 workers, total batch 256 or
    2048, CPU_C1_EPOCHS epochs of the subset (8× fewer steps at the large batch), lr 0.2 per 256
    images under linear scaling with a warm-up over the first 20% of the steps (at least 2), then cosine; plain
    SGD (no momentum); consensus every few steps; Hessian λ_max / trace at the end."""
    algo, top = CPU_C1_METHODS[method]
    b = total_batch // CPU_WORKERS
    steps = max(1, round(CPU_C1_EPOCHS * CPU_TRAIN_IMAGES / total_batch))
    argv = _argv(algo=algo, topology=top, batch=b, steps=steps, lr=0.2, linear_scaling=True,
                 warmup=max(2, steps // 5), schedule="cosine", wd=5e-4, eval_every=max(1, steps // 3),
                 log_every=max(1, steps // 12), flatness_every=steps, flatness_batch=128, flatness_iters=20,
                 hutchinson_samples=5, **CPU_COMMON)
    return Run(f"c1-{method}-b{total_batch}-s{seed}", argv, seed,
               {"claim": "c1", "method": method, "total_batch": total_batch, "epochs": CPU_C1_EPOCHS})


def cpu_c3_run(method: str, k: int, seed: int) -> Run:
    """Claim 3 at CPU scale (Takezawa et al.): LeNet-5-GN, 16 workers on a ring, k classes per worker,
    batch 16 per worker, CPU_C3_STEPS steps; β = 0.9 and lr 0.02 for the momentum methods, lr 0.2
    = 0.02/(1 − β) for plain D-SGD (the same effective step), cosine."""
    hp = {} if method == "dsgd" else {"beta": CPU_C3_BETA}
    lr = 0.2 if method == "dsgd" else 0.02
    argv = _argv(algo=method, topology="ring", batch=16, steps=CPU_C3_STEPS, lr=lr, schedule="cosine",
                 warmup=0, wd=1e-4, split="classes", classes_per_worker=k, eval_every=CPU_C3_STEPS // 4,
                 **CPU_COMMON, **({"hp": hp} if hp else {}))
    return Run(f"c3-{method}-k{k}-s{seed}", argv, seed, {"claim": "c3", "method": method, "k": k, "lr": lr})


def cpu_c4_run(method: str, seed: int, lr: float = 0.2) -> Run:
    """Claim 4 at CPU scale (Zhang et al.; Teng et al.): LeNet-5-GN, 16 workers × 16 images, plain SGD
    at step size `lr` (one of cpu_c4_lrs(method); 0.2 is the first recording's), cosine after a 10-step
    warm-up, communication period τ = CPU_C4_TAU for local SGD, DOWNPOUR, EASGD, EAMSGD and LSGD (one
    leader; or 4 groups of 4 with local leaders, same τ); C-SGD at equal communication is local SGD
    (exact averaging every τ steps). The lr 0.2 runs keep their original names (no lr in the name)."""
    algo, hp = CPU_C4_METHODS[method]
    argv = _argv(algo=algo, topology="complete", batch=16, steps=CPU_C4_STEPS, lr=lr, schedule="cosine",
                 warmup=10, wd=5e-4, eval_every=CPU_C4_STEPS // 4, **CPU_COMMON, **({"hp": hp} if hp else {}))
    tag = "" if lr == 0.2 else f"-lr{lr:g}"
    return Run(f"c4-{method}-tau{CPU_C4_TAU}{tag}-s{seed}", argv, seed,
               {"claim": "c4", "method": method, "tau": CPU_C4_TAU, "lr": lr})


# Claim 4's step-size grid (the papers tune η per method): every method gets CPU_C4_LRS; EAMSGD
# (momentum δ = 0.99: the effective step is ~η/(1 − δ) = 100 η) and DOWNPOUR (the center receives the
# accumulated τ-step updates of all K workers) also CPU_C4_LRS_LOW. verify.claims_cifar selects, per
# method, the lr with the lowest mean final TRAINING loss (posthoc.json, fixed training images), never
# the test accuracy, and compares the test accuracies of the selected runs.
# The other methods also get CPU_C4_LRS_HIGH: on the first grid their training loss was lowest at its
# upper edge (0.2), so the grid was extended one step up (a minimum at an edge is no minimum).
CPU_C4_LRS = (0.2, 0.05, 0.0125)
CPU_C4_LRS_LOW = (0.003125, 0.00078125)
CPU_C4_LRS_HIGH = (0.4,)
CPU_C4_LOW_METHODS = ("eamsgd", "downpour")


def cpu_c4_lrs(method: str) -> tuple:
    return CPU_C4_LRS + (CPU_C4_LRS_LOW if method in CPU_C4_LOW_METHODS else CPU_C4_LRS_HIGH)


def cpu_estimate_run(run: Run) -> float:
    """Wall seconds at CPU_RATE: training images + test evaluations of the averaged model (forward
    ≈ 1/3 of a step per image) + Hessian (≈ 3 steps' cost per HVP image) + post-hoc."""
    steps, K, B = int(run.flag("steps")), int(run.flag("workers")), int(run.flag("batch"))
    every = int(run.flag("eval_every", 0) or 0)
    evals = (steps // every if every else 0) + 1
    img = steps * K * B + CPU_TEST_IMAGES * evals / 3 + CPU_POSTHOC_IMAGES / 3
    if int(run.flag("flatness_every", 0) or 0):
        img += 4 * int(run.flag("flatness_batch")) * (int(run.flag("flatness_iters"))
                                                     + int(run.flag("hutchinson_samples")))
    return CPU_SETUP_S + img / CPU_RATE


def _chunks(prefix: str, claim: str, runs: list, note: str) -> list[Call]:
    out, cur, t = [], [], 0.0
    for r in runs:
        e = cpu_estimate_run(r)
        if cur and t + e > CPU_CHUNK_BUDGET_S:
            out.append(cur)
            cur, t = [], 0.0
        cur.append(r)
        t += e
    if cur:
        out.append(cur)
    return [Call(f"{prefix}-{i + 1}", claim, tuple(c), note) for i, c in enumerate(out)]


def cpu_calls() -> list[Call]:
    """The CPU profile's chunks (each <= CPU_CHUNK_BUDGET_S estimated), in run order."""
    c1 = [cpu_c1_run(m, b, s) for s in SEEDS for b in CPU_C1_BATCHES for m in CPU_C1_METHODS]
    c3 = [cpu_c3_run(m, k, s) for s in SEEDS for k in CPU_C3_KS for m in CPU_C3_METHODS]
    c4 = [cpu_c4_run(m, s) for s in SEEDS for m in CPU_C4_METHODS]
    c4lr = [cpu_c4_run(m, s, lr) for s in SEEDS for m in CPU_C4_METHODS for lr in cpu_c4_lrs(m)
            if lr not in (0.2, *CPU_C4_LRS_HIGH)]
    c4hi = [cpu_c4_run(m, s, lr) for s in SEEDS for m in CPU_C4_METHODS for lr in cpu_c4_lrs(m)
            if lr in CPU_C4_LRS_HIGH]
    return (_chunks("cpu-c1", "cifar.dsgd_vs_csgd_batch", c1, "claims 1-2 (CPU)")
            + _chunks("cpu-c3", "cifar.momentum_tracking_heterogeneity", c3, "claim 3 (CPU)")
            + _chunks("cpu-c4", "cifar.easgd_lsgd", c4, "claim 4 (CPU)")
            + _chunks("cpu-c4lr", "cifar.easgd_lsgd", c4lr, "claim 4 (CPU): the other step sizes of the grid")
            + _chunks("cpu-c4hi", "cifar.easgd_lsgd", c4hi, "claim 4 (CPU): the grid one step above 0.2"))


PROFILES = ("gpu", "cpu")


def profile_calls(profile: str = "gpu") -> list[Call]:
    if profile not in PROFILES:
        raise ValueError(f"profile must be one of {list(PROFILES)}, got {profile!r}")
    return calls() if profile == "gpu" else cpu_calls()


def get_call(call_id: str, profile: str = "gpu") -> Call:
    cs = profile_calls(profile)
    for c in cs:
        if c.id == call_id:
            return c
    raise ValueError(f"call_id must be one of {[c.id for c in cs]} (profile {profile}), got {call_id!r}")


def all_runs(profile: str = "gpu") -> list[Run]:
    return [r for c in profile_calls(profile) for r in c.runs]


# ------------------------------------------------------------------ estimates

def estimate_run(run: Run, rates: dict | None = None) -> float:
    """GPU seconds: PER_RUN_S + steps · max(STEP_FLOOR_S, K·B / img/s) + evaluations · max(EVAL_FLOOR_S,
    10⁴(K+1)/(3·img/s)) (+ FLATNESS_S
    when the Hessian is measured); img/s from `rates` (measured) or RATES (the H100 anchors)."""
    steps, K, B = int(run.flag("steps")), int(run.flag("workers")), int(run.flag("batch"))
    model = run.flag("model")
    ips = (rates or {}).get((model, K, B)) or RATES.get((model, B))
    per_step = max(STEP_FLOOR_S, K * B / ips) if ips else STEP_FLOOR_S
    every = int(run.flag("eval_every", 0) or 0)
    evals = (steps // every if every else 0) + 1
    eval_s = max(EVAL_FLOOR_S, 10_000 * (K + 1) / (3 * ips)) if ips else EVAL_FLOOR_S
    flat = FLATNESS_S if int(run.flag("flatness_every", 0) or 0) else 0.0
    return PER_RUN_S + steps * per_step + evals * eval_s + flat


def estimate_call(call: Call, rates: dict | None = None) -> float:
    return SETUP_S + sum(estimate_run(r, rates) for r in call.runs)


def measured_rates(results: Path) -> dict:
    """(model, workers, batch) -> median images/s over the recorded runs' metrics."""
    seen: dict = {}
    for d in sorted(Path(results).glob("*/config.json")):
        cfg = json.loads(d.read_text())
        m = d.parent / "metrics.jsonl"
        if not m.is_file():
            continue
        ips = [json.loads(ln).get("images_per_s", 0) for ln in m.read_text().splitlines() if ln.strip()]
        ips = [v for v in ips if v and v > 0]
        if ips:
            seen.setdefault((cfg["model"], cfg["workers"], cfg["batch"]), []).extend(ips)
    return {k: sorted(v)[len(v) // 2] for k, v in seen.items()}


# ------------------------------------------------------------------ running

def is_complete(run_dir: Path) -> bool:
    """Every file of FILES present and summary.json says completed (a run killed mid-write, or
    stopped early, is not complete)."""
    d = Path(run_dir)
    if not all((d / f).is_file() for f in FILES):
        return False
    try:
        return json.loads((d / "summary.json").read_text()).get("completed") is True
    except (ValueError, OSError):
        return False


def env_info(device: str) -> dict:
    """Versions, device, git revision, hostname (env.json); no import from verify."""
    import platform
    import socket
    import subprocess

    import numpy
    import torch

    from dynamics.runfolder import cpu_info as _cpu_info
    try:
        rev = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10,
                             cwd=Path(__file__).resolve().parent).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        rev = None
    rev = rev or os.environ.get("DECENTLAB_REVISION")   # a snapshot (git archive) of a commit
    info = {"python": sys.version.split()[0], "platform": platform.platform(), "numpy": numpy.__version__,
            "torch": torch.__version__, "device": device, "cuda_available": bool(torch.cuda.is_available()),
            "git_revision": rev, "hostname": socket.gethostname(), "torch_threads": torch.get_num_threads(),
            **_cpu_info()}
    if info["cuda_available"]:
        info["cuda_device"] = torch.cuda.get_device_name(0)
    return info


def env_record(device: str, command: str, trainer_command: str, wall_s: float, dataset: str = DATASET_NAME) -> dict:
    import torch

    info = env_info(device)
    info.update(command=command, trainer_command=trainer_command, wall_s=wall_s, dataset=dataset,
                date=time.strftime("%Y-%m-%d %H:%M:%S %z"))
    info["machine"] = info.get("cuda_device") or f"{info['hostname']} (cpu)"
    if torch.cuda.is_available() and str(device).startswith("cuda"):
        info["cuda"] = torch.version.cuda
    return info


def posthoc(run_dir: Path, cfg, n_train: int = POSTHOC_TRAIN_IMAGES) -> dict:
    """Training CE / accuracy of the reported model on n_train fixed training images (eval mode,
    no augmentation, no label smoothing), P, comm, bytes per step = comm · P · 4."""
    import numpy as np
    import torch

    from dynamics import topology as topo

    from . import data as cifar
    from . import models, train
    dev, dtype = torch.device(cfg.device), getattr(torch, cfg.dtype)
    ds = train.load_data(cfg)
    net = models.build(cfg.model, len(ds.classes), cfg.width, cfg.norm, image_size=ds.x_train.shape[1])
    layout = models.Layout(net)
    wide1 = models.widen(net, 1).to(dev, dtype)
    ck = torch.load(Path(run_dir) / "checkpoint.pt", map_location=dev, weights_only=False)
    m = train.method(cfg, topo.get(cfg.topology, cfg.workers))
    w = m.model(ck["state"]).reshape(1, -1)
    bm = None if ck.get("bn") is None else ck["bn"].mean(0, keepdim=True)
    n = min(n_train, len(ds.y_train))
    idx = np.sort(np.random.default_rng([cfg.seed, 7]).choice(len(ds.y_train), n, replace=False))
    x = torch.as_tensor(ds.x_train[idx]).permute(0, 3, 1, 2).contiguous().to(dev)
    y = torch.as_tensor(ds.y_train[idx]).to(dev)
    mean = torch.tensor(cifar.MEAN, dtype=dtype, device=dev).view(3, 1, 1) * 255
    std = torch.tensor(cifar.STD, dtype=dtype, device=dev).view(3, 1, 1) * 255
    loss, acc = train.evaluate(wide1, layout, w, bm, x, y, lambda u: (u.to(dtype) - mean) / std,
                               cfg.eval_batch, cfg.amp)
    return {"train_loss": float(loss[0]), "train_acc": float(acc[0]), "train_eval_images": n,
            "params": layout.P, "comm_vectors_per_step": float(m.comm),
            "bytes_per_step": float(m.comm) * layout.P * 4}


def run_one(run: Run, root: Path, data: str | None, device: str, extra: list[str], command: str,
            call_id: str = "", progress: str = "", posthoc_images: int = POSTHOC_TRAIN_IMAGES) -> str:
    """Train `run` into root/<name>/ -> 'skipped' | 'resumed' | 'done' | 'stopped' (left resumable)."""
    from dynamics import runfolder

    from . import train
    d = Path(root) / run.name
    if is_complete(d):
        return "skipped"
    t0 = time.perf_counter()
    src = ["--data", str(data)] if data else []
    argv = [*run.trainer_argv(), *src, "--device", device, *extra]
    resumed = (d / "checkpoint.pt").is_file() and (d / "config.json").is_file() and not (d / "summary.json").is_file()
    if resumed:
        saved = runfolder.read_json(d / "config.json", "run config")
        saved["milestones"] = tuple(saved["milestones"])
        saved["device"], saved["stop_after"] = device, 0
        cfg = train.Config(**saved)
        train.check(cfg)
        train.train(cfg, d, resume=True, progress=progress)
    else:
        cfg, _ = train.parse(argv)
        cfg = dataclasses.replace(cfg, out=str(root))
        train.check(cfg)                           # no run folder before the input is valid
        d.mkdir(parents=True, exist_ok=True)
        for f in FILES + ("checkpoint.pt",):
            (d / f).unlink(missing_ok=True)
        train.write_json(d / "config.json", dataclasses.asdict(cfg))
        train.train(cfg, d, progress=progress)
    if not (d / "summary.json").is_file():        # stopped early (--set stop_after=N): resumable
        return "stopped"
    train.write_json(d / "posthoc.json", posthoc(d, cfg, posthoc_images))
    train.write_json(d / "plan.json", {"run": run.name, "call": call_id, "seed": run.seed, "labels": run.labels})
    trainer_cmd = "python -m training " + shlex.join(argv)
    train.write_json(d / "env.json", env_record(device, command, trainer_cmd, time.perf_counter() - t0,
                                                f"synthetic ({cfg.synthetic} images)" if cfg.synthetic
                                                else DATASET_NAME))
    return "resumed" if resumed else "done"


def pack(root: Path, names, target: Path) -> Path:
    """tar.gz of root/<name>/ for the complete runs among `names`, checkpoints left out."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    with tarfile.open(tmp, "w:gz") as tf:
        for n in names:
            d = Path(root) / n
            if is_complete(d):
                for f in FILES:
                    tf.add(d / f, arcname=f"{n}/{f}")
    tmp.replace(target)
    return target


def run_call(call: Call, out: Path, data: str | None = None, device: str = "cpu", extra=(), only=None,
             pack_to: Path | None = None, command: str = "", log=print, profile: str = "gpu") -> dict:
    """Run the call's runs (those whose name starts with a prefix in `only`, if given) in order.
    GPU profile: into OUT/cifar/<run>/; CPU profile: into OUT/<run>/."""
    root = Path(out) / RESULTS_SUBDIR if profile == "gpu" else Path(out)
    runs = [r for r in call.runs if not only or any(r.name.startswith(p) for p in only)]
    everything = all_runs(profile)
    status, t_call = {}, time.perf_counter()
    est = (lambda r: estimate_run(r)) if profile == "gpu" else cpu_estimate_run
    n_img = POSTHOC_TRAIN_IMAGES if profile == "gpu" else CPU_POSTHOC_IMAGES
    for i, r in enumerate(runs):
        t0 = time.perf_counter()
        pos = f"run {everything.index(r) + 1} of {len(everything)}" if r in everything else f"run {i + 1}"
        log(f"[{call.id} {i + 1}/{len(runs)}] {pos} {r.name}: start (estimate {est(r):.0f} s)")
        status[r.name] = run_one(r, root, data, device, list(extra), command, call.id,
                                 progress=f"[{pos} {r.name}]", posthoc_images=n_img)
        log(f"[{call.id} {i + 1}/{len(runs)}] {r.name}: {status[r.name]} in {time.perf_counter() - t0:.1f} s "
            f"(call so far {time.perf_counter() - t_call:.0f} s)")
        if pack_to is not None:
            pack(root, [x.name for x in runs], pack_to)
    return status


# ------------------------------------------------------------------ summary table

COLUMNS = ("run", "claim", "method", "seed", "total_batch", "k", "lr", "tau", "algo", "topology", "workers",
           "batch", "model", "steps", "test_acc", "test_loss", "train_loss", "train_acc", "hess_top",
           "hess_trace", "consensus_final", "consensus_mean", "bytes_total", "images_per_s", "machine", "date")


def read_run(d: Path) -> dict:
    """One run folder -> a flat row (None where a quantity was not recorded)."""
    d = Path(d)
    rd = lambda n: json.loads((d / n).read_text()) if (d / n).is_file() else {}
    cfg, summ, post, plan, env = rd("config.json"), rd("summary.json"), rd("posthoc.json"), rd("plan.json"), rd("env.json")
    recs = [json.loads(ln) for ln in (d / "metrics.jsonl").read_text().splitlines() if ln.strip()] \
        if (d / "metrics.jsonl").is_file() else []
    lab = plan.get("labels", {})
    cons = [r["consensus"] for r in recs if "consensus" in r]
    ips = [r["images_per_s"] for r in recs if r.get("images_per_s")]
    bps = post.get("bytes_per_step")
    row = {"run": plan.get("run", d.name), "claim": lab.get("claim"), "method": lab.get("method"),
           "seed": cfg.get("seed", plan.get("seed")), "total_batch": lab.get("total_batch"), "k": lab.get("k"),
           "lr": cfg.get("lr", lab.get("lr")), "tau": lab.get("tau"), "algo": cfg.get("algo"),
           "topology": cfg.get("topology"), "workers": cfg.get("workers"), "batch": cfg.get("batch"),
           "model": cfg.get("model"), "steps": cfg.get("steps"), "test_acc": summ.get("test_acc"),
           "test_loss": summ.get("test_loss"), "train_loss": post.get("train_loss"),
           "train_acc": post.get("train_acc"), "hess_top": summ.get("hess_top"),
           "hess_trace": summ.get("hess_trace"), "consensus_final": summ.get("consensus"),
           "consensus_mean": sum(cons) / len(cons) if cons else None,
           "bytes_total": bps * cfg["steps"] if bps is not None and "steps" in cfg else None,
           "images_per_s": sorted(ips)[len(ips) // 2] if ips else None,
           "machine": env.get("machine"), "date": env.get("date"), "command": env.get("command")}
    row.update(epochs=summ.get("epoch"), train_images=summ.get("train_images") or cfg.get("train_images") or None,
               image_size=cfg.get("image_size") or (cfg.get("synthetic_size") if cfg.get("synthetic") else 32),
               width=cfg.get("width"), hess_top_iters=summ.get("hess_top_iters"))
    row["curve"] = [{"step": r["step"], "test_acc": r.get("test_acc"), "consensus": r.get("consensus")}
                    for r in recs]
    row["bytes_per_step"] = bps
    return row


def load_runs(results: Path) -> list[dict]:
    """Rows of every complete run folder under `results` (sorted by name)."""
    return [read_run(p) for p in sorted(Path(results).iterdir()) if p.is_dir() and is_complete(p)] \
        if Path(results).is_dir() else []


def summarize(results: Path) -> tuple[Path, Path]:
    """(See below.) The CPU profile's folder (no 'cifar' subfolder) is summarised against its chunks."""
    """results/summary.csv (COLUMNS) and results/summary.json (rows + per-call coverage)."""
    results = Path(results)
    if not results.is_dir():
        raise ValueError(f"results: {results} is not a folder")
    rows = load_runs(results)
    with (results / "summary.csv").open("w", newline="") as f:
        wr = csv.DictWriter(f, fieldnames=COLUMNS, extrasaction="ignore")
        wr.writeheader()
        for r in rows:
            wr.writerow({k: ("" if r.get(k) is None else r[k]) for k in COLUMNS})
    done = {r["run"] for r in rows}
    cs = cpu_calls() if results.name != RESULTS_SUBDIR else calls()
    coverage = {c.id: {"done": sum(r.name in done for r in c.runs), "planned": len(c.runs)} for c in cs}
    (results / "summary.json").write_text(json.dumps(
        {"dataset": DATASET_NAME, "runs": [{k: r.get(k) for k in COLUMNS} for r in rows],
         "coverage": coverage}, indent=1))
    return results / "summary.csv", results / "summary.json"


# ------------------------------------------------------------------ CLI

def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    p = argparse.ArgumentParser(prog="python -m training.plan", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    ls = sub.add_parser("list", help="the calls (chunks) with their estimated seconds")
    ls.add_argument("--results", type=Path, help="re-estimate from images/s recorded here (GPU profile)")
    ls.add_argument("--profile", choices=PROFILES, default="gpu", help="gpu: H100 calls; cpu: 2-thread chunks")
    ls.add_argument("--ids", action="store_true", help="print the call ids only, one a line")
    r = sub.add_parser("run", help="run one call's runs (resumable)")
    r.add_argument("call_id")
    r.add_argument("--profile", choices=PROFILES, default="gpu", help="which plan the call id belongs to")
    r.add_argument("--out", type=Path, required=True,
                   help="gpu profile: runs go to OUT/cifar/<run>/; cpu profile: to OUT/<run>/")
    r.add_argument("--data", default=None, help="CIFAR-10 path (default: data/cifar10-jpeg.tar.gz)")
    r.add_argument("--device", default=None, help="default: cuda (gpu profile), cpu (cpu profile)")
    r.add_argument("--pack", type=Path, help="after each run, write the finished folders to this tar.gz")
    r.add_argument("--only", nargs="*", help="run names (prefixes) to run")
    r.add_argument("--synthetic", type=int, default=0, help="testing: random data of N images")
    r.add_argument("--synthetic-size", type=int, default=16)
    r.add_argument("--set", nargs="*", default=[], metavar="FLAG=VALUE",
                   help="testing: trainer flags appended to every run (e.g. steps=2 model=lenet)")
    s = sub.add_parser("summarize", help="summary.csv + summary.json of a results folder")
    s.add_argument("results", type=Path)
    a = p.parse_args(argv)
    if a.cmd == "list" and a.ids:
        print("\n".join(c.id for c in profile_calls(a.profile)))
        return 0
    if a.cmd == "list" and a.profile == "cpu":
        total = 0.0
        for c in cpu_calls():
            est = sum(cpu_estimate_run(r) for r in c.runs)
            total += est
            print(f"{c.id:12s} {len(c.runs):3d} runs  ~{est:5.0f} s  {c.note}")
        print(f"total ~{total:.0f} s ({total / 60:.1f} min) at {CPU_RATE:.0f} img/s, {CPU_THREADS} threads; "
              f"per-chunk plan ≤ {CPU_CHUNK_BUDGET_S:.0f} s")
        return 0
    if a.cmd == "list":
        rates = measured_rates(a.results) if a.results else None
        total = 0.0
        for c in calls():
            est = estimate_call(c, rates)
            total += est
            flag = "" if est <= CALL_BUDGET_S else "  OVER BUDGET"
            print(f"{c.id:12s} {len(c.runs):3d} runs  ~{est:5.0f} s  {c.note}{flag}")
        print(f"total ~{total:.0f} s ({total / 60:.1f} min) of GPU time; per-call plan ≤ {CALL_BUDGET_S:.0f} s")
        return 0
    if a.cmd == "summarize":
        for f in summarize(a.results):
            print(f)
        return 0
    call = get_call(a.call_id, a.profile)
    device = a.device or ("cuda" if a.profile == "gpu" else "cpu")
    extra = []
    if a.synthetic:
        extra += ["--synthetic", str(a.synthetic), "--synthetic-size", str(a.synthetic_size)]
    for kv in a.set:
        k, _, v = kv.partition("=")
        extra += ["--" + k.replace("_", "-"), *v.split()]
    data = None if a.synthetic else (a.data or "data/cifar10-jpeg.tar.gz")
    command = "python -m training.plan " + shlex.join(argv)
    st = run_call(call, a.out, data, device, extra, a.only, a.pack, command, profile=a.profile)
    print(json.dumps({"call": call.id, "status": st}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
