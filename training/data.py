"""CIFAR-10 for the trainer: load once, cache uint8 arrays, augment on the device, split to workers.

Accepted layouts of `path` (`load`):
  * the official python batches: a folder `cifar-10-batches-py/` (or a folder holding it) with
    `data_batch_1..5` and `test_batch` (pickled dicts: b'data' (N, 3·H·W) uint8 planar RGB,
    b'labels'), or a .tar.gz containing them (cifar-10-python.tar.gz);
  * an image-folder tree `train/<class>/*.jpg|png`, `test/<class>/*`, or a .tar.gz of it
    (shared/data/cifar10-jpeg.tar.gz). Classes named as CIFAR-10's take CIFAR-10's numbers,
    other names are numbered in sorted order.
Decoded arrays (x uint8 (N, H, W, 3), y int64 (N,)) are cached as one .npz in
$DECENTLAB_CACHE or ~/.cache/decentlab, written to a temporary file and renamed, so a failed
decode (a corrupt archive) leaves no file behind.

Integrity: a gzip archive is read to the end of its compressed stream, so its CRC-32 and length
trailer are checked even when the tar's end-of-archive marker comes first; damaged compressed
data, a bad tar header, an undecodable image or pickle -> ValueError "... is corrupt ...". A
set whose classes are CIFAR-10's must hold all ten classes with exactly 5000 training and 1000
test images each (`check_counts`); other trees (tests, custom sets) are not counted.

Augmentation (`Augmented.batch`): random crop of a reflect-padded (4 px) image + horizontal
flip, done with one gather on the device (Krizhevsky et al. 2012; airbench). Sampling is
counter-based: the minibatch of step t depends only on (seed, t), so a resumed run draws the
same batches as an uninterrupted one.
"""
from __future__ import annotations

import gzip
import hashlib
import io
import os
import pickle
import tarfile
import tempfile
import zlib
from collections import Counter
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
MEAN = (0.4914, 0.4822, 0.4465)
STD = (0.2470, 0.2435, 0.2616)
IMAGE_EXT = (".jpg", ".jpeg", ".png", ".bmp")
LAYOUTS = ("a folder 'cifar-10-batches-py' with data_batch_1..5 and test_batch (or a .tar.gz of it), "
           "or an image-folder tree train/<class>/*.jpg and test/<class>/*.jpg (or a .tar.gz of it)")


class Dataset(NamedTuple):
    x_train: np.ndarray   # (N, H, W, 3) uint8
    y_train: np.ndarray   # (N,) int64
    x_test: np.ndarray
    y_test: np.ndarray
    classes: tuple


def cache_dir() -> Path:
    return Path(os.environ.get("DECENTLAB_CACHE", Path.home() / ".cache" / "decentlab"))


def _fingerprint(path: Path) -> str:
    h = hashlib.sha1(str(path.resolve()).encode())
    if path.is_file():
        st = path.stat()
        h.update(f"{st.st_size}|{st.st_mtime_ns}".encode())
    else:
        for p in sorted(path.rglob("*")):
            if p.is_file():
                st = p.stat()
                h.update(f"{p.relative_to(path)}|{st.st_size}|{st.st_mtime_ns}".encode())
    return h.hexdigest()[:16]


def load(path, cache: str | os.PathLike | None = None, use_cache: bool = True) -> Dataset:
    """CIFAR-10 (or a same-layout tree) from `path`; see the module docstring for the layouts."""
    path = Path(path).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"data path {str(path)!r} does not exist; expected {LAYOUTS}")
    cdir = Path(cache) if cache is not None else cache_dir()
    target = cdir / f"cifar-{path.name.split('.')[0]}-{_fingerprint(path)}.npz"
    if use_cache and target.exists():
        z = np.load(target)
        return Dataset(z["x_train"], z["y_train"], z["x_test"], z["y_test"], tuple(z["classes"].tolist()))
    ds = _decode(path)
    if use_cache:
        cdir.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=cdir, suffix=".npz.tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez(f, x_train=ds.x_train, y_train=ds.y_train, x_test=ds.x_test, y_test=ds.y_test,
                         classes=np.array(ds.classes))
            os.replace(tmp, target)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    return ds


