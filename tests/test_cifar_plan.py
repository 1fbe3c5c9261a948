"""training.plan (run matrix, resumable runner, summary) and verify.claims_cifar (verdicts from
recorded run folders), all on CPU: tiny synthetic runs and fabricated folders with known numbers."""
import csv
import json
import shutil
import tarfile

import numpy as np
import pytest
from scipy import stats

import dynamics
from dynamics import topology as topo
from analysis.stats import ols
from training import plan, train
from verify import claims_cifar as cc
from verify.claims import Context

TINY = ["--synthetic", "48", "--device", "cpu", "--set", "steps=2", "batch=2", "width=0.5", "eval_batch=24"]


# ------------------------------------------------------------------ the plan

def test_calls_fit_budget_and_runs_are_valid():
    names = [r.name for r in plan.all_runs()]
    assert len(names) == len(set(names))
    for c in plan.calls():
        assert plan.estimate_call(c) <= plan.CALL_BUDGET_S < 600, c.id
    for r in plan.all_runs():
        cfg, _ = train.parse([*r.trainer_argv(), "--synthetic", "8"])
        train.check(cfg)
        assert cfg.seed == r.seed
        dynamics.make(cfg.algo, topo.get(cfg.topology, cfg.workers), lr=0.1, **cfg.hp)  # hp accepted
    c1 = [r for r in plan.all_runs() if r.labels["claim"] == "c1"]
    assert {r.labels["total_batch"] for r in c1} == {1024, 8192}
    for r in c1:  # total batch = workers x per-worker batch, linear scaling on, same iteration budget
        assert int(r.flag("workers")) * int(r.flag("batch")) == r.labels["total_batch"]
        assert "--linear-scaling" in r.argv and int(r.flag("steps")) == plan.C1_STEPS


def test_estimate_by_hand():
    r = plan.c1_run("csgd", 8192, 0)   # 16 x 512 ResNet-20 at 50k img/s (the H100 anchor), 250 steps
    evals = 250 // (250 // 6) + 1
    by_hand = 1.5 + 250 * 8192 / 50_000 + evals * max(0.3, 10_000 * 17 / (3 * 50_000)) + 6.0
    assert plan.estimate_run(r) == pytest.approx(by_hand)
    assert plan.estimate_run(r, {("resnet20", 16, 512): 25_000}) > plan.estimate_run(r)


def test_run_is_resumable_packs_and_summarizes(tmp_path, capsys):
    only = ["c3-mt-k2-lr0.01-s0", "c3-gt-k2-lr0.01-s0"]
    args = ["run", "c3", "--out", str(tmp_path), "--only", *only, "--pack", str(tmp_path / "c3.tar.gz"), *TINY]
    assert plan.main([*args, "stop_after=1", "checkpoint_every=1"]) == 0
    assert '"stopped"' in capsys.readouterr().out
    root = tmp_path / "cifar"
    assert not plan.is_complete(root / only[0]) and (root / only[0] / "checkpoint.pt").is_file()
    assert plan.main(args) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["status"] == dict.fromkeys(only, "resumed")
    for n in only:
        d = root / n
        assert plan.is_complete(d)
        env = json.loads((d / "env.json").read_text())
        assert env["command"].startswith("python -m training.plan run c3") and "torch" in env
        assert "--seed 0" in env["trainer_command"] and env["dataset"].startswith("synthetic")
        post = json.loads((d / "posthoc.json").read_text())
        assert post["bytes_per_step"] == post["comm_vectors_per_step"] * post["params"] * 4
        assert 0 <= post["train_acc"] <= 1 and np.isfinite(post["train_loss"])
        assert json.loads((d / "config.json").read_text())["classes_per_worker"] == 2
    assert plan.main(args) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["status"] == dict.fromkeys(only, "skipped")
    with tarfile.open(tmp_path / "c3.tar.gz") as tf:
        names = set(tf.getnames())
    assert names == {f"{n}/{f}" for n in only for f in plan.FILES}
    assert plan.main(["summarize", str(root)]) == 0
    rows = list(csv.DictReader((root / "summary.csv").open()))
    assert sorted(r["run"] for r in rows) == sorted(only) and {r["method"] for r in rows} == {"mt", "gt"}
    cov = json.loads((root / "summary.json").read_text())["coverage"]
    assert cov["c3"] == {"done": 2, "planned": 60}


# ------------------------------------------------------------------ fabricated recordings

