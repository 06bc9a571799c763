r"""What :func:`jinit.metainit` trains its norms on: one ``(inputs, targets)`` batch per step.

The authors' listing draws a fresh batch of Gaussian inputs and uniformly random labels at
every step; here the user passes the data, in one of four forms (read by :func:`batch_stream`):

* an array ``x`` (examples along axis 0): each step uses ``batch_size`` random rows, and a batch
  is the inputs alone (``targets`` is ``None``, so a custom ``loss`` is needed);
* a pair ``(x, y)`` of arrays with equal length: a data set; each step uses the same random rows
  of both (a pair of arrays is always read this way; a list holds two batches);
* a list or tuple of batches, used in turn and cycled;
* an iterator of batches, one per step.

A batch from a sequence or an iterator that is a 2-tuple is ``(inputs, targets)``; anything else
is the inputs alone. The rows of an array are a function of ``(key, step)`` only (drawn by the
LSUV row sampler, :func:`jinit._src.analysis.lsuv.batches.batch_source`).

The default loss is the mean softmax cross-entropy with integer labels,

.. math:: L = -\frac1B \sum_{b=1}^{B} \log \operatorname{softmax}(z_b)_{y_b},

(``optax.softmax_cross_entropy_with_integer_labels(z, y).mean()``), checked on every batch:
the targets must be integers in ``[0, classes)`` with the shape of the outputs less their last
axis.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jinit._src.analysis.lsuv.batches import batch_source
from jinit._src.core.errors import JinitTypeError, JinitValueError
from jinit._src.core.optional import require
from jinit._src.core.types import KeyArray, PyTree
from jinit._src.model.trace.program import is_array

__all__ = [
    "Batch",
    "Loss",
    "batch_checker",
    "batch_stream",
    "check_labels",
    "cross_entropy",
    "split",
]

#: ``(inputs, targets)``; ``targets`` is ``None`` for a batch of inputs alone.
Batch = tuple[PyTree, PyTree]
#: ``loss(outputs, targets) -> scalar``.
Loss = Callable[[Any, Any], jax.Array]


def split(batch: PyTree) -> Batch:
    """A batch as ``(inputs, targets)``: a 2-tuple is the pair, anything else the inputs."""
    if isinstance(batch, tuple) and len(batch) == 2:
        return batch[0], batch[1]
    return batch, None


def _pair(batches: object) -> bool:
    return (
        isinstance(batches, tuple)
        and len(batches) == 2
        and all(is_array(item) and getattr(item, "ndim", 0) >= 1 for item in batches)
    )


def _rows(n: int, key: KeyArray, batch_size: int | None) -> Callable[[int], Any]:
    if n < 1:
        raise JinitValueError("batches must have at least one example along axis 0, got 0")
    return batch_source(np.arange(n), key, batch_size)


def batch_stream(
    batches: object, key: KeyArray, batch_size: int | None, steps: int
) -> Callable[[int], Batch]:
    """``step -> (inputs, targets)`` for the four forms of ``batches`` (module docstring).

    Args:
      batches: what the user passed.
      key: the key the random rows are drawn with (arrays only).
      batch_size: rows per step drawn from an array, or ``None`` for all of them.
      steps: the steps to run (named in the message of an iterator that runs out).

    Raises:
      JinitTypeError: ``batches`` is none of the four forms.
      JinitValueError: an array without examples, a pair of unequal length, an empty sequence,
        or (when the returned function is called) an iterator that ran out.
    """
    if _pair(batches):
        assert isinstance(batches, tuple)
        x, y = batches
        if x.shape[0] != y.shape[0]:
            raise JinitValueError(
                f"batches=(x, y) needs as many targets as inputs along axis 0, got "
                f"{x.shape[0]} and {y.shape[0]}"
            )
        rows = _rows(int(x.shape[0]), key, batch_size)
        if batch_size is None or batch_size >= x.shape[0]:
            return lambda step: (x, y)

        def pair(step: int) -> Batch:
            chosen = np.asarray(rows(step))
            return x[chosen], y[chosen]

        return pair
    if is_array(batches):
        data: Any = batches
        if data.ndim < 1:
            raise JinitValueError(
                f"batches must have examples along axis 0, got shape {tuple(data.shape)}"
            )
        rows = _rows(int(data.shape[0]), key, batch_size)
        if batch_size is None or batch_size >= data.shape[0]:
            return lambda step: (data, None)
        return lambda step: (data[np.asarray(rows(step))], None)
    if isinstance(batches, Sequence) and not isinstance(batches, str | bytes):
        if not batches:
            raise JinitValueError("batches is an empty sequence; pass at least one batch")
        items = batches
        return lambda step: split(items[step % len(items)])
    if isinstance(batches, Iterable) and not isinstance(batches, str | bytes | dict):
        iterator: Iterator[Any] = iter(batches)
        count = 0

        def draw(step: int) -> Batch:
            nonlocal count
            del step  # called once per step, in order
            try:
                batch = next(iterator)
            except StopIteration:
                raise JinitValueError(
                    f"the batches iterator ran out after {count} batch(es); metainit draws one "
                    f"per step (steps={steps}). Pass an array, a list (cycled), or "
                    "itertools.cycle(...)"
                ) from None
            count += 1
            return split(batch)

        return draw
    raise JinitTypeError(
        "batches must be an array (examples along axis 0), a pair (x, y) of arrays, a sequence "
        f"of batches or an iterator of batches; got {type(batches).__name__}"
    )


def cross_entropy(outputs: jax.Array, targets: jax.Array) -> jax.Array:
    """Mean softmax cross-entropy of ``outputs`` (logits, classes last) and integer ``targets``."""
    optax = require("optax", "metainit")
    loss: jax.Array = optax.softmax_cross_entropy_with_integer_labels(outputs, targets).mean()
    return loss


def check_labels(outputs: jax.ShapeDtypeStruct, targets: PyTree, step: int) -> None:
    """Check that ``targets`` are integer labels for logits shaped like ``outputs``.

    Raises:
      JinitTypeError: no targets, or targets/outputs that are not arrays of the right kind.
      JinitValueError: a shape mismatch, or a label outside ``[0, classes)``.
    """
    where = f"batch {step}"
    if targets is None:
        raise JinitTypeError(
            f"the default loss (softmax cross-entropy with integer labels) needs (inputs, "
            f"targets) batches, but {where} has no targets; pass batches=(x, y), or a "
            "loss(outputs, targets) that ignores targets=None"
        )
    if not isinstance(outputs, jax.ShapeDtypeStruct) or not jnp.issubdtype(
        outputs.dtype, jnp.floating
    ):
        raise JinitTypeError(
            f"the default loss needs the model to return one floating array of logits, got "
            f"{outputs!r:.80}; pass a loss(outputs, targets)"
        )
    if not is_array(targets) or not jnp.issubdtype(targets.dtype, jnp.integer):
        raise JinitTypeError(
            f"the default loss needs integer class labels as targets, got {targets!r:.60} in "
            f"{where}; pass integer labels, or a loss(outputs, targets)"
        )
    if outputs.ndim < 1 or tuple(targets.shape) != tuple(outputs.shape[:-1]):
        raise JinitValueError(
            f"the labels of {where} have shape {tuple(targets.shape)}, but the logits have "
            f"shape {tuple(outputs.shape)}; labels need the logits' shape less its last "
            "(class) axis"
        )
    classes = int(outputs.shape[-1])
    labels = np.asarray(targets)
    if labels.size and (labels.min() < 0 or labels.max() >= classes):
        raise JinitValueError(
            f"the labels of {where} run from {labels.min()} to {labels.max()}, outside "
            f"[0, {classes}) for {classes} logits"
        )


def _signature(tree: PyTree) -> tuple[Any, ...]:
    return tuple(
        (getattr(a, "shape", None), str(getattr(a, "dtype", a))) for a in jax.tree.leaves(tree)
    )


def batch_checker(
    apply: Callable[[PyTree, PyTree], Any], tree: PyTree, loss: Loss, *, default_loss: bool
) -> Callable[[Batch, int], None]:
    """``check(batch, step)``: the model and loss run on the batch, the labels are valid.

    The loss must give a real floating scalar (checked on the first batch of each input shape);
    with the default loss the targets must be valid labels (checked on every batch).

    Raises (from ``check``):
      JinitTypeError: a loss that is not a real floating scalar; labels that are not integers.
      JinitValueError: labels of the wrong shape or out of range.
    """
    shapes: dict[tuple[Any, ...], Any] = {}

    def check(batch: Batch, step: int) -> None:
        inputs, targets = batch
        signature = _signature(inputs)
        if signature not in shapes:
            shapes[signature] = jax.eval_shape(apply, tree, inputs)
            if default_loss:
                check_labels(shapes[signature], targets, step)
            value = jax.eval_shape(lambda: loss(apply(tree, inputs), targets))
            if (
                not isinstance(value, jax.ShapeDtypeStruct)
                or value.shape != ()
                or not jnp.issubdtype(value.dtype, jnp.floating)
            ):
                raise JinitTypeError(
                    f"loss must return a real floating scalar, got {value!r:.80}; reduce a "
                    "per-example loss with .mean()"
                )
        elif default_loss:
            check_labels(shapes[signature], targets, step)

    return check