def _wanted(name: str) -> bool:
    return "_batch" in name or name.lower().endswith(IMAGE_EXT)


def _read_archive(path: Path) -> dict[str, bytes]:
    """Members of a tar archive (gzip read as a stream and drained to its end: CRC checked)."""
    files: dict[str, bytes] = {}
    with open(path, "rb") as f:
        magic = f.read(2)
    if magic == b"\x1f\x8b":
        with gzip.open(path, "rb") as raw:
            with tarfile.open(fileobj=raw, mode="r|") as tf:
                for m in tf:
                    if m.isfile() and _wanted(m.name):
                        files[m.name] = tf.extractfile(m).read()
            while raw.read(1 << 20):      # the rest of the stream: gzip checks CRC-32 and size at its end
                pass
    else:
        with tarfile.open(path, "r:*") as tf:
            for m in tf:
                if m.isfile() and _wanted(m.name):
                    files[m.name] = tf.extractfile(m).read()
    return files


def check_counts(ds: Dataset, path) -> None:
    """A set named with CIFAR-10's classes (all ten present, or more than 1000 training images) must hold
    5000 training and 1000 test images of each class; anything else -> ValueError."""
    present = {ds.classes[int(i)] for i in np.unique(ds.y_train)} if len(ds.y_train) else set()
    if not set(ds.classes) <= set(CLASSES) or (len(present) < len(CLASSES) and len(ds.y_train) <= 1000):
        return
    for part, y, want in (("train", ds.y_train, 5000), ("test", ds.y_test, 1000)):
        got = Counter(ds.classes[int(i)] for i in y)
        bad = {c: got.get(c, 0) for c in CLASSES if got.get(c, 0) != want}
        if bad:
            raise ValueError(f"data at {str(path)!r} is incomplete or corrupt: the {part} split should hold "
                             f"{want} images of each CIFAR-10 class, got {bad}")


def _decode(path: Path) -> Dataset:
    """Read every file of `path` (folder or tar archive) into memory, then parse and count."""
    files: dict[str, bytes] = {}
    if path.is_file():
        try:
            files = _read_archive(path)
        except (tarfile.TarError, EOFError, OSError, zlib.error) as e:
            raise ValueError(f"data archive {str(path)!r} is corrupt ({type(e).__name__}: {e}); "
                             f"expected {LAYOUTS}") from e
    else:
        for p in path.rglob("*"):
            if p.is_file() and ("_batch" in p.name or p.name.lower().endswith(IMAGE_EXT)):
                files[p.relative_to(path).as_posix()] = p.read_bytes()
    try:
        if any(Path(n).name == "test_batch" for n in files):
            ds = _from_batches(files, path)
        else:
            ds = _from_images(files, path)
    except (pickle.UnpicklingError, OSError, KeyError, EOFError, SyntaxError, zlib.error) as e:
        raise ValueError(f"data at {str(path)!r} is corrupt ({type(e).__name__}: {e})") from e
    check_counts(ds, path)
    return ds