def fake(root, name, labels, seed, acc, **extra):
    d = root / name
    d.mkdir(parents=True)
    steps = 100
    cfg = {"seed": seed, "lr": labels.get("lr", 0.1), "algo": "x", "topology": "ring", "workers": 8,
           "batch": 32, "model": "lenet", "steps": steps}
    cons = extra.get("consensus", 0.5)
    recs = [{"step": s, "test_acc": acc * s / steps, "consensus": cons, "images_per_s": 1000.0} for s in (50, 100)]
    summ = {"test_acc": acc, "test_loss": 1.0, "consensus": cons, "completed": True, **{k: extra[k] for k in ("hess_top", "hess_trace")
                                                                      if k in extra}}
    post = {"train_loss": extra.get("train_loss", 0.5), "train_acc": 0.9, "bytes_per_step": 1e6}
    files = {"config.json": cfg, "summary.json": summ, "posthoc.json": post,
             "plan.json": {"run": name, "seed": seed, "labels": labels},
             "env.json": {"machine": "NVIDIA H100 80GB HBM3", "date": "2026-11-24 10:00:00",
                          "command": "python -m training.plan run X --out results"}}
    for f, obj in files.items():
        (d / f).write_text(json.dumps(obj))
    (d / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))


@pytest.fixture
def results(tmp_path, monkeypatch):
    monkeypatch.setenv("DECENTLAB_RESULTS", str(tmp_path))
    return tmp_path / "cifar"


def c1_folders(root, acc, sharp):
    for (m, B), (a0, a1) in acc.items():
        for s, a in enumerate((a0, a1)):
            fake(root, f"c1-{m}-b{B}-s{s}", {"claim": "c1", "method": m, "total_batch": B}, s, a,
                 hess_top=sharp[(m, B)] + s, hess_trace=100.0)


def test_contrast_matches_scipy_t_interval():
    a, b = [0.80, 0.83, 0.79], [0.75, 0.74, 0.78]
    c = cc.contrast({"a": a, "b": b}, {"a": 1, "b": -1})
    ci = stats.ttest_ind(a, b, equal_var=True).confidence_interval(0.95)
    assert (c["ci_low"], c["ci_high"]) == pytest.approx((ci.low, ci.high)) and c["df"] == 4
    assert "ci_low" not in cc.contrast({"a": [1.0], "b": [2.0]}, {"a": 1, "b": -1})


def test_claim1_verdicts_follow_the_numbers(results):
    good = {("csgd", 1024): (.80, .81), ("dsgd-ring", 1024): (.80, .81), ("dsgd-exp", 1024): (.80, .81),
            ("csgd", 8192): (.70, .71), ("dsgd-ring", 8192): (.75, .76), ("dsgd-exp", 8192): (.75, .76)}
    sharp = {k: (20.0 if k[0] == "csgd" else 10.0) for k in good}
    c1_folders(results, good, sharp)
    ev = cc.dsgd_vs_csgd_batch(Context())
    assert ev.verdict == "holds" and ev.recorded and "H100" in ev.source["machine"]
    d = ev.measured["advantage_growth/dsgd-ring"]
    # pooled s^2 = 0.01^2/2 per cell, df 6: half-width t(.975, 6) * sqrt(s^2 * 4 / 2)
    half = stats.t.ppf(0.975, 6) * np.sqrt(0.01 ** 2 / 2 * 2)
    assert d["value"] == pytest.approx(0.05) and d["ci_high"] - d["value"] == pytest.approx(half)


def test_claim1_fails_when_advantage_shrinks_and_noise_is_inconclusive(tmp_path):
    rev = {("csgd", 1024): (.70, .71), ("dsgd-ring", 1024): (.75, .76), ("dsgd-exp", 1024): (.75, .76),
           ("csgd", 8192): (.80, .81), ("dsgd-ring", 8192): (.80, .81), ("dsgd-exp", 8192): (.80, .81)}
    c1_folders(tmp_path / "a", rev, {k: 10.0 for k in rev})
    assert cc.judge_dsgd_vs_csgd(plan.load_runs(tmp_path / "a")).verdict == "fails"
    noisy = {k: (.60, .90) for k in rev}
    noisy[("dsgd-ring", 8192)] = noisy[("dsgd-exp", 8192)] = (.65, .95)
    c1_folders(tmp_path / "b", noisy, {k: (20.0 if k[0] == "csgd" else 10.0) for k in rev})
    ev = cc.judge_dsgd_vs_csgd(plan.load_runs(tmp_path / "b"))
    assert ev.verdict == "inconclusive" and "within noise" in ev.notes


