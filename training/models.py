"""CIFAR networks as plain `nn.Module`s, and their K-worker fused ("wide") form.

Models: `resnet18` (He et al. 2016 with the CIFAR stem: 3×3 conv, no max-pool), `resnet20`
(He et al. 2016 §4.2: 3 stages × 3 basic blocks, widths 16/32/64), `resnet8` (the same with
1 block per stage), `vgg11` (Simonyan &
Zisserman 2015, config A, one linear head), `lenet` (LeCun et al. 1998, LeNet-5 with ReLU and
max-pool), `lenet_gn` (the same with a normalisation layer after each convolution) and `fast` (airbench-style small net: stem + 3 conv-pool blocks + global max-pool).
`width` scales every channel count (tiny widths for tests).

Normalisation (`norm=`): 'group' (GroupNorm, default) or 'batch' (BatchNorm). GroupNorm is the
default because each worker normalises with the statistics of its own B images: under non-IID
splits BatchNorm's per-worker batch and running statistics disagree across workers and the
averaged model's running statistics describe no worker (Hsieh et al. 2020, "The non-IID data
quagmire", §5 — GroupNorm recovers most of the loss); GroupNorm has no buffers to mix. With
'batch', the trainer keeps per-worker running statistics and by default mixes them with the
same gossip matrix as the parameters (`bn_buffers='mix'`), see training/train.py.

Fusion (`widen(model, K)`): K copies of a network run as ONE network whose channels are K
blocks: a conv becomes a grouped conv (groups × K), BatchNorm(C) becomes BatchNorm(K·C)
(per-channel statistics are per worker), GroupNorm(G, C) becomes GroupNorm(K·G, K·C), a
linear layer becomes a batched matmul. Pools, activations, residual adds and flatten act
channel-wise, so every block's forward works unchanged on (B, K·C, H, W). Worker k's input
sits in channels [k·C, (k+1)·C). This is exactly K independent networks (tested against K
separate modules in tests/test_train.py); on CUDA, grouped convolution in channels_last measured
the fastest plain fused form (on the CPU channels_last is measured per model: see
benchmarks/RESULTS.md).
"""
from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

NORMS = ("group", "batch")


def _norm(norm: str, c: int) -> nn.Module:
    if norm == "batch":
        return nn.BatchNorm2d(c)
    g = max(d for d in range(1, max(1, min(32, c // 4)) + 1) if c % d == 0)
    return nn.GroupNorm(g, c)  # largest group count <= min(32, C/4) dividing C


def _w(c: int, width: float) -> int:
    return max(1, round(c * width))


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride, norm):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.n1 = _norm(norm, cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.n2 = _norm(norm, cout)
        self.short = None
        if stride != 1 or cin != cout:
            self.short = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), _norm(norm, cout))

    def forward(self, x):
        out = F.relu(self.n1(self.conv1(x)))
        out = self.n2(self.conv2(out))
        return F.relu(out + (x if self.short is None else self.short(x)))


class ResNet(nn.Module):
    def __init__(self, stages, blocks, classes, norm):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, stages[0], 3, 1, 1, bias=False), _norm(norm, stages[0]),
                                  nn.ReLU())
        layers, cin = [], stages[0]
        for i, (c, n) in enumerate(zip(stages, blocks)):
            for j in range(n):
                layers.append(BasicBlock(cin, c, 2 if (i > 0 and j == 0) else 1, norm))
                cin = c
        self.layers = nn.Sequential(*layers)
        self.head = nn.Linear(cin, classes)

    def forward(self, x):
        x = self.layers(self.stem(x))
        return self.head(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def resnet18(classes=10, width=1.0, norm="group", image_size=32):
    return ResNet([_w(c, width) for c in (64, 128, 256, 512)], [2, 2, 2, 2], classes, norm)


def resnet20(classes=10, width=1.0, norm="group", image_size=32):
    return ResNet([_w(c, width) for c in (16, 32, 64)], [3, 3, 3], classes, norm)


def resnet8(classes=10, width=1.0, norm="group", image_size=32):
    """The narrowest CIFAR ResNet of He et al. 2016 §4.2 (n = 1): 3 stages × 1 basic block,
    widths 16/32/64 (scaled by `width`)."""
    return ResNet([_w(c, width) for c in (16, 32, 64)], [1, 1, 1], classes, norm)


def vgg11(classes=10, width=1.0, norm="group", image_size=32):
    cfg, layers, cin = [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"], [], 3
    for v in cfg:
        if v == "M":
            layers.append(nn.MaxPool2d(2, ceil_mode=True))
        else:
            c = _w(v, width)
            layers += [nn.Conv2d(cin, c, 3, 1, 1, bias=False), _norm(norm, c), nn.ReLU()]
            cin = c
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, classes))


