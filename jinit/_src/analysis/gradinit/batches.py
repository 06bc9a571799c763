r"""Where :func:`jinit.gradinit` takes its mini-batches from, and how it pairs them.

Every GradInit step needs two mini-batches of ``(inputs, targets)``: :math:`\tilde S_1`, on
which the gradient (and its norm) is taken, and :math:`\tilde S_2`, on which the loss after the
optimizer step is measured. As in the authors' code, each is the union of two *draws* (batches
of ``batch_size`` examples): with ``overlap`` (their default) a step takes three draws
:math:`b_0, b_1, b_2` and uses :math:`\tilde S_1 = b_0 \cup b_1`, :math:`\tilde S_2 = b_0 \cup
b_2`, so the two share half their examples; without it, four draws and :math:`\tilde S_2 = b_2
\cup b_3`, disjoint from :math:`\tilde S_1`.

:func:`draw_source` turns what the user passes into ``step -> (b_0, ..., b_{k-1})``:

* a dataset ``(x, y)`` (a ``tuple`` of two arrays with the same number of rows): each step
  takes ``k * batch_size`` distinct rows at random (reproducibly, from the key and the step,
  with :func:`jinit._src.analysis.lsuv.batches.batch_source`) and deals them in turn into the
  ``k`` draws; with ``batch_size=None`` or ``k * batch_size >= len(x)``, every step deals all
  the rows the same way;
* a list (or other sequence) of ``(inputs, targets)`` pairs: step ``t`` uses pairs
  ``k t, ..., k t + k - 1``, cycling;
* an iterator of pairs: ``k`` per step.

:func:`pair_up` joins the draws into :math:`(\tilde S_1, \tilde S_2)` (inside the compiled
update), concatenating every leaf along axis 0.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jinit._src.analysis.lsuv.batches import batch_source
from jinit._src.core.errors import JinitTypeError, JinitValueError
from jinit._src.core.types import KeyArray, PyTree
from jinit._src.model.trace.program import is_array

__all__ = ["Batch", "draw_source", "draws_per_step", "is_dataset", "pair_up"]

#: One mini-batch: ``(inputs, targets)``; the model is applied to ``inputs``.
Batch = tuple[PyTree, PyTree]

_FORMAT = (
    "pass a dataset (x, y) (a tuple of two arrays, examples along axis 0), a list of "
    "(inputs, targets) pairs, or an iterator of such pairs"
)


def draws_per_step(overlap: bool) -> int:
    """Draws a step takes: 3 when S1 and S2 share a draw, else 4."""
    return 3 if overlap else 4


def is_dataset(batches: object) -> bool:
    """Whether ``batches`` is a dataset ``(x, y)``: a tuple of exactly two arrays."""
    return (
        isinstance(batches, tuple)
        and len(batches) == 2
        and all(is_array(part) and getattr(part, "ndim", 0) >= 1 for part in batches)
    )


def _pair(item: object, where: str) -> Batch:
    if isinstance(item, Sequence) and not isinstance(item, str | bytes) and len(item) == 2:
        return item[0], item[1]
    raise JinitTypeError(
        f"batches: {where} must be an (inputs, targets) pair, got {type(item).__name__}; " + _FORMAT
    )


def _from_dataset(
    x: Any, y: Any, key: KeyArray, batch_size: int | None, k: int
) -> Callable[[int], tuple[Batch, ...]]:
    n = int(x.shape[0])
    if int(y.shape[0]) != n:
        raise JinitValueError(
            f"batches: the dataset (x, y) needs as many targets as inputs, got x.shape "
            f"{tuple(x.shape)} and y.shape {tuple(y.shape)}"
        )
    if n < k:
        raise JinitValueError(
            f"batches: the dataset (x, y) needs at least {k} examples (one for each of the {k} "
            f"draws of a step), got {n}"
        )
    inputs, targets = jnp.asarray(x), jnp.asarray(y)  # on the device once
    rows = batch_source(np.arange(n), key, None if batch_size is None else k * batch_size)

    def draw(step: int) -> tuple[Batch, ...]:
        chosen = np.asarray(rows(step))  # sorted distinct rows, dealt in turn
        groups = [chosen[g::k] for g in range(k)]
        return tuple((inputs[group], targets[group]) for group in groups)

    return draw


def draw_source(
    batches: object, key: KeyArray, batch_size: int | None, overlap: bool
) -> Callable[[int], tuple[Batch, ...]]:
    """``step -> draws`` from a dataset, a sequence of pairs or an iterator of pairs.

    Args:
      batches: what :func:`jinit.gradinit` was given (see the module docstring).
      key: the key the dataset rows are drawn with (dataset only).
      batch_size: rows per draw from a dataset, or ``None``.
      overlap: whether S1 and S2 share a draw (3 draws a step) or not (4).

    Returns:
      A function of the step number ``0, 1, ...`` giving that step's draws.

    Raises:
      TypeError: ``batches`` is none of the three kinds, or an item is not a pair.
      ValueError: a dataset with too few rows or mismatched lengths, an empty sequence, or an
        iterator that runs out (when the returned function is called).
    """
    k = draws_per_step(overlap)
    if is_dataset(batches):
        assert isinstance(batches, tuple)
        return _from_dataset(batches[0], batches[1], key, batch_size, k)
    if is_array(batches):
        raise JinitTypeError(
            f"batches: got a single array of shape {tuple(getattr(batches, 'shape', ()))}; "
            "GradInit needs targets for its loss: " + _FORMAT
        )
    if isinstance(batches, Sequence) and not isinstance(batches, str | bytes):
        if not batches:
            raise JinitValueError("batches: got an empty sequence; " + _FORMAT)
        items = [_pair(item, f"item {i}") for i, item in enumerate(batches)]
        size = len(items)
        return lambda step: tuple(items[(k * step + g) % size] for g in range(k))
    if isinstance(batches, Iterable) and not isinstance(batches, str | bytes | dict):
        iterator: Iterator[object] = iter(batches)
        count = 0

        def take() -> Batch:
            nonlocal count
            try:
                item = next(iterator)
            except StopIteration:
                raise JinitValueError(
                    f"batches: the iterator ran out after {count} batch(es); GradInit draws "
                    f"{k} per step ({k} x steps in all). Pass a dataset (x, y), a list "
                    "(cycled) or itertools.cycle(...)"
                ) from None
            count += 1
            return _pair(item, f"batch {count - 1} of the iterator")

        return lambda step: tuple(take() for _ in range(k))
    raise JinitTypeError(f"batches: got {type(batches).__name__}; " + _FORMAT)


def _join(first: Batch, second: Batch) -> Batch:
    joined: Batch = jax.tree.map(lambda a, b: jnp.concatenate([a, b]), first, second)
    return joined


def pair_up(draws: Sequence[Batch]) -> tuple[Batch, Batch]:
    r"""The step's :math:`(\tilde S_1, \tilde S_2)` from its draws.

    ``(b0 + b1, b0 + b2)`` from 3 draws, ``(b0 + b1, b2 + b3)`` from 4, every leaf concatenated
    along axis 0.
    """
    if len(draws) == 3:
        return _join(draws[0], draws[1]), _join(draws[0], draws[2])
    return _join(draws[0], draws[1]), _join(draws[2], draws[3])