def test_ols_loo_equals_refits():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(9, 2)), rng.normal(size=9)
    f = ols(X, y)
    A = np.column_stack([np.ones(9), X])
    loo = [y[i] - A[i] @ np.linalg.lstsq(np.delete(A, i, 0), np.delete(y, i), rcond=None)[0] for i in range(9)]
    assert f["loo_rmse"] == pytest.approx(np.sqrt(np.mean(np.square(loo))))
    e = y - A @ np.linalg.lstsq(A, y, rcond=None)[0]
    r2 = 1 - e @ e / np.sum((y - y.mean()) ** 2)
    assert f["r2"] == pytest.approx(r2) and f["adj_r2"] == pytest.approx(1 - (1 - r2) * 8 / 6)


def _c2(root, y_of):
    rng = np.random.default_rng(1)
    for i in range(16):
        sh, lo = rng.uniform(5, 50), rng.uniform(0.05, 1.0)
        fake(root, f"c1-run{i}", {"claim": "c1", "method": "dsgd-ring", "total_batch": 1024}, i % 2,
             y_of(sh, lo, rng), hess_top=sh, train_loss=lo)


def test_claim2_both_regressors(tmp_path):
    _c2(tmp_path / "a", lambda sh, lo, rng: 0.95 - 0.002 * sh - 0.1 * lo + rng.normal(0, 1e-3))
    assert cc.judge_flatness_error(plan.load_runs(tmp_path / "a")).verdict == "holds"
    _c2(tmp_path / "b", lambda sh, lo, rng: 0.95 - 0.002 * sh + rng.normal(0, 1e-3))
    assert cc.judge_flatness_error(plan.load_runs(tmp_path / "b")).verdict == "fails"


def test_claim3_momentum_tracking_drop(results):
    for m in plan.C3_METHODS:
        for k in (2, 10):
            for lr in plan.C3_LRS:
                for s in (0, 1):
                    hi = 0.60 if lr == 0.05 else 0.40          # the grid's best lr must be picked
                    a = hi - (0.02 if m == "mt" else 0.10) * (k == 2) + 0.005 * s
                    fake(results, f"c3-{m}-k{k}-lr{lr:g}-s{s}", {"claim": "c3", "method": m, "k": k, "lr": lr}, s, a)
    ev = cc.momentum_tracking_heterogeneity(Context())
    assert ev.verdict == "holds", ev.notes
    assert ev.reported["best_lr/gt/k=2"] == 0.05
    assert ev.measured["acc(mt) - acc(gt) @k=2"]["value"] == pytest.approx(0.08)
    assert ev.measured["drop(gt) - drop(mt)"]["value"] == pytest.approx(0.08)


def test_claim4_easgd_lsgd(results):
    spec = {"allreduce": (.88, 1e-9), "localsgd": (.84, 0.5), "downpour": (.85, 1.0), "easgd": (.87, 2.0),
            "lsgd": (.87, 1.5)}
    for m, (a, sp) in spec.items():
        for s in (0, 1):
            fake(results, f"c4-{m}-s{s}", {"claim": "c4", "method": m, "tau": 4}, s, a + 0.005 * s,
                 consensus=sp * (1 + 0.05 * s))
    ev = cc.easgd_lsgd(Context())
    assert ev.verdict == "holds", ev.notes
    assert ev.measured["acc(easgd) - acc(downpour)"]["value"] == pytest.approx(0.02, abs=1e-12)
    assert ev.headline == ["acc(easgd) - acc(downpour)", "acc(lsgd) - acc(easgd)"]


def test_nothing_recorded_is_inconclusive_with_commands(results):
    for fn in (cc.dsgd_vs_csgd_batch, cc.accuracy_flatness_error, cc.momentum_tracking_heterogeneity,
               cc.easgd_lsgd):
        ev = fn(Context(device="cuda"))
        assert ev.verdict == "inconclusive" and not ev.recorded
        assert "no runs recorded" in ev.notes and "python -m training.plan run c" in ev.notes


def _c3_rows(root, mt_drop=0.02, other_drop=0.10):
    for m in ("mt", "dsgdm", "decentlam"):
        for k in (2, 10):
            for sd in (0, 1):
                a = 0.6 - (mt_drop if m == "mt" else other_drop) * (k == 2) + 0.005 * sd
                fake(root, f"c3-{m}-k{k}-s{sd}", {"claim": "c3", "method": m, "k": k, "lr": 0.02}, sd, a)