def lenet(classes=10, width=1.0, norm="group", image_size=32):
    """LeNet-5 (no normalisation layers; `norm` is ignored). Needs image_size >= 14."""
    if image_size < 14:
        raise ValueError(f"image_size must be >= 14 for lenet, got {image_size}")
    c1, c2 = _w(6, width), _w(16, width)
    s = ((image_size - 4) // 2 - 4) // 2
    return nn.Sequential(nn.Conv2d(3, c1, 5), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(c1, c2, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(c2 * s * s, _w(120, width)), nn.ReLU(),
                         nn.Linear(_w(120, width), _w(84, width)), nn.ReLU(),
                         nn.Linear(_w(84, width), classes))


def lenet_gn(classes=10, width=1.0, norm="group", image_size=32):
    """LeNet-5 with a normalisation layer (`norm`: GroupNorm by default) after each convolution,
    before the ReLU: the same convolutions and head as `lenet`, trainable with plain SGD at large
    step sizes from the first steps (the plain LeNet-5 sits on its initial loss plateau for the
    first few hundred steps). Needs image_size >= 14."""
    if image_size < 14:
        raise ValueError(f"image_size must be >= 14 for lenet_gn, got {image_size}")
    c1, c2 = _w(6, width), _w(16, width)
    s = ((image_size - 4) // 2 - 4) // 2
    return nn.Sequential(nn.Conv2d(3, c1, 5), _norm(norm, c1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(c1, c2, 5), _norm(norm, c2), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(c2 * s * s, _w(120, width)), nn.ReLU(),
                         nn.Linear(_w(120, width), _w(84, width)), nn.ReLU(),
                         nn.Linear(_w(84, width), classes))


def fast(classes=10, width=1.0, norm="group", image_size=32):
    """airbench-style net: 3×3 stem of width 32 (norm, GELU), three (conv, max-pool 2, norm, GELU,
    conv, norm, GELU) blocks of widths 64/256/256, global max-pool, plain linear head (PyTorch's
    default init; the logits are not scaled, unlike airbench's 1/9 head scale)."""
    w0, w1, w2 = (_w(c, width) for c in (32, 64, 256))
    w3 = w2
    layers, cin = [nn.Conv2d(3, w0, 3, padding=1, bias=False), _norm(norm, w0), nn.GELU()], w0
    for c in (w1, w2, w3):
        layers += [nn.Conv2d(cin, c, 3, padding=1, bias=False), nn.MaxPool2d(2, ceil_mode=True),
                   _norm(norm, c), nn.GELU(), nn.Conv2d(c, c, 3, padding=1, bias=False),
                   _norm(norm, c), nn.GELU()]
        cin = c
    return nn.Sequential(*layers, nn.AdaptiveMaxPool2d(1), nn.Flatten(), nn.Linear(cin, classes))


MODELS = {"resnet18": resnet18, "resnet20": resnet20, "resnet8": resnet8, "vgg11": vgg11, "lenet": lenet, "lenet_gn": lenet_gn,
          "fast": fast}


def build(name: str, classes: int = 10, width: float = 1.0, norm: str = "group",
          image_size: int = 32) -> nn.Module:
    """A fresh single network; unknown name/norm -> ValueError listing the choices."""
    if name not in MODELS:
        raise ValueError(f"model must be one of {sorted(MODELS)}, got {name!r}")
    if norm not in NORMS:
        raise ValueError(f"norm must be one of {list(NORMS)}, got {norm!r}")
    if not width > 0:
        raise ValueError(f"width must be > 0, got {width}")
    return MODELS[name](classes=classes, width=width, norm=norm, image_size=image_size)


# ---------------------------------------------------------------- K-worker fusion

class WideLinear(nn.Module):
    """K linear layers: (B, K·in) -> (B, K·out), weight (K, out, in), bias (K·out)."""

    def __init__(self, lin: nn.Linear, K: int):
        super().__init__()
        self.K = K
        self.weight = nn.Parameter(torch.empty(K, lin.out_features, lin.in_features))
        self.bias = None if lin.bias is None else nn.Parameter(torch.empty(K * lin.out_features))

    def forward(self, x):
        B = x.shape[0]
        y = torch.einsum("bki,koi->bko", x.reshape(B, self.K, -1), self.weight).reshape(B, -1)
        return y if self.bias is None else y + self.bias


def _widen_leaf(m: nn.Module, K: int) -> nn.Module | None:
    if isinstance(m, nn.Conv2d):
        w = nn.Conv2d(m.in_channels * K, m.out_channels * K, m.kernel_size, m.stride, m.padding,
                      m.dilation, m.groups * K, m.bias is not None, m.padding_mode)
        return w
    if isinstance(m, nn.BatchNorm2d):
        return nn.BatchNorm2d(m.num_features * K, m.eps, m.momentum, m.affine, m.track_running_stats)
    if isinstance(m, nn.GroupNorm):
        return nn.GroupNorm(m.num_groups * K, m.num_channels * K, m.eps, m.affine)
    if isinstance(m, nn.Linear):
        return WideLinear(m, K)
    if isinstance(m, (nn.LayerNorm, nn.Conv1d, nn.Conv3d, nn.BatchNorm1d, nn.Embedding)):
        raise ValueError(f"model: layer {type(m).__name__} has no fused form")  # noqa: TRY004
    return None


def widen(model: nn.Module, K: int) -> nn.Module:
    """A copy of `model` whose layers act on K workers' channel blocks (see module docstring).
    Its own parameter values are meaningless: supply them with `torch.func.functional_call`."""
    if not isinstance(K, int) or K < 1:
        raise ValueError(f"K must be an integer >= 1, got {K!r}")
    wide = copy.deepcopy(model)

    def rec(parent):
        for name, child in parent.named_children():
            new = _widen_leaf(child, K)
            if new is not None:
                setattr(parent, name, new)
            else:
                rec(child)
    rec(wide)
    return wide


class Layout:
    """Where each parameter (and BatchNorm buffer) of one worker lives in a flat row.

    `params[name] = (offset, shape)`; the K-worker stack is one (K, P) tensor, row k = worker
    k's parameters in `named_parameters()` order. `wide(flat)` reshapes (K, P) into the fused
    model's tensors (conv weight (K·Cout, Cin/g, kh, kw), vectors (K·C), linear (K, out, in)).
    """

    def __init__(self, model: nn.Module):
        self.linear = {n for n, m in model.named_modules() if isinstance(m, nn.Linear)}
        self.params, off = {}, 0
        for n, p in model.named_parameters():
            self.params[n] = (off, tuple(p.shape))
            off += p.numel()
        self.P = off
        self.buffers, off = {}, 0
        for n, b in model.named_buffers():
            if n.endswith("num_batches_tracked"):
                continue
            self.buffers[n] = (off, tuple(b.shape))
            off += b.numel()
        self.Pb = off

    def flatten(self, model: nn.Module, dtype=torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
        """One worker's (P,) parameters and (Pb,) buffers."""
        ps = dict(model.named_parameters())
        bs = dict(model.named_buffers())
        x = torch.cat([ps[n].detach().reshape(-1) for n in self.params]).to(dtype) if self.P else torch.zeros(0)
        b = (torch.cat([bs[n].detach().reshape(-1) for n in self.buffers]).to(dtype)
             if self.Pb else torch.zeros(0, dtype=dtype))
        return x, b

    def _wide(self, flat, table, linear_ok):
        # one split (one SplitBackward: the gradient is one concatenation) rather than a slice per
        # parameter (each slice's backward fills a zero (K, P) tensor and adds into it)
        K = flat.shape[0]
        out = {}
        sizes = []
        for _, shape in table.values():
            n_el = 1
            for s in shape:
                n_el *= s
            sizes.append(n_el)
        total = sum(sizes)
        pieces = flat[:, :total].split(sizes, dim=1) if table else ()
        for (n, (off, shape)), v in zip(table.items(), pieces):
            mod = n.rsplit(".", 1)[0] if "." in n else ""
            if linear_ok and mod in self.linear and n.endswith("weight"):
                out[n] = v.reshape(K, *shape)
            else:
                out[n] = v.reshape(K * shape[0], *shape[1:])
        return out

    def wide(self, flat: torch.Tensor) -> dict:
        return self._wide(flat, self.params, True)

    def wide_buffers(self, flat_b: torch.Tensor) -> dict:
        """Contiguous copies (BatchNorm updates them in place): read back with `unwide_buffers`."""
        return {n: v.contiguous() for n, v in self._wide(flat_b, self.buffers, False).items()}

    def unwide_buffers(self, bufs: dict, K: int) -> torch.Tensor:
        if not self.buffers:
            return torch.zeros(K, 0)
        return torch.cat([bufs[n].reshape(K, -1) for n in self.buffers], dim=1)


def to_wide_input(x: torch.Tensor) -> torch.Tensor:
    """(K, B, C, H, W) per-worker batches -> (B, K·C, H, W)."""
    K, B, C, H, W = x.shape
    return x.transpose(0, 1).reshape(B, K * C, H, W)


def fused_forward(wide: nn.Module, layout: Layout, flat: torch.Tensor, x: torch.Tensor,
                  flat_b: torch.Tensor | None = None, channels_last: bool | None = None):
    """Logits (K, B, classes) of K workers with parameters `flat` (K, P) on inputs x (K, B, C, H, W).

    Returns (logits, new_flat_b): BatchNorm running statistics updated in training mode
    (None when the model has no buffers). channels_last: the input's memory format (None: on CUDA)."""
    K, B = x.shape[:2]
    tensors = layout.wide(flat)
    bufs = None
    if layout.Pb:
        bufs = layout.wide_buffers(flat_b)
        tensors.update(bufs)
    xi = to_wide_input(x)
    if xi.is_cuda if channels_last is None else channels_last:
        xi = xi.contiguous(memory_format=torch.channels_last)
    y = torch.func.functional_call(wide, tensors, (xi,), strict=False)
    y = y.reshape(B, K, -1).transpose(0, 1)
    return y, (layout.unwide_buffers(bufs, K) if bufs is not None else None)
