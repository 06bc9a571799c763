"""Constant initializers: ``zeros``, ``ones``, ``constant(value)``.

They ignore the key. Integer and boolean dtypes are allowed (a constant needs no sampling).
"""

from __future__ import annotations

import numbers
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from jinit._src.core.checks import (
    check_factory_dtype,
    check_finite_value,
    resolve_dtype,
)
from jinit._src.core.errors import JinitValueError
from jinit._src.core.factories import initializer_factory
from jinit._src.core.fill_checks import check_fill_value
from jinit._src.core.sharding import place
from jinit._src.core.types import ArrayLike, DTypeLike, KeyArray, OutSharding
from jinit._src.core.values import ANY, Draw

__all__ = ["constant", "ones", "ones_init", "zeros", "zeros_init"]


@initializer_factory(kinds=ANY)
def constant(value: ArrayLike, dtype: DTypeLike | None = None) -> Draw:
    """Build an initializer that fills arrays with ``value``, broadcast to the shape.

    ``value`` broadcasts to the requested shape by NumPy's rules (aligned from the right, each
    size equal or 1), as in ``jax.nn.initializers.constant``: ``constant([1.0, 2.0, 3.0])``
    fills every row of a ``(n, 3)`` array with ``[1, 2, 3]``. The value must survive the cast
    to the dtype: no entry may overflow a float dtype to ``inf``; for an integer dtype the
    entries must be integers within its range; for ``bool`` they must be 0 or 1 (jinit refuses
    ``2`` rather than turning it into ``True``); a complex value needs a complex dtype. A value
    traced under ``jax.jit`` is only checked for its shape.

    Args:
      value: the fill value: a finite number, or an array-like (list, NumPy or JAX array) whose
        shape broadcasts to the shape the initializer is called with.
      dtype: the initializer's default dtype (``None``: JAX's default float).

    Returns:
      An initializer ``init(key, shape, dtype=None, out_sharding=None)``; the key is ignored.

    Raises:
      TypeError: ``value`` is not numeric; a complex ``value`` for a dtype that is not complex
        (when the factory is called for ``dtype``, at call time for the dtype passed then).
      ValueError: ``value`` contains NaN or infinity; it does not fit the dtype (see above);
        at call time, its shape does not broadcast to the requested shape.

    Example:
      >>> import jax, jinit
      >>> jinit.constant(-7.0)(jax.random.key(0), (2, 2))
      Array([[-7., -7.],
             [-7., -7.]], dtype=float32)
      >>> jinit.constant([1, 2, 3])(jax.random.key(0), (2, 3), "int8")
      Array([[1, 2, 3],
             [1, 2, 3]], dtype=int8)
    """
    check_finite_value("value", value)
    default = check_factory_dtype(dtype)
    # jnp.full takes arrays and scalars only; a (nested) list or tuple becomes a NumPy array.
    fill = (
        value
        if isinstance(value, jax.Array | np.ndarray | np.generic | numbers.Number)
        else np.asarray(value)
    )
    value_shape = tuple(np.shape(fill))
    if default is not None:
        check_fill_value("value", fill, resolve_dtype(default, kinds=ANY))

    def draw(
        key: KeyArray, dims: tuple[int, ...], resolved: np.dtype, out_sharding: OutSharding
    ) -> jax.Array:
        _check_broadcasts(value_shape, dims)
        check_fill_value("value", fill, resolved)
        return place(jnp.full(dims, fill, dtype=resolved), out_sharding)

    return draw


def _check_broadcasts(value_shape: tuple[int, ...], dims: tuple[int, ...]) -> None:
    try:
        fits = np.broadcast_shapes(value_shape, dims) == dims
    except ValueError:
        fits = False
    if not fits:
        raise JinitValueError(
            f"value of shape {value_shape} does not broadcast to the requested "
            f"shape {dims}; pass a scalar or an array whose shape does (NumPy's rules: aligned "
            "from the right, each size equal to the shape's or 1)."
        )


def _fill(make: Callable[..., jax.Array]) -> Draw:
    def draw(
        key: KeyArray, dims: tuple[int, ...], resolved: np.dtype, out_sharding: OutSharding
    ) -> jax.Array:
        return make(dims, resolved, out_sharding=out_sharding)

    return draw


@initializer_factory(kinds=ANY, shown_as="zeros")
def zeros_init() -> Draw:
    """Factory form of :data:`zeros` (Flax's ``nn.initializers.zeros_init()``).

    ``jinit.zeros`` is ``zeros_init()``: an initializer that returns an array of zeros (pass it
    directly, do not call it first). The key is ignored. Biases are commonly zero-initialized;
    a *weight* matrix of zeros makes every unit of a layer compute the same function and
    receive the same gradient, so the units never become different (the symmetry problem):
    use a random initializer for weights.

    Example:
      >>> import jax, jinit
      >>> jinit.zeros_init()(jax.random.key(0), (3,))
      Array([0., 0., 0.], dtype=float32)
      >>> jinit.zeros(jax.random.key(0), (2, 3))
      Array([[0., 0., 0.],
             [0., 0., 0.]], dtype=float32)
      >>> jinit.zeros_init() == jinit.zeros
      True
    """
    return _fill(jnp.zeros)


@initializer_factory(kinds=ANY, shown_as="ones")
def ones_init() -> Draw:
    """Factory form of :data:`ones` (Flax's ``nn.initializers.ones_init()``).

    ``jinit.ones`` is ``ones_init()``: an initializer that returns an array of ones (pass it
    directly). The key is ignored. Used for the scale of normalization layers.

    Example:
      >>> import jax, jinit
      >>> jinit.ones_init()(jax.random.key(0), (3,))
      Array([1., 1., 1.], dtype=float32)
      >>> jinit.ones
      jinit.ones
    """
    return _fill(jnp.ones)


#: The initializer of zeros (``zeros_init()``); pass it directly: ``bias_init=jinit.zeros``.
zeros = zeros_init()
#: The initializer of ones (``ones_init()``); pass it directly: ``scale_init=jinit.ones``.
ones = ones_init()
# help(jinit.zeros) and the catalogue show the factory's docstring (the record's is generic)
object.__setattr__(zeros, "__doc__", zeros_init.__doc__)
object.__setattr__(ones, "__doc__", ones_init.__doc__)