def _c4_rows(root):
    for m, a in {"downpour": .80, "easgd": .85, "eamsgd": .84, "lsgd": .86}.items():
        for sd in (0, 1):
            fake(root, f"c4-{m}-s{sd}", {"claim": "c4", "method": m, "tau": 4}, sd, a + 0.004 * sd)


def test_figures_from_evidence(results, tmp_path):
    from paper_figs import cifar_claims
    from paper_figs._evidence import run_claims

    def make(out):
        return cifar_claims.draw(run_claims(cifar_claims.CLAIMS, quick=False), out)
    assert make(tmp_path / "none") == []
    good = {("csgd", 1024): (.80, .81), ("dsgd-ring", 1024): (.80, .81), ("csgd", 8192): (.70, .71),
            ("dsgd-ring", 8192): (.75, .76)}
    c1_folders(results, good, {k: 10.0 + 3 * (k[0] == "csgd") + k[1] / 1000 for k in good})
    _c3_rows(results)
    _c4_rows(results)
    made = make(tmp_path / "figs")
    assert {p.name for p in made} == {f"{s}.{e}" for s in ("cifar_dsgd_vs_csgd", "cifar_accuracy_flatness_error",
                                                            "cifar_momentum_tracking_heterogeneity",
                                                            "cifar_easgd_lsgd") for e in ("png", "pdf")}
    assert all(p.read_bytes()[:4] in (b"\x89PNG", b"%PDF") for p in made)


# ------------------------------------------------------------------ where the evidence comes from, controls

def test_claim4_a_method_at_chance_is_no_comparison(results):
    _c4_rows(results)
    for sd in (0, 1):
        shutil.rmtree(results / f"c4-downpour-s{sd}")
        fake(results, f"c4-downpour-s{sd}", {"claim": "c4", "method": "downpour", "tau": 4}, sd, 0.10)
    ev = cc.easgd_lsgd(Context())
    assert ev.regime["at_chance"] == ["downpour"] and ev.verdict == "inconclusive" and "chance" in ev.notes


def test_cpu_recordings_are_used_when_no_gpu_runs(tmp_path, monkeypatch):
    monkeypatch.setenv("DECENTLAB_RESULTS", str(tmp_path))
    _c4_rows(tmp_path / "cifar-cpu")
    ev = cc.easgd_lsgd(Context())
    assert ev.regime["profile"] == "cpu" and ev.source["path"].endswith("cifar-cpu")
    assert ev.finding.startswith("CPU scale") and ev.verdict == "holds", ev.notes
    _c4_rows(tmp_path / "cifar")                               # GPU recordings take precedence
    assert cc.easgd_lsgd(Context()).regime["profile"] == "gpu"


@pytest.mark.parametrize("cid, control, setup", [
    ("cifar.dsgd_vs_csgd_batch", "dsgd_equals_csgd", "c1"), ("cifar.dsgd_vs_csgd_batch", "dsgd_mirrored", "c1"),
    ("cifar.momentum_tracking_heterogeneity", "mt_equals_dsgdm", "c3"),
    ("cifar.momentum_tracking_heterogeneity", "mt_mirrored", "c3"),
    ("cifar.easgd_lsgd", "elastic_equals_downpour", "c4"), ("cifar.easgd_lsgd", "mirrored", "c4"),
    ("cifar.accuracy_flatness_error", "flatness_shuffled", "c2"),
])
def test_each_control_flips_a_holding_verdict(results, tmp_path, cid, control, setup):
    from verify.catalog import load
    if setup == "c1":
        good = {("csgd", 1024): (.80, .81), ("dsgd-ring", 1024): (.80, .81), ("dsgd-exp", 1024): (.80, .81),
                ("csgd", 8192): (.70, .71), ("dsgd-ring", 8192): (.75, .76), ("dsgd-exp", 8192): (.75, .76)}
        c1_folders(results, good, {k: 10.0 for k in good})
    elif setup == "c2":
        _c2(results, lambda sh, lo, rng: 0.95 - 0.002 * sh - 0.1 * lo + rng.normal(0, 1e-3))
    elif setup == "c3":
        _c3_rows(results)
    else:
        _c4_rows(results)
    c = load()[cid]
    assert control in c.controls
    assert c.run(Context()).verdict == "holds"
    assert c.run(Context(control=control)).verdict != "holds"


# ------------------------------------------------------------------ claim 4's step-size grid

