"""Which CNN the CPU run plan uses: img/s and test accuracy per CPU-minute of LeNet-5, a narrow
ResNet-8 and the airbench-style small net, each trained for about the same wall time by the
fused 16-worker trainer (C-SGD, 2 torch threads) on a class-balanced CIFAR-10 subset (5000 train /
1000 test images, average-pooled to 16 × 16 by default, no augmentation).

    python benchmarks/cpu_model_choice.py --data data/cifar10-jpeg.tar.gz \
        --out results/cifar-cpu/model-choice

Writes OUT/choice.json (one row per model: steps, images, wall s, img/s, test accuracy,
accuracy gain over chance per CPU-minute) and prints a table.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

CANDIDATES = (  # (model, width, channels_last, lr): lr a usual plain-SGD value for the net
    ("lenet", 1.0, "off", 0.1), ("resnet8", 0.5, "on", 0.2), ("fast", 0.125, "off", 0.2))


def step_seconds(model, width, cl, image_size, K=16, B=16, threads=2) -> float:
    """Median wall seconds of one fused forward + backward on random images (2 timed steps)."""
    import torch
    import torch.nn.functional as F

    from training import models
    torch.set_num_threads(threads)
    net = models.build(model, 10, width, "group", image_size=image_size)
    lay = models.Layout(net)
    wide = models.widen(net, K)
    if cl == "on":
        wide = wide.to(memory_format=torch.channels_last)
    x1, _ = lay.flatten(net)
    x = x1.expand(K, -1).clone()
    xb, yb = torch.randn(K, B, 3, image_size, image_size), torch.randint(0, 10, (K, B))
    ts = []
    for _ in range(3):
        t = time.perf_counter()
        xr = x.requires_grad_(True)
        y, _ = models.fused_forward(wide, lay, xr, xb, None, cl == "on")
        torch.autograd.grad(F.cross_entropy(y.reshape(K * B, -1), yb.reshape(-1)), xr)
        ts.append(time.perf_counter() - t)
    return sorted(ts[1:])[0]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--budget", type=float, default=30.0, help="training seconds per model (sized by a timed step)")
    p.add_argument("--image-size", type=int, default=16)
    a = p.parse_args(argv)
    from training import train
    rows = []
    for model, width, cl, lr in CANDIDATES:
        sec = step_seconds(model, width, cl, a.image_size, threads=a.threads)
        steps = max(3, int(a.budget / sec))
        cfg = train.Config(algo="csgd", topology="complete", workers=16, batch=16, model=model, width=width,
                           norm="group", steps=steps, lr=lr, schedule="constant", wd=5e-4, data=a.data,
                           train_images=5000, test_images=1000, image_size=a.image_size, augment=False,
                           threads=a.threads, channels_last=cl, eval_workers="none", eval_batch=500,
                           out=str(a.out))
        d = a.out / model
        d.mkdir(parents=True, exist_ok=True)
        for f in ("metrics.jsonl", "summary.json"):
            (d / f).unlink(missing_ok=True)
        t0 = time.perf_counter()
        s = train.train(cfg, d, progress=model)
        wall = time.perf_counter() - t0
        imgs = steps * 16 * 16
        rows.append({"model": model, "width": width, "channels_last": cl, "lr": lr, "timed_step_s": sec,
                     "steps": steps, "images": imgs,
                     "wall_s": wall, "train_images_per_s": s["images_per_s"], "test_acc": s["test_acc"],
                     "acc_over_chance_per_cpu_min": (s["test_acc"] - 0.1) / (wall / 60)})
        print(json.dumps(rows[-1]), flush=True)
    load = os.getloadavg()
    out = {"rows": rows, "loadavg": load, "threads": a.threads, "workers": 16, "batch": 16,
           "train_images": 5000, "test_images": 1000, "image_size": a.image_size, "budget_s": a.budget}
    (a.out / "choice.json").write_text(json.dumps(out, indent=1))
    for r in rows:
        print(f"{r['model']:8s} {r['train_images_per_s']:7.0f} img/s  acc {r['test_acc']:.3f} after "
              f"{r['wall_s']:.0f} s  ({r['acc_over_chance_per_cpu_min']:+.3f} over chance per CPU-minute)")
    print(f"load average {load}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
