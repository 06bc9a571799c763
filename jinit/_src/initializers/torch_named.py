r"""PyTorch's ``kaiming_*_`` and ``xavier_*_`` initializers, for porting PyTorch models.

======================  ============  ===============================  ============
initializer             mode          variance                         distribution
======================  ============  ===============================  ============
torch_kaiming_normal    mode          gain² / fan                      normal
torch_kaiming_uniform   mode          gain² / fan                      uniform
torch_xavier_normal     fan_avg       gain² · 2 / (fan_in + fan_out)   normal
torch_xavier_uniform    fan_avg       gain² · 2 / (fan_in + fan_out)   uniform
======================  ============  ===============================  ============

Same arguments and defaults as ``torch.nn.init``, with the gain from
:func:`jinit.calculate_gain`; each is one :func:`jinit.variance_scaling` call, untruncated
(PyTorch never truncates these). Re-exported by :mod:`jinit._src.initializers.named`.
"""

from __future__ import annotations

from typing import Literal

from jinit._src.core.checks import check_choice, check_real
from jinit._src.core.factories import initializer_factory
from jinit._src.core.gain import NONLINEARITIES, Nonlinearity, calculate_gain
from jinit._src.core.types import Axes, DTypeLike
from jinit._src.core.values import Draw
from jinit._src.initializers.variance_scaling import variance_scaling_draw

__all__ = [
    "torch_kaiming_normal",
    "torch_kaiming_uniform",
    "torch_xavier_normal",
    "torch_xavier_uniform",
]


def _torch_kaiming(
    distribution: str,
    a: float,
    mode: str,
    nonlinearity: str,
    in_axis: Axes,
    out_axis: Axes,
    batch_axis: Axes,
) -> Draw:
    a = check_real("a", a)
    mode = check_choice("mode", mode, ("fan_in", "fan_out"))
    nonlinearity = check_choice("nonlinearity", nonlinearity, NONLINEARITIES)
    scale = calculate_gain(nonlinearity, a) ** 2
    return variance_scaling_draw(scale, mode, distribution, in_axis, out_axis, batch_axis)


@initializer_factory()
def torch_kaiming_normal(
    a: float = 0.0,
    mode: Literal["fan_in", "fan_out"] = "fan_in",
    nonlinearity: Nonlinearity = "leaky_relu",
    *,
    in_axis: Axes = -2,
    out_axis: Axes = -1,
    batch_axis: Axes = (),
    dtype: DTypeLike | None = None,
) -> Draw:
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
    del dtype  # held by the initializer
    return _torch_kaiming("normal", a, mode, nonlinearity, in_axis, out_axis, batch_axis)


@initializer_factory()
def torch_kaiming_uniform(
    a: float = 0.0,
    mode: Literal["fan_in", "fan_out"] = "fan_in",
    nonlinearity: Nonlinearity = "leaky_relu",
    *,
    in_axis: Axes = -2,
    out_axis: Axes = -1,
    batch_axis: Axes = (),
    dtype: DTypeLike | None = None,
) -> Draw:
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
    del dtype  # held by the initializer
    return _torch_kaiming("uniform", a, mode, nonlinearity, in_axis, out_axis, batch_axis)


def _torch_xavier(
    distribution: str, gain: float, in_axis: Axes, out_axis: Axes, batch_axis: Axes
) -> Draw:
    gain = check_real("gain", gain, positive=True)
    return variance_scaling_draw(gain**2, "fan_avg", distribution, in_axis, out_axis, batch_axis)


@initializer_factory()
def torch_xavier_normal(
    gain: float = 1.0,
    *,
    in_axis: Axes = -2,
    out_axis: Axes = -1,
    batch_axis: Axes = (),
    dtype: DTypeLike | None = None,
) -> Draw:
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
    del dtype  # held by the initializer
    return _torch_xavier("normal", gain, in_axis, out_axis, batch_axis)


@initializer_factory()
def torch_xavier_uniform(
    gain: float = 1.0,
    *,
    in_axis: Axes = -2,
    out_axis: Axes = -1,
    batch_axis: Axes = (),
    dtype: DTypeLike | None = None,
) -> Draw:
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
    del dtype  # held by the initializer
    return _torch_xavier("uniform", gain, in_axis, out_axis, batch_axis)
