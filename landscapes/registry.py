"""The one registry idiom: a name -> builder table with one-line errors (landscapes, algorithms,
topologies and claims all look names up this way).

    LANDSCAPES = Registry("landscape")
    @LANDSCAPES.register("quartic")
    def quartic(eps=0.0): ...
    LANDSCAPES.build("quartic", eps=0.1)

An unknown name raises ValueError naming it, the near misses ('did you mean') and the valid
names; an unknown keyword raises ValueError naming it, the near misses and the builder's
accepted keywords (read from its signature; a builder taking **kwargs accepts any).
It lives in the bottom layer (landscapes) so that every layer above can use it.
"""
from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable, Iterable

__all__ = ["Registry", "did_you_mean"]


def did_you_mean(name, choices: Iterable) -> str:
    """' (did you mean 'x'?)' for a near miss of `name` among `choices`, else ''."""
    if not isinstance(name, str):
        return ""
    close = difflib.get_close_matches(name, [str(c) for c in choices], n=3, cutoff=0.6)
    return f" (did you mean {' or '.join(repr(c) for c in close)}?)" if close else ""


class Registry:
    """name -> builder. `kind` names the things in errors ('landscape', 'algorithm'); `word`
    names their keywords ('parameter', 'hyper-parameter'); `positional` leading builder
    arguments are not keywords (a topology's K, an algorithm's topology); `also` is appended to
    the list of names in the unknown-name error (e.g. '(or custom(W))')."""

    def __init__(self, kind: str, word: str = "parameter", positional: int = 0, also: str = ""):
        self.kind, self.word, self.positional, self.also = kind, word, positional, also
        self._builders: dict[str, Callable] = {}

    def register(self, name: str, fn: Callable | None = None):
        """Add `fn` under `name` (as a decorator when fn is None); a name taken -> ValueError."""
        if not isinstance(name, str) or not name:
            raise ValueError(f"a {self.kind} name must be a non-empty string, got {name!r}")

        def deco(f):
            if name in self._builders:
                raise ValueError(f"{self.kind} {name!r} registered twice")
            self._builders[name] = f
            return f
        return deco if fn is None else deco(fn)

    def unregister(self, name: str) -> None:
        self._builders.pop(name, None)

    def names(self) -> list[str]:
        return sorted(self._builders)

    def items(self) -> list[tuple[str, Callable]]:
        return sorted(self._builders.items())

    def __contains__(self, name) -> bool:
        return isinstance(name, str) and name in self._builders

    def get(self, name, default=None):
        return self._builders.get(name, default) if isinstance(name, str) else default

    def builder(self, name) -> Callable:
        """The builder of `name`; unknown -> ValueError with the near misses and the names."""
        if name not in self:
            also = f" {self.also}" if self.also else ""
            raise ValueError(f"unknown {self.kind} {name!r}{did_you_mean(name, self._builders)}; "
                             f"choose from: {', '.join(self.names())}{also}")
        return self._builders[name]

    def accepted(self, name) -> list[str] | None:
        """The builder's keyword names (after the positional ones); None when it takes **kwargs."""
        params = list(inspect.signature(self.builder(name)).parameters.values())[self.positional:]
        if any(p.kind is p.VAR_KEYWORD for p in params):
            return None
        return [p.name for p in params if p.kind is not p.VAR_POSITIONAL]

    def defaults(self, name) -> dict:
        """keyword -> default of the builder of `name` (None where the keyword is required)."""
        params = list(inspect.signature(self.builder(name)).parameters.values())[self.positional:]
        return {p.name: (None if p.default is inspect.Parameter.empty else p.default)
                for p in params if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)}

    def check(self, name, keywords: Iterable[str]) -> Callable:
        """The builder of `name` after checking every keyword against its signature."""
        fn, accepted = self.builder(name), self.accepted(name)
        if accepted is not None:
            for k in keywords:
                if k not in accepted:
                    raise ValueError(f"unknown {self.word} {k!r} for {self.kind} {name!r}"
                                     f"{did_you_mean(k, accepted)}; accepted: {', '.join(accepted) or '(none)'}")
        return fn

    def build(self, name, *args, **kw):
        """builder(*args, **kw) after checking name and keywords."""
        return self.check(name, kw)(*args, **kw)
