"""training/: refusals and integrity — a damaged data archive, bad trainer options, a resumed run
whose options differ, atomic run files, the plan's completeness rule, the CLI's one-line errors,
`--help`, and the docstring's CPU example (run as written)."""
import dataclasses
import io
import json
import os
import shlex
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest

from training import data as cifar
from training import plan, train

PIL = pytest.importorskip("PIL.Image")
REPO = Path(__file__).resolve().parents[1]


def _png(rng, size=8) -> bytes:
    buf = io.BytesIO()
    PIL.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def _archive(path: Path, classes=("airplane", "cat"), n_train=40, n_test=10, seed=0) -> Path:
    """A .tar.gz image-folder tree of random (incompressible) PNGs."""
    rng = np.random.default_rng(seed)
    with tarfile.open(path, "w:gz") as tf:
        for part, n in (("train", n_train), ("test", n_test)):
            for c in classes:
                for i in range(n):
                    b = _png(rng)
                    info = tarfile.TarInfo(f"top/{part}/{c}/{i:04d}.png")
                    info.size = len(b)
                    tf.addfile(info, io.BytesIO(b))
    return path


@pytest.mark.parametrize("where", [0.33, 0.90, 0.97])
def test_corrupted_archive_is_refused_and_nothing_cached(tmp_path, where):
    arch = _archive(tmp_path / "tree.tar.gz")
    good = cifar.load(arch, use_cache=False)
    assert good.x_train.shape == (80, 8, 8, 3)                 # the intact archive reads
    raw = bytearray(arch.read_bytes())
    at = int(len(raw) * where)
    raw[at:at + 64] = bytes((b ^ 0xFF) for b in raw[at:at + 64])   # 64 bytes overwritten
    arch.write_bytes(bytes(raw))
    cache = tmp_path / "cache"
    with pytest.raises(ValueError, match="corrupt"):
        cifar.load(arch, cache=cache)
    assert not cache.exists() or not any(cache.iterdir())


def test_truncated_archive_is_refused(tmp_path):
    arch = _archive(tmp_path / "tree.tar.gz")
    raw = arch.read_bytes()
    arch.write_bytes(raw[: int(len(raw) * 0.99)])
    with pytest.raises(ValueError, match="corrupt"):
        cifar.load(arch, use_cache=False)


def test_cifar10_class_counts_are_checked(tmp_path):
    # all ten CIFAR-10 classes but 2 / 1 images each: not the complete set -> refused, with the counts
    arch = _archive(tmp_path / "small.tar.gz", classes=cifar.CLASSES, n_train=2, n_test=1)
    with pytest.raises(ValueError, match="5000 images of each CIFAR-10 class"):
        cifar.load(arch, use_cache=False)
    ok = cifar.Dataset(np.zeros((50000, 2, 2, 3), np.uint8), np.repeat(np.arange(10), 5000),
                       np.zeros((10000, 2, 2, 3), np.uint8), np.repeat(np.arange(10), 1000), cifar.CLASSES)
    cifar.check_counts(ok, "x")                                # the real counts pass
    y = ok.y_train.copy()
    y[0] = 1                                                   # one airplane relabelled
    with pytest.raises(ValueError, match="airplane"):
        cifar.check_counts(ok._replace(y_train=y), "x")


def test_subset_and_downsample():
    ds = cifar.synthetic(200, size=16, classes=10, seed=0)
    sub = cifar.subset(ds, 50, 20)
    assert np.bincount(sub.y_train, minlength=10).tolist() == [5] * 10
    assert np.bincount(sub.y_test, minlength=10).tolist() == [2] * 10
    assert cifar.subset(ds, 50, 20).y_train.tolist() == sub.y_train.tolist()   # fixed subset
    small = cifar.downsample(ds, 8)
    want = ds.x_train[:, :2, :2].astype(float).mean((1, 2))                    # top-left 2×2 block
    np.testing.assert_allclose(small.x_train[:, 0, 0], np.rint(want), atol=0)
    with pytest.raises(ValueError, match="image_size"):
        cifar.downsample(ds, 5)


# ------------------------------------------------------------------ trainer options

BASE = ["--synthetic", "40", "--model", "lenet", "--workers", "2", "--batch", "4", "--steps", "2"]


@pytest.mark.parametrize("extra, match", [
    (["--lr", "0"], "lr must be"), (["--lr", "-0.1"], "lr must be"),
    (["--eval-batch", "0"], "eval_batch must be >= 1"),
    (["--hp", "beta"], "KEY=VALUE"), (["--hp", "lr=0.3"], "--lr"),
    (["--synthetic-size", "8"], "synthetic_size must be >= 14"),
    (["--data", "/nonexistent/cifar.tar.gz", "--synthetic", "0"], "does not exist"),
])
def test_bad_options_are_refused_before_any_folder(tmp_path, extra, match):
    out = tmp_path / "runs"
    with pytest.raises(ValueError, match=match):
        train.main([*BASE, *extra, "--out", str(out)])
    assert not out.exists()


def test_float16_and_missing_cuda_are_refused(tmp_path):
    cfg = train.Config(synthetic=40, model="lenet", dtype="float16")
    with pytest.raises(ValueError, match="float16"):
        train.check(cfg)
    import torch
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            train.check(dataclasses.replace(cfg, dtype="float32", device="cuda"))


