r"""The arithmetic of :func:`jinit.diagnose`: its default losses and overflow-safe norms.

* Losses, when the user gives none: cross-entropy for integer class labels, mean squared
  error for float targets of the output's shape, and without labels a fixed random
  projection :math:`L = \langle y, u \rangle / n` with :math:`u \sim N(0, 1)`, whose output
  gradient is :math:`u / n`, so the backward pass starts from a unit-scale signal.
* Norms and moments in float32, each array divided by its largest magnitude first, so that
  values up to the float32 maximum give finite norms (squares above 1.8e19 would overflow).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

__all__ = ["Loss", "default_loss", "moments", "norms"]

#: ``loss_fn(output, labels) -> scalar``
Loss = Callable[[Any, Any], jax.Array]


def _projection(out: jax.Array, labels: None) -> jax.Array:
    """A fixed random projection: the output gradient is ``u / batch`` with ``u ~ N(0, 1)``."""
    u = jax.random.normal(jax.random.key(0), out.shape, jnp.float32)
    return jnp.sum(out.astype(jnp.float32) * u) / (out.shape[0] if out.ndim else 1)


def _cross_entropy(out: jax.Array, labels: jax.Array) -> jax.Array:
    logp = jax.nn.log_softmax(out.astype(jnp.float32), axis=-1)
    return -jnp.mean(jnp.take_along_axis(logp, labels[..., None], axis=-1))


def _squared_error(out: jax.Array, labels: jax.Array) -> jax.Array:
    return jnp.mean((out.astype(jnp.float32) - labels.astype(jnp.float32)) ** 2)


def default_loss(output: Any, labels: jax.Array | None) -> tuple[str, Loss]:
    """The loss used when none is given, checked against the model's output."""
    if not (
        isinstance(output, jax.ShapeDtypeStruct) and jnp.issubdtype(output.dtype, jnp.floating)
    ):
        raise TypeError(
            "jinit.diagnose: the default losses need the model to return one floating-point "
            f"array, got {output}; pass loss_fn(output, labels) -> scalar"
        )
    if labels is None:
        return "random projection", _projection
    if jnp.issubdtype(labels.dtype, jnp.integer):
        if output.ndim < 1 or labels.shape != output.shape[:-1]:
            raise ValueError(
                f"jinit.diagnose: integer labels of shape {labels.shape} need an output of shape "
                f"(*labels.shape, classes); the model returns {output.shape}"
            )
        n, low, high = output.shape[-1], int(labels.min()), int(labels.max())
        if low < 0 or high >= n:
            raise ValueError(
                f"jinit.diagnose: labels must be class indices in 0..{n - 1} for an output of "
                f"{n} classes; got values in {low}..{high}"
            )
        return "cross-entropy", _cross_entropy
    if jnp.issubdtype(labels.dtype, jnp.floating) and labels.shape == output.shape:
        return "mean squared error", _squared_error
    raise ValueError(
        f"jinit.diagnose: labels of shape {labels.shape} and dtype {labels.dtype} fit no default "
        f"loss for an output of shape {output.shape}: give integer class labels of shape "
        f"{output.shape[:-1]}, float targets of shape {output.shape}, or a loss_fn"
    )


@jax.jit
def norms(w: jax.Array, g: jax.Array, u: jax.Array) -> jax.Array:
    """Frobenius norms of a parameter, its gradient and its update, in float32.

    Each array is divided by its largest magnitude first, so that norms up to the float32
    maximum do not overflow (squares of values above 1.8e19 would). Jitted on its own: one
    compilation per parameter shape, shared by every layer of that shape.
    """
    a = jnp.stack([jnp.abs(x).astype(jnp.float32) for x in (w, g, u)]).reshape(3, -1)
    peak = jnp.max(a, axis=1, keepdims=True, initial=0.0)
    safe = jnp.where((peak > 0) & jnp.isfinite(peak), peak, 1.0)
    return jnp.sqrt(jnp.sum((a / safe) ** 2, axis=1)) * safe[:, 0]


@jax.jit
def moments(x: jax.Array) -> jax.Array:
    """Mean and standard deviation in float32, scaled like :func:`norms`."""
    a = x.astype(jnp.float32)
    peak = jnp.max(jnp.abs(a), initial=0.0)
    safe = jnp.where((peak > 0) & jnp.isfinite(peak), peak, 1.0)
    return jnp.stack([jnp.mean(a / safe), jnp.std(a / safe)]) * safe
