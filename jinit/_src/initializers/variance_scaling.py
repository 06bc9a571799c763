r"""Variance scaling: the one initializer behind Glorot/Xavier, He/Kaiming and LeCun.

Samples have mean 0 and variance

.. math::

   \sigma^2 = \frac{\text{scale}}{n}, \qquad n = \begin{cases}
     \mathrm{fan\_in} & \text{mode} = \text{"fan\_in"} \\
     \mathrm{fan\_out} & \text{mode} = \text{"fan\_out"} \\
     (\mathrm{fan\_in} + \mathrm{fan\_out})/2 & \text{mode} = \text{"fan\_avg"} \\
     \sqrt{\mathrm{fan\_in}\cdot\mathrm{fan\_out}} & \text{mode} = \text{"fan\_geo\_avg"}
   \end{cases}

where the fans come from :func:`jinit.compute_fans`. The distributions, all with exactly
this variance:

* ``"normal"`` (alias ``"untruncated_normal"``, Keras' spelling): :math:`\mathcal{N}(0, \sigma^2)`.
* ``"truncated_normal"``: a normal truncated at :math:`\pm 2` of its own standard deviation,
  rescaled by :math:`1/0.87962566` (the standard deviation of a standard normal truncated to
  :math:`(-2, 2)`) so the *truncated* variance is :math:`\sigma^2`. For complex dtypes the
  modulus of a unit complex normal is truncated at 2 and the correction is
  :math:`\sqrt{1 - 4e^{-4}/(1-e^{-4})} = 0.96196183`.
* ``"uniform"``: real: :math:`U[-\sqrt{3}\sigma, \sqrt{3}\sigma)`; complex: uniform on the disk
  of radius :math:`\sqrt{2}\sigma`.

Parity: for real dtypes the output is bit-identical to ``jax.nn.initializers`` for the same key,
shape and dtype. For complex ``"truncated_normal"`` we deliberately differ: JAX divides by
0.95311164, which is not the standard deviation of the truncated complex normal, and its samples
have 1.0187 times the requested variance; ours have the requested variance.
"""

from __future__ import annotations

import math
from typing import get_args

import jax
import jax.numpy as jnp
import numpy as np

from jinit._src.core import sampling
from jinit._src.core.checks import check_axes, check_choice, check_real, check_representable
from jinit._src.core.errors import JinitValueError
from jinit._src.core.factories import initializer_factory
from jinit._src.core.fans import compute_fans
from jinit._src.core.sharding import place
from jinit._src.core.types import Axes, Distribution, DTypeLike, KeyArray, Mode, OutSharding
from jinit._src.core.values import Draw

__all__ = [
    "COMPLEX_TRUNCATED_STD",
    "DISTRIBUTIONS",
    "MODES",
    "REAL_TRUNCATED_STD",
    "variance_scaling",
    "variance_scaling_draw",
]

#: The modes and distributions :func:`variance_scaling` accepts (the ``Mode`` and
#: ``Distribution`` types).
MODES: tuple[Mode, ...] = get_args(Mode)
DISTRIBUTIONS: tuple[Distribution, ...] = get_args(Distribution)

#: Standard deviation of N(0, 1) truncated to (-2, 2): sqrt(1 - 4 phi(2) / erf(sqrt 2)).
REAL_TRUNCATED_STD = math.sqrt(
    1.0 - 4.0 * math.exp(-2.0) / math.sqrt(2.0 * math.pi) / math.erf(math.sqrt(2.0))
)
#: Standard deviation of a unit complex normal (|z|^2 ~ Exp(1)) with |z| truncated to 2:
#: E[|z|^2 | |z|^2 < 4] = 1 - 4 e^-4 / (1 - e^-4).
COMPLEX_TRUNCATED_STD = math.sqrt(1.0 - 4.0 * math.exp(-4.0) / (1.0 - math.exp(-4.0)))


def _denominator(mode: str, fan_in: float, fan_out: float) -> float:
    if mode == "fan_in":
        return fan_in
    if mode == "fan_out":
        return fan_out
    if mode == "fan_avg":
        return (fan_in + fan_out) / 2
    return float((fan_in * fan_out) ** 0.5)


def _real_part_dtype(dtype: np.dtype) -> np.dtype:
    return np.dtype(np.finfo(dtype).dtype)


def _complex_disk(key: KeyArray, shape: tuple[int, ...], dtype: np.dtype) -> jax.Array:
    """Uniform on the disk of radius sqrt(2): mean 0, E|z|^2 = 1."""
    radius_key, angle_key = jax.random.split(key)
    real = _real_part_dtype(dtype)
    radius = jnp.sqrt(2 * sampling.uniform(radius_key, shape, real)).astype(dtype)
    angle = 2 * np.pi * sampling.uniform(angle_key, shape, real).astype(dtype)
    return radius * jnp.exp(1j * angle)


def _complex_truncated(key: KeyArray, shape: tuple[int, ...], dtype: np.dtype) -> jax.Array:
    """Unit complex normal with |z| < 2, by inverting the CDF of |z|^2 ~ Exp(1) on [0, 4)."""
    radius_key, angle_key = jax.random.split(key)
    real = _real_part_dtype(dtype)
    unit = sampling.uniform(radius_key, shape, real).astype(dtype)
    mass = (1 - jnp.exp(jnp.array(-4.0, dtype))) * unit
    radius = jnp.sqrt(-jnp.log(1 - mass))
    angle = 2 * np.pi * sampling.uniform(angle_key, shape, real).astype(dtype)
    return radius * jnp.exp(1j * angle)