def _from_batches(files, path) -> Dataset:
    def read(names):
        xs, ys = [], []
        for n in names:
            d = pickle.loads(files[n], encoding="bytes")
            data = np.asarray(d[b"data"], dtype=np.uint8)
            s = round((data.shape[1] // 3) ** 0.5)
            xs.append(data.reshape(-1, 3, s, s).transpose(0, 2, 3, 1))
            ys.append(np.asarray(d[b"labels"], dtype=np.int64))
        return np.ascontiguousarray(np.concatenate(xs)), np.concatenate(ys)
    train = sorted(n for n in files if Path(n).name.startswith("data_batch_"))
    test = [n for n in files if Path(n).name == "test_batch"]
    if not train:
        raise ValueError(f"data at {str(path)!r} has test_batch but no data_batch_*; expected {LAYOUTS}")
    return Dataset(*read(train), *read(test), CLASSES)


def _from_images(files, path) -> Dataset:
    from PIL import Image  # optional dependency: pip install decentlab[images]

    split = {"train": {}, "test": {}}
    for n in sorted(files):
        parts = Path(n).parts
        if len(parts) >= 3 and parts[-3] in split:
            split[parts[-3]].setdefault(parts[-2], []).append(n)
    if not split["train"] or not split["test"]:
        raise ValueError(f"data path {str(path)!r} has no train/<class>/ and test/<class>/ images; "
                         f"expected {LAYOUTS}")
    names = sorted(set(split["train"]) | set(split["test"]))
    classes = CLASSES if set(names) <= set(CLASSES) else tuple(names)
    number = {c: i for i, c in enumerate(classes)}

    def read(part):
        xs, ys = [], []
        for c, ns in split[part].items():
            for n in ns:
                img = Image.open(io.BytesIO(files[n]))
                img.load()
                xs.append(np.asarray(img.convert("RGB"), dtype=np.uint8))
                ys.append(number[c])
        shapes = {a.shape for a in xs}
        if len(shapes) != 1:
            raise ValueError(f"data path {str(path)!r}: images of different sizes {sorted(shapes)}")
        return np.stack(xs), np.asarray(ys, dtype=np.int64)
    return Dataset(*read("train"), *read("test"), classes)


def synthetic(n: int, size: int = 8, classes: int = 10, n_test: int | None = None, seed: int = 0) -> Dataset:
    """Random learnable images: class c adds a fixed random pattern to uniform noise (smoke tests)."""
    if n < classes:
        raise ValueError(f"synthetic: n must be >= classes={classes}, got {n}")
    rng = np.random.default_rng(seed)
    pat = rng.uniform(-60, 60, size=(classes, size, size, 3))

    def draw(m):
        y = np.arange(m) % classes
        rng.shuffle(y)
        x = np.clip(rng.uniform(60, 196, size=(m, size, size, 3)) + pat[y], 0, 255).astype(np.uint8)
        return x, y.astype(np.int64)
    return Dataset(*draw(n), *draw(n_test or max(classes, n // 5)), tuple(f"c{i}" for i in range(classes)))


def _balanced(y: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Sorted indices of n // C images of each of the C classes (first of a fixed permutation)."""
    classes = np.unique(y)
    per = n // len(classes)
    if per < 1:
        raise ValueError(f"subset: need at least {len(classes)} images (one per class), got {n}")
    perm = np.random.default_rng(seed).permutation(len(y))
    out = []
    for c in classes:
        idx = perm[y[perm] == c]
        if idx.size < per:
            raise ValueError(f"subset: class {c} has {idx.size} images, fewer than the {per} asked for")
        out.append(idx[:per])
    return np.sort(np.concatenate(out))


def subset(ds: Dataset, n_train: int = 0, n_test: int = 0, seed: int = 12345) -> Dataset:
    """Class-balanced subsets (n // classes images of each class; 0 = all) drawn with a fixed
    generator, so every run of a plan sees the same images whatever its seed."""
    xtr, ytr, xte, yte = ds.x_train, ds.y_train, ds.x_test, ds.y_test
    if n_train and n_train < len(ytr):
        i = _balanced(ytr, n_train, seed)
        xtr, ytr = xtr[i], ytr[i]
    if n_test and n_test < len(yte):
        i = _balanced(yte, n_test, seed + 1)
        xte, yte = xte[i], yte[i]
    return Dataset(np.ascontiguousarray(xtr), ytr, np.ascontiguousarray(xte), yte, ds.classes)


def downsample(ds: Dataset, size: int) -> Dataset:
    """Images average-pooled to size × size (size must divide the side; 0 or the native side: as is).
    A cheaper task for CPU-scale runs (record it with the results)."""
    H = ds.x_train.shape[1]
    if not size or size == H:
        return ds
    if size < 1 or H % size:
        raise ValueError(f"image_size must divide the image side {H}, got {size}")
    f = H // size

    def pool(x):
        return np.rint(x.reshape(len(x), size, f, size, f, 3).astype(np.float32).mean((2, 4))).astype(np.uint8)
    return Dataset(pool(ds.x_train), ds.y_train, pool(ds.x_test), ds.y_test, ds.classes)


def partition(labels, K: int, how: str = "iid", alpha: float = 0.5, k: int = 2, seed: int = 0):
    """Worker shards (docs/theory.md §5): landscapes.data.split — 'iid', 'dirichlet' (α), 'classes' (k)."""
    from landscapes.data import split
    return split(np.asarray(labels), K, how=how, alpha=alpha, k=k, seed=seed)


class Augmented:
    """Training images on `device` as uint8 (N, 3, H+8, W+8) (reflect-padded) + labels, test
    images unpadded, and K worker shards; `batch(t)` -> normalised (K, B, 3, H, W), labels (K, B)."""

    def __init__(self, ds: Dataset, shards, batch: int, seed: int = 0, device="cpu",
                 dtype=torch.float32, augment: bool = True, pad: int = 4):
        self.K, self.B, self.seed, self.augment, self.pad = len(shards), int(batch), int(seed), augment, pad
        if self.B < 1:
            raise ValueError(f"batch must be >= 1, got {batch}")
        xp = np.pad(ds.x_train, ((0, 0), (pad, pad), (pad, pad), (0, 0)), mode="reflect")
        self.x = torch.as_tensor(xp).permute(0, 3, 1, 2).contiguous().to(device)
        self.y = torch.as_tensor(ds.y_train).to(device)
        self.x_test = torch.as_tensor(ds.x_test).permute(0, 3, 1, 2).contiguous().to(device)
        self.y_test = torch.as_tensor(ds.y_test).to(device)
        self.H, self.W = ds.x_train.shape[1:3]
        self.shards = [np.asarray(s) for s in shards]
        self.device, self.dtype = torch.device(device), dtype
        self.mean = torch.tensor(MEAN, dtype=dtype, device=device).view(3, 1, 1) * 255
        self.std = torch.tensor(STD, dtype=dtype, device=device).view(3, 1, 1) * 255
        self._perm = {}

    def _perm_of(self, k: int, epoch: int) -> np.ndarray:
        key = (k, epoch)
        if key not in self._perm:
            if len(self._perm) > 4 * self.K:
                self._perm.clear()
            self._perm[key] = np.random.default_rng([self.seed, 1, k, epoch]).permutation(self.shards[k].size)
        return self._perm[key]

    def indices(self, t: int) -> np.ndarray:
        """(K, B) dataset indices of step t: worker k walks fresh permutations of its shard."""
        out = np.empty((self.K, self.B), dtype=np.int64)
        for k, s in enumerate(self.shards):
            pos = t * self.B + np.arange(self.B)
            for e in np.unique(pos // s.size):
                sel = pos // s.size == e
                out[k, sel] = s[self._perm_of(k, int(e))[pos[sel] % s.size]]
        return out

    def normalise(self, x_uint8: torch.Tensor) -> torch.Tensor:
        return (x_uint8.to(self.dtype) - self.mean) / self.std

    def batch(self, t: int):
        idx = self.indices(t)
        rng = np.random.default_rng([self.seed, 2, t])
        n, p = idx.size, self.pad
        if self.augment:
            dy, dx = rng.integers(0, 2 * p + 1, size=(2, n))
            flip = rng.integers(0, 2, size=n).astype(bool)
        else:
            dy = dx = np.full(n, p)
            flip = np.zeros(n, dtype=bool)
        ar_h, ar_w = np.arange(self.H), np.arange(self.W)
        rows = dy[:, None] + ar_h
        cols = dx[:, None] + np.where(flip[:, None], ar_w[::-1], ar_w)
        dev = self.device
        ii = torch.as_tensor(idx.reshape(-1)).to(dev)
        rows, cols = torch.as_tensor(rows).to(dev), torch.as_tensor(cols).to(dev)
        ch = torch.arange(3, device=dev)
        x = self.x[ii[:, None, None, None], ch[None, :, None, None], rows[:, None, :, None], cols[:, None, None, :]]
        x = self.normalise(x).reshape(self.K, self.B, 3, self.H, self.W)
        return x, self.y[ii].reshape(self.K, self.B)
