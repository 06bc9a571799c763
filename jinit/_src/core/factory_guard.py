"""``@factory_guard``: a clear error when a factory is passed where an initializer belongs.

``nn.Dense(4, kernel_init=jinit.he_normal)`` (without ``()``) makes Flax call the *factory* as
``he_normal(key, shape, dtype)``. Unguarded, that fails far from the mistake, with
``in_axis must be an int ... got Array(key<fry>)`` or Python's "takes from 0 to 2 positional
arguments but 3 were given". The guard recognises the key and says to add the parentheses.

A typed key (``jax.random.key``) is never a valid factory argument, so it is always refused. A
legacy raw key (``jax.random.PRNGKey``: a ``uint32`` array of shape ``(2,)``, or ``(4,)`` for
the ``rbg`` implementations) is refused only when a shape follows it, as in
``init(key, shape, dtype)``: alone it may be a legitimate array, e.g. the value of
``constant(jnp.array([1, 2], jnp.uint32))``.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Sequence
from typing import ParamSpec, TypeVar

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["factory_guard", "is_prng_key"]

P = ParamSpec("P")
R = TypeVar("R")

#: Shapes of a legacy raw key: threefry2x32 (the default) and rbg/unsafe_rbg.
_RAW_KEY_SHAPES = ((2,), (4,))


def is_prng_key(value: object, *, raw: bool = True) -> bool:
    """Whether ``value`` is a JAX PRNG key (concrete or traced).

    Args:
      value: anything.
      raw: also count a legacy raw key, a ``jax.Array`` of dtype ``uint32`` and shape ``(2,)``
        or ``(4,)``.

    Returns:
      ``True`` for a typed key array of any shape, and (with ``raw``) for a raw key.
    """
    dtype = getattr(value, "dtype", None)
    if dtype is None:
        return False
    try:
        if jnp.issubdtype(dtype, jax.dtypes.prng_key):
            return True
    except TypeError:  # pragma: no cover - not a dtype JAX understands
        return False
    return (
        raw
        and isinstance(value, jax.Array)
        and dtype == np.uint32
        and tuple(value.shape) in _RAW_KEY_SHAPES
    )


def _looks_like_shape(value: object) -> bool:
    if isinstance(value, bool | str | bytes):
        return False
    if isinstance(value, Sequence):
        return all(_looks_like_shape(dim) and not isinstance(dim, Sequence) for dim in value)
    try:
        operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        return False
    return True


def _called_as_initializer(args: tuple[object, ...]) -> bool:
    if not args:
        return False
    if is_prng_key(args[0], raw=False):
        return True
    return len(args) >= 2 and is_prng_key(args[0]) and _looks_like_shape(args[1])


def factory_guard(factory: Callable[P, R]) -> Callable[P, R]:
    """Make ``factory`` refuse a PRNG key as its first argument, with a hint to call it first.

    Everything else is passed through unchanged. The wrapper keeps the factory's name,
    docstring, module and :func:`inspect.signature` (through ``__wrapped__``), so doctests,
    ``jinit.reinit``'s signature checks and pickling by name see the factory itself.

    Args:
      factory: a public jinit factory, one that returns an initializer.

    Returns:
      The guarded factory.

    Raises:
      TypeError: (when the guarded factory is called) its first positional argument is a PRNG
        key, i.e. the factory was used as an initializer.

    Example:
      >>> import jax, jinit
      >>> jinit.he_normal(jax.random.key(0), (4, 4))
      Traceback (most recent call last):
      ...
      TypeError: jinit.he_normal: was called with a PRNG key as its first argument, ...
    """
    name = factory.__name__

    @functools.wraps(factory)
    def guarded(*args: P.args, **kwargs: P.kwargs) -> R:
        if _called_as_initializer(args):
            raise TypeError(
                f"jinit.{name}: was called with a PRNG key as its first argument, i.e. used as "
                f"an initializer; jinit.{name} is a factory that builds one. Call it first, "
                f"with parentheses: kernel_init=jinit.{name}() (or jinit.{name}(...) with its "
                f"arguments), not kernel_init=jinit.{name}."
            )
        return factory(*args, **kwargs)

    return guarded
