"""The guard against a factory passed where an initializer belongs (the missing ``()``).

``nn.Dense(4, kernel_init=jinit.he_normal)`` (without ``()``) makes Flax call the *factory* as
``he_normal(key, shape, dtype)``. Unguarded, that fails far from the mistake, with
``in_axis must be an int ... got Array(key<fry>)`` or Python's "takes from 0 to 2 positional
arguments but 3 were given". The guard recognises the key and says to add the parentheses; the
decorator of every factory (:mod:`jinit._src.core.values`) applies it.

A typed key (``jax.random.key``) is never a valid factory argument, so it is always refused. A
legacy raw key (``jax.random.PRNGKey``: a ``uint32`` array of shape ``(2,)``, or ``(4,)`` for
the ``rbg`` implementations) is refused only when a shape follows it, as in
``init(key, shape, dtype)``: alone it may be a legitimate array, e.g. the value of
``constant(jnp.array([1, 2], jnp.uint32))``.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["called_as_initializer", "is_prng_key"]

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


def called_as_initializer(args: tuple[object, ...]) -> bool:
    """Whether a factory's positional ``args`` look like ``init(key, shape, ...)``'s."""
    if not args:
        return False
    if is_prng_key(args[0], raw=False):
        return True
    return len(args) >= 2 and is_prng_key(args[0]) and _looks_like_shape(args[1])
