r"""Mean-field signal propagation: the fixed points, depth scales and phase of a deep network.

A wide fully connected network :math:`h^{l} = W^{l} \phi(h^{l-1}) + b^{l}`, with
:math:`W_{ij} \sim \mathcal N(0, \sigma_w^2/n)` and :math:`b_i \sim \mathcal N(0, \sigma_b^2)`,
propagates the pre-activation length :math:`q^l` of one input and the correlation
:math:`c^l` of two inputs by deterministic maps (Poole et al. 2016; Schoenholz et al. 2017),
with :math:`z, z_1, z_2 \sim \mathcal N(0, 1)` independent:

.. math::

   q^{l} &= \sigma_w^2\, E\big[\phi(\sqrt{q^{l-1}}\, z)^2\big] + \sigma_b^2, \\
   c^{l} &= \frac{\sigma_w^2\, E[\phi(u_1)\phi(u_2)] + \sigma_b^2}{q^*}, \quad
   u_1 = \sqrt{q^*} z_1,\; u_2 = \sqrt{q^*}\big(c^{l-1} z_1 + \sqrt{1 - (c^{l-1})^2}\, z_2\big).

Their stable fixed points :math:`q^*`, :math:`c^*` and the slopes there decide everything:

.. math::

   \chi_1 = \sigma_w^2\, E\big[\phi'(\sqrt{q^*} z)^2\big], \qquad
   \xi_q^{-1} = -\ln\big(\chi_1 + \sigma_w^2 E[\phi''(\sqrt{q^*}z)\,\phi(\sqrt{q^*}z)]\big), \qquad
   \xi_c^{-1} = -\ln\big(\sigma_w^2\, E[\phi'(u_1)\phi'(u_2)]\big|_{c = c^*}\big).

:math:`\chi_1` is the mean squared singular value of one layer's Jacobian: the factor by which
gradients grow (:math:`\chi_1 > 1`, *chaotic*: :math:`c^* < 1`, nearby inputs decorrelate) or
shrink (:math:`\chi_1 < 1`, *ordered*: :math:`c^* = 1`, all inputs collapse to one) per
layer. At :math:`\chi_1 = 1`, the *edge of chaos*, :math:`\xi_c` diverges: information about
the input survives arbitrary depth. Schoenholz et al. find networks trainable to depth
:math:`\approx 6\xi_c`. The argument of :math:`\xi_q`'s logarithm is the slope of the length
map, :math:`\partial q^l/\partial q^{l-1}` at :math:`q^*`; it is computed here by
differentiating the quadrature, so kinked activations (ReLU, whose :math:`\phi''` is a delta)
need no special case. In the ordered phase :math:`c^* = 1` and :math:`\xi_c^{-1} = -\ln
\chi_1`.

The expectations are composite Gauss–Legendre quadrature against the normal density (the
nodes of :func:`jinit.gain`, panel edges on the usual kinks; plain Gauss–Hermite, which the
papers use, is off by up to 5e-3 for kinked activations), in JAX's default float type
(float64 when x64 is enabled). The fixed points are found by iteration and Newton steps
(:math:`q^*`) and bisection (:math:`c^*`), with ``lax`` loops, so the core computation
jits and vmaps over :math:`(\sigma_w^2, \sigma_b^2)` (:func:`chi_1` does for phase diagrams).

References:
  B. Poole, S. Lahiri, M. Raghu, J. Sohl-Dickstein, S. Ganguli (2016). Exponential
  expressivity in deep neural networks through transient chaos. NeurIPS.
  https://arxiv.org/abs/1606.05340

  S. S. Schoenholz, J. Gilmer, S. Ganguli, J. Sohl-Dickstein (2017). Deep information
  propagation. ICLR. https://arxiv.org/abs/1611.01232
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from functools import cache
from typing import Literal, TypeAlias, cast

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from jinit._src.core.checks import check_real
from jinit._src.core.errors import JinitTypeError, JinitValueError, named
from jinit._src.core.gain import ACTIVATIONS, _nodes
from jinit._src.core.optional import enable_x64 as _x64
from jinit._src.core.types import Initializer
from jinit._src.initializers.constant import zeros_init
from jinit._src.initializers.random import normal
from jinit._src.initializers.variance_scaling import variance_scaling

__all__ = ["MeanField", "Phase", "chi_1", "critical_point", "mean_field"]

Activation = Callable[[jax.Array], jax.Array]
#: The phase of a network at initialization: the sign of :math:`\ln\chi_1`.
Phase: TypeAlias = Literal["ordered", "critical", "chaotic"]

#: |chi_1 - 1| below this counts as critical (the bisection of critical_point reaches 1e-6).
_CRITICAL = 1e-4
#: Steps (iterations or guarded Newton steps) for q*; bisection steps for c*.
_ITERATIONS, _BISECTION = 100, 60
#: Below this q* is treated as 0 (an odd activation without bias in the ordered phase); the
#: slopes are then evaluated at this tiny length, their limit as q -> 0.
_TINY_Q = 1e-30
#: 2-D expectations use fewer nodes per panel on [-8, 8] (tails beyond hold < 1e-15).
_NODES_1D, _NODES_2D, _HALF_WIDTH_2D = 8, 4, 8.0


@cache
def _grid(points: int, half_width: float) -> tuple[np.ndarray, np.ndarray]:
    nodes, weights = _nodes(points)
    keep = np.abs(nodes) <= half_width
    return nodes[keep], weights[keep]


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


# ----------------------------------------------------------------------------- the maps


def _expect(values: jax.Array, weights: np.ndarray) -> jax.Array:
    return jnp.sum(jnp.asarray(weights, values.dtype) * values)


def _length_map(
    phi: Activation, weight_var: jax.Array, bias_var: jax.Array
) -> Callable[[jax.Array], jax.Array]:
    nodes, weights = _grid(_NODES_1D, math.inf)

    def length(q: jax.Array) -> jax.Array:
        u = jnp.sqrt(q) * jnp.asarray(nodes, q.dtype)
        return weight_var * _expect(phi(u) ** 2, weights) + bias_var

    return length


def _derivative(phi: Activation) -> Activation:
    return jax.grad(lambda x: jnp.sum(phi(x)))


def _fixed_length(phi: Activation, weight_var: jax.Array, bias_var: jax.Array) -> jax.Array:
    r"""The fixed point q* the length map reaches from unit-variance inputs, or inf.

    Starts at :math:`q^1 = \sigma_w^2 + \sigma_b^2` (inputs of unit variance) and follows the
    iteration, accelerated by Newton steps that are taken only when they move the way the
    iteration does without crossing a root (so the fixed point is the one the network
    reaches, not another root of :math:`V(q) = q`); inf when the length grows without bound or
    the point reached is unstable (slope > 1).
    """
    length = _length_map(phi, weight_var, bias_var)

    def step(_: int, q: jax.Array) -> jax.Array:
        at = jnp.maximum(q, _TINY_Q)
        value, slope = jax.jvp(length, (at,), (jnp.ones_like(at),))
        gap = value - q
        proposal = q - gap / (slope - 1.0)
        after = length(jnp.maximum(proposal, _TINY_Q)) - proposal
        along = (proposal >= 0) & (jnp.sign(proposal - q) == jnp.sign(gap)) & (after * gap >= 0)
        return jnp.where(along & jnp.isfinite(proposal), jnp.maximum(proposal, 0.0), value)

    q = lax.fori_loop(0, _ITERATIONS, step, weight_var + bias_var)
    at = jnp.maximum(q, _TINY_Q)
    residual = jnp.abs(length(at) - q)
    tol = 1e-4 * (q + bias_var) + _TINY_Q
    stable = jax.grad(length)(at) <= 1.0 + 1e-4
    settled = (residual <= tol) | (q <= 1e-20)  # converged, or geometrically to q* = 0
    return jnp.where(jnp.isfinite(q) & settled & stable, q, jnp.inf)


def _one_layer(
    phi: Activation, weight_var: jax.Array, bias_var: jax.Array
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """q*, chi_1 and the length map's slope at q*."""
    q = _fixed_length(phi, weight_var, bias_var)
    at = jnp.maximum(jnp.where(jnp.isfinite(q), q, 1.0), _TINY_Q)
    nodes, weights = _grid(_NODES_1D, math.inf)
    u = jnp.sqrt(at) * jnp.asarray(nodes, at.dtype)
    chi = weight_var * _expect(_derivative(phi)(u) ** 2, weights)
    slope = jax.grad(_length_map(phi, weight_var, bias_var))(at)
    bad = jnp.where(jnp.isfinite(q), 0.0, jnp.nan)
    return q, chi + bad, slope + bad


