"""Whether a constant fill value fits the dtype it fills: :func:`check_fill_value`.

``jinit.constant`` refuses, at call time, values the dtype cannot hold instead of returning
``inf``, a wrapped integer or a silently truncated one: a float beyond the dtype's largest
finite value, a non-integral or out-of-range value for an integer dtype, a complex value for a
real dtype, anything but 0/1 for bool. The message names the first offending entry.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from jinit._src.core.errors import JinitTypeError, JinitValueError
from jinit._src.core.types import ArrayLike

__all__ = ["check_fill_value"]


def _show(number: object) -> str:
    """A number for a message: integers exactly, floats to 6 significant digits."""
    if isinstance(number, bool | np.bool_):
        return str(int(number))
    if isinstance(number, int | np.integer):
        return str(int(number))
    if isinstance(number, complex | np.complexfloating):
        return repr(complex(number))
    return f"{float(number):.6g}"  # type: ignore[arg-type]


def _first(array: np.ndarray, bad: np.ndarray, name: str) -> tuple[str, object]:
    """``(how to name it, the value)`` of the first entry of ``array`` flagged in ``bad``."""
    index = tuple(int(i) for i in np.argwhere(bad)[0])
    if array.ndim == 0:
        return name, array.item()
    return f"{name}[{', '.join(map(str, index))}] =", array[index].item()


def check_fill_value(name: str, value: ArrayLike, dtype: np.dtype) -> None:
    """Raise if casting the fill ``value`` to ``dtype`` would change it by more than rounding.

    JinitError: a real or imaginary part above the largest finite value of a float or complex
    dtype (it would become ``inf``); for an integer dtype, a value that is not an integer (it
    would be truncated) or outside the dtype's range (it would wrap around); for ``bool``, a
    value other than 0 or 1 (everything nonzero would become ``True``); a complex value for a
    dtype that is not complex (the imaginary part would be dropped). A traced value is not
    checked (its entries are not known).

    Args:
      name: the argument's name.
      value: the fill value (already checked by :func:`check_finite_value`).
      dtype: the resolved dtype of the result.

    Raises:
      TypeError: a complex ``value`` for a dtype that is not complex.
      ValueError: a ``value`` that overflows, is truncated or wraps around in ``dtype``.
    """
    if isinstance(value, jax.core.Tracer):
        return
    array = np.asarray(value)
    if array.size == 0:
        return
    is_complex = bool(jnp.issubdtype(dtype, np.complexfloating))
    if np.iscomplexobj(array) and not is_complex:
        shown = _show(array.item()) if array.ndim == 0 else "has complex entries and"
        raise JinitTypeError(
            f"{name} {shown} is complex but dtype {dtype.name} is not complex; the "
            "imaginary part would be dropped. Pass a complex dtype (e.g. complex64) or the "
            "real part."
        )
    if jnp.issubdtype(dtype, np.inexact):
        _check_float_fill(name, array, dtype, is_complex)
    elif dtype == np.bool_:
        _refuse(
            name,
            array,
            (array != 0) & (array != 1),
            lambda number: (
                "is not 0 or 1; bool would turn every nonzero value into True. "
                "Pass 0/1 (False/True), or a numeric dtype."
            ),
        )
    elif jnp.issubdtype(dtype, np.integer):
        _check_integer_fill(name, array, dtype)


def _refuse(
    name: str,
    array: np.ndarray,
    bad: np.ndarray,
    problem: Callable[[object], str],
    prefix: str = "",
) -> None:
    """Raise naming the first entry of ``array`` where ``bad`` holds, and ``problem(entry)``."""
    if not np.any(bad):
        return
    where, number = _first(array, bad, name)
    raise JinitValueError(f"{prefix}{where} {_show(number)} {problem(number)}")


def _check_float_fill(name: str, array: np.ndarray, dtype: np.dtype, is_complex: bool) -> None:
    limit = float(jnp.finfo(dtype).max)  # type: ignore[no-untyped-call]
    parts = [("", array.real), ("the imaginary part of ", array.imag)]
    if not is_complex:
        parts = [("", array)]
    each = " for the real and the imaginary part" if is_complex else ""
    for prefix, part in parts:
        _refuse(
            name,
            part,
            np.abs(part.astype(np.float64)) > limit,
            lambda number: (
                f"overflows {dtype.name} (largest finite value {limit:.6g}{each}); "
                f"use a wider dtype or a smaller {name}."
            ),
            prefix,
        )


def _check_integer_fill(name: str, array: np.ndarray, dtype: np.dtype) -> None:
    if np.issubdtype(array.dtype, np.floating):
        _refuse(
            name,
            array,
            array != np.trunc(array),
            lambda number: (
                f"is not an integer; {dtype.name} would truncate it to "
                f"{math.trunc(float(number))}. Pass an integral value or a "  # type: ignore[arg-type]
                "floating-point dtype."
            ),
        )
    info = jnp.iinfo(dtype)  # type: ignore[no-untyped-call]
    low, high = int(info.min), int(info.max)
    # Compared as Python numbers, exactly: a float 2**63 must not pass as int64's 2**63 - 1.
    largest, smallest = array.max().item(), array.min().item()
    if largest > high or smallest < low:
        extreme = largest if largest > high else smallest
        where, number = _first(array, array == extreme, name)
        raise JinitValueError(
            f"{where} {_show(number)} does not fit {dtype.name} (allowed: integers from "
            f"{low} to {high}); use a wider dtype."
        )
