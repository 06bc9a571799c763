"""Initializers as values: one frozen record for what every public factory returns.

A factory such as ``jinit.he_normal`` is decorated with :func:`initializer_factory`. Calling it
validates the arguments (as before) and returns an :class:`Init`: a small frozen callable with
the JAX protocol ``init(key, shape, dtype=None, out_sharding=None)`` that knows the call that
made it (:class:`Call`). So

* ``repr(jinit.variance_scaling(2.0, "fan_in", "uniform"))`` is
  ``jinit.variance_scaling(2.0, 'fan_in', 'uniform')`` (only non-default arguments shown), and
  ``eval(repr(init)) == init``;
* ``==`` and ``hash`` go by (factory, arguments): two ``he_normal()`` are equal, so caches keyed
  on initializers (``jinit.init_params``' compiled draws, ``jax.jit`` static arguments) hit;
* ``pickle``/``cloudpickle`` round trips re-call the factory (so the arguments are validated
  again); ``init.replace(stddev=0.1)`` re-calls it with changed arguments;
* :func:`to_config` gives a plain JSON-able dict, which the registry's ``from_config`` reads.

The decorator also records the public name once: refusals raised while the factory validates
its arguments, or while the initializer draws, are named ``jinit.<that name>:`` (see
:mod:`jinit._src.core.errors`), and it refuses a PRNG key passed to the factory itself (the
forgotten parentheses of ``kernel_init=jinit.he_normal``, :mod:`jinit._src.core.factory_guard`).

Rule sets use the same record: :func:`recorded_factory` attaches the :class:`Call` to the value
its factory returns (``jinit.preset("torch")`` prints, compares and pickles by its call).
"""

from __future__ import annotations

import functools
import inspect
import numbers
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal, ParamSpec, Protocol, TypeAlias, TypeVar, cast

import jax
import jax.numpy as jnp
import numpy as np

from jinit._src.core.checks import check_factory_dtype, resolve_dtype, resolve_shape
from jinit._src.core.errors import JinitError, claim, owned
from jinit._src.core.factory_guard import called_as_initializer
from jinit._src.core.types import DTypeLike, KeyArray, OutSharding, Shape

__all__ = [
    "ANY",
    "FLOAT",
    "INEXACT",
    "Call",
    "Draw",
    "FactoryInfo",
    "FactoryPartial",
    "Init",
    "factory_info",
    "initializer_factory",
    "rebuild",
    "recorded_factory",
    "to_config",
]

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")

#: The dtype kinds an initializer accepts (see :func:`jinit._src.core.checks.resolve_dtype`).
Kind: TypeAlias = Literal["float", "complex", "any"]
FLOAT: tuple[Kind, ...] = ("float",)
INEXACT: tuple[Kind, ...] = ("float", "complex")
ANY: tuple[Kind, ...] = ("any",)


#: What a factory body returns: the sampler ``draw(key, dims, dtype, out_sharding)``, given a
#: checked shape and a resolved dtype.
Draw: TypeAlias = Callable[[KeyArray, tuple[int, ...], np.dtype, OutSharding], jax.Array]


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