def _pair(q: jax.Array, c: jax.Array) -> tuple[jax.Array, jax.Array, np.ndarray]:
    nodes, weights = _grid(_NODES_2D, _HALF_WIDTH_2D)
    z1, z2 = (jnp.asarray(a, q.dtype) for a in np.meshgrid(nodes, nodes, indexing="ij"))
    w = np.outer(weights, weights)
    root = jnp.sqrt(q)
    return root * z1, root * (c * z1 + jnp.sqrt(jnp.maximum(1.0 - c * c, 0.0)) * z2), w


def _correlation(
    phi: Activation, weight_var: jax.Array, bias_var: jax.Array, q: jax.Array, chi: jax.Array
) -> tuple[jax.Array, jax.Array]:
    """c* and chi_c: (1, chi_1) unless chaotic, else the stable c* < 1 found by bisection."""

    def gap(c: jax.Array) -> jax.Array:  # C(c) - c; 0 at c = 1, < 0 just below 1 if chaotic
        u1, u2, w = _pair(q, c)
        return (weight_var * _expect(phi(u1) * phi(u2), w) + bias_var) / q - c

    def halve(_: int, bounds: tuple[jax.Array, jax.Array]) -> tuple[jax.Array, jax.Array]:
        low, high = bounds
        middle = (low + high) / 2
        above = gap(middle) >= 0
        return jnp.where(above, middle, low), jnp.where(above, high, middle)

    one = jnp.ones_like(q)
    top = one - 1e-6
    chaotic = (chi > 1.0) & jnp.isfinite(q) & (gap(top) < 0)
    low, high = lax.fori_loop(0, _BISECTION, halve, (jnp.zeros_like(q), top))
    c_star = jnp.where(chaotic, (low + high) / 2, one)
    u1, u2, w = _pair(q, c_star)
    derivative = _derivative(phi)
    chi_c = weight_var * _expect(derivative(u1) * derivative(u2), w)
    return c_star, jnp.where(chaotic, chi_c, chi)


