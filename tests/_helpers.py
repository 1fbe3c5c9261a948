"""Small helpers shared by several test files."""
import dynamics


def advance(method, oracle, x0, steps, **kw):
    """The state after `dynamics.rollout(method, oracle, x0, steps, **kw)`; a (K, d) x0 runs as
    one replica (as in simulate) and its state comes back without that replica axis (every
    state field leads with the replica axes)."""
    s = dynamics.rollout(method, oracle, x0, steps, **kw).state
    return type(s)(*(v[0] for v in s)) if x0.dim() == 2 else s