def test_cli_errors_are_one_line_without_traceback(tmp_path, capsys):
    import torch
    cases = [["--lr", "0"], ["--dtype", "float16"], ["--hp", "beta"], ["--eval-batch", "0"], ["--norm", "layer"]]
    if not torch.cuda.is_available():
        cases.append(["--device", "cuda"])
    for extra in cases:
        rc = train.cli([*BASE, *extra, "--out", str(tmp_path / "o")])
        err = capsys.readouterr().err
        lines = [ln for ln in err.splitlines() if ln.strip()]
        assert rc == 2 and len(lines) == 1 and lines[0].startswith("error:"), (extra, err)
        assert "Traceback" not in err
    assert not (tmp_path / "o").exists()


@pytest.mark.slow
def test_cli_subprocess_exit_status(tmp_path):
    r = subprocess.run([sys.executable, "-m", "training", *BASE, "--lr", "0", "--out", str(tmp_path / "o")],
                       capture_output=True, text=True, cwd=REPO, timeout=300)
    assert r.returncode == 2 and r.stderr.strip().count("\n") == 0 and "Traceback" not in r.stderr


def test_help_documents_every_option_with_default_and_choices():
    text = train.parser().format_help()
    flat = " ".join(text.split())
    for f in dataclasses.fields(train.Config):
        assert "--" + f.name.replace("_", "-") in text, f.name
    assert flat.count("(default:") >= len(dataclasses.fields(train.Config))
    for choices in ("{float32,float64}", "{iid,dirichlet,classes}", "{auto,on,off}"):
        assert choices in flat
    assert "lenet_gn" in flat and "dsgd" in flat


def test_docstring_example_runs_as_written(tmp_path):
    line = next(ln.strip() for ln in train.__doc__.splitlines() if "--synthetic" in ln)
    argv = shlex.split(line)
    assert argv[:3] == ["python", "-m", "training"]
    run_dir = train.main([*argv[3:], "--out", str(tmp_path)])
    summ = json.loads((run_dir / "summary.json").read_text())
    assert summ["completed"] is True and summ["step"] == int(argv[argv.index("--steps") + 1])


def test_resume_refuses_a_different_configuration(tmp_path):
    run_dir = train.main([*BASE, "--steps", "4", "--stop-after", "2", "--checkpoint-every", "1", "--out", str(tmp_path)])
    assert not (run_dir / "summary.json").exists()
    with pytest.raises(ValueError) as e:
        train.main([*BASE, "--steps", "4", "--lr", "0.3", "--batch", "2", "--resume", str(run_dir)])
    keys = str(e.value).split("differing keys: ")[1]
    assert "lr: 0.1 -> 0.3" in keys and "batch: 4 -> 2" in keys and "steps" not in keys
    # the same options (and a different device spelling-free override) resume to the end
    train.main([*BASE, "--steps", "4", "--resume", str(run_dir)])
    assert json.loads((run_dir / "summary.json").read_text())["step"] == 4


def test_run_files_are_written_atomically(tmp_path, monkeypatch):
    """Every run file but the log goes through dynamics.runfolder's temp + rename (a crash leaves
    the old file or the new one); a rename that fails leaves the old summary whole."""
    from dynamics import runfolder
    real, renamed = os.replace, []

    def spy(a, b):
        renamed.append(Path(b).name)
        return real(a, b)
    monkeypatch.setattr(runfolder.os, "replace", spy)
    run_dir = train.main([*BASE, "--out", str(tmp_path)])
    assert {"config.json", "checkpoint.pt", "summary.json"} <= set(renamed)
    assert sorted(p.name for p in run_dir.iterdir()) == ["checkpoint.pt", "config.json", "metrics.jsonl",
                                                         "summary.json"]
    old = (run_dir / "summary.json").read_text()
    assert json.loads(old)["completed"] is True and not old.endswith("\n")   # the recorded format
    monkeypatch.setattr(runfolder.os, "replace", lambda a, b: (_ for _ in ()).throw(OSError("disk full")))
    with pytest.raises(OSError):
        train.write_json(run_dir / "summary.json", {"new": 1})
    assert (run_dir / "summary.json").read_text() == old


def test_is_complete_needs_the_completed_flag(tmp_path):
    d = tmp_path / "run"
    d.mkdir()
    for f in plan.FILES:
        (d / f).write_text("{}")
    assert not plan.is_complete(d)                             # every file, no flag
    (d / "summary.json").write_text(json.dumps({"completed": False}))
    assert not plan.is_complete(d)
    (d / "summary.json").write_text('{"completed": tr')        # cut mid-write
    assert not plan.is_complete(d)
    (d / "summary.json").write_text(json.dumps({"completed": True}))
    assert plan.is_complete(d)
    (d / "posthoc.json").unlink()
    assert not plan.is_complete(d)


def test_cpu_profile_plan():
    runs = plan.all_runs("cpu")
    assert len(runs) >= 24 and len({r.name for r in runs}) == len(runs)
    for c in plan.cpu_calls():
        assert sum(plan.cpu_estimate_run(r) for r in c.runs) <= plan.CPU_CHUNK_BUDGET_S
    for r in runs:
        cfg, _ = train.parse([*r.trainer_argv(), "--synthetic", "40"])
        assert cfg.workers == 16 and cfg.threads == 2 and cfg.model == plan.CPU_MODEL
    c1 = [r for r in runs if r.labels["claim"] == "c1"]
    for r in c1:                                              # fixed epoch budget
        tb = r.labels["total_batch"]
        assert abs(int(r.flag("steps")) * tb / plan.CPU_TRAIN_IMAGES - plan.CPU_C1_EPOCHS) < 0.6
    seeds = {}
    for r in runs:
        key = (r.labels["claim"], r.labels["method"], r.labels.get("total_batch"), r.labels.get("k"))
        seeds.setdefault(key, set()).add(r.seed)
    assert all(len(s) >= 2 for s in seeds.values())
