r"""Plain random initializers with ``jax.nn.initializers`` names and meaning, bit for bit.

:func:`uniform` (:math:`[0, \text{scale})`), :func:`normal` and :func:`truncated_normal`
(bounds in units of the untruncated standard deviation). The forms users of Keras and PyTorch
look for (``random_uniform``, ``random_normal``, ``trunc_normal``) are in
:mod:`jinit._src.initializers.forms`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jinit._src.core import sampling
from jinit._src.core.checks import (
    check_interval,
    check_real,
    check_representable,
)
from jinit._src.core.factories import initializer_factory
from jinit._src.core.types import DTypeLike, KeyArray, OutSharding
from jinit._src.core.values import FLOAT, INEXACT, Draw

__all__ = ["NORMAL_HEADROOM", "normal", "truncated_normal", "uniform"]

#: A standard normal sample in float32 never exceeds ~5.4 in magnitude; 10 leaves headroom.
NORMAL_HEADROOM = 10.0


@initializer_factory(kinds=FLOAT)
def uniform(scale: float = 1e-2, dtype: DTypeLike | None = None) -> Draw:
    r"""Build an initializer drawing from :math:`U[0, \text{scale})` (JAX's meaning).

    Mean :math:`\text{scale}/2`, variance :math:`\text{scale}^2/12`. For a symmetric interval
    use :func:`random_uniform` or a variance-scaling initializer.

    Args:
      scale: the upper bound, > 0.
      dtype: default dtype of the initializer (a float dtype; ``None``: JAX's default float).

    Returns:
      An initializer, bit-identical to ``jax.nn.initializers.uniform(scale)``.

    Raises:
      ValueError: ``scale`` is not finite or not > 0 (JAX returns NaN or a flipped interval).
      TypeError: ``scale`` is not a real number; at call time, a non-float dtype.

    Example:
      >>> import jax, jinit
      >>> jinit.uniform(0.1)(jax.random.key(0), (2, 3)).shape
      (2, 3)
    """
    scale = check_real("scale", scale, positive=True)
    del dtype  # held by the initializer

    def draw(
        key: KeyArray, dims: tuple[int, ...], resolved: np.dtype, out_sharding: OutSharding
    ) -> jax.Array:
        check_representable("scale", scale, resolved)
        sample = sampling.uniform(key, dims, resolved, out_sharding=out_sharding)
        return sample * jnp.array(scale, resolved)

    return draw


@initializer_factory(kinds=INEXACT)
def normal(stddev: float = 1e-2, dtype: DTypeLike | None = None) -> Draw:
    r"""Build an initializer drawing from :math:`\mathcal{N}(0, \text{stddev}^2)`.

    A *fixed* standard deviation ignores the layer's size. Each layer multiplies the signal's
    standard deviation by about :math:`\text{stddev}\cdot\sqrt{\text{fan\_in}}\cdot g` (with
    :math:`g` the activation's gain), so with ``stddev=0.01`` and 256 inputs a tanh net loses
    a factor ~6 per layer and its activations and gradients vanish after a few layers
    (Glorot & Bengio, 2010); ``stddev=1`` saturates it instead. Use a variance-scaling
    initializer (:func:`glorot_normal`, :func:`he_normal`, :func:`lecun_normal`) for weights.

    With a complex dtype the real and imaginary parts each have variance
    :math:`\text{stddev}^2/2` (JAX's convention: :math:`E|z|^2 = \text{stddev}^2`).

    Args:
      stddev: the standard deviation, > 0.
      dtype: default dtype (float or complex; ``None``: JAX's default float).

    Returns:
      An initializer, bit-identical to ``jax.nn.initializers.normal(stddev)``.

    Raises:
      ValueError: ``stddev`` not finite or not > 0; at call time, a ``stddev`` that overflows
        the dtype (e.g. 1e5 in float16).
      TypeError: ``stddev`` not a real number; at call time, an integer dtype.

    Example:
      >>> import jax, jinit
      >>> jinit.normal(0.02)(jax.random.key(0), (4, 8)).dtype
      dtype('float32')

    References:
      Glorot & Bengio (2010), Understanding the difficulty of training deep feedforward
      neural networks. https://proceedings.mlr.press/v9/glorot10a.html
    """
    stddev = check_real("stddev", stddev, positive=True)
    del dtype  # held by the initializer

    def draw(
        key: KeyArray, dims: tuple[int, ...], resolved: np.dtype, out_sharding: OutSharding
    ) -> jax.Array:
        check_representable("stddev x 10", stddev * NORMAL_HEADROOM, resolved)
        sample = sampling.normal(key, dims, resolved, out_sharding=out_sharding)
        return sample * jnp.array(stddev, resolved)

    return draw


@initializer_factory(kinds=FLOAT)
def truncated_normal(
    stddev: float = 1e-2,
    dtype: DTypeLike | None = None,
    lower: float = -2.0,
    upper: float = 2.0,
) -> Draw:
    r"""Build a truncated-normal initializer with bounds in units of ``stddev`` (JAX's meaning).

    Samples :math:`\text{stddev}\cdot z` with :math:`z \sim \mathcal{N}(0,1)` conditioned on
    :math:`\text{lower} < z < \text{upper}`. ``stddev`` is the standard deviation *before*
    truncation: truncating at :math:`\pm 2` keeps only
    :math:`1 - 4\varphi(2)/\operatorname{erf}(\sqrt2) = 0.7737` of the variance (23% lost).
    For an exact standard deviation use :func:`trunc_normal` with ``exact_std=True`` or a
    variance-scaling initializer, which corrects for the truncation.

    Args:
      stddev: standard deviation of the untruncated normal, > 0.
      dtype: default dtype (float; ``None``: JAX's default float).
      lower: lower bound in units of ``stddev``.
      upper: upper bound in units of ``stddev``; must exceed ``lower``.

    Returns:
      An initializer, bit-identical to ``jax.nn.initializers.truncated_normal``.

    Raises:
      ValueError: ``stddev`` not > 0, a bound not finite, or ``lower >= upper``.
      TypeError: an argument not a real number; at call time, a non-float dtype.

    Example:
      >>> import jax, jinit
      >>> w = jinit.truncated_normal(0.02)(jax.random.key(0), (256, 256))
      >>> bool(abs(w).max() < 0.04)
      True
    """
    stddev = check_real("stddev", stddev, positive=True)
    lower, upper = check_interval("lower", lower, "upper", upper)
    del dtype  # held by the initializer

    def draw(
        key: KeyArray, dims: tuple[int, ...], resolved: np.dtype, out_sharding: OutSharding
    ) -> jax.Array:
        largest = stddev * max(abs(lower), abs(upper), 1.0)
        check_representable("stddev x max(|lower|, |upper|, 1)", largest, resolved)
        sample = sampling.truncated_normal(
            key, lower, upper, dims, resolved, out_sharding=out_sharding
        )
        return sample * jnp.array(stddev, resolved)

    return draw
