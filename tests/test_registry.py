"""landscapes.registry.Registry: the one name -> builder idiom behind landscapes.get,
dynamics.make and topology.get (their own error messages are tested in tests/test_bad_input_*)."""
import pytest

import dynamics
import landscapes
from dynamics import topology as T
from landscapes.registry import Registry, did_you_mean


def _reg():
    r = Registry("widget", word="knob", positional=1, also="(or a custom one)")

    @r.register("alpha")
    def alpha(n, size=1, colour="red"):
        return (n, size, colour)

    r.register("beta", lambda n, **kw: (n, kw))
    return r


def test_build_checks_names_and_keywords():
    r = _reg()
    assert r.names() == ["alpha", "beta"] and "alpha" in r and "gamma" not in r and 3 not in r
    assert r.build("alpha", 4, size=2) == (4, 2, "red")
    assert r.build("beta", 4, anything=1) == (4, {"anything": 1})  # **kw: any keyword
    assert r.accepted("alpha") == ["size", "colour"] and r.accepted("beta") is None
    assert r.defaults("alpha") == {"size": 1, "colour": "red"}
    with pytest.raises(ValueError, match=r"^unknown widget 'alpah' \(did you mean 'alpha'\?\); "
                                         r"choose from: alpha, beta \(or a custom one\)$"):
        r.build("alpah", 1)
    with pytest.raises(ValueError, match=r"^unknown knob 'colur' for widget 'alpha' \(did you mean "
                                         r"'colour'\?\); accepted: size, colour$"):
        r.build("alpha", 1, colur="blue")
    with pytest.raises(ValueError, match="unknown widget None"):
        r.builder(None)


def test_register_twice_is_refused_and_unregister_frees_the_name():
    r = _reg()
    with pytest.raises(ValueError, match="widget 'alpha' registered twice"):
        r.register("alpha", lambda n: n)
    r.unregister("alpha")
    assert "alpha" not in r and r.get("alpha") is None
    r.register("alpha", lambda n: -n)
    assert r.build("alpha", 2) == -2
    with pytest.raises(ValueError, match="a widget name must be a non-empty string, got 3"):
        r.register(3, lambda n: n)
    r.register("star", lambda n, *rest, size=1: (n, rest, size))   # *args is not a keyword
    assert r.accepted("star") == ["size"] and r.defaults("star") == {"size": 1}


def test_did_you_mean():
    assert did_you_mean("rnig", ["ring", "star"]) == " (did you mean 'ring'?)"
    assert did_you_mean("zzz", ["ring"]) == "" and did_you_mean(3, ["ring"]) == ""


def test_the_three_registries_hold_the_modules_builders():
    """Each registry maps its names to the builder functions the modules define (not copies),
    and the public lookups read them."""
    from dynamics.algorithms import momentum
    from landscapes import analytic
    assert landscapes.core.LANDSCAPES.builder("quartic") is analytic.quartic
    assert dynamics.base.ALGORITHMS.builder("dsgdm") is momentum.dsgdm
    assert T.TOPOLOGIES.builder("ring") is T.ring and T.get("ring", 5).W().shape == (5, 5)
    assert {"ring", "complete", "erdos_renyi", "custom"} <= set(T.names())
    assert dynamics.base.hyper_parameters("dsgdm") == {"lr": None, "beta": 0.9}  # signature (topology, lr=None, beta=0.9)