_HALF_ULP = 2.0**-10  # rounding headroom for float16, the narrowest mantissa with a small max

_LARGEST_SAMPLE = {  # largest |sample| per unit standard deviation, for overflow checks
    "truncated_normal": 2.0 / REAL_TRUNCATED_STD,
    "normal": 10.0,
    "uniform": math.sqrt(3.0),
}


def variance_scaling_draw(
    scale: float,
    mode: str,
    distribution: str,
    in_axis: Axes = -2,
    out_axis: Axes = -1,
    batch_axis: Axes = (),
) -> Draw:
    """Check the arguments of :func:`variance_scaling` and return its sampler.

    Shared by every named variance-scaling factory (Glorot, He, LeCun, the PyTorch forms); the
    refusals it raises are named by the factory the user called.
    """
    scale = check_real("scale", scale, positive=True)
    mode = check_choice("mode", mode, MODES)
    distribution = check_choice("distribution", distribution, DISTRIBUTIONS)
    if distribution == "untruncated_normal":
        distribution = "normal"
    in_axis = check_axes("in_axis", in_axis)
    out_axis = check_axes("out_axis", out_axis)
    batch_axis = check_axes("batch_axis", batch_axis)

    def draw(
        key: KeyArray, dims: tuple[int, ...], resolved: np.dtype, out_sharding: OutSharding
    ) -> jax.Array:
        fan_in, fan_out, _ = compute_fans(dims, in_axis, out_axis, batch_axis, owner=None)
        if 0 in dims:
            return jnp.zeros(dims, resolved, out_sharding=out_sharding)
        target = scale / _denominator(mode, fan_in, fan_out)
        # The variance is held in the dtype (as in JAX), times 3 for the uniform bound.
        held = target * (3.0 if distribution == "uniform" else 1.0)
        check_representable("the variance", held * (1 + _HALF_ULP), resolved)
        check_representable(
            f"the largest {distribution} sample",
            math.sqrt(target) * _LARGEST_SAMPLE[distribution],
            resolved,
        )
        if np.asarray(target, dtype=resolved) == 0:
            raise JinitValueError(
                f"the variance {target:.3g} underflows {resolved.name} to 0; use a wider dtype."
            )
        variance = jnp.array(target, dtype=resolved)
        is_real = jnp.issubdtype(resolved, np.floating)
        if distribution == "truncated_normal":
            if is_real:
                stddev = jnp.sqrt(variance) / jnp.array(REAL_TRUNCATED_STD, resolved)
                sample = sampling.truncated_normal(
                    key, -2, 2, dims, resolved, out_sharding=out_sharding
                )
                return sample * stddev
            stddev = jnp.sqrt(variance) / jnp.array(COMPLEX_TRUNCATED_STD, resolved)
            return place(_complex_truncated(key, dims, resolved) * stddev, out_sharding)
        if distribution == "normal":
            sample = sampling.normal(key, dims, resolved, out_sharding=out_sharding)
            return sample * jnp.sqrt(variance)
        if is_real:
            sample = sampling.uniform(key, dims, resolved, -1, out_sharding=out_sharding)
            return sample * jnp.sqrt(3 * variance)
        return place(_complex_disk(key, dims, resolved) * jnp.sqrt(variance), out_sharding)

    return draw


@initializer_factory()
def variance_scaling(
    scale: float,
    mode: Mode,
    distribution: Distribution,
    in_axis: Axes = -2,
    out_axis: Axes = -1,
    batch_axis: Axes = (),
    dtype: DTypeLike | None = None,
) -> Draw:
    r"""Build an initializer whose samples have variance ``scale / n`` (see the module doc).

    .. math:: \operatorname{Var}(w) = \frac{\text{scale}}{n(\text{mode})}

    Args:
      scale: the numerator, > 0 (2.0 for He, 1.0 for Glorot and LeCun; a gain :math:`g` enters
        as :math:`g^2`).
      mode: ``"fan_in"``, ``"fan_out"``, ``"fan_avg"`` or ``"fan_geo_avg"``.
      distribution: ``"truncated_normal"``, ``"normal"`` (or ``"untruncated_normal"``) or
        ``"uniform"``.
      in_axis: input axis or axes of the weight array.
      out_axis: output axis or axes.
      batch_axis: axes to ignore (stacked layers).
      dtype: default dtype (float or complex).

    Returns:
      An initializer. Same signature and, for real dtypes, bit-identical output as
      ``jax.nn.initializers.variance_scaling``; a zero-size shape gives an empty array.

    Raises:
      ValueError: (when called) ``scale`` not > 0 or not finite, unknown ``mode`` or
        ``distribution``; (when the initializer is called) a negative dimension, a rank too
        small for the default axes, an axis out of range, a variance that over- or underflows
        the dtype.
      TypeError: an argument of the wrong type; at call time, an integer dtype.

    Example:
      >>> import jax, jinit
      >>> init = jinit.variance_scaling(2.0, "fan_in", "normal")
      >>> w = init(jax.random.key(0), (512, 256))
      >>> round(float(w.var() * 512), 1)  # scale 2 / fan_in 512
      2.0

    References:
      Glorot & Bengio (2010) https://proceedings.mlr.press/v9/glorot10a.html;
      He et al. (2015) https://arxiv.org/abs/1502.01852;
      LeCun et al. (1998), Efficient BackProp; Klambauer et al. (2017)
      https://arxiv.org/abs/1706.02515.
    """
    del dtype  # the default dtype, held by the initializer
    return variance_scaling_draw(scale, mode, distribution, in_axis, out_axis, batch_axis)
