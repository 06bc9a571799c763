r"""The random initializers users of Keras and PyTorch look for, with their arguments.

:func:`random_uniform` on :math:`[\text{minval}, \text{maxval})` (Keras ``RandomUniform``),
:func:`random_normal` with a mean (Keras ``RandomNormal``), and :func:`trunc_normal` with
absolute bounds (PyTorch ``trunc_normal_``), optionally rescaled so the *truncated*
distribution has exactly the requested standard deviation. These sample in float32 for 16-bit
dtypes and round once at the end, so bfloat16/float16 results are the correctly rounded
float32 ones, and they clamp to the dtype values inside the requested interval, so rounding
never leaves it. The ``jax.nn.initializers`` names live in :mod:`jinit._src.initializers.random`.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from jinit._src.core import sampling
from jinit._src.core.checks import (
    check_interval,
    check_real,
    check_representable,
)
from jinit._src.core.errors import JinitTypeError, JinitValueError
from jinit._src.core.factories import initializer_factory
from jinit._src.core.optional import require
from jinit._src.core.types import DTypeLike, KeyArray, OutSharding
from jinit._src.core.values import FLOAT, Draw
from jinit._src.initializers.random import NORMAL_HEADROOM

__all__ = ["random_normal", "random_uniform", "trunc_normal"]


def _sampling_dtype(dtype: np.dtype) -> np.dtype:
    """Float32 for 16-bit floats (sample once at full precision, round once), else ``dtype``."""
    return np.dtype(np.float32) if dtype.itemsize < 4 else dtype


def _dtype_interval(
    low: float, high: float, dtype: np.dtype, *, closed: bool
) -> tuple[np.ndarray, np.ndarray]:
    """The smallest and largest ``dtype`` values inside ``[low, high]`` (or ``[low, high)``).

    Clamping to them never leaves the interval after rounding; ``closed=False`` excludes
    ``high``.

    Raises:
      ValueError: no value of ``dtype`` lies in the interval (it is narrower than the dtype's
        spacing there, e.g. bfloat16 has no value in ``[256.5, 257.5)``).
    """
    first = np.asarray(low, dtype)
    if float(first) < low:
        first = np.nextafter(first, np.asarray(np.inf, dtype))
    last = np.asarray(high, dtype)
    if float(last) > high or (not closed and float(last) >= high):
        last = np.nextafter(last, np.asarray(-np.inf, dtype))
    if float(first) > float(last):
        interval = f"[{low}, {high}{']' if closed else ')'}"
        raise JinitValueError(
            f"no {dtype.name} value lies in {interval}; widen the interval or use a wider dtype."
        )
    return first, last


@initializer_factory(kinds=FLOAT)
def random_uniform(
    minval: float = -0.05,
    maxval: float = 0.05,
    *,
    dtype: DTypeLike | None = None,
) -> Draw:
    r"""Build an initializer drawing from :math:`U[\text{minval}, \text{maxval})`.

    Keras ``RandomUniform`` and PyTorch ``nn.init.uniform_(a, b)``. Variance
    :math:`(\text{maxval}-\text{minval})^2/12`: a bound :math:`b` of a symmetric interval is
    *not* a standard deviation (the standard deviation is :math:`b/\sqrt3`).

    Args:
      minval: lower bound (inclusive).
      maxval: upper bound (exclusive), > ``minval``.
      dtype: default dtype (float).

    Returns:
      An initializer whose values lie in ``[minval, maxval)`` in every float dtype.

    Raises:
      ValueError: a bound not finite, or ``minval >= maxval``.
      TypeError: a bound not a real number; at call time, a non-float dtype.

    Example:
      >>> import jax, jinit
      >>> w = jinit.random_uniform(-1.0, 1.0)(jax.random.key(0), (1000,))
      >>> bool((w >= -1).all() and (w < 1).all())
      True
    """
    minval, maxval = check_interval("minval", minval, "maxval", maxval)
    del dtype  # held by the initializer

    def draw(
        key: KeyArray, dims: tuple[int, ...], resolved: np.dtype, out_sharding: OutSharding
    ) -> jax.Array:
        check_representable("max(|minval|, |maxval|)", max(abs(minval), abs(maxval)), resolved)
        low, high = _dtype_interval(minval, maxval, resolved, closed=False)
        work = _sampling_dtype(resolved)
        sample = sampling.uniform(
            key, dims, work, minval, maxval, out_sharding=out_sharding
        ).astype(resolved)
        return jnp.clip(sample, jnp.asarray(low), jnp.asarray(high))

    return draw


@initializer_factory(kinds=FLOAT)
def random_normal(
    mean: float = 0.0,
    stddev: float = 0.05,
    *,
    dtype: DTypeLike | None = None,
) -> Draw:
    r"""Build an initializer drawing from :math:`\mathcal{N}(\text{mean}, \text{stddev}^2)`.

    Keras ``RandomNormal`` and PyTorch ``nn.init.normal_(mean, std)``. See :func:`normal` for
    why a fixed standard deviation is a poor choice for the weights of deep networks.

    Args:
      mean: the mean.
      stddev: the standard deviation, > 0.
      dtype: default dtype (float).

    Returns:
      An initializer.

    Raises:
      ValueError: an argument not finite, or ``stddev <= 0``.
      TypeError: an argument not a real number; at call time, a non-float dtype.

    Example:
      >>> import jax, jinit
      >>> jinit.random_normal(1.0, 0.1)(jax.random.key(0), (3,)).shape
      (3,)
    """
    mean = check_real("mean", mean)
    stddev = check_real("stddev", stddev, positive=True)
    del dtype  # held by the initializer

    def draw(
        key: KeyArray, dims: tuple[int, ...], resolved: np.dtype, out_sharding: OutSharding
    ) -> jax.Array:
        check_representable("|mean| + 10 x stddev", abs(mean) + NORMAL_HEADROOM * stddev, resolved)
        work = _sampling_dtype(resolved)
        sample = sampling.normal(key, dims, work, out_sharding=out_sharding)
        return (sample * jnp.asarray(stddev, work) + jnp.asarray(mean, work)).astype(resolved)

    return draw


def _truncated_std(mean: float, sigma: float, a: float, b: float) -> float:
    stats = require("scipy.stats", "trunc_normal")
    alpha, beta = (a - mean) / sigma, (b - mean) / sigma
    return float(stats.truncnorm.std(alpha, beta, loc=mean, scale=sigma))


def _sigma_for_exact_std(mean: float, std: float, a: float, b: float) -> float:
    """Solve for the pre-truncation sigma whose truncation to [a, b] has std ``std``."""
    ceiling = (b - a) / math.sqrt(12.0)  # std of U[a, b], the limit as sigma -> infinity
    if std >= ceiling:
        raise JinitValueError(
            f"with exact_std=True, std must be < (b - a)/sqrt(12) = "
            f"{ceiling:.6g} (the std of a uniform on [a, b]); got std={std}."
        )
    low, high = std * 1e-6, std
    while _truncated_std(mean, high, a, b) < std:
        high *= 2.0
    optimize = require("scipy.optimize", "trunc_normal")
    return float(
        optimize.brentq(
            lambda s: _truncated_std(mean, s, a, b) - std, low, high, xtol=1e-15 * high, rtol=1e-14
        )
    )


@initializer_factory(kinds=FLOAT)
def trunc_normal(
    mean: float = 0.0,
    std: float = 1.0,
    a: float = -2.0,
    b: float = 2.0,
    *,
    exact_std: bool = False,
    dtype: DTypeLike | None = None,
) -> Draw:
    r"""Build a truncated normal with *absolute* bounds (PyTorch ``nn.init.trunc_normal_``).

    Samples :math:`x \sim \mathcal{N}(\text{mean}, \sigma^2)` conditioned on
    :math:`a \le x \le b`. With ``exact_std=False`` (PyTorch), :math:`\sigma = \text{std}`
    and the realized standard deviation is smaller than ``std``. With ``exact_std=True``,
    :math:`\sigma` is solved (once, when the factory is called) so that the *truncated*
    distribution has standard deviation exactly ``std``; this needs
    :math:`\text{std} < (b-a)/\sqrt{12}`.

    Note the difference from :func:`truncated_normal`, whose bounds are in units of σ: PyTorch's
    default ``trunc_normal_(std=0.02)`` truncates at ±2 *absolute*, i.e. at ±100σ, which is no
    truncation at all; ``trunc_normal(std=0.02, a=-0.04, b=0.04)`` is a 2σ truncation.

    Args:
      mean: mean of the normal before truncation.
      std: its standard deviation (``exact_std=False``) or the target standard deviation of the
        truncated distribution (``exact_std=True``), > 0.
      a: lower bound (absolute).
      b: upper bound (absolute), > ``a``.
      exact_std: rescale so the truncated distribution has standard deviation ``std``.
      dtype: default dtype (float).

    Returns:
      An initializer whose values lie in ``[a, b]`` in every float dtype.

    Raises:
      ValueError: an argument not finite, ``std <= 0``, ``a >= b``, or an unreachable
        ``std`` with ``exact_std=True``.
      TypeError: an argument of the wrong type; at call time, a non-float dtype.

    Example:
      >>> import jax, jinit
      >>> w = jinit.trunc_normal(std=0.02, a=-0.04, b=0.04, exact_std=True)(
      ...     jax.random.key(0), (512, 512))
      >>> round(float(w.std()), 3)
      0.02
    """
    mean = check_real("mean", mean)
    std = check_real("std", std, positive=True)
    a, b = check_interval("a", a, "b", b)
    if not isinstance(exact_std, bool):
        raise JinitTypeError(f"exact_std must be a bool, got {exact_std!r}.")
    del dtype  # held by the initializer
    sigma = _sigma_for_exact_std(mean, std, a, b) if exact_std else std
    alpha, beta = (a - mean) / sigma, (b - mean) / sigma

    def draw(
        key: KeyArray, dims: tuple[int, ...], resolved: np.dtype, out_sharding: OutSharding
    ) -> jax.Array:
        check_representable("max(|a|, |b|)", max(abs(a), abs(b)), resolved)
        low, high = _dtype_interval(a, b, resolved, closed=True)
        work = _sampling_dtype(resolved)
        z = sampling.truncated_normal(key, alpha, beta, dims, work, out_sharding=out_sharding)
        sample = (z * jnp.asarray(sigma, work) + jnp.asarray(mean, work)).astype(resolved)
        return jnp.clip(sample, jnp.asarray(low), jnp.asarray(high))

    return draw
