"""CPU training throughput of the fused K-worker trainer against its limit and against a loop.

    python benchmarks/cpu_throughput.py [--model lenet_gn] [--image-size 16] [--workers 16]
        [--batch 16] [--threads 2] [--steps 20] [--out results/cifar-cpu/throughput.json]

Three ways to train K workers × B images per step, side by side in one process:
  fused  the trainer's step: the K-wide network (grouped convs, batched linear layers) on the flat
         (K, P) stack, forward + backward through `functional_call`, then a D-SGD ring step
         (`dynamics`), exactly as `training.train` does it (`build_oracle`);
  limit  ONE network at total batch K·B: forward + backward + an SGD update — the most a fused
         step over K·B images can reach (same images, one worker);
  loop   K separate networks, one after the other, each forward + backward + SGD update on B images.
Reports images/s (median step over --steps timed steps after 3 warm-up steps), fused/limit and
fused/loop, and the load average (`os.getloadavg`, as `uptime` prints it) before and after.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _time(fn, steps: int) -> float:
    for _ in range(3):
        fn()
    ts = []
    for _ in range(steps):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts)


def measure(model="lenet_gn", image_size=16, K=16, B=16, threads=2, steps=20, channels_last=False) -> dict:
    import torch
    import torch.nn.functional as F

    import dynamics
    from dynamics import topology as T
    from training import models, train
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    net = models.build(model, 10, 1.0, "group", image_size=image_size)
    layout = models.Layout(net)
    wide = models.widen(net, K)
    if channels_last:
        wide = wide.to(memory_format=torch.channels_last)
    x1, _ = layout.flatten(net)
    xb = torch.randn(K, B, 3, image_size, image_size)
    yb = torch.randint(0, 10, (K, B))
    oracle = train.build_oracle(wide, layout, lambda t: (xb, yb), 5e-4, channels_last=channels_last)
    method = dynamics.make("dsgd", T.get("ring", K), lr=0.05)
    state = {"s": method.init(x1.expand(K, -1).clone(), oracle, None), "t": 0}

    def fused():
        state["t"] += 1
        state["s"] = method.step(state["s"], oracle, state["t"], None)

    one = models.build(model, 10, 1.0, "group", image_size=image_size)
    opt = torch.optim.SGD(one.parameters(), lr=0.05, weight_decay=5e-4)
    xall, yall = xb.reshape(K * B, 3, image_size, image_size), yb.reshape(-1)

    def limit():
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(one(xall), yall).backward()
        opt.step()

    nets = [models.build(model, 10, 1.0, "group", image_size=image_size) for _ in range(K)]
    opts = [torch.optim.SGD(n.parameters(), lr=0.05, weight_decay=5e-4) for n in nets]

    def loop():
        for k in range(K):
            opts[k].zero_grad(set_to_none=True)
            F.cross_entropy(nets[k](xb[k]), yb[k]).backward()
            opts[k].step()

    load0 = os.getloadavg()
    out = {"model": model, "image_size": image_size, "workers": K, "batch": B, "threads": threads,
           "channels_last": channels_last, "params": layout.P, "steps": steps}
    for name, fn in (("fused", fused), ("limit", limit), ("loop", loop)):
        s = _time(fn, steps)
        out[f"{name}_step_s"] = s
        out[f"{name}_images_per_s"] = K * B / s
    out["fused_over_limit"] = out["fused_images_per_s"] / out["limit_images_per_s"]
    out["fused_over_loop"] = out["fused_images_per_s"] / out["loop_images_per_s"]
    out["loadavg_before"], out["loadavg_after"] = list(load0), list(os.getloadavg())
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--model", default="lenet_gn", help="network (training.models)")
    p.add_argument("--image-size", type=int, default=16, help="image side")
    p.add_argument("--workers", type=int, default=16, help="K")
    p.add_argument("--batch", type=int, default=16, help="images per worker per step")
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    p.add_argument("--steps", type=int, default=20, help="timed steps per variant")
    p.add_argument("--channels-last", action="store_true", help="fused network in channels_last")
    p.add_argument("--out", type=Path, default=None, help="append the result as one JSON line here")
    a = p.parse_args(argv)
    r = measure(a.model, a.image_size, a.workers, a.batch, a.threads, a.steps, a.channels_last)
    print(f"{r['model']} {r['image_size']}px K={r['workers']} B={r['batch']} threads={r['threads']}: "
          f"fused {r['fused_images_per_s']:,.0f} img/s, limit {r['limit_images_per_s']:,.0f}, "
          f"loop {r['loop_images_per_s']:,.0f}; fused/limit {r['fused_over_limit']:.2f}, "
          f"fused/loop {r['fused_over_loop']:.2f}; load {r['loadavg_before'][0]:.2f} -> {r['loadavg_after'][0]:.2f}")
    if a.out:
        a.out.parent.mkdir(parents=True, exist_ok=True)
        with a.out.open("a") as f:
            f.write(json.dumps(r) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
