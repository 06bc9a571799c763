r"""The named variance-scaling initializers: Glorot/Xavier, He/Kaiming, LeCun, and PyTorch forms.

======================  ============  ===============================  ==================
initializer             mode          variance                         distribution
======================  ============  ===============================  ==================
glorot_normal           fan_avg       2 / (fan_in + fan_out)           truncated normal
glorot_uniform          fan_avg       2 / (fan_in + fan_out)           uniform
he_normal               fan_in        2 / fan_in                       truncated normal
he_uniform              fan_in        2 / fan_in                       uniform
lecun_normal            fan_in        1 / fan_in                       truncated normal
lecun_uniform           fan_in        1 / fan_in                       uniform
torch_kaiming_normal    mode          gain² / fan                      normal
torch_kaiming_uniform   mode          gain² / fan                      uniform
torch_xavier_normal     fan_avg       gain² · 2 / (fan_in + fan_out)   normal
torch_xavier_uniform    fan_avg       gain² · 2 / (fan_in + fan_out)   uniform
======================  ============  ===============================  ==================

A uniform with variance :math:`\sigma^2` has bound :math:`\sqrt3\,\sigma`: Glorot uniform's
bound :math:`\sqrt{6/(\mathrm{fan\_in}+\mathrm{fan\_out})}` is a *bound*, not a standard
deviation. He's variance is :math:`2/\mathrm{fan\_in}`, not :math:`2/(\mathrm{fan\_in} +
\mathrm{fan\_out})`. The ``jax.nn.initializers`` names here are bit-identical to JAX's.
The PyTorch forms live in :mod:`jinit._src.initializers.torch_named` and are re-exported here.
"""

from __future__ import annotations

from jinit._src.core.factories import initializer_factory
from jinit._src.core.types import Axes, DTypeLike
from jinit._src.core.values import Draw
from jinit._src.initializers.torch_named import (
    torch_kaiming_normal,
    torch_kaiming_uniform,
    torch_xavier_normal,
    torch_xavier_uniform,
)
from jinit._src.initializers.variance_scaling import variance_scaling_draw

__all__ = [
    "glorot_normal",
    "glorot_uniform",
    "he_normal",
    "he_uniform",
    "kaiming_normal",
    "kaiming_uniform",
    "lecun_normal",
    "lecun_uniform",
    "torch_kaiming_normal",
    "torch_kaiming_uniform",
    "torch_xavier_normal",
    "torch_xavier_uniform",
    "xavier_normal",
    "xavier_uniform",
]


@initializer_factory()
def glorot_normal(
    in_axis: Axes = -2,
    out_axis: Axes = -1,
    batch_axis: Axes = (),
    dtype: DTypeLike | None = None,
) -> Draw:
    r"""Glorot (Xavier) normal: truncated normal, variance 2 / (fan_in + fan_out).

    .. math:: \operatorname{Var}(w) = \frac{2}{\mathrm{fan\_in}+\mathrm{fan\_out}}

    ``variance_scaling(1.0, "fan_avg", "truncated_normal")``: truncated at ±2σ and rescaled so
    the realized variance is exactly the target. Keeps forward and backward signal variance
    balanced for linear and tanh layers.

    Args:
      in_axis: input axis or axes.
      out_axis: output axis or axes.
      batch_axis: axes to ignore (stacked layers).
      dtype: default dtype.

    Returns:
      An initializer, bit-identical to ``jax.nn.initializers.glorot_normal`` for real dtypes.

    Example:
      >>> import flax.linen as nn, jinit
      >>> layer = nn.Dense(128, kernel_init=jinit.glorot_normal())

    References:
      Glorot & Bengio (2010), https://proceedings.mlr.press/v9/glorot10a.html
    """
    del dtype  # held by the initializer
    return variance_scaling_draw(1.0, "fan_avg", "truncated_normal", in_axis, out_axis, batch_axis)


@initializer_factory()
def glorot_uniform(
    in_axis: Axes = -2,
    out_axis: Axes = -1,
    batch_axis: Axes = (),
    dtype: DTypeLike | None = None,
) -> Draw:
    r"""Glorot (Xavier) uniform: U[-b, b) with b = sqrt(6 / (fan_in + fan_out)).

    .. math:: b = \sqrt{\frac{6}{\mathrm{fan\_in}+\mathrm{fan\_out}}}

    Variance :math:`b^2/3 = 2/(\mathrm{fan\_in}+\mathrm{fan\_out})`. Keras' default kernel
    initializer.

    Args:
      in_axis: input axis or axes.
      out_axis: output axis or axes.
      batch_axis: axes to ignore.
      dtype: default dtype.

    Returns:
      An initializer, bit-identical to ``jax.nn.initializers.glorot_uniform`` for real dtypes.

    Example:
      >>> import jax, jinit
      >>> w = jinit.glorot_uniform()(jax.random.key(0), (300, 100))
      >>> bool(abs(w).max() < (6 / 400) ** 0.5)
      True

    References:
      Glorot & Bengio (2010), https://proceedings.mlr.press/v9/glorot10a.html
    """
    del dtype  # held by the initializer
    return variance_scaling_draw(1.0, "fan_avg", "uniform", in_axis, out_axis, batch_axis)


