"""The argument checks of :func:`jinit.coord_check`, and its default losses.

Everything :func:`jinit.coord_check` can check before it builds a model: the widths, the
batches (alike, so that the steps compile once, and finite), the counts, and which default loss
fits the targets: the mean softmax cross-entropy for integer class labels, the mean squared
error for float targets of the output's shape.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jinit._src.core.errors import JinitTypeError, JinitValueError

__all__ = [
    "Loss",
    "check_batches",
    "check_int",
    "check_widths",
    "default_loss",
    "is_transformation",
]

#: ``loss(output, targets) -> scalar``.
Loss = Callable[[Any, Any], jax.Array]


def check_widths(widths: object) -> tuple[int, ...]:
    if isinstance(widths, np.ndarray) and widths.ndim == 1:
        widths = widths.tolist()
    if not isinstance(widths, Sequence) or isinstance(widths, str | bytes):
        raise JinitTypeError(f"widths must be a sequence of ints >= 1, got {widths!r}")
    for w in widths:
        if isinstance(w, bool) or not isinstance(w, int | np.integer):
            raise JinitTypeError(f"widths must be ints >= 1, got {w!r} in {list(widths)}")
        if w < 1:
            raise JinitValueError(f"widths must be ints >= 1, got {w!r} in {list(widths)}")
    values = [int(w) for w in widths]
    if len(set(values)) < 2 or len(set(values)) != len(values):
        raise JinitValueError(
            f"widths must hold at least 2 distinct widths (a slope needs two), each once; "
            f"got {values}"
        )
    return tuple(sorted(values))


def check_batches(batches: object) -> list[tuple[Any, Any]]:
    if not isinstance(batches, Sequence) or isinstance(batches, str | bytes) or not batches:
        raise JinitTypeError(
            f"batches must be a non-empty list of (inputs, targets) pairs, got "
            f"{type(batches).__name__}; for one batch pass [(x, y)]"
        )
    pairs = []
    for i, batch in enumerate(batches):
        if not (isinstance(batch, tuple | list) and len(batch) == 2):
            raise JinitTypeError(
                f"batches[{i}] must be an (inputs, targets) pair, got {type(batch).__name__}; "
                "for one batch pass [(x, y)], not (x, y)"
            )
        pairs.append((batch[0], batch[1]))
    first = str(jax.tree.structure(pairs[0]))
    shapes = [(jnp.shape(a), jnp.result_type(a)) for a in jax.tree.leaves(pairs[0])]
    for i, pair in enumerate(pairs):
        leaves = jax.tree.leaves(pair)
        if (
            str(jax.tree.structure(pair)) != first
            or [(jnp.shape(a), jnp.result_type(a)) for a in leaves] != shapes
        ):
            raise JinitValueError(
                f"batches[{i}] differs in structure, shapes or dtypes from batches[0] "
                f"({shapes}); every batch must look alike (the steps are compiled once)"
            )
        for a in leaves:
            if jnp.issubdtype(jnp.result_type(a), jnp.inexact) and not np.isfinite(a).all():
                raise JinitValueError(f"batches[{i}] has NaN or infinite values")
    return pairs


def check_int(name: str, value: object, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
        raise JinitValueError(f"{name} must be an int >= {low}, got {value!r}")
    return int(value)


def is_transformation(value: object) -> bool:
    return callable(getattr(value, "init", None)) and callable(getattr(value, "update", None))


def default_loss(output: jax.ShapeDtypeStruct, targets: Any) -> Loss:
    """Cross-entropy for integer class labels, mean squared error for float targets."""
    labels = jnp.asarray(targets) if hasattr(targets, "shape") else None
    if not (hasattr(output, "shape") and jnp.issubdtype(output.dtype, jnp.floating)):
        labels = None
    if labels is not None and jnp.issubdtype(labels.dtype, jnp.integer):
        if output.ndim >= 1 and labels.shape == output.shape[:-1]:

            def cross_entropy(out: jax.Array, y: jax.Array) -> jax.Array:
                logp = jax.nn.log_softmax(out.astype(jnp.float32), axis=-1)
                return -jnp.mean(jnp.take_along_axis(logp, y[..., None], axis=-1))

            return cross_entropy
    elif labels is not None and labels.shape == output.shape:

        def squared_error(out: jax.Array, y: jax.Array) -> jax.Array:
            return jnp.mean((out.astype(jnp.float32) - y.astype(jnp.float32)) ** 2)

        return squared_error
    raise JinitValueError(
        f"the targets fit no default loss for a model output {output}: give integer class "
        "labels of shape output.shape[:-1], float targets of the output's shape, or "
        "loss=fn(output, targets) -> scalar"
    )
