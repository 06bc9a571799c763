"""Constant initializers: ``zeros``, ``ones``, ``constant(value)``.

They ignore the key. Integer and boolean dtypes are allowed (a constant needs no sampling).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jinit._src.base import ArrayLike, DTypeLike, Initializer, KeyArray, OutSharding, Shape
from jinit._src.checks import check_factory_dtype, check_finite_value, resolve_dtype, resolve_shape
from jinit._src.sharding import place

__all__ = ["constant", "ones", "ones_init", "zeros", "zeros_init"]


def zeros(
    key: KeyArray,
    shape: Shape,
    dtype: DTypeLike | None = None,
    out_sharding: OutSharding = None,
) -> jax.Array:
    """Initializer that returns an array of zeros (pass it directly, do not call it first).

    The key is ignored. Biases are commonly zero-initialized; a *weight* matrix of zeros makes
    every unit of a layer compute the same function and receive the same gradient, so the
    units never become different (the symmetry problem): use a random initializer for weights.

    Example:
      >>> import jax, jinit
      >>> jinit.zeros(jax.random.key(0), (2, 3))
      Array([[0., 0., 0.],
             [0., 0., 0.]], dtype=float32)
    """
    dims = resolve_shape("zeros", shape)
    resolved = resolve_dtype("zeros", dtype, kinds=("any",))
    return jnp.zeros(dims, resolved, out_sharding=out_sharding)


def ones(
    key: KeyArray,
    shape: Shape,
    dtype: DTypeLike | None = None,
    out_sharding: OutSharding = None,
) -> jax.Array:
    """Initializer that returns an array of ones (pass it directly, do not call it first).

    The key is ignored. Used for the scale of normalization layers.

    Example:
      >>> import jax, jinit
      >>> jinit.ones(jax.random.key(0), (2,))
      Array([1., 1.], dtype=float32)
    """
    dims = resolve_shape("ones", shape)
    resolved = resolve_dtype("ones", dtype, kinds=("any",))
    return jnp.ones(dims, resolved, out_sharding=out_sharding)


def constant(value: ArrayLike, dtype: DTypeLike | None = None) -> Initializer:
    """Build an initializer that fills arrays with ``value``.

    Args:
      value: the fill value: a finite number, or an array that broadcasts to the shape.
      dtype: the initializer's default dtype (``None``: JAX's default float).

    Returns:
      An initializer ``init(key, shape, dtype=None, out_sharding=None)``; the key is ignored.

    Raises:
      TypeError: ``value`` is not numeric.
      ValueError: ``value`` contains NaN or infinity.

    Example:
      >>> import jax, jinit
      >>> jinit.constant(-7.0)(jax.random.key(0), (2, 2))
      Array([[-7., -7.],
             [-7., -7.]], dtype=float32)
    """
    check_finite_value("constant", "value", value)
    default = check_factory_dtype("constant", dtype)

    def init(
        key: KeyArray,
        shape: Shape,
        dtype: DTypeLike | None = default,
        out_sharding: OutSharding = None,
    ) -> jax.Array:
        dims = resolve_shape("constant", shape)
        resolved = resolve_dtype("constant", dtype, kinds=("any",))
        return place(jnp.full(dims, value, dtype=resolved), out_sharding)

    return init


def zeros_init() -> Initializer:
    """Factory form of :func:`zeros` (Flax's ``nn.initializers.zeros_init()``).

    Example:
      >>> import jax, jinit
      >>> jinit.zeros_init()(jax.random.key(0), (3,))
      Array([0., 0., 0.], dtype=float32)
    """
    return zeros


def ones_init() -> Initializer:
    """Factory form of :func:`ones` (Flax's ``nn.initializers.ones_init()``).

    Example:
      >>> import jax, jinit
      >>> jinit.ones_init()(jax.random.key(0), (3,))
      Array([1., 1., 1.], dtype=float32)
    """
    return ones
