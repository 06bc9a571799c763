"""Types shared by every initializer: the `Initializer` protocol and its argument aliases."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, TypeAlias, runtime_checkable

import jax
from jax.sharding import NamedSharding, PartitionSpec
from jax.typing import ArrayLike, DTypeLike

__all__ = [
    "ArrayLike",
    "Axes",
    "DTypeLike",
    "Initializer",
    "KeyArray",
    "OutSharding",
    "Shape",
]

#: A PRNG key: a typed key from ``jax.random.key`` (threefry, rbg, unsafe_rbg) or a
#: legacy raw ``uint32`` key from ``jax.random.PRNGKey``. Both are ``jax.Array``.
KeyArray: TypeAlias = jax.Array

#: The shape of the array to create.
Shape: TypeAlias = Sequence[int]

#: One axis or several axes of a weight array (negative values count from the end).
Axes: TypeAlias = int | Sequence[int]

#: Where the result should live: a ``NamedSharding``, a ``PartitionSpec`` under a mesh
#: context, or ``None`` for JAX's default placement.
OutSharding: TypeAlias = NamedSharding | PartitionSpec | None


@runtime_checkable
class Initializer(Protocol):
    """What every jinit factory returns: ``init(key, shape, dtype=None, out_sharding=None)``.

    This is the same calling convention as :class:`jax.nn.initializers.Initializer` and the
    way Flax calls ``kernel_init``/``bias_init`` (``init(key, shape, dtype)``), in linen
    and nnx alike.
    """

    def __call__(
        self,
        key: KeyArray,
        shape: Shape,
        dtype: DTypeLike | None = None,
        out_sharding: OutSharding = None,
    ) -> jax.Array:
        """Create an array of ``shape`` and ``dtype`` from ``key``."""
        ...
