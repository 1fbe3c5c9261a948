"""Training throughput of K simulated workers on one GPU, side by side (img/s, median step):

  limit  one network at batch K·B (what the fused trainer would reach with free fusion),
  loop   K network copies stepped in a Python loop, ring gossip tensor by tensor (papers' codes),
  fused  training.train's fused trainer: K-wide grouped-conv network, flat (K, P) stack,
         one dynamics step (D-SGD with momentum on a ring: gossip included).
All: forward + backward + momentum step, bf16 autocast and channels_last on CUDA, inputs already
on the device. Cases: ResNet-18 K=16 B=64 and ResNet-20 K=64 B=32 (the sizes of the GPU speed anchors in docs/gpu_runbook.md).

    python benchmarks/gpu_throughput.py --device cuda --out benchmarks/gpu_throughput.json
    python benchmarks/gpu_throughput.py --device cpu --tiny     # smoke run, no CUDA needed
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

import torch
import torch.nn.functional as F

CASES = [("resnet18", 16, 64), ("resnet20", 64, 32)]


def _sync(dev):
    if dev.type == "cuda":
        torch.cuda.synchronize()


def _time(step, dev, warmup, iters):
    for _ in range(warmup):
        step()
    ts = []
    for _ in range(iters):
        _sync(dev)
        t = time.perf_counter()
        step()
        _sync(dev)
        ts.append(time.perf_counter() - t)
    return statistics.median(ts)


def _amp(dev):
    return torch.autocast("cuda", dtype=torch.bfloat16) if dev.type == "cuda" else torch.autocast("cpu", enabled=False)


def bench_limit(name, K, B, dev, width, size, warmup, iters):
    from training import models
    net = models.build(name, 10, width, "batch", size).to(dev)
    mf = torch.channels_last if dev.type == "cuda" else torch.contiguous_format
    net = net.to(memory_format=mf)
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    x = torch.randn(K * B, 3, size, size, device=dev).to(memory_format=mf)
    y = torch.randint(0, 10, (K * B,), device=dev)

    def step():
        with _amp(dev):
            loss = F.cross_entropy(net(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return K * B / _time(step, dev, warmup, iters)


def bench_loop(name, K, B, dev, width, size, warmup, iters):
    from training import models
    mf = torch.channels_last if dev.type == "cuda" else torch.contiguous_format
    nets = [models.build(name, 10, width, "batch", size).to(dev).to(memory_format=mf) for _ in range(K)]
    opts = [torch.optim.SGD(n.parameters(), lr=0.01, momentum=0.9) for n in nets]
    x = torch.randn(K, B, 3, size, size, device=dev)
    y = torch.randint(0, 10, (K, B), device=dev)
    params = [list(n.parameters()) for n in nets]

    def step():
        for k in range(K):
            with _amp(dev):
                loss = F.cross_entropy(nets[k](x[k].contiguous(memory_format=mf)), y[k])
            opts[k].zero_grad(set_to_none=True)
            loss.backward()
            opts[k].step()
        with torch.no_grad():                     # ring gossip, tensor by tensor
            for j in range(len(params[0])):
                new = [(params[k - 1][j] + params[k][j] + params[(k + 1) % K][j]) / 3 for k in range(K)]
                for k in range(K):
                    params[k][j].copy_(new[k])
    return K * B / _time(step, dev, warmup, iters)


def bench_fused(name, K, B, dev, width, size, warmup, iters):
    import dynamics
    from dynamics import topology as T
    from training import models, train
    net = models.build(name, 10, width, "batch", size)
    layout = models.Layout(net)
    wide = models.widen(net, K).to(dev)
    if dev.type == "cuda":
        wide = wide.to(memory_format=torch.channels_last)
    x1, b1 = layout.flatten(net)
    bn = {"b": b1.to(dev).expand(K, -1).clone()}
    xb = torch.randn(K, B, 3, size, size, device=dev)
    yb = torch.randint(0, 10, (K, B), device=dev)
    oracle = train.build_oracle(wide, layout, lambda t: (xb, yb), 5e-4, amp=True, bn=bn)
    ring = T.ring(K)
    m = dynamics.make("dsgdm", ring, lr=0.01, beta=0.9)
    state = [m.init(x1.to(dev).expand(K, -1).clone(), oracle, None)]
    t = [0]

    def step():
        t[0] += 1
        state[0] = m.step(state[0], oracle, t[0], None)
        bn["b"] = ring.mix(bn["b"], t[0])
    return K * B / _time(step, dev, warmup, iters)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--device", default="cuda")
    p.add_argument("--out", default="benchmarks/gpu_throughput.json")
    p.add_argument("--tiny", action="store_true", help="tiny widths/images/workers (CPU smoke)")
    p.add_argument("--iters", type=int, default=20)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--skip-loop", action="store_true")
    a = p.parse_args(argv)
    dev = torch.device(a.device)
    if dev.type == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
    cases, width, size = CASES, 1.0, 32
    if a.tiny:
        cases, width, size = [("resnet18", 2, 4), ("resnet20", 4, 4)], 0.125, 8
        a.iters, a.warmup = min(a.iters, 2), min(a.warmup, 1)
    rows = []
    for name, K, B in cases:
        row = {"model": name, "K": K, "B": B, "width": width, "image_size": size}
        for what, fn in (("limit", bench_limit), ("loop", bench_loop), ("fused", bench_fused)):
            if what == "loop" and a.skip_loop:
                continue
            row[what] = fn(name, K, B, dev, width, size, a.warmup, a.iters)
        row["fused_over_limit"] = row["fused"] / row["limit"]
        print(json.dumps(row), flush=True)
        rows.append(row)
    meta = {"device": torch.cuda.get_device_name() if dev.type == "cuda" else "cpu", "torch": torch.__version__,
                "iters": a.iters, "warmup": a.warmup, "unit": "images/s (median step)", "time": time.strftime("%Y-%m-%d %H:%M")}
    with open(a.out, "w") as f:
        json.dump({"meta": meta, "rows": rows}, f, indent=1)
    return rows


if __name__ == "__main__":
    main(sys.argv[1:])
