r"""``jinit.mean_field``, ``jinit.chi_1`` and ``jinit.critical_point`` (see :mod:`.maps`)."""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import cache
from typing import cast

import jax
import jax.numpy as jnp

from jinit._src.analysis.mean_field.maps import (
    CRITICAL,
    Activation,
    Phase,
    chi_1_array,
    field_arrays,
)
from jinit._src.analysis.mean_field.result import MeanField
from jinit._src.core.checks import check_real
from jinit._src.core.errors import JinitTypeError, JinitValueError, named
from jinit._src.core.gain import ACTIVATIONS

__all__ = ["MeanField", "Phase", "chi_1", "critical_point", "mean_field"]


def _resolve(activation: object) -> tuple[str, Activation]:
    if isinstance(activation, str):
        if activation not in ACTIVATIONS:
            allowed = ", ".join(repr(name) for name in ACTIVATIONS)
            raise JinitValueError(f"activation must be one of {allowed}; got {activation!r}.")
        return activation, ACTIVATIONS[activation]
    if callable(activation):
        name = next((n for n, fn in ACTIVATIONS.items() if fn is activation), None)
        label = name or str(getattr(activation, "__name__", repr(activation)))
        return label, cast(Activation, activation)
    raise JinitTypeError(
        f"activation must be a name in jinit.ACTIVATIONS or a callable, got {activation!r}."
    )


def _check_variances(weight_var: object, bias_var: object) -> tuple[jax.Array, jax.Array]:
    """Validate concrete variances (traced ones pass through: vmapped phase diagrams)."""
    if not isinstance(weight_var, jax.core.Tracer):
        weight_var = check_real("weight_var", weight_var, positive=True)
    if not isinstance(bias_var, jax.core.Tracer):
        bias_var = check_real("bias_var", bias_var, nonnegative=True)
    return jnp.asarray(weight_var, _dtype()), jnp.asarray(bias_var, _dtype())


def _dtype() -> jnp.dtype:
    return jnp.zeros(()).dtype


@named
def mean_field(
    activation: str | Activation, weight_var: float | jax.Array, bias_var: float | jax.Array = 0.0
) -> MeanField:
    r"""The mean-field fixed points and depth scales of a deep ``activation`` network.

    See the module docstring for the maps and formulas (Poole et al. 2016, Schoenholz et al.
    2017): :math:`q^*`, :math:`\chi_1 = \sigma_w^2 E[\phi'(\sqrt{q^*}z)^2]`, :math:`c^*`,
    :math:`\xi_q`, :math:`\xi_c`, the phase and the trainable depth :math:`6\xi_c`.

    Args:
      activation: a name in :data:`jinit.ACTIVATIONS` or an elementwise JAX callable.
      weight_var: :math:`\sigma_w^2 > 0`, the weight variance times fan-in.
      bias_var: :math:`\sigma_b^2 \ge 0`, the bias variance.

    Returns:
      A :class:`MeanField` (a pytree: ``jax.vmap(lambda w: mean_field("tanh", w, 0.05))``
      works; under a transformation a point without a stable finite :math:`q^*` has
      ``q_star = inf`` and NaN slopes instead of the error).

    Raises:
      ValueError: an unknown name; a variance out of range; or, called eagerly, no stable
        finite fixed point of the length map (the activations' variance grows without
        bound with depth, e.g. ReLU with :math:`\sigma_w^2 > 2`, or with :math:`\sigma_w^2 =
        2` and a bias).
      TypeError: ``activation`` neither a name nor callable.

    Example:
      >>> import jinit
      >>> point = jinit.mean_field("relu", 2.0)
      >>> float(point.chi_1), point.phase
      (1.0, 'critical')
      >>> jinit.mean_field("tanh", 1.5, 0.05).phase
      'ordered'

    References:
      Poole et al. (2016), https://arxiv.org/abs/1606.05340; Schoenholz et al. (2017),
      https://arxiv.org/abs/1611.01232.
    """
    name, phi = _resolve(activation)
    w, b = _check_variances(weight_var, bias_var)
    traced = isinstance(w, jax.core.Tracer) or isinstance(b, jax.core.Tracer)
    q, chi, c_star, chi_c, xi_q, xi_c = _compiled(phi)(w, b)
    if not traced and not bool(jnp.isfinite(q)):
        raise JinitValueError(
            f"the length map of {name!r} with weight_var={float(w):g}, bias_var={float(b):g} "
            "reaches no stable finite fixed point from unit-variance inputs: the pre-activation "
            "variance grows without bound with depth (for ReLU-like activations weight_var > "
            "2, or weight_var = 2 with a bias). Lower weight_var, or use normalization."
        )
    return MeanField(name, w, b, q, chi, c_star, chi_c, xi_q, xi_c)


@cache
def _compiled_cached(phi: Activation) -> Callable[..., tuple[jax.Array, ...]]:
    return jax.jit(lambda w, b: field_arrays(phi, w, b))


