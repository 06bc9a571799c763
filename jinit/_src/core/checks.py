"""Argument checks shared by the factories and the initializers they return.

Every check raises a ``ValueError`` or ``TypeError`` whose message names the initializer the
user called, the argument, the bad value and what is allowed. Checks that need no shape run in
the factory, so a typo fails where it is written, not deep inside a model's ``init``.
"""

from __future__ import annotations

import difflib
import math
import numbers
import operator
from collections.abc import Iterable, Sequence
from typing import TypeVar

import jax
import jax.numpy as jnp
import numpy as np

from jinit._src.core.errors import JinitTypeError, JinitValueError
from jinit._src.core.types import ArrayLike, Axes, DTypeLike

#: The type of a choice: a ``Literal`` of strings, or ``str``.
Choice = TypeVar("Choice", bound=str)

__all__ = [
    "check_axes",
    "check_choice",
    "check_factory_dtype",
    "check_finite_value",
    "check_int",
    "check_interval",
    "check_real",
    "check_representable",
    "fail",
    "normalize_axes",
    "resolve_dtype",
    "resolve_shape",
]


def fail(owner: str, message: str) -> str:
    """A message that starts with the public name asking: ``jinit.<owner>: <message>``."""
    return f"jinit.{owner}: {message}"


def check_real(
    name: str,
    value: object,
    *,
    positive: bool = False,
    nonnegative: bool = False,
) -> float:
    """Return ``value`` as a finite Python float, or refuse it, naming the argument ``name``.

    Args:
      name: the argument's name.
      value: what the user passed; a real Python/NumPy number or a concrete 0-d array.
      positive: require ``value > 0``.
      nonnegative: require ``value >= 0``.

    Raises:
      TypeError: ``value`` is not a real number (a bool, a string, a complex number, a traced
        value, or an array with more than one element).
      ValueError: ``value`` is NaN, infinite, or violates the sign requirement.
    """
    if isinstance(value, bool | np.bool_ | str | bytes):
        raise JinitTypeError(f"{name} must be a real number, got {value!r}.")
    if isinstance(value, jax.core.Tracer):
        raise JinitTypeError(
            f"{name} must be a concrete real number known when the initializer is built, "
            "got a traced value. Build the initializer outside jax.jit/vmap."
        )
    if isinstance(value, numbers.Real):
        number = float(value)
    else:
        array = np.asarray(value)
        if array.ndim != 0 or not np.issubdtype(array.dtype, np.number):
            raise JinitTypeError(
                f"{name} must be a real scalar, got {value!r} of type {type(value).__name__}."
            )
        if np.iscomplexobj(array):
            raise JinitTypeError(f"{name} must be real, got the complex value {value!r}.")
        number = float(array)
    if not math.isfinite(number):
        raise JinitValueError(f"{name} must be finite, got {number!r}.")
    if positive and number <= 0:
        raise JinitValueError(f"{name} must be > 0, got {number!r}.")
    if nonnegative and number < 0:
        raise JinitValueError(f"{name} must be >= 0, got {number!r}.")
    return number


def check_int(name: str, value: object, low: int) -> int:
    """Return ``value`` as an int ``>= low`` (NumPy integers accepted), or refuse it.

    Raises:
      TypeError: ``value`` is not an integer (bools are refused).
      ValueError: ``value < low``.
    """
    if isinstance(value, bool | np.bool_) or not isinstance(value, int | np.integer):
        raise JinitTypeError(f"{name} must be an int >= {low}, got {value!r}")
    if value < low:
        raise JinitValueError(f"{name} must be an int >= {low}, got {value!r}")
    return int(value)


def check_interval(low_name: str, low: object, high_name: str, high: object) -> tuple[float, float]:
    """Check two real bounds with ``low < high``; return them as floats."""
    first, last = check_real(low_name, low), check_real(high_name, high)
    if first >= last:
        raise JinitValueError(
            f"{low_name} must be < {high_name}, got {low_name}={first}, {high_name}={last}."
        )
    return first, last


def check_finite_value(name: str, value: ArrayLike) -> ArrayLike:
    """Check that a constant fill value is numeric and finite; return it unchanged."""
    if isinstance(value, jax.core.Tracer):
        return value
    try:
        array = np.asarray(value)
    except Exception as error:  # pragma: no cover - NumPy raises many types here
        raise JinitTypeError(f"{name} must be array-like, got {value!r}.") from error
    if not (np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_):
        raise JinitTypeError(f"{name} must be numeric, got {value!r} (dtype {array.dtype}).")
    if np.issubdtype(array.dtype, np.inexact) and not np.all(np.isfinite(array)):
        raise JinitValueError(f"{name} must be finite, got {value!r}.")
    return value


