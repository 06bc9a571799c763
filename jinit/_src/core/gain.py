r"""Gains: the factor an activation needs so that signals keep their scale through a layer.

For a layer :math:`y = Wx` with i.i.d. weights of variance :math:`\sigma_w^2` and inputs
:math:`x = f(z)`, :math:`z \sim \mathcal N(0, 1)`, the pre-activation variance is
:math:`\mathrm{fan\_in}\,\sigma_w^2\,E[f(z)^2]`. Keeping it at 1 needs
:math:`\sigma_w = g/\sqrt{\mathrm{fan\_in}}` with the **gain**

.. math:: g(f) = \frac{1}{\sqrt{E_{z\sim\mathcal N(0,1)}[f(z)^2]}}.

:func:`gain` computes this for any activation by numerical quadrature.
:func:`calculate_gain` returns PyTorch's table, which agrees for ReLU (√2), leaky ReLU
(√(2/(1+a²))) and linear (1), and differs on purpose elsewhere: tanh is 5/3 in the table
(a rule of thumb) but 1.5925 by the definition; SELU is 3/4 in the table (PyTorch's choice
for self-normalizing nets) but 1 by the definition; sigmoid is 1 in the table but 1.8462 by
the definition (the definition counts sigmoid's non-zero mean).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import cache
from typing import Literal, TypeAlias, get_args

import jax
import jax.numpy as jnp
import numpy as np
from numpy.polynomial.legendre import leggauss

from jinit._src.core.checks import check_choice, check_real
from jinit._src.core.errors import named

__all__ = [
    "ACTIVATIONS",
    "NONLINEARITIES",
    "Nonlinearity",
    "calculate_gain",
    "gain",
]

#: The names :func:`calculate_gain` accepts (PyTorch's table).
Nonlinearity: TypeAlias = Literal[
    "linear",
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_transpose1d",
    "conv_transpose2d",
    "conv_transpose3d",
    "sigmoid",
    "tanh",
    "relu",
    "leaky_relu",
    "selu",
]
NONLINEARITIES: tuple[Nonlinearity, ...] = get_args(Nonlinearity)
#: The nonlinearities of gain 1: the linear maps (convolutions included) and the sigmoid.
_UNIT = NONLINEARITIES[: NONLINEARITIES.index("tanh")]


@named
def calculate_gain(nonlinearity: Nonlinearity, param: float | None = None) -> float:
    r"""Return the recommended gain for ``nonlinearity``, equal to PyTorch's table.

    ================================================  ===========================================
    nonlinearity                                      gain
    ================================================  ===========================================
    linear, conv{1,2,3}d, conv_transpose*, sigmoid    1
    tanh                                              5/3
    relu                                              :math:`\sqrt{2}`
    leaky_relu                                        :math:`\sqrt{2/(1+a^2)}`, a = param (0.01)
    selu                                              3/4
    ================================================  ===========================================

    For a gain derived from the activation itself (any callable, GELU and SiLU included), use
    :func:`gain`.

    Args:
      nonlinearity: a name from the table.
      param: the negative slope for ``"leaky_relu"`` (default 0.01); ignored otherwise, as in
        PyTorch.

    Returns:
      The gain as a Python float.

    Raises:
      ValueError: unknown ``nonlinearity``, or a non-finite ``param``.
      TypeError: ``param`` is not a real number.

    Example:
      >>> import jinit
      >>> jinit.calculate_gain("leaky_relu", 0.2)
      1.3867504905630728
    """
    name = check_choice("nonlinearity", nonlinearity, NONLINEARITIES)
    if name in _UNIT:
        return 1.0
    if name == "tanh":
        return 5.0 / 3.0
    if name == "relu":
        return math.sqrt(2.0)
    if name == "selu":
        return 3.0 / 4.0
    slope = 0.01 if param is None else check_real("param", param)
    return math.sqrt(2.0 / (1.0 + slope**2))


#: Activations :func:`gain` accepts by name (values are the ``jax.nn`` functions).
ACTIVATIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "linear": lambda x: x,
    "relu": jax.nn.relu,
    "leaky_relu": jax.nn.leaky_relu,
    "elu": jax.nn.elu,
    "selu": jax.nn.selu,
    "celu": jax.nn.celu,
    "gelu": lambda x: jax.nn.gelu(x, approximate=False),
    "gelu_tanh": lambda x: jax.nn.gelu(x, approximate=True),
    "silu": jax.nn.silu,
    "swish": jax.nn.silu,
    "mish": jax.nn.mish,
    "softplus": jax.nn.softplus,
    "tanh": jnp.tanh,
    "sigmoid": jax.nn.sigmoid,
    "relu6": jax.nn.relu6,
    "hard_tanh": jax.nn.hard_tanh,
    "soft_sign": jax.nn.soft_sign,
    "log_sigmoid": jax.nn.log_sigmoid,
    "hard_swish": jax.nn.hard_swish,
}


#: Quadrature domain and panel width. Panel edges at multiples of 1/4 fall on the kinks of the
#: usual activations (0 for ReLU/ELU/SELU, +-1 for hard_tanh, +-3 for hard_swish, 6 for relu6).
_HALF_WIDTH = 12.0
_PANEL = 0.25


@cache
def _nodes(points: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights of composite Gauss–Legendre against the standard normal density."""
    base, base_weights = leggauss(points)
    edges = np.arange(-_HALF_WIDTH, _HALF_WIDTH, _PANEL)
    nodes = (edges[:, None] + (base[None, :] + 1.0) * (_PANEL / 2)).ravel()
    density = np.exp(-(nodes**2) / 2) / math.sqrt(2.0 * math.pi)
    weights = np.tile(base_weights * (_PANEL / 2), edges.size) * density
    return nodes, weights