def _compiled(phi: Activation) -> Callable[..., tuple[jax.Array, ...]]:
    try:
        return _compiled_cached(phi)
    except TypeError:  # an unhashable callable
        return jax.jit(lambda w, b: field_arrays(phi, w, b))


@named
def chi_1(
    activation: str | Activation, weight_var: float | jax.Array, bias_var: float | jax.Array = 0.0
) -> jax.Array:
    r""":math:`\chi_1 = \sigma_w^2 E[\phi'(\sqrt{q^*}z)^2]` alone: cheap enough for phase diagrams.

    The same computation as :attr:`MeanField.chi_1` without the correlation map (jittable,
    vmappable over both variances; NaN where the length map has no stable finite fixed point).

    Example:
      >>> import jax.numpy as jnp, jinit
      >>> float(jinit.chi_1("relu", 1.0))
      0.5
    """
    _, phi = _resolve(activation)
    w, b = _check_variances(weight_var, bias_var)
    return chi_1_array(phi, w, b)


@named
def critical_point(activation: str | Activation, bias_var: float = 0.0) -> MeanField:
    r"""The edge of chaos: the :class:`MeanField` where :math:`\chi_1 = 1`.

    Bisection on :math:`\sigma_w^2` (:math:`\chi_1` increases with it), to a relative 1e-6.
    ``result.initializers()`` gives the weight and bias initializers of that point.

    Args:
      activation: a name in :data:`jinit.ACTIVATIONS` or an elementwise JAX callable.
      bias_var: :math:`\sigma_b^2 \ge 0`.

    Returns:
      The :class:`MeanField` at the critical :math:`\sigma_w^2` (``phase == "critical"``).

    Raises:
      ValueError: no critical point: :math:`\chi_1 < 1` for every :math:`\sigma_w^2` up to
        1e4, or the length map has no finite fixed point where :math:`\chi_1 = 1` (ReLU with
        a bias: its only critical point is :math:`\sigma_b^2 = 0`).

    Example:
      >>> import jinit
      >>> point = jinit.critical_point("tanh", bias_var=0.05)
      >>> round(float(point.weight_var), 2), point.phase
      (1.76, 'critical')
      >>> kernel_init, bias_init = point.initializers()
    """
    name, phi = _resolve(activation)
    bias_var = float(check_real("bias_var", bias_var, nonnegative=True))
    chi = _compiled_chi(phi)

    def below(weight_var: float) -> bool:  # finite and chi_1 < 1: left of the critical point
        value = float(chi(weight_var, bias_var))
        return math.isfinite(value) and value < 1.0

    low, high = 0.0, 1.0
    while below(high):
        low, high = high, 2.0 * high
        if high > 1e4:
            raise JinitValueError(
                f"{name!r} with bias_var={bias_var:g} has no critical point: chi_1 < 1 for "
                "every weight_var up to 1e4."
            )
    while high - low > 1e-7 * high:
        middle = (low + high) / 2
        low, high = (middle, high) if below(middle) else (low, middle)
    for candidate in (high, low):
        value = float(chi(candidate, bias_var))
        if math.isfinite(value) and abs(value - 1.0) <= CRITICAL:
            point = mean_field(activation, candidate, bias_var)
            if bias_var > 0 and float(point.xi_q) > 1.0 / CRITICAL:
                # the length map is marginal here (slope 1) while the bias feeds it: q* only
                # diverges as weight_var approaches this point (ReLU: q* = b / (1 - w / 2))
                raise JinitValueError(
                    f"{name!r} with bias_var={bias_var:g} has no critical point: chi_1 reaches "
                    f"1 only as q* grows without bound (at weight_var={candidate:g}, q* = "
                    f"{float(point.q_star):.3g}). Positively homogeneous activations such as "
                    "ReLU are critical only at bias_var = 0."
                )
            return point
    raise JinitValueError(
        f"{name!r} with bias_var={bias_var:g} has no critical point: at weight_var={high:g} "
        "the length, started from unit-variance inputs, stops converging (or chi_1 jumps "
        "past 1) before chi_1 reaches 1."
    )


@cache
def _compiled_chi_cached(phi: Activation) -> Callable[[jax.Array, jax.Array], jax.Array]:
    return jax.jit(lambda w, b: chi_1_array(phi, w, b))


def _compiled_chi(phi: Activation) -> Callable[[float, float], jax.Array]:
    def run(w: float, b: float) -> jax.Array:
        weight, bias = jnp.asarray(w, _dtype()), jnp.asarray(b, _dtype())
        try:
            compiled = _compiled_chi_cached(phi)
        except TypeError:  # an unhashable callable
            compiled = jax.jit(lambda w, b: chi_1_array(phi, w, b))
        result: jax.Array = compiled(weight, bias)
        return result

    return run