def _arrays(phi: Activation, weight_var: jax.Array, bias_var: jax.Array) -> tuple[jax.Array, ...]:
    """Every field, computed in float64 (x64 on for these operations only), in the input dtype.

    Float32 cannot resolve the correlation map near c = 1 (its gap there is ~1e-8 just past the
    edge of chaos), which would put chaotic points at c* = 1; float64 does.
    """
    dtype = jnp.result_type(weight_var)
    with _x64(True):
        w, b = (jnp.asarray(v, jnp.float64) for v in (weight_var, bias_var))
        q, chi, slope = _one_layer(phi, w, b)
        safe_q = jnp.where(jnp.isfinite(q), jnp.maximum(q, _TINY_Q), 1.0)
        c_star, chi_c = _correlation(phi, w, b, safe_q, chi)
        xi_q = -1.0 / jnp.log(slope)
        xi_c = -1.0 / jnp.log(chi_c)
        fields = (
            q,
            chi,
            c_star,
            chi_c,
            jnp.where(xi_q < 0, jnp.inf, xi_q),
            jnp.where(xi_c < 0, jnp.inf, xi_c),
        )
        return tuple(field.astype(dtype) for field in fields)


def _chi_1(phi: Activation, weight_var: jax.Array, bias_var: jax.Array) -> jax.Array:
    """chi_1 alone, in float64 like :func:`_arrays`, returned in the input dtype."""
    dtype = jnp.result_type(weight_var)
    with _x64(True):
        w, b = (jnp.asarray(v, jnp.float64) for v in (weight_var, bias_var))
        return _one_layer(phi, w, b)[1].astype(dtype)


