"""Placing an initializer's result according to its ``out_sharding`` argument."""

from __future__ import annotations

import jax

from jinit._src.core.types import OutSharding

__all__ = ["place"]


def place(array: jax.Array, out_sharding: OutSharding) -> jax.Array:
    """Return ``array`` laid out as ``out_sharding`` asks (unchanged when it is ``None``).

    Used by initializers whose sampler has no ``out_sharding`` argument of its own (orthogonal,
    identity, dirac, the complex samplers). Inside ``jax.jit`` this is a sharding constraint
    that XLA propagates; outside it moves the array.
    """
    if out_sharding is None:
        return array
    placed: jax.Array = jax.sharding.reshard(array, out_sharding)  # type: ignore[no-untyped-call]
    return placed
