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
"""

from __future__ import annotations

from jinit._src.base import Axes, DTypeLike, Initializer
from jinit._src.checks import check_choice, check_real
from jinit._src.gain import NONLINEARITIES, calculate_gain
from jinit._src.variance_scaling import variance_scaling_for

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


def glorot_normal(
    in_axis: Axes = -2,
    out_axis: Axes = -1,
    batch_axis: Axes = (),
    dtype: DTypeLike | None = None,
) -> Initializer:
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
    return variance_scaling_for(
        "glorot_normal", 1.0, "fan_avg", "truncated_normal", in_axis, out_axis, batch_axis, dtype
    )


def glorot_uniform(
    in_axis: Axes = -2,
    out_axis: Axes = -1,
    batch_axis: Axes = (),
    dtype: DTypeLike | None = None,
) -> Initializer:
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
    return variance_scaling_for(
        "glorot_uniform", 1.0, "fan_avg", "uniform", in_axis, out_axis, batch_axis, dtype
    )


def he_normal(
    in_axis: Axes = -2,
    out_axis: Axes = -1,
    batch_axis: Axes = (),
    dtype: DTypeLike | None = None,
) -> Initializer:
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
    return variance_scaling_for(
        "he_normal", 2.0, "fan_in", "truncated_normal", in_axis, out_axis, batch_axis, dtype
    )


def he_uniform(
    in_axis: Axes = -2,
    out_axis: Axes = -1,
    batch_axis: Axes = (),
    dtype: DTypeLike | None = None,
) -> Initializer:
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
    return variance_scaling_for(
        "he_uniform", 2.0, "fan_in", "uniform", in_axis, out_axis, batch_axis, dtype
    )


def lecun_normal(
    in_axis: Axes = -2,
    out_axis: Axes = -1,
    batch_axis: Axes = (),
    dtype: DTypeLike | None = None,
) -> Initializer:
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
    return variance_scaling_for(
        "lecun_normal", 1.0, "fan_in", "truncated_normal", in_axis, out_axis, batch_axis, dtype
    )


def lecun_uniform(
    in_axis: Axes = -2,
    out_axis: Axes = -1,
    batch_axis: Axes = (),
    dtype: DTypeLike | None = None,
) -> Initializer:
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
    return variance_scaling_for(
        "lecun_uniform", 1.0, "fan_in", "uniform", in_axis, out_axis, batch_axis, dtype
    )


xavier_normal = glorot_normal
xavier_uniform = glorot_uniform
kaiming_normal = he_normal
kaiming_uniform = he_uniform


def _torch_kaiming(
    owner: str,
    distribution: str,
    a: float,
    mode: str,
    nonlinearity: str,
    in_axis: Axes,
    out_axis: Axes,
    batch_axis: Axes,
    dtype: DTypeLike | None,
) -> Initializer:
    a = check_real(owner, "a", a)
    mode = check_choice(owner, "mode", mode, ("fan_in", "fan_out"))
    nonlinearity = check_choice(owner, "nonlinearity", nonlinearity, NONLINEARITIES)
    scale = calculate_gain(nonlinearity, a) ** 2
    return variance_scaling_for(
        owner, scale, mode, distribution, in_axis, out_axis, batch_axis, dtype
    )


def torch_kaiming_normal(
    a: float = 0.0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    *,
    in_axis: Axes = -2,
    out_axis: Axes = -1,
    batch_axis: Axes = (),
    dtype: DTypeLike | None = None,
) -> Initializer:
    r"""PyTorch's ``kaiming_normal_``: untruncated :math:`\mathcal N(0, g^2/\mathrm{fan})`.

    :math:`g` is ``calculate_gain(nonlinearity, a)`` and fan is fan_in or fan_out by ``mode``.
    Same arguments and defaults as PyTorch (``nonlinearity="leaky_relu"`` with ``a=0`` gives
    :math:`g=\sqrt2`). The axes default to Flax's layout ``(..., in, out)``; the fans (and so
    the distribution) equal PyTorch's for the transposed ``(out, in, ...)`` weight. For a
    weight kept in PyTorch layout pass ``in_axis=1, out_axis=0``.

    Args:
      a: negative slope of the leaky ReLU (used only with ``"leaky_relu"``).
      mode: ``"fan_in"`` (preserve forward variance) or ``"fan_out"`` (backward).
      nonlinearity: a :func:`calculate_gain` name.
      in_axis: input axis or axes.
      out_axis: output axis or axes.
      batch_axis: axes to ignore.
      dtype: default dtype.

    Returns:
      An initializer.

    Raises:
      ValueError: unknown ``mode`` or ``nonlinearity``, non-finite ``a``.

    Example:
      >>> import jax, jinit
      >>> init = jinit.torch_kaiming_normal(mode="fan_out", nonlinearity="relu")
      >>> init(jax.random.key(0), (3, 3, 64, 128)).shape
      (3, 3, 64, 128)

    References:
      He, Zhang, Ren & Sun (2015), https://arxiv.org/abs/1502.01852
    """
    return _torch_kaiming(
        "torch_kaiming_normal",
        "normal",
        a,
        mode,
        nonlinearity,
        in_axis,
        out_axis,
        batch_axis,
        dtype,
    )


def torch_kaiming_uniform(
    a: float = 0.0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    *,
    in_axis: Axes = -2,
    out_axis: Axes = -1,
    batch_axis: Axes = (),
    dtype: DTypeLike | None = None,
) -> Initializer:
    r"""PyTorch's ``kaiming_uniform_``: :math:`U[-b, b)`, :math:`b = g\sqrt{3/\mathrm{fan}}`.

    PyTorch's default for ``nn.Linear``/``nn.Conv*`` weights is this with ``a=sqrt(5)``, i.e.
    :math:`b = 1/\sqrt{\mathrm{fan\_in}}` (variance :math:`1/(3\,\mathrm{fan\_in})`).
    See :func:`torch_kaiming_normal` for the arguments.

    Args:
      a: negative slope of the leaky ReLU.
      mode: ``"fan_in"`` or ``"fan_out"``.
      nonlinearity: a :func:`calculate_gain` name.
      in_axis: input axis or axes.
      out_axis: output axis or axes.
      batch_axis: axes to ignore.
      dtype: default dtype.

    Returns:
      An initializer.

    Example:
      >>> import jax, jinit
      >>> w = jinit.torch_kaiming_uniform(a=5 ** 0.5)(jax.random.key(0), (100, 10))
      >>> bool(abs(w).max() <= 0.1)  # 1 / sqrt(fan_in)
      True

    References:
      He, Zhang, Ren & Sun (2015), https://arxiv.org/abs/1502.01852
    """
    return _torch_kaiming(
        "torch_kaiming_uniform",
        "uniform",
        a,
        mode,
        nonlinearity,
        in_axis,
        out_axis,
        batch_axis,
        dtype,
    )


def _torch_xavier(
    owner: str,
    distribution: str,
    gain: float,
    in_axis: Axes,
    out_axis: Axes,
    batch_axis: Axes,
    dtype: DTypeLike | None,
) -> Initializer:
    gain = check_real(owner, "gain", gain, positive=True)
    return variance_scaling_for(
        owner, gain**2, "fan_avg", distribution, in_axis, out_axis, batch_axis, dtype
    )


def torch_xavier_normal(
    gain: float = 1.0,
    *,
    in_axis: Axes = -2,
    out_axis: Axes = -1,
    batch_axis: Axes = (),
    dtype: DTypeLike | None = None,
) -> Initializer:
    r"""PyTorch's ``xavier_normal_``: untruncated normal, variance gain² · 2 / (fan_in + fan_out).

    .. math:: w \sim \mathcal N\!\left(0, \frac{2 g^2}{\mathrm{fan\_in}+\mathrm{fan\_out}}\right)

    Args:
      gain: multiplier of the standard deviation, > 0 (e.g. ``calculate_gain("tanh")``).
      in_axis: input axis or axes.
      out_axis: output axis or axes.
      batch_axis: axes to ignore.
      dtype: default dtype.

    Returns:
      An initializer.

    Example:
      >>> import jax, jinit
      >>> init = jinit.torch_xavier_normal(gain=jinit.calculate_gain("tanh"))
      >>> init(jax.random.key(0), (64, 64)).shape
      (64, 64)

    References:
      Glorot & Bengio (2010), https://proceedings.mlr.press/v9/glorot10a.html
    """
    return _torch_xavier(
        "torch_xavier_normal", "normal", gain, in_axis, out_axis, batch_axis, dtype
    )


def torch_xavier_uniform(
    gain: float = 1.0,
    *,
    in_axis: Axes = -2,
    out_axis: Axes = -1,
    batch_axis: Axes = (),
    dtype: DTypeLike | None = None,
) -> Initializer:
    r"""PyTorch's ``xavier_uniform_``: U[-b, b) with b = gain · sqrt(6 / (fan_in + fan_out)).

    .. math:: b = g\sqrt{\frac{6}{\mathrm{fan\_in}+\mathrm{fan\_out}}}

    Args:
      gain: multiplier of the bound, > 0.
      in_axis: input axis or axes.
      out_axis: output axis or axes.
      batch_axis: axes to ignore.
      dtype: default dtype.

    Returns:
      An initializer.

    Example:
      >>> import jax, jinit
      >>> jinit.torch_xavier_uniform(gain=2.0)(jax.random.key(0), (64, 64)).dtype
      dtype('float32')

    References:
      Glorot & Bengio (2010), https://proceedings.mlr.press/v9/glorot10a.html
    """
    return _torch_xavier(
        "torch_xavier_uniform", "uniform", gain, in_axis, out_axis, batch_axis, dtype
    )
