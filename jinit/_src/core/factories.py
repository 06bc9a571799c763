"""The decorators every public factory wears: they record its name once and make its value.

:func:`initializer_factory` turns a body that validates its arguments and returns a
:data:`~jinit._src.core.values.Draw` into a factory of :class:`~jinit._src.core.values.Init`
values; :func:`recorded_factory` attaches the call to another value (a rule set). Both refuse a
PRNG key passed to the factory itself (the forgotten parentheses of
``kernel_init=jinit.he_normal``, :mod:`jinit._src.core.factory_guard`) and name every refusal
``jinit.<the factory's name>:`` (:mod:`jinit._src.core.errors`), so no caller passes the name.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import replace
from typing import ParamSpec, Protocol, TypeVar, cast

from jinit._src.core.calls import Call, FactoryInfo
from jinit._src.core.checks import check_factory_dtype
from jinit._src.core.errors import owned
from jinit._src.core.factory_guard import called_as_initializer
from jinit._src.core.types import DTypeLike
from jinit._src.core.values import INEXACT, Draw, Init, Kind

__all__ = ["initializer_factory", "recorded_factory"]

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")


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
