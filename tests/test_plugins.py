"""verify.plugins: a user module registering with dynamics.register is loaded and its contract
checked; deliberately broken plug-ins are refused with a message naming the problem."""
import sys
import textwrap

import pytest

import dynamics
from dynamics import base
from verify import plugins
from verify.plugins import PluginError, load_plugin

GOOD = """
from typing import NamedTuple
import torch
import dynamics

class S(NamedTuple):
    x: torch.Tensor

@dynamics.register("{name}")
def build(topology=None, lr=None):
    lr = dynamics.base.check_lr(lr)
    def init(x0, oracle=None, rng=None):
        return S(x0.clone())
    def step(s, oracle, t, rng=None):
        _, g = oracle(s.x, t, rng)
        return S({update})
    def model(s):
        return {model}
    return dynamics.Method("{name}", init, step, model, float(topology.edges_per_step()), dict(lr=lr), topology)

SCORECARD_HP = {{"{name}": {{"lr": 0.2}}}}
"""

OK_UPDATE = "topology.mix(s.x, t) - lr * g"
OK_MODEL = "s.x.mean(-2)"


def _write(tmp_path, monkeypatch, mod, name, update=OK_UPDATE, model=OK_MODEL, src=None):
    (tmp_path / f"{mod}.py").write_text(textwrap.dedent(src or GOOD.format(name=name, update=update, model=model)))
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop(mod, None)


@pytest.fixture
def cleanup():
    names = []
    yield names
    for n in names:
        plugins.unregister(n)


def test_good_plugin_is_loaded_and_usable(tmp_path, monkeypatch, cleanup):
    _write(tmp_path, monkeypatch, "plug_good", "plug_good_algo")
    cleanup.append("plug_good_algo")
    assert load_plugin("plug_good") == ["plug_good_algo"]
    assert "plug_good_algo" in dynamics.names()
    assert plugins.hp_for("plug_good_algo") == {"lr": 0.2}
    m = dynamics.make("plug_good_algo", dynamics.topology.ring(4), lr=0.1)
    assert m.comm == 8.0
    assert load_plugin("plug_good") == ["plug_good_algo"]  # loading twice is harmless


@pytest.mark.parametrize("mod,update,model,needle", [
    ("plug_impure", "s.x.sub_(lr * g)", OK_MODEL, "not pure: it modified the input state's field(s) x"),
    ("plug_shape", "(topology.mix(s.x, t) - lr * g).mean(-2)", OK_MODEL, "state.x of shape"),
    ("plug_random", "s.x - lr * g + torch.randn(s.x.shape)", OK_MODEL, "different outputs twice"),
    ("plug_model", OK_UPDATE, "s.x", "model(state) has shape"),
])
def test_broken_plugins_are_refused_naming_the_problem(tmp_path, monkeypatch, mod, update, model, needle):
    name = mod + "_algo"
    _write(tmp_path, monkeypatch, mod, name, update, model)
    with pytest.raises(PluginError, match=f"algorithm '{name}'") as exc:
        load_plugin(mod)
    assert needle in str(exc.value), str(exc.value)
    assert name not in base.ALGORITHMS  # refused builders are unregistered again


def test_state_without_x_and_not_a_namedtuple(tmp_path, monkeypatch):
    src = GOOD.format(name="plug_nox_algo", update=OK_UPDATE, model=OK_MODEL).replace(
        "class S(NamedTuple):\n    x: torch.Tensor", "class S(NamedTuple):\n    w: torch.Tensor").replace(
        "s.x", "s.w")
    _write(tmp_path, monkeypatch, "plug_nox", "plug_nox_algo", src=src)
    with pytest.raises(PluginError, match="without a field 'x'"):
        load_plugin("plug_nox")
    src = GOOD.format(name="plug_tuple_algo", update=OK_UPDATE, model=OK_MODEL).replace(
        "return S(x0.clone())", "return (x0.clone(),)")
    _write(tmp_path, monkeypatch, "plug_tuple", "plug_tuple_algo", src=src)
    with pytest.raises(PluginError, match="NamedTuple"):
        load_plugin("plug_tuple")


def test_missing_module_and_module_without_algorithms(tmp_path, monkeypatch):
    with pytest.raises(PluginError, match="cannot be imported"):
        load_plugin("no_such_module_xyz")
    (tmp_path / "plug_empty.py").write_text("x = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(PluginError, match="registers no algorithm"):
        load_plugin("plug_empty")


def test_entry_points_are_loaded(tmp_path, monkeypatch, cleanup):
    _write(tmp_path, monkeypatch, "plug_ep", "plug_ep_algo")
    cleanup.append("plug_ep_algo")

    class EP:
        module = "plug_ep"

    import importlib.metadata as md
    monkeypatch.setattr(md, "entry_points", lambda group=None: [EP()] if group == plugins.ENTRY_POINT_GROUP else [])
    assert plugins.load_entry_points() == ["plug_ep_algo"]


def test_builtin_algorithms_meet_the_contract():
    for name in dynamics.names():
        plugins.check_builder(name, **({"lr": 0.1, "rho": 1.0} if name == "admm_rr" else {"lr": 0.1}))


def test_scorecard_cli_refuses_a_broken_plugin(tmp_path, monkeypatch, capsys):
    from verify.scorecard import main
    _write(tmp_path, monkeypatch, "plug_cli_bad", "plug_cli_bad_algo", update="s.x.sub_(lr * g)")
    assert main(["--plugin", "plug_cli_bad", "--out", str(tmp_path / "run"), "--no-entry-points"]) == 2
    err = capsys.readouterr().err
    assert "plug_cli_bad_algo" in err and "not pure" in err