def second_moment(fn: Callable[[jax.Array], jax.Array], *, points: int = 16) -> float:
    r""":math:`E[f(z)^2]` for :math:`z \sim \mathcal N(0,1)` by composite Gauss–Legendre."""
    nodes, weights = _nodes(points)
    with jax.enable_x64(True):
        values = np.asarray(fn(jnp.asarray(nodes, dtype=jnp.float64)), dtype=np.float64)
    if values.shape != nodes.shape:
        raise ValueError(
            "jinit.gain: fn must be elementwise (same output shape as input); got output "
            f"shape {values.shape} for input shape {nodes.shape}."
        )
    return float(np.sum(weights * values**2))


@named
def gain(fn: Callable[[jax.Array], jax.Array] | str, *, points: int = 16) -> float:
    r"""Return the gain :math:`1/\sqrt{E[f(z)^2]}`, :math:`z\sim\mathcal N(0,1)`, of any activation.

    The expectation is computed in float64 by composite Gauss–Legendre quadrature against the
    normal density on :math:`[-12, 12]` (panels of width 1/4, ``points`` nodes each; the tails
    beyond hold less than 1e-30 of the mass). Panel edges sit on the kinks of the usual
    activations, so the result agrees with adaptive quadrature to ~1e-12. (Plain Gauss–Hermite
    quadrature, the textbook choice, is exact only for smooth functions: with 200 nodes it is
    off by 7e-6 for ELU, 1e-5 for SELU and 5e-3 for hard_tanh, whose kinks break its
    convergence.)

    ============  ========  =====================
    activation    gain(f)   calculate_gain table
    ============  ========  =====================
    linear        1         1
    relu          1.41421   1.41421
    tanh          1.59254   1.66667
    sigmoid       1.84623   1
    selu          1.00000   0.75
    elu           1.24520   (unsupported)
    gelu          1.53353   (unsupported)
    silu          1.67653   (unsupported)
    mish          1.48685   (unsupported)
    softplus      1.04187   (unsupported)
    ============  ========  =====================

    Args:
      fn: an elementwise activation (jax or numpy function), or a name from
        :data:`ACTIVATIONS` such as ``"gelu"``, ``"silu"``, ``"mish"``.
      points: Gauss–Legendre nodes per panel (>= 4).

    Returns:
      The gain as a Python float; use it as ``scale = gain**2`` in
      :func:`jinit.variance_scaling`.

    Raises:
      ValueError: unknown name, a non-elementwise ``fn``, or an activation whose second moment
        is 0 or not finite.
      TypeError: ``fn`` is neither callable nor a string.

    Example:
      >>> import jax, jinit
      >>> round(jinit.gain(jax.nn.relu), 6)
      1.414214
      >>> round(jinit.gain("gelu"), 4)
      1.5335
    """
    if isinstance(fn, str):
        name = check_choice("fn", fn, ACTIVATIONS)
        fn = ACTIVATIONS[name]
    elif not callable(fn):
        raise TypeError(f"jinit.gain: fn must be a callable or an activation name, got {fn!r}.")
    if isinstance(points, bool) or not isinstance(points, int) or points < 4:
        raise ValueError(f"jinit.gain: points must be an int >= 4, got {points!r}.")
    moment = second_moment(fn, points=points)
    if not math.isfinite(moment) or moment <= 0:
        raise ValueError(
            f"jinit.gain: E[fn(z)^2] = {moment!r} for z ~ N(0, 1); the gain needs a finite, "
            "positive second moment."
        )
    return 1.0 / math.sqrt(moment)
