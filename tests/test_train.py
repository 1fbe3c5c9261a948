"""training.train / training.models: the fused K-worker network equals K separate networks, the
trainer's step equals the algorithm applied by hand, a resumed run equals an uninterrupted one."""
import copy
import json

import pytest
import torch
import torch.nn.functional as F

import dynamics
from dynamics import topology as topo
from training import models, train

K, B = 3, 4


def _workers(name, norm, size, seed=0):
    """K independently initialised single networks (float64) and the shared template."""
    torch.manual_seed(seed)
    nets = [models.build(name, 5, 0.25, norm, image_size=size).double() for _ in range(K)]
    return nets


def _stack(nets, layout):
    xs, bs = zip(*(layout.flatten(n, torch.float64) for n in nets))
    return torch.stack(xs), torch.stack(bs)


CASES = [("resnet20", "group", 8), ("resnet20", "batch", 8), ("lenet", "group", 16)]


@pytest.mark.parametrize("name,norm,size", CASES)
def test_fused_forward_and_gradients_equal_separate_networks(name, norm, size):
    nets = _workers(name, norm, size)
    layout = models.Layout(nets[0])
    wide = models.widen(nets[0], K).double()
    x, b = _stack(nets, layout)
    imgs = torch.randn(K, B, 3, size, size, dtype=torch.float64)
    labels = torch.randint(0, 5, (K, B))
    ref_out, ref_g, ref_b = [], [], []
    for k, net in enumerate(nets):
        net = copy.deepcopy(net)
        out = net(imgs[k])
        loss = F.cross_entropy(out, labels[k])
        gs = torch.autograd.grad(loss, list(net.parameters()))
        ref_out.append(out.detach())
        ref_g.append(torch.cat([g.reshape(-1) for g in gs]))
        ref_b.append(layout.flatten(net, torch.float64)[1])
    out, nb = models.fused_forward(wide, layout, x, imgs, b if layout.Pb else None)
    torch.testing.assert_close(out.detach(), torch.stack(ref_out), rtol=1e-10, atol=1e-12)
    if layout.Pb:                                   # BatchNorm running statistics, per worker
        torch.testing.assert_close(nb, torch.stack(ref_b), rtol=1e-10, atol=1e-12)
    wd = 0.01
    bn = {"b": b} if layout.Pb else None
    oracle = train.build_oracle(wide, layout, lambda t: (imgs, labels), wd, amp=False, bn=bn)
    loss, g = oracle(x, 0)
    torch.testing.assert_close(g, torch.stack(ref_g) + wd * x, rtol=1e-9, atol=1e-11)
    ref_loss = torch.stack([F.cross_entropy(o, labels[k]) for k, o in enumerate(ref_out)])
    torch.testing.assert_close(loss, ref_loss, rtol=1e-10, atol=1e-12)
    # one D-SGD step on a ring through dynamics == x_i <- Σ_j W_ij x_j - lr (g_i + wd x_i) by hand
    ring = topo.ring(K)
    lr = 0.05
    m = dynamics.make("dsgd", ring, lr=lr)
    x1 = m.step(m.init(x, oracle, None), oracle, 0, None).x
    W = ring.W(0)
    by_hand = torch.stack([sum(W[i, j] * x[j] for j in range(K)) - lr * (ref_g[i] + wd * x[i])
                           for i in range(K)])
    torch.testing.assert_close(x1, by_hand, rtol=1e-9, atol=1e-11)


def _argv(out, *extra):
    return ["--synthetic", "60", "--synthetic-size", "8", "--model", "resnet20", "--width", "0.25",
            "--workers", "4", "--batch", "4", "--steps", "6", "--lr", "0.05", "--warmup", "2",
            "--algo", "dsgdm", "--hp", "beta=0.9", "--norm", "batch", "--eval-batch", "20",
            "--dtype", "float64", "--out", str(out), *extra]


def test_resume_equals_uninterrupted_run(tmp_path):
    straight = train.main(_argv(tmp_path / "a", "--checkpoint-every", "3"))
    killed = train.main(_argv(tmp_path / "b", "--checkpoint-every", "3", "--stop-after", "3"))
    assert torch.load(killed / "checkpoint.pt", weights_only=False)["step"] == 3
    assert not (killed / "summary.json").exists()
    resumed = train.main(["--resume", str(killed)])
    ca = torch.load(straight / "checkpoint.pt", weights_only=False)
    cb = torch.load(resumed / "checkpoint.pt", weights_only=False)
    assert ca["step"] == cb["step"] == 6
    for fa, fb in zip(ca["state"], cb["state"]):
        torch.testing.assert_close(fa, fb, rtol=0, atol=0)
    torch.testing.assert_close(ca["bn"], cb["bn"], rtol=0, atol=0)
    sa = json.loads((straight / "summary.json").read_text())
    sb = json.loads((resumed / "summary.json").read_text())
    assert sa["test_acc"] == sb["test_acc"] and sa["consensus"] == sb["consensus"]
    rec = [json.loads(s) for s in (straight / "metrics.jsonl").read_text().splitlines()]
    assert rec[-1]["step"] == 6 and len(rec[-1]["worker_acc"]) == 4 and rec[-1]["consensus"] > 0


def test_unknown_model_and_algorithm_list_choices(tmp_path):
    with pytest.raises(ValueError, match="resnet18.*resnet20|resnet20.*vgg11"):
        train.main(_argv(tmp_path, "--model", "alexnet"))
    with pytest.raises(ValueError, match="dsgd"):
        train.main(_argv(tmp_path, "--algo", "nope"))
    with pytest.raises(ValueError, match="norm"):
        models.build("lenet", norm="layer")


def test_lr_schedule_closed_forms():
    c = train.Config(lr=0.4, steps=100, warmup=10, schedule="cosine", workers=4, batch=32,
                     linear_scaling=True)
    scale = 0.4 * 128 / 256
    assert train.lr_at(c, 4) == pytest.approx(scale * 0.5 * 0.5 * (1 + torch.cos(torch.tensor(0.04 * torch.pi)).item()))
    assert train.lr_at(c, 50) == pytest.approx(scale * 0.5)
    m = train.Config(lr=0.1, steps=100, schedule="multistep", milestones=(30, 60), gamma=0.1)
    assert [train.lr_at(m, t) for t in (29, 30, 60)] == pytest.approx([0.1, 0.01, 0.001])
