r"""The gradient quotient of MetaInit and the Hessian-vector product it is built on.

Dauphin & Schoenholz (2019) call an initialization good when one step of gradient descent
changes the gradient little: the loss looks locally linear, with small second-order effects.
They measure this with the *gradient quotient* (their Eq. 1),

.. math::
   \mathrm{GQ}(L, \theta) = \frac{1}{N} \left\| \frac{g(\theta - g(\theta))}{g_\epsilon(\theta)}
   - 1 \right\|_1
   \approx \frac{1}{N} \left\| \frac{g(\theta) - H(\theta)\, g(\theta)}{g_\epsilon(\theta)}
   - 1 \right\|_1,

where :math:`g = \nabla_\theta L`, :math:`H = \nabla^2_\theta L`, :math:`N` is the number of
parameters, the division is element-wise, and the first-order Taylor expansion
:math:`g(\theta - g) \approx g - H g` replaces the gradient after a unit step. The denominator is
the *safe* gradient

.. math:: g_\epsilon = g + \epsilon \, s, \qquad s_i = +1 \text{ if } g_i \ge 0 \text{ else } -1,

so that a zero gradient component divides by :math:`\epsilon`, never by 0 (the sign is held
constant under differentiation, as in the authors' listing). Since
:math:`(g - Hg)/g_\epsilon - 1 = -(Hg + \epsilon s)/g_\epsilon`, GQ is close to
:math:`\tfrac1N \|Hg / g\|_1`: the curvature seen along the gradient, relative to the gradient.

:math:`Hg` is a Hessian-vector product computed forward-over-reverse, ``jax.jvp`` of
``jax.grad`` (Pearlmutter's trick), at the cost of a few gradients and without forming
:math:`H`; :func:`gradient_quotient` stays differentiable, so MetaInit can descend on it.

References:
  Dauphin & Schoenholz (2019), MetaInit: Initializing learning by learning to initialize,
  NeurIPS, https://papers.nips.cc/paper/2019/hash/876e8108f87eb61877c6263228b67256-Abstract.html;
  Pearlmutter (1994), Fast exact multiplication by the Hessian, Neural Computation 6(1).
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

from jinit._src.core.checks import check_real
from jinit._src.core.errors import JinitTypeError, JinitValueError, named
from jinit._src.core.types import PyTree

__all__ = ["gradient_quotient", "hvp", "quotient_terms"]

#: A scalar function of a parameter pytree: the loss on a fixed batch.
Objective = Callable[[PyTree], jax.Array]


def hvp(objective: Objective, params: PyTree, vector: PyTree) -> PyTree:
    r"""The Hessian-vector product :math:`H(\theta)\, v` of ``objective`` at ``params``.

    .. math:: H v = \frac{\partial}{\partial t} \nabla L(\theta + t v) \Big|_{t=0},

    computed as ``jax.jvp(jax.grad(objective), (params,), (vector,))``: forward-mode over
    reverse-mode, one gradient's cost times a small constant.

    Args:
      objective: ``params -> scalar``.
      params: where the Hessian is taken.
      vector: a pytree with the structure, shapes and dtypes of ``params``.

    Returns:
      :math:`Hv`, a pytree like ``params``.
    """
    return jax.jvp(jax.grad(objective), (params,), (vector,))[1]


def quotient_terms(objective: Objective, params: PyTree, eps: float) -> tuple[jax.Array, int]:
    r"""The sum :math:`\sum_i |(g - Hg)_i / (g_\epsilon)_i - 1|` over every leaf, and :math:`N`.

    Divided, they give GQ (module docstring); the parts are returned so a caller can check
    :math:`N` and so the sum is taken once, in float32 at least.

    Args:
      objective: ``params -> scalar``, the loss on a fixed batch.
      params: a pytree of real floating arrays (every leaf counts towards :math:`N`).
      eps: the :math:`\epsilon` of the safe division, > 0.

    Returns:
      ``(sum, N)``; the sum is a differentiable scalar.
    """
    gradient = jax.grad(objective)(params)
    product = hvp(objective, params, gradient)
    total = jnp.zeros((), jnp.result_type(jnp.float32, *jax.tree.leaves(params)))
    count = 0
    for g, hg in zip(jax.tree.leaves(gradient), jax.tree.leaves(product), strict=True):
        g, hg = g.astype(total.dtype), hg.astype(total.dtype)
        sign = jax.lax.stop_gradient(jnp.where(g >= 0, 1.0, -1.0).astype(total.dtype))
        total = total + jnp.sum(jnp.abs((g - hg) / (g + eps * sign) - 1.0))
        count += g.size
    return total, count


@named
def gradient_quotient(objective: Objective, params: PyTree, *, eps: float = 1e-5) -> jax.Array:
    r"""The gradient quotient of Dauphin & Schoenholz (2019), their Eq. 1 (module docstring).

    .. math::
       \mathrm{GQ} = \frac{1}{N} \sum_{i=1}^{N}
       \left| \frac{(g - H g)_i}{g_i + \epsilon\, s_i} - 1 \right|,
       \qquad s_i = \pm 1 \text{ (the sign of } g_i\text{, } +1 \text{ at } 0),

    with :math:`N` the number of elements of all of ``params`` and :math:`Hg` computed by
    ``jax.jvp`` of ``jax.grad``. Differentiable in ``params`` (the sign :math:`s` is held
    constant), so it can be minimized.

    Args:
      objective: ``params -> scalar loss`` (on a fixed batch).
      params: a pytree of real floating arrays; every element counts.
      eps: the safe-division :math:`\epsilon`, > 0 (the authors' default ``1e-5``).

    Returns:
      GQ, a float scalar (at least float32). Called outside ``jax.jit`` it is checked: a
      non-finite quotient is refused. Under a transformation it is returned as traced.

    Raises:
      TypeError: a leaf of ``params`` is not a real floating array, or ``eps`` is not a number.
      ValueError: ``eps`` not > 0, ``params`` without elements, or (outside a transformation) a
        NaN or infinite quotient.

    Example:
      >>> f = lambda w: 0.5 * jnp.sum(w**2) + jnp.sum(w)  # g = w + 1, H = I: Hg = g
      >>> float(gradient_quotient(f, jnp.array([1.0, 2.0])))  # |(g - g)/g - 1| = 1
      1.0

    References:
      Dauphin & Schoenholz (2019), MetaInit: Initializing learning by learning to initialize,
      NeurIPS, https://papers.nips.cc/paper/2019/hash/876e8108f87eb61877c6263228b67256-Abstract.html
    """
    eps = check_real("eps", eps, positive=True)
    leaves = jax.tree.leaves(params)
    for leaf in leaves:
        dtype = getattr(leaf, "dtype", None)
        if dtype is None or not jnp.issubdtype(dtype, jnp.floating):
            raise JinitTypeError(
                f"params must hold real floating arrays only, got a leaf {leaf!r:.60} of dtype "
                f"{dtype}; pass the trainable parameters (close over the rest in objective)"
            )
    total, count = quotient_terms(objective, params, eps)
    if count == 0:
        raise JinitValueError("params has no elements; GQ averages over N >= 1 parameters")
    value = total / count
    if not isinstance(value, jax.core.Tracer) and not bool(jnp.isfinite(value)):
        raise JinitValueError(
            f"the gradient quotient is {float(value)} (not finite): the loss, its gradient or "
            "its Hessian-vector product overflowed or is undefined at params; check the "
            "objective at these parameters"
        )
    return value