def test_cpu_c4_grid_names_and_lrs():
    runs = [r for c in plan.cpu_calls() for r in c.runs if r.labels["claim"] == "c4"]
    by = {}
    for r in runs:
        by.setdefault(r.labels["method"], set()).add(float(r.flag("lr")))
        assert float(r.flag("lr")) == r.labels["lr"]
    assert by["easgd"] == by["lsgd"] == by["localsgd"] == {0.4, 0.2, 0.05, 0.0125}
    assert by["eamsgd"] == by["downpour"] == {0.2, 0.05, 0.0125, 0.003125, 0.00078125}
    names = {r.name for r in runs}
    assert "c4-easgd-tau4-s0" in names and "c4-easgd-tau4-lr0.05-s1" in names   # lr 0.2 keeps its old name
    assert len(runs) == 2 * sum(len(v) for v in by.values())


def _c4_grid(root, swap_downpour=False):
    """Each method at two step sizes: the one with the LOWER training loss has the LOWER test accuracy
    for easgd (so a selection on test accuracy would pick the other one)."""
    spec = {  # method: {lr: (test_acc, train_loss)}
        "downpour": {0.2: (0.10, 2.31), 0.0125: (0.80, 1.20)},
        "easgd": {0.2: (0.85, 1.00), 0.05: (0.88, 1.10)},
        "eamsgd": {0.2: (0.10, 2.31), 0.003125: (0.84, 1.05)},
        "lsgd": {0.2: (0.86, 0.95), 0.05: (0.70, 1.50)}}
    for m, lrs in spec.items():
        for lr, (a, lo) in lrs.items():
            for sd in (0, 1):
                fake(root, f"c4-{m}-lr{lr:g}-s{sd}", {"claim": "c4", "method": m, "tau": 4, "lr": lr}, sd,
                     a + 0.004 * sd, train_loss=lo + 0.01 * sd)


def test_claim4_selects_lr_by_training_loss_not_test_accuracy(results):
    _c4_grid(results)
    ev = cc.easgd_lsgd(Context())
    sel = {m: ev.reported[f"selected_lr/{m}"] for m in ("downpour", "easgd", "eamsgd", "lsgd")}
    assert sel == {"downpour": 0.0125, "easgd": 0.2, "eamsgd": 0.003125, "lsgd": 0.2}
    assert ev.reported["train_loss/easgd/lr=0.05"] == pytest.approx(1.105)
    # easgd at 0.2 (0.85, 0.854) vs downpour at 0.0125 (0.80, 0.804)
    assert ev.measured["acc(easgd) - acc(downpour)"]["value"] == pytest.approx(0.05, abs=1e-12)
    assert ev.regime["at_chance"] == [] and ev.verdict == "holds", ev.notes


@pytest.mark.parametrize("control", ["elastic_equals_downpour", "mirrored"])
def test_claim4_controls_flip_with_a_grid(results, control):
    from verify.catalog import load
    _c4_grid(results)
    c = load()["cifar.easgd_lsgd"]
    assert c.run(Context()).verdict == "holds"
    assert c.run(Context(control=control)).verdict != "holds"


def test_select_lr_needs_every_seed():
    rows = [{"method": "a", "lr": 0.1, "seed": 0, "train_loss": 1.0}, {"method": "a", "lr": 0.1, "seed": 1, "train_loss": 1.0},
            {"method": "a", "lr": 0.01, "seed": 0, "train_loss": 0.1},            # one seed only: not a candidate
            {"method": "b", "lr": 0.1, "seed": 0, "train_loss": float("nan")},  # diverged: +inf
            {"method": "b", "lr": 0.01, "seed": 0, "train_loss": 2.0}]
    keep, table = cc.select_lr(rows)
    assert table["a"]["lr"] == 0.1 and table["b"]["lr"] == 0.01
    assert sorted((r["method"], r["lr"]) for r in keep) == [("a", 0.1), ("a", 0.1), ("b", 0.01)]


def test_recorded_commands_are_shown_with_portable_paths():
    from verify.claims import REPO_ROOT
    from verify.claims_cifar import _portable
    cmd = (f"python -m training.plan run c1 --data /somewhere/else/cifar10-jpeg.tar.gz "
           f"--out {REPO_ROOT}/results/cifar-cpu; x --data ../outside/d.tar.gz --out=results/r")
    assert _portable(cmd) == ("python -m training.plan run c1 --data cifar10-jpeg.tar.gz "
                              "--out results/cifar-cpu; x --data d.tar.gz --out=results/r")