def _freeze(value: object) -> object:
    """A hashable stand-in for an argument, equal for equal arguments."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, list | tuple):
        return ("seq", tuple(_freeze(item) for item in value))
    if isinstance(value, functools.partial):
        return ("partial", value.func, _freeze(value.args), _freeze(value.keywords))
    if isinstance(value, Mapping):
        return ("map", tuple(sorted((str(k), _freeze(v)) for k, v in value.items())))
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
            if default is not inspect.Parameter.empty and _freeze(value) == _freeze(default):
                continue
            kept.append((name, value))
        return cls(info, tuple(kept))

    def _key(self) -> tuple[object, ...]:
        return (self.info.path, tuple((name, _freeze(value)) for name, value in self.arguments))

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


@dataclass(frozen=True, eq=False)
class Init:
    """An initializer made by a jinit factory: ``init(key, shape, dtype=None, out_sharding=None)``.

    The shape is checked and the dtype resolved (``None``: the factory's ``dtype``, else JAX's
    default float) here, once for every initializer; the factory's :class:`Draw` does the rest.

    Attributes:
      call: the factory call that made it (its repr, equality, hash and pickle).
      draw: the sampler.
      kinds: the dtype kinds it accepts.
      dtype: the factory's default dtype, or ``None``.
    """

    call: Call
    draw: Draw
    kinds: tuple[Kind, ...]
    dtype: np.dtype | None

    def __call__(
        self,
        key: KeyArray,
        shape: Shape,
        dtype: DTypeLike | None = None,
        out_sharding: OutSharding = None,
    ) -> jax.Array:
        """Create an array of ``shape`` and ``dtype`` from ``key``."""
        try:
            dims = resolve_shape(shape)
            resolved = resolve_dtype(self.dtype if dtype is None else dtype, kinds=self.kinds)
            return self.draw(key, dims, resolved, out_sharding)
        except JinitError as error:
            claim(error, self.call.info.name)
            raise

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Init) and self.call == other.call

    def __hash__(self) -> int:
        return hash(self.call)

    def __repr__(self) -> str:
        return repr(self.call)

    def __treescope_repr__(self, path: str | None, subtree_renderer: object) -> object:
        """Treescope (Flax's and Penzai's viewer) shows the repr, not the record's fields."""
        from treescope import rendering_parts  # only called when treescope is in use

        return rendering_parts.RenderableAndLineAnnotations(
            renderable=rendering_parts.text(repr(self)),
            annotations=rendering_parts.empty_part(),
        )

    def __reduce__(self) -> tuple[Callable[..., Any], tuple[object, ...]]:
        return rebuild, (self.call.info.function, dict(self.call.arguments))

    def replace(self, **changes: object) -> Init:
        """The initializer its factory makes with ``changes`` to the arguments (validated).

        Example:
          >>> import jinit
          >>> jinit.normal(0.02).replace(stddev=0.1)
          jinit.normal(0.1)
        """
        with owned(self.call.info.name):
            unknown = sorted(set(changes) - set(self.call.info.parameters))
            if unknown:
                raise TypeError(
                    f"jinit.{self.call.info.name}: replace got unknown argument(s) "
                    f"{', '.join(unknown)}; the arguments are "
                    f"{', '.join(self.call.info.parameters)}."
                )
        rebuilt: Init = self.call.rebuild(**changes)
        return rebuilt


def _guarded_call(info: FactoryInfo, args: tuple[object, ...]) -> None:
    if called_as_initializer(args):
        call = f"jinit.{info.name}()"
        raise TypeError(
            f"jinit.{info.name}: was called with a PRNG key as its first argument, i.e. used as "
            f"an initializer; jinit.{info.name} is a factory that builds one. Call it first, "
            f"with parentheses: kernel_init={call} (or jinit.{info.name}(...) with its "
            f"arguments), not kernel_init=jinit.{info.name}."
        )


def _bind(info: FactoryInfo, args: tuple[object, ...], kwargs: dict[str, object]) -> Call:
    try:
        return Call.of(info, args, kwargs)
    except TypeError as error:  # wrong number or names of arguments
        raise TypeError(f"jinit.{info.name}: {error}") from None


def initializer_factory(
    *,
    kinds: tuple[Kind, ...] = INEXACT,
    name: str | None = None,
    public: bool = True,
    shown_as: str | None = None,
) -> Callable[[Callable[P, Draw]], Callable[P, Init]]:
    """Decorate a factory whose body validates its arguments and returns a :class:`Draw`.

    The decorated factory has the body's signature and docstring, refuses a PRNG key as its
    first argument, names refusals ``jinit.<name>:`` and returns an :class:`Init`.

    Args:
      kinds: the dtype kinds the initializer accepts.
      name: the public name (default: the function's name).
      public: whether ``jinit.<name>`` is this factory.
      shown_as: the public name of its result when called without arguments.
    """

    def decorate(body: Callable[P, Draw]) -> Callable[P, Init]:
        def finish(call: Call, draw: Draw) -> Init:
            return Init(call, draw, kinds, check_factory_dtype(_dtype_argument(call)))

        return _decorated(body, finish, FactoryInfo.of(body, name, public, shown_as))

    return decorate


