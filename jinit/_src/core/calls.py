"""The record of a factory call: what a jinit value remembers of how it was made.

:class:`FactoryInfo` is what the decorator records of a factory (its public name, signature),
:class:`Call` a call of it with the arguments that differ from the defaults: it compares and
hashes by them, prints as the call, and :func:`rebuild` makes the value again (how values
unpickle, so their arguments are checked again). :class:`FactoryPartial` is a
``functools.partial`` of a factory that compares by what it binds.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["Call", "FactoryInfo", "FactoryPartial", "factory_info", "freeze", "rebuild"]


@dataclass(frozen=True)
class FactoryInfo:
    """What the decorator records about a factory.

    Attributes:
      name: the public name, used in error messages and the repr (``he_normal``).
      function: the decorated factory (pickled by reference).
      signature: its signature.
      public: whether ``jinit.<name>`` is the factory; otherwise the repr spells the module path.
      shown_as: for a factory without arguments whose result has a public name of its own
        (``zeros_init()`` is ``jinit.zeros``), that name.
    """

    name: str
    function: Callable[..., Any]
    signature: inspect.Signature
    public: bool = True
    shown_as: str | None = None

    @classmethod
    def of(
        cls,
        body: Callable[..., Any],
        name: str | None = None,
        public: bool = True,
        shown_as: str | None = None,
    ) -> FactoryInfo:
        """What is recorded of ``body`` (its function is set to the decorated factory)."""
        return cls(name or body.__name__, body, inspect.signature(body), public, shown_as)

    @property
    def path(self) -> str:
        """The dotted name the repr calls: ``jinit.he_normal`` or the module path."""
        if self.public:
            return f"jinit.{self.name}"
        return f"{self.function.__module__}.{self.function.__qualname__}"

    @property
    def parameters(self) -> tuple[str, ...]:
        """The factory's argument names."""
        return tuple(self.signature.parameters)


def factory_info(value: object) -> FactoryInfo | None:
    """The :class:`FactoryInfo` of a jinit factory (``jinit.he_normal``), else ``None``."""
    info = getattr(value, "__jinit_factory__", None)
    return info if isinstance(info, FactoryInfo) else None


def freeze(value: object) -> object:
    """A hashable stand-in for an argument, equal for equal arguments."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, list | tuple):
        return ("seq", tuple(freeze(item) for item in value))
    if isinstance(value, functools.partial):
        return ("partial", value.func, freeze(value.args), freeze(value.keywords))
    if isinstance(value, Mapping):
        return ("map", tuple(sorted((str(k), freeze(v)) for k, v in value.items())))
    if isinstance(value, np.ndarray) or (
        isinstance(value, jax.Array) and not isinstance(value, jax.core.Tracer)
    ):
        array = np.asarray(value)
        return ("array", array.dtype.str, array.shape, array.tobytes())
    try:
        hash(value)
    except TypeError:
        return ("id", id(value))
    return value


def _plain(value: object) -> object:
    """The argument as the user would write it: NumPy scalars and arrays as Python numbers/lists.

    ``tolist`` keeps every value exactly (a float32 entry becomes the double equal to it), so
    the rebuilt initializer fills the same bits.
    """
    if isinstance(value, np.generic | np.ndarray):
        return value.tolist()
    if isinstance(value, jax.Array) and not isinstance(value, jax.core.Tracer):
        return np.asarray(value).tolist()
    return value


def _dtype_name(value: object) -> object:
    if value is None:
        return None
    try:
        return np.dtype(jnp.dtype(value)).name  # type: ignore[call-overload]
    except TypeError:
        return value


#: Arguments the repr always spells as keywords: layout and dtype options read better named.
_OPTIONS = frozenset({"in_axis", "out_axis", "batch_axis", "column_axis", "dtype"})


@dataclass(frozen=True, eq=False)
class Call:
    """A factory call: the factory and the arguments that differ from its defaults.

    Compares and hashes by (factory, arguments); its repr is the call itself, and
    :meth:`rebuild` makes it again.
    """

    info: FactoryInfo
    arguments: tuple[tuple[str, object], ...]

    @classmethod
    def of(cls, info: FactoryInfo, args: tuple[object, ...], kwargs: dict[str, object]) -> Call:
        """The call ``info.function(*args, **kwargs)``, defaults dropped, dtypes by name."""
        bound = info.signature.bind(*args, **kwargs)
        bound.apply_defaults()
        kept = []
        for name, value in bound.arguments.items():
            if name == "dtype":
                value = _dtype_name(value)
            value = _plain(value)
            default = info.signature.parameters[name].default
            if default is not inspect.Parameter.empty and freeze(value) == freeze(default):
                continue
            kept.append((name, value))
        return cls(info, tuple(kept))

    def _key(self) -> tuple[object, ...]:
        return (self.info.path, tuple((name, freeze(value)) for name, value in self.arguments))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Call) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        if self.info.shown_as is not None and not self.arguments:
            return f"jinit.{self.info.shown_as}"
        given = dict(self.arguments)
        parts = []
        positional = True
        for name, parameter in self.info.signature.parameters.items():
            if name not in given:
                positional = positional and parameter.default is inspect.Parameter.empty
                continue
            positional = positional and name not in _OPTIONS
            if positional and parameter.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD:
                parts.append(repr(given[name]))
            else:
                positional = False
                parts.append(f"{name}={given[name]!r}")
        return f"{self.info.path}({', '.join(parts)})"

    def rebuild(self, **changes: object) -> Any:
        """Call the factory again with these arguments (and ``changes``): validated again."""
        return self.info.function(**{**dict(self.arguments), **changes})


def rebuild(function: Callable[..., Any], arguments: dict[str, object]) -> Any:
    """Unpickle a value by calling its factory again (so its arguments are checked again)."""
    return function(**arguments)


class FactoryPartial(functools.partial[Any]):
    """A ``functools.partial`` of a factory that compares and hashes by what it binds.

    What rule sets use for a factory still waiting for a layout
    (``FactoryPartial(jinit.variance_scaling, 0.5, "fan_in", "normal")``), so a rule set equals
    its pickled copy.
    """

    def __eq__(self, other: object) -> bool:
        return isinstance(other, functools.partial) and freeze(self) == freeze(other)

    def __hash__(self) -> int:
        return hash(freeze(self))
