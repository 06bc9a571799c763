"""Where :func:`jinit.lsuv` takes its batches from: ``step -> batch`` for each forward pass.

LSUV runs one forward pass per measurement and wants a fresh mini-batch each time.
:func:`batch_source` turns what the user passes -- an array of examples, a sequence of batches or
an iterator -- into a function of the step number: random rows of the array (a function of the
key and the step only, so a run is reproducible), the sequence cycled, or the iterator's next
batch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jinit._src.core.types import KeyArray, PyTree

__all__ = ["batch_source"]

#: Folded into the key for the random sub-batches, keeping them apart from the kernels' keys.
_DATA_STREAM = 0x4C535556  # "LSUV"


def batch_source(batches: PyTree, key: KeyArray, batch_size: int | None) -> Callable[[int], Any]:
    """``step -> batch``: random rows of an array, a cycled sequence, or an iterator's next.

    Args:
      batches: an array (examples along axis 0), a sequence of batches, or an iterator of
        batches (see :func:`jinit.lsuv`).
      key: the key the random rows are drawn with (array ``batches`` only).
      batch_size: rows per batch drawn from an array, or ``None`` for the whole array.

    Returns:
      A function of the step number ``0, 1, ...`` giving that step's batch.

    Raises:
      TypeError: ``batches`` is none of the three kinds.
      ValueError: an array without examples or an empty sequence; an iterator that runs out
        (when the returned function is called).
    """
    if hasattr(batches, "shape") and hasattr(batches, "dtype"):
        data = batches
        if data.ndim < 1 or data.shape[0] < 1:
            raise ValueError(
                "jinit.lsuv: batches must have at least one example along axis 0, got shape "
                f"{tuple(data.shape)}"
            )
        n = int(data.shape[0])
        if batch_size is None or batch_size >= n:
            whole = jnp.asarray(data)  # on the device once, not at every pass
            return lambda step: whole
        # Row numbers come from NumPy seeded by the key: nothing to compile, and a function of
        # (key, step) only. (jax.random.choice without replacement compiles a sort: ~1 s.)
        words = jax.random.key_data(key) if jnp.issubdtype(key.dtype, jax.dtypes.prng_key) else key
        seed = [*np.asarray(words, np.uint32).ravel().tolist(), _DATA_STREAM]
        size = batch_size

        def sample(step: int) -> Any:
            rows = np.random.default_rng([*seed, step]).choice(n, size, replace=False)
            return data[np.sort(rows)]

        return sample
    if isinstance(batches, Sequence) and not isinstance(batches, str | bytes):
        if not batches:
            raise ValueError("jinit.lsuv: batches is an empty sequence; pass at least one batch")
        items = batches
        return lambda step: items[step % len(items)]
    if isinstance(batches, Iterable) and not isinstance(batches, str | bytes):
        iterator: Iterator[Any] = iter(batches)
        count = 0

        def draw(step: int) -> Any:
            nonlocal count
            try:
                batch = next(iterator)
            except StopIteration:
                raise ValueError(
                    f"jinit.lsuv: the batches iterator ran out after {count} batch(es); LSUV "
                    "draws one per forward pass (at most layers x (max_iters + 1)). Pass an "
                    "array, a list (cycled), or itertools.cycle(...)"
                ) from None
            count += 1
            return batch

        return draw
    raise TypeError(
        "jinit.lsuv: batches must be an array (examples along axis 0), a sequence of batches "
        f"or an iterator of batches, got {type(batches).__name__}"
    )
