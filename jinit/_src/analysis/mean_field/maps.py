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
from functools import cache
from typing import Literal, TypeAlias

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from jinit._src.core.gain import _nodes
from jinit._src.core.optional import enable_x64 as _x64

__all__ = ["CRITICAL", "Activation", "Phase", "chi_1_array", "field_arrays"]

Activation = Callable[[jax.Array], jax.Array]
#: The phase of a network at initialization: the sign of :math:`\ln\chi_1`.
Phase: TypeAlias = Literal["ordered", "critical", "chaotic"]

#: |chi_1 - 1| below this counts as critical (the bisection of critical_point reaches 1e-6).
CRITICAL = 1e-4
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


def field_arrays(
    phi: Activation, weight_var: jax.Array, bias_var: jax.Array
) -> tuple[jax.Array, ...]:
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


def chi_1_array(phi: Activation, weight_var: jax.Array, bias_var: jax.Array) -> jax.Array:
    """chi_1 alone, in float64 like :func:`field_arrays`, returned in the input dtype."""
    dtype = jnp.result_type(weight_var)
    with _x64(True):
        w, b = (jnp.asarray(v, jnp.float64) for v in (weight_var, bias_var))
        return _one_layer(phi, w, b)[1].astype(dtype)
