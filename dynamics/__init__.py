"""How it is optimised: topologies, every algorithm as one pure step, the ensemble simulator."""
from . import topology
from .base import Method, make, names, register
from . import algorithms  # noqa: E402,F401  (importing the families fills the registry)

__all__ = ["Method", "make", "names", "register", "topology"]
from .simulate import SimResult, simulate  # noqa: E402

__all__ += ["SimResult", "simulate"]
from .rollout import Rollout, rollout  # noqa: E402  (the light path: advance, no records)
__all__ += ["Rollout", "rollout"]