def check_choice(name: str, value: object, allowed: Iterable[Choice]) -> Choice:
    """Return ``value`` if it is one of ``allowed``; otherwise raise with a suggestion."""
    options = list(allowed)
    listed = ", ".join(repr(option) for option in options)
    if not isinstance(value, str):
        raise JinitTypeError(f"{name} must be a string, one of {listed}; got {value!r}.")
    if value in options:
        return value
    close = difflib.get_close_matches(value.lower(), options, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise JinitValueError(f"{name} must be one of {listed}; got {value!r}.{hint}")


def _is_index(value: object) -> bool:
    if isinstance(value, bool | np.bool_):
        return False
    try:
        operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        return False
    return True


def check_axes(name: str, value: object) -> int | tuple[int, ...]:
    """Check an axis argument: an int or a sequence of distinct ints. No range check yet."""
    if _is_index(value):
        return operator.index(value)  # type: ignore[arg-type]
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        items = list(value)
        if all(_is_index(item) for item in items):
            axes = tuple(operator.index(item) for item in items)
            if len(set(axes)) != len(axes):
                raise JinitValueError(f"{name} has repeated axes: {value!r}.")
            return axes
    raise JinitTypeError(
        f"{name} must be an int or a sequence of ints, got {value!r} "
        f"of type {type(value).__name__}."
    )


def normalize_axes(name: str, axes: Axes, ndim: int) -> tuple[int, ...]:
    """Turn ``axes`` into non-negative axis numbers for an array of rank ``ndim``."""
    items = (axes,) if isinstance(axes, int) else tuple(axes)
    out = []
    for axis in items:
        if not -ndim <= axis < ndim:
            raise JinitValueError(
                f"{name}={axes!r} is out of range for a shape of rank {ndim}; "
                f"allowed axes are {-ndim}..{ndim - 1}."
            )
        out.append(axis % ndim)
    if len(set(out)) != len(out):
        raise JinitValueError(f"{name}={axes!r} names the same axis twice.")
    return tuple(out)


def resolve_shape(shape: object) -> tuple[int, ...]:
    """Return ``shape`` as a tuple of non-negative Python ints, or raise."""
    if _is_index(shape):
        shape = (shape,)
    if isinstance(shape, np.ndarray) and shape.ndim == 1:
        shape = shape.tolist()
    if not isinstance(shape, Sequence) or isinstance(shape, str | bytes):
        raise JinitTypeError(f"shape must be a sequence of non-negative ints, got {shape!r}.")
    dims = []
    for dim in shape:
        if not _is_index(dim):
            raise JinitTypeError(
                f"shape must contain only ints, got {shape!r} "
                f"(the entry {dim!r} is {type(dim).__name__})."
            )
        size = operator.index(dim)
        if size < 0:
            raise JinitValueError(
                f"shape must contain only non-negative sizes, got {tuple(shape)!r}."
            )
        dims.append(size)
    return tuple(dims)


_KINDS = {"float": np.floating, "complex": np.complexfloating}


def check_factory_dtype(dtype: DTypeLike | None) -> np.dtype | None:
    """Check a factory's default ``dtype`` argument (``None`` is allowed)."""
    if dtype is None:
        return None
    try:
        return np.dtype(jnp.dtype(dtype))
    except TypeError as error:
        raise JinitTypeError(f"dtype {dtype!r} is not a valid dtype.") from error


def resolve_dtype(
    dtype: DTypeLike | None,
    *,
    kinds: Sequence[str] = ("float", "complex"),
) -> np.dtype:
    """Resolve ``dtype`` (``None`` means JAX's default float) and check its kind.

    Args:
      dtype: the requested dtype, or ``None``.
      kinds: which kinds are allowed: any of ``"float"``, ``"complex"``, ``"any"``.

    Raises:
      TypeError: the dtype is not valid or not of an allowed kind.
    """
    if dtype is None:
        return np.dtype(jax.dtypes.canonicalize_dtype(float))
    resolved = check_factory_dtype(dtype)
    assert resolved is not None
    resolved = np.dtype(jax.dtypes.canonicalize_dtype(resolved))
    if "any" in kinds:
        return resolved
    if any(jnp.issubdtype(resolved, _KINDS[kind]) for kind in kinds):
        return resolved
    wanted = " or ".join(f"{kind}ing-point" if kind == "float" else kind for kind in kinds)
    raise JinitTypeError(
        f"dtype must be a {wanted} dtype (e.g. float32, bfloat16"
        f"{', complex64' if 'complex' in kinds else ''}), got {resolved.name}."
    )


def check_representable(what: str, value: float, dtype: np.dtype) -> None:
    """Raise if ``value`` (a largest possible magnitude) overflows ``dtype``.

    This is what turns a silent ``inf`` in float16 (``normal(1e5)``) into a clear error.
    """
    limit = float(jnp.finfo(dtype).max)  # type: ignore[no-untyped-call]
    if value > limit:
        raise JinitValueError(
            f"{what} {value:.6g} overflows {dtype.name} (largest finite value "
            f"{limit:.6g}); use a wider dtype or a smaller scale."
        )
