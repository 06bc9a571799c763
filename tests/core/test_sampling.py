"""The flat-draw samplers give the bits of ``jax.random`` over the full shape.

jinit draws random values on a flat shape and reshapes them because XLA compiles the rank-3+
draw several times slower (``jinit/_src/sampling.py``). This rests on JAX indexing the random
stream by flattened position; these tests pin that for every key implementation and both
threefry modes, so a JAX change that breaks it fails here, not silently in users' parameters.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jinit._src.core import sampling
from tests.conftest import assert_bit_identical

# Ranks 1-3 for every key implementation and threefry mode. Rank 4 (conv kernels, default key)
# is in test_parity_jax.py::test_conv_kernel_bit_identical: each rank-4 reference draw costs
# ~5 s of XLA compile, so it is tested once per distribution, not here again.
SHAPES = [(6,), (4, 6), (2, 3, 4)]

Draw = Callable[[jax.Array, tuple[int, ...], np.dtype], jax.Array]

PAIRS: dict[str, tuple[Draw, Draw]] = {
    "uniform": (
        lambda k, s, d: sampling.uniform(k, s, d, -1.0, 2.0),
        lambda k, s, d: jax.random.uniform(k, s, d, -1.0, 2.0),
    ),
    "normal": (sampling.normal, jax.random.normal),
    "truncated_normal": (
        lambda k, s, d: sampling.truncated_normal(k, -2.0, 1.5, s, d),
        lambda k, s, d: jax.random.truncated_normal(k, -2.0, 1.5, s, d),
    ),
}


@pytest.mark.parametrize("partitionable", [True, False])
@pytest.mark.parametrize("impl", ["threefry2x32", "rbg", "unsafe_rbg"])
@pytest.mark.parametrize("name", sorted(PAIRS))
def test_flat_draw_is_bit_identical_to_jax(name: str, impl: str, partitionable: bool) -> None:
    ours, theirs = PAIRS[name]
    with jax.threefry_partitionable(partitionable):
        for seed, shape in enumerate(SHAPES):
            key = jax.random.key(seed, impl=impl)
            dt = np.dtype(jnp.float32)
            assert_bit_identical(ours(key, shape, dt), theirs(key, shape, dt))


def test_flat_draw_under_vmap_matches_a_loop() -> None:
    keys = jax.random.split(jax.random.key(3), 4)
    dt = np.dtype(jnp.float32)
    batched = jax.vmap(lambda k: sampling.normal(k, (3, 3, 2, 4), dt))(keys)
    for i in range(4):
        assert_bit_identical(batched[i], jax.random.normal(keys[i], (3, 3, 2, 4), dt))


def test_flat_draw_is_a_real_draw() -> None:
    """Guards the guard: the draw varies and depends on the key."""
    dt = np.dtype(jnp.float32)
    a = sampling.normal(jax.random.key(0), (3, 4, 5), dt)
    assert float(jnp.std(a)) > 0.5
    assert not np.array_equal(a, sampling.normal(jax.random.key(1), (3, 4, 5), dt))
