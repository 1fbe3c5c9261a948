import sys, time
sys.path.insert(0, "/work/main")
from training import train
for model, lr in [("lenet_gn", 0.2), ("lenet", 0.3)]:
    cfg = train.Config(algo="csgd", topology="complete", workers=16, batch=16, model=model, steps=30, lr=lr,
                       schedule="constant", wd=5e-4, data=__import__("os").environ.get("CIFAR10", "data/cifar10-jpeg.tar.gz"), train_images=5000,
                       test_images=1000, image_size=16, augment=False, threads=2, eval_workers="none",
                       eval_every=10, out="/tmp/cnn/q")
    import pathlib; d = pathlib.Path(f"/tmp/cnn/q/{model}"); d.mkdir(parents=True, exist_ok=True)
    (d / "metrics.jsonl").unlink(missing_ok=True)
    train.train(cfg, d, progress=model)
