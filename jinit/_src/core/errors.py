"""Refusals that name the public function the user called, recorded once at its boundary.

A check deep inside jinit does not know which public name the user called: ``he_normal``,
``glorot_uniform`` and ``variance_scaling`` share one builder, ``compute_fans`` serves them all.
So checks raise a :class:`JinitError` error with a bare message (``std must be > 0, got -1.0.``),
and the public boundary -- the decorator on every factory, the initializer a factory returns,
:func:`named` on other public functions -- prefixes it once: ``jinit.normal: std must be > 0,
got -1.0.``. The innermost boundary names it; outer ones leave it alone. The exception keeps its
type (a ``ValueError`` or ``TypeError`` subclass) and its traceback.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

__all__ = ["JinitError", "JinitTypeError", "JinitValueError", "named", "owned", "refuse"]

P = ParamSpec("P")
R = TypeVar("R")


class JinitError(Exception):
    """Mixin of the refusal errors: a bad argument, named by the public boundary it crosses."""

    owner: str | None = None


class JinitValueError(JinitError, ValueError):
    """A ``ValueError`` for a bad argument value."""


class JinitTypeError(JinitError, TypeError):
    """A ``TypeError`` for an argument of the wrong type."""


def refuse(message: str, kind: type[Exception] = ValueError) -> JinitError:
    """The refusal for ``message``: a :class:`JinitTypeError` if ``kind`` is ``TypeError``."""
    return JinitTypeError(message) if issubclass(kind, TypeError) else JinitValueError(message)


def claim(error: JinitError, owner: str) -> JinitError:
    """Prefix ``error``'s message with ``jinit.<owner>:`` unless a boundary already did."""
    if error.owner is None:
        error.owner = owner
        message = str(error.args[0]) if error.args else ""
        if not message.startswith("jinit."):
            error.args = (f"jinit.{owner}: {message}", *error.args[1:])
    return error


@contextmanager
def owned(owner: str) -> Iterator[None]:
    """Within the block, refusals are named ``jinit.<owner>:`` (if no inner boundary named them)."""
    try:
        yield
    except JinitError as error:
        claim(error, owner)
        raise


def named(function: Callable[P, R]) -> Callable[P, R]:
    """Make ``function`` a public boundary: refusals it raises name it, once.

    The name recorded is ``function.__name__``, so no caller passes it by hand.
    """
    owner = function.__name__

    @functools.wraps(function)
    def boundary(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return function(*args, **kwargs)
        except JinitError as error:
            claim(error, owner)
            raise

    return boundary
