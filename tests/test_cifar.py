"""training.data: both on-disk layouts, the atomic cache, errors, device augmentation, sampling."""
import pickle
import tarfile

import numpy as np
import pytest
import torch

from training import data as cifar

PIL = pytest.importorskip("PIL.Image")


def _tree(root, fmt="png", seed=0):
    """train/{airplane,cat}/ 3 images each, test/ 2 each, 8×8; returns the pixel arrays written."""
    rng = np.random.default_rng(seed)
    written = {}
    for part, n in (("train", 3), ("test", 2)):
        for c in ("airplane", "cat"):
            d = root / part / c
            d.mkdir(parents=True)
            for i in range(n):
                a = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
                PIL.fromarray(a).save(d / f"{i:04d}.{fmt}")
                written[(part, c, i)] = a
    return written


def _expected(written, part):
    keys = sorted(k for k in written if k[0] == part)     # class folders, then file names, sorted
    return np.stack([written[k] for k in keys]), np.array([cifar.CLASSES.index(k[1]) for k in keys])


def test_image_folder_and_its_tar_gz(tmp_path):
    src = tmp_path / "cifar-tree"
    written = _tree(src)
    ds = cifar.load(src, cache=tmp_path / "cache")
    for part, x, y in (("train", ds.x_train, ds.y_train), ("test", ds.x_test, ds.y_test)):
        ex, ey = _expected(written, part)
        np.testing.assert_array_equal(x, ex)           # PNG is lossless
        np.testing.assert_array_equal(y, ey)           # CIFAR numbering: airplane 0, cat 3
    arch = tmp_path / "tree.tar.gz"
    with tarfile.open(arch, "w:gz") as tf:
        tf.add(src, arcname="top")
    ds2 = cifar.load(arch, cache=tmp_path / "cache")
    np.testing.assert_array_equal(ds2.x_train, ds.x_train)
    np.testing.assert_array_equal(ds2.y_test, ds.y_test)
    assert sorted(p.suffix for p in (tmp_path / "cache").iterdir()) == [".npz", ".npz"]


def test_jpeg_tree_decodes(tmp_path):
    _tree(tmp_path / "j", fmt="jpg")
    ds = cifar.load(tmp_path / "j", use_cache=False)
    assert ds.x_train.shape == (6, 8, 8, 3) and ds.x_train.dtype == np.uint8 and ds.x_test.shape[0] == 4


def _batches(folder, seed=0):
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    out = {}
    for name, n in (("data_batch_1", 4), ("data_batch_2", 3), ("test_batch", 2)):
        d = {b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8), b"labels": list(rng.integers(0, 10, n))}
        (folder / name).write_bytes(pickle.dumps(d))
        out[name] = d
    return out


def test_python_batches_folder_parent_and_tar(tmp_path):
    raw = _batches(tmp_path / "p" / "cifar-10-batches-py")
    d = raw["data_batch_1"][b"data"]
    for src in (tmp_path / "p" / "cifar-10-batches-py", tmp_path / "p"):
        ds = cifar.load(src, cache=tmp_path / "c")
        assert ds.x_train.shape == (7, 32, 32, 3) and ds.x_test.shape == (2, 32, 32, 3)
        # planar layout: pixel (h, w) of channel c is data[c·1024 + h·32 + w]
        assert ds.x_train[1, 5, 7, 2] == d[1, 2 * 1024 + 5 * 32 + 7]
        assert ds.x_train[4, 0, 31, 0] == raw["data_batch_2"][b"data"][0, 31]
        np.testing.assert_array_equal(ds.y_train, raw["data_batch_1"][b"labels"] + raw["data_batch_2"][b"labels"])
    arch = tmp_path / "cifar-10-python.tar.gz"
    with tarfile.open(arch, "w:gz") as tf:
        tf.add(tmp_path / "p" / "cifar-10-batches-py", arcname="cifar-10-batches-py")
    np.testing.assert_array_equal(cifar.load(arch, cache=tmp_path / "c").x_test, ds.x_test)


def test_corrupt_archive_raises_and_leaves_no_cache_file(tmp_path):
    _tree(tmp_path / "src")
    good = tmp_path / "good.tar.gz"
    with tarfile.open(good, "w:gz") as tf:
        tf.add(tmp_path / "src", arcname="x")
    bad = tmp_path / "bad.tar.gz"
    bad.write_bytes(good.read_bytes()[: len(good.read_bytes()) // 2])   # truncated
    cache = tmp_path / "cache"
    with pytest.raises(ValueError, match="bad.tar.gz"):
        cifar.load(bad, cache=cache)
    assert not cache.exists() or list(cache.iterdir()) == []
    garbage = tmp_path / "garbage.tar.gz"
    garbage.write_bytes(b"\x1f\x8b not really gzip" * 10)
    with pytest.raises(ValueError):
        cifar.load(garbage, cache=cache)
    assert not cache.exists() or list(cache.iterdir()) == []


def test_missing_and_wrong_layout_name_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        cifar.load(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="empty.*train/<class>"):
        cifar.load(tmp_path / "empty", use_cache=False)


def test_augmented_batches_are_crops_and_flips_of_the_padded_images():
    ds = cifar.synthetic(40, size=6, classes=4, seed=1)
    shards = cifar.partition(ds.y_train, 2, "iid", seed=0)
    plain = cifar.Augmented(ds, shards, batch=5, seed=3, augment=False, dtype=torch.float64)
    x, y = plain.batch(0)
    idx = plain.indices(0)
    ref = torch.as_tensor(ds.x_train[idx]).permute(0, 1, 4, 2, 3).double()
    np.testing.assert_allclose(x.numpy(), plain.normalise(ref).numpy(), atol=1e-12)
    np.testing.assert_array_equal(y.numpy(), ds.y_train[idx])
    aug = cifar.Augmented(ds, shards, batch=5, seed=3, augment=True, dtype=torch.float64)
    xa, _ = aug.batch(0)
    pad = np.pad(ds.x_train, ((0, 0), (4, 4), (4, 4), (0, 0)), mode="reflect")   # independent padding
    for k in range(2):
        for j in range(5):
            img = np.rint(xa[k, j].numpy() * aug.std.numpy() + aug.mean.numpy()).transpose(1, 2, 0)
            p = pad[idx[k, j]]
            cands = [p[a:a + 6, b:b + 6][:, ::f] for a in range(9) for b in range(9) for f in (1, -1)]
            assert any(np.array_equal(img, c) for c in cands)


def test_each_worker_walks_a_permutation_of_its_shard_and_batches_depend_only_on_t():
    ds = cifar.synthetic(60, size=4, classes=3)
    shards = cifar.partition(ds.y_train, 3, "iid", seed=0)   # 20 each
    a = cifar.Augmented(ds, shards, batch=4, seed=7)
    first_epoch = np.concatenate([a.indices(t) for t in range(5)], axis=1)   # 5 × 4 = 20
    for k in range(3):
        assert sorted(first_epoch[k]) == sorted(shards[k].tolist())
    b = cifar.Augmented(ds, shards, batch=4, seed=7)
    torch.testing.assert_close(b.batch(6)[0], a.batch(6)[0], rtol=0, atol=0)
