"""Types shared by every initializer: the `Initializer` protocol and its argument aliases."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal, Protocol, TypeAlias, runtime_checkable

import jax
from jax.sharding import NamedSharding, PartitionSpec
from jax.typing import ArrayLike, DTypeLike

__all__ = [
    "ArrayLike",
    "Axes",
    "DTypeLike",
    "Distribution",
    "Initializer",
    "KeyArray",
    "Mode",
    "OutSharding",
    "Pattern",
    "PyTree",
    "RuleValue",
    "Rules",
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


#: The fan a variance-scaling initializer divides by (see :func:`jinit.variance_scaling`).
Mode: TypeAlias = Literal["fan_in", "fan_out", "fan_avg", "fan_geo_avg"]
#: What a variance-scaling initializer samples (``untruncated_normal`` is Keras' ``normal``).
Distribution: TypeAlias = Literal["truncated_normal", "normal", "untruncated_normal", "uniform"]

#: A JAX pytree of arrays (or ``jax.ShapeDtypeStruct``): nested dicts, lists and tuples, Flax
#: variables, an nnx ``State``, an Equinox module. As in JAX and Optax, the alias is ``Any``
#: underneath -- a pytree's structure is open -- but it says what is expected.
PyTree: TypeAlias = Any

#: A rule's pattern: a glob matched against the whole parameter path, or a compiled regex.
Pattern: TypeAlias = str | re.Pattern[str]
#: What a rule maps a pattern to: an initializer, a factory, or a ``jinit.by_role`` value
#: (see :mod:`jinit._src.model.rules`). Callables of several shapes, so not narrower.
RuleValue: TypeAlias = Initializer | Callable[..., Any]
#: Ordered rules for :func:`jinit.reinit`: the first matching pattern wins.
Rules: TypeAlias = Mapping[Pattern, RuleValue]