# ----------------------------------------------------------------------------- the result


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class MeanField:
    r"""Mean-field fixed points, slopes and depth scales of :math:`(\phi, \sigma_w^2, \sigma_b^2)`.

    A pytree (the activation's name is static), so :func:`mean_field` can be vmapped over
    ``weight_var``/``bias_var``; :attr:`phase` and :attr:`trainable_depth` need concrete values.

    Attributes:
      activation: the activation's name (``ACTIVATIONS`` key, or the callable's name).
      weight_var: :math:`\sigma_w^2` (weights :math:`\mathcal N(0, \sigma_w^2/\text{fan\_in})`).
      bias_var: :math:`\sigma_b^2`.
      q_star: the stable fixed point of the length map.
      chi_1: :math:`\sigma_w^2 E[\phi'(\sqrt{q^*}z)^2]`.
      c_star: the stable fixed point of the correlation map (1 unless chaotic).
      chi_c: the slope of the correlation map at :math:`c^*` (:math:`\chi_1` unless chaotic).
      xi_q: the depth scale of the length's convergence to :math:`q^*` (``inf`` when the
        length map is marginal, as for ReLU without bias).
      xi_c: the depth scale of correlations (``inf`` at the edge of chaos).
    """

    activation: str = field(metadata={"static": True})
    weight_var: jax.Array = field()
    bias_var: jax.Array = field()
    q_star: jax.Array = field()
    chi_1: jax.Array = field()
    c_star: jax.Array = field()
    chi_c: jax.Array = field()
    xi_q: jax.Array = field()
    xi_c: jax.Array = field()

    @property
    def phase(self) -> Phase:
        r"""``"ordered"`` (:math:`\chi_1 < 1`), ``"critical"`` (within 1e-4) or ``"chaotic"``."""
        chi = float(self.chi_1)
        if abs(chi - 1.0) <= _CRITICAL:
            return "critical"
        return "ordered" if chi < 1.0 else "chaotic"

    @property
    def trainable_depth(self) -> float:
        r""":math:`6\xi_c`, the depth to which Schoenholz et al. find such networks trainable."""
        return 6.0 * float(self.xi_c)

    def initializers(self, distribution: str = "normal") -> tuple[Initializer, Initializer]:
        r"""The ``(kernel_init, bias_init)`` pair of this point, for ``(fan_in, ...)`` kernels.

        Kernels :math:`\operatorname{Var} = \sigma_w^2/\text{fan\_in}` (``variance_scaling``
        with ``distribution``), biases :math:`\mathcal N(0, \sigma_b^2)` (zeros when
        :math:`\sigma_b^2 = 0`).
        """
        kernel = variance_scaling(float(self.weight_var), "fan_in", distribution)  # type: ignore[arg-type]
        bias_var = float(self.bias_var)
        bias = normal(math.sqrt(bias_var)) if bias_var > 0 else zeros_init()
        return kernel, bias

    def __str__(self) -> str:
        values = ", ".join(f"{f.name}={float(getattr(self, f.name)):.6g}" for f in fields(self)[1:])
        return (
            f"MeanField({self.activation}: {values}; {self.phase}, trainable depth "
            f"{self.trainable_depth:.4g})"
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
    return jax.jit(lambda w, b: _arrays(phi, w, b))


def _compiled(phi: Activation) -> Callable[..., tuple[jax.Array, ...]]:
    try:
        return _compiled_cached(phi)
    except TypeError:  # an unhashable callable
        return jax.jit(lambda w, b: _arrays(phi, w, b))


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
    return _chi_1(phi, w, b)


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
        if math.isfinite(value) and abs(value - 1.0) <= _CRITICAL:
            point = mean_field(activation, candidate, bias_var)
            if bias_var > 0 and float(point.xi_q) > 1.0 / _CRITICAL:
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
    return jax.jit(lambda w, b: _chi_1(phi, w, b))


def _compiled_chi(phi: Activation) -> Callable[[float, float], jax.Array]:
    def run(w: float, b: float) -> jax.Array:
        weight, bias = jnp.asarray(w, _dtype()), jnp.asarray(b, _dtype())
        try:
            compiled = _compiled_chi_cached(phi)
        except TypeError:  # an unhashable callable
            compiled = jax.jit(lambda w, b: _chi_1(phi, w, b))
        result: jax.Array = compiled(weight, bias)
        return result

    return run