def _decorated(
    body: Callable[P, R], finish: Callable[[Call, R], T], info: FactoryInfo
) -> Callable[P, T]:
    """The factory: guard, bind, run ``body`` and ``finish`` under the name ``info`` records."""

    @functools.wraps(body)
    def factory(*args: P.args, **kwargs: P.kwargs) -> T:
        _guarded_call(info, args)
        call = _bind(info, args, kwargs)
        with owned(info.name):
            return finish(call, body(*args, **kwargs))

    info = replace(info, function=factory)
    factory.__jinit_factory__ = info  # type: ignore[attr-defined]
    return factory


def _dtype_argument(call: Call) -> DTypeLike | None:
    value = dict(call.arguments).get("dtype")
    return cast("DTypeLike | None", value)


class Recordable(Protocol):
    """A value that can carry the call that made it (a rule set)."""

    def recorded(self, call: Call) -> Recordable:
        """The value with ``call`` attached."""
        ...


V = TypeVar("V", bound=Recordable)


def recorded_factory(body: Callable[P, V]) -> Callable[P, V]:
    """Decorate a factory of other values (rule sets): name its refusals, record its call."""

    def finish(call: Call, value: V) -> V:
        recorded: V = value.recorded(call)  # type: ignore[assignment]
        return recorded

    return _decorated(body, finish, FactoryInfo.of(body))


class FactoryPartial(functools.partial[Any]):
    """A ``functools.partial`` of a factory that compares and hashes by what it binds.

    What rule sets use for a factory still waiting for a layout
    (``FactoryPartial(jinit.variance_scaling, 0.5, "fan_in", "normal")``), so a rule set equals
    its pickled copy.
    """

    def __eq__(self, other: object) -> bool:
        return isinstance(other, functools.partial) and _freeze(self) == _freeze(other)

    def __hash__(self) -> int:
        return hash(_freeze(self))


def _jsonable(owner: str, name: str, value: object) -> object:
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, list | tuple):
        return [_jsonable(owner, name, item) for item in value]
    if isinstance(value, np.ndarray | jax.Array) and not isinstance(value, jax.core.Tracer):
        return np.asarray(value).tolist()
    raise TypeError(
        f"jinit.to_config: argument {name}={value!r} of {owner} has no JSON form; only "
        "numbers, strings, booleans, None, sequences and arrays of them do."
    )


def to_config(init: object) -> dict[str, object]:
    """A plain, JSON-able dict that :func:`jinit.from_config` turns back into ``init``.

    .. code-block:: python

       {"name": "variance_scaling", "args": {"scale": 2.0, "mode": "fan_in", ...}}

    Only the arguments that differ from the factory's defaults are stored.

    Args:
      init: an initializer made by a jinit factory (or ``jinit.zeros``/``jinit.ones``).

    Returns:
      ``{"name": ..., "args": {...}}``.

    Raises:
      TypeError: ``init`` was not made by a public jinit factory, or an argument has no JSON
        form (a traced value, a callable).

    Example:
      >>> import json, jinit
      >>> json.dumps(jinit.to_config(jinit.he_uniform(in_axis=1, out_axis=0)))
      '{"name": "he_uniform", "args": {"in_axis": 1, "out_axis": 0}}'
    """
    if not isinstance(init, Init) or not init.call.info.public:
        raise TypeError(
            f"jinit.to_config: expected an initializer made by a public jinit factory "
            f"(e.g. jinit.he_normal()), got {init!r}."
        )
    info = init.call.info
    args = {name: _jsonable(info.name, name, value) for name, value in init.call.arguments}
    name = info.shown_as if info.shown_as is not None and not args else info.name
    return {"name": name, "args": args}
