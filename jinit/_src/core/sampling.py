"""``jax.random`` samplers drawn flat, then reshaped: the same bits, a fraction of the compile.

XLA's CPU compiler is slow on the random-bit generator over a rank-3+ shape: a
``jax.random.normal`` of shape ``(3, 3, 8, 16)`` takes 5-7 s to compile on a 2-core CPU, against
0.3 s for the same 1152 values drawn as a vector (measured with jax 0.10.2; see
``benchmarks/results/``). The bits are the same either way, for every key implementation
(threefry, rbg, unsafe_rbg) and both values of ``jax_threefry_partitionable``: the random stream
is indexed by the flattened position. So every jinit sampler draws flat and reshapes, which makes
a conv kernel's initializer as cheap to compile as a dense one and stays bit-identical to
``jax.nn.initializers`` (tested in ``tests/test_sampling.py`` and ``tests/test_parity_jax.py``).

With an ``out_sharding`` the draw keeps its own shape, so that the sharding annotation applies to
the array XLA partitions.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import jax
import numpy as np

from jinit._src.core.types import KeyArray, OutSharding

__all__ = ["normal", "truncated_normal", "uniform"]


def _flat(
    draw: Callable[[tuple[int, ...]], jax.Array], shape: tuple[int, ...], out_sharding: OutSharding
) -> jax.Array:
    if out_sharding is not None or len(shape) < 2:
        return draw(shape)
    return draw((math.prod(shape),)).reshape(shape)


def uniform(
    key: KeyArray,
    shape: tuple[int, ...],
    dtype: np.dtype,
    minval: float = 0.0,
    maxval: float = 1.0,
    out_sharding: OutSharding = None,
) -> jax.Array:
    """``jax.random.uniform`` on ``[minval, maxval)``, drawn flat."""
    return _flat(
        lambda dims: jax.random.uniform(
            key, dims, dtype, minval, maxval, out_sharding=out_sharding
        ),
        shape,
        out_sharding,
    )


def normal(
    key: KeyArray, shape: tuple[int, ...], dtype: np.dtype, out_sharding: OutSharding = None
) -> jax.Array:
    """``jax.random.normal``, drawn flat."""
    return _flat(
        lambda dims: jax.random.normal(key, dims, dtype, out_sharding=out_sharding),
        shape,
        out_sharding,
    )


def truncated_normal(
    key: KeyArray,
    lower: float,
    upper: float,
    shape: tuple[int, ...],
    dtype: np.dtype,
    out_sharding: OutSharding = None,
) -> jax.Array:
    """``jax.random.truncated_normal`` on ``(lower, upper)``, drawn flat."""
    return _flat(
        lambda dims: jax.random.truncated_normal(
            key, lower, upper, dims, dtype, out_sharding=out_sharding
        ),
        shape,
        out_sharding,
    )