@initializer_factory()
def he_normal(
    in_axis: Axes = -2,
    out_axis: Axes = -1,
    batch_axis: Axes = (),
    dtype: DTypeLike | None = None,
) -> Draw:
    r"""He (Kaiming) normal: truncated normal with variance :math:`2/\mathrm{fan\_in}`.

    For ReLU networks: ReLU halves the second moment, the factor 2 restores it, so the signal
    keeps its scale through any depth. (Not :math:`2/(\mathrm{fan\_in}+\mathrm{fan\_out})`, a
    formula often published by mistake.) Truncated at ±2σ and rescaled, as in JAX and Keras;
    PyTorch's ``kaiming_normal_`` is untruncated: see :func:`torch_kaiming_normal`.

    Args:
      in_axis: input axis or axes.
      out_axis: output axis or axes.
      batch_axis: axes to ignore.
      dtype: default dtype.

    Returns:
      An initializer, bit-identical to ``jax.nn.initializers.he_normal`` for real dtypes.

    Example:
      >>> import jax, jinit
      >>> w = jinit.he_normal()(jax.random.key(0), (1024, 512))
      >>> round(float(w.var() * 1024), 1)
      2.0

    References:
      He, Zhang, Ren & Sun (2015), https://arxiv.org/abs/1502.01852
    """
    del dtype  # held by the initializer
    return variance_scaling_draw(2.0, "fan_in", "truncated_normal", in_axis, out_axis, batch_axis)


@initializer_factory()
def he_uniform(
    in_axis: Axes = -2,
    out_axis: Axes = -1,
    batch_axis: Axes = (),
    dtype: DTypeLike | None = None,
) -> Draw:
    r"""He (Kaiming) uniform: :math:`U[-b, b)` with :math:`b = \sqrt{6/\mathrm{fan\_in}}`.

    Variance :math:`2/\mathrm{fan\_in}`.

    Args:
      in_axis: input axis or axes.
      out_axis: output axis or axes.
      batch_axis: axes to ignore.
      dtype: default dtype.

    Returns:
      An initializer, bit-identical to ``jax.nn.initializers.he_uniform`` for real dtypes.

    Example:
      >>> import jax, jinit
      >>> jinit.he_uniform()(jax.random.key(0), (3, 3, 16, 32)).shape
      (3, 3, 16, 32)

    References:
      He, Zhang, Ren & Sun (2015), https://arxiv.org/abs/1502.01852
    """
    del dtype  # held by the initializer
    return variance_scaling_draw(2.0, "fan_in", "uniform", in_axis, out_axis, batch_axis)


@initializer_factory()
def lecun_normal(
    in_axis: Axes = -2,
    out_axis: Axes = -1,
    batch_axis: Axes = (),
    dtype: DTypeLike | None = None,
) -> Draw:
    r"""LeCun normal: truncated normal with variance :math:`1/\mathrm{fan\_in}`.

    Flax's default kernel initializer, and the one SELU's self-normalization assumes.

    Args:
      in_axis: input axis or axes.
      out_axis: output axis or axes.
      batch_axis: axes to ignore.
      dtype: default dtype.

    Returns:
      An initializer, bit-identical to ``jax.nn.initializers.lecun_normal`` for real dtypes.

    Example:
      >>> import jax, jinit
      >>> jinit.lecun_normal()(jax.random.key(0), (8, 4)).shape
      (8, 4)

    References:
      LeCun, Bottou, Orr & Müller (1998), Efficient BackProp;
      Klambauer et al. (2017), https://arxiv.org/abs/1706.02515
    """
    del dtype  # held by the initializer
    return variance_scaling_draw(1.0, "fan_in", "truncated_normal", in_axis, out_axis, batch_axis)


@initializer_factory()
def lecun_uniform(
    in_axis: Axes = -2,
    out_axis: Axes = -1,
    batch_axis: Axes = (),
    dtype: DTypeLike | None = None,
) -> Draw:
    r"""LeCun uniform: :math:`U[-b, b)` with :math:`b = \sqrt{3/\mathrm{fan\_in}}`.

    Variance :math:`1/\mathrm{fan\_in}`.

    Args:
      in_axis: input axis or axes.
      out_axis: output axis or axes.
      batch_axis: axes to ignore.
      dtype: default dtype.

    Returns:
      An initializer, bit-identical to ``jax.nn.initializers.lecun_uniform`` for real dtypes.

    Example:
      >>> import jax, jinit
      >>> jinit.lecun_uniform()(jax.random.key(0), (8, 4)).shape
      (8, 4)

    References:
      LeCun, Bottou, Orr & Müller (1998), Efficient BackProp.
    """
    del dtype  # held by the initializer
    return variance_scaling_draw(1.0, "fan_in", "uniform", in_axis, out_axis, batch_axis)


xavier_normal = glorot_normal
xavier_uniform = glorot_uniform
kaiming_normal = he_normal
kaiming_uniform = he_uniform
