r"""The GradInit objective and its one compiled update of the scales.

With the blocks :math:`\theta_i = \alpha_i \theta_i^0` and the gradient
:math:`g = \nabla_\theta L(\theta; \tilde S_1)` over *every* trainable leaf, a step is

.. math::
   J(\alpha) = \begin{cases}
     \lVert g \rVert_{p_A} & \text{if } \lVert g \rVert_{p_A} > \gamma,\\
     L(\theta - \eta A(g); \tilde S_2) / \eta & \text{otherwise,}
   \end{cases}
   \qquad
   \alpha \leftarrow \max\big(\alpha + \mathrm{Adam}(\nabla_\alpha J), \alpha_{\min}\big),

with :math:`A(g) = g`, :math:`p_A = 2` for SGD and the first Adam step
:math:`A(g) = g / (\lvert g \rvert + \epsilon)` (elementwise, :math:`\epsilon = 10^{-8}`;
:math:`\operatorname{sign}(g)` up to :math:`\epsilon`), :math:`p_A = 1` for Adam (Zhu et al.
2021, Eq. 1 and Algorithm 1). :math:`\nabla_\alpha J` is exact: it differentiates through
:math:`g` (a Hessian-vector product), including the gradient-norm branch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal, TypeAlias, get_args

import jax
import jax.numpy as jnp

from jinit._src.core.types import PyTree

__all__ = [
    "ADAM_EPS",
    "BASE_OPTIMIZERS",
    "NORM_ORDER",
    "BaseOptimizer",
    "Objective",
    "first_step",
    "grad_norm",
    "make_objective",
    "make_update",
]

#: The base optimizers GradInit can prepare a model for.
BaseOptimizer: TypeAlias = Literal["sgd", "adam"]
BASE_OPTIMIZERS: tuple[BaseOptimizer, ...] = get_args(BaseOptimizer)
#: The :math:`p` of the gradient-norm constraint for each base optimizer.
NORM_ORDER: dict[str, int] = {"sgd": 2, "adam": 1}
#: :math:`\epsilon` of the first Adam step (Optax's and PyTorch's default).
ADAM_EPS = 1e-8

#: ``(params, inputs) -> outputs``.
Apply = Callable[[PyTree, PyTree], Any]
#: ``(outputs, targets) -> scalar loss``.
Loss = Callable[[Any, PyTree], jax.Array]


def _wide(value: jax.Array) -> jax.Array:
    """``value`` in float32, or wider if it is wider (float64 stays float64)."""
    array = jnp.asarray(value)
    return array.astype(jnp.promote_types(array.dtype, jnp.float32))


def first_step(optimizer: BaseOptimizer, grads: Sequence[jax.Array]) -> list[jax.Array]:
    r""":math:`A(g)`: the first step's direction (``g`` for SGD, ``g / (|g| + eps)`` for Adam).

    Adam's first update, with bias correction, is :math:`\hat m / (\sqrt{\hat v} + \epsilon)
    = g / (\lvert g \rvert + \epsilon)`.
    """
    if optimizer == "sgd":
        return list(grads)
    return [g / (jnp.abs(g) + ADAM_EPS) for g in grads]


def grad_norm(optimizer: BaseOptimizer, grads: Sequence[jax.Array]) -> jax.Array:
    r""":math:`\lVert g \rVert_{p_A}` over all leaves (``p = 2`` SGD, ``1`` Adam), >= float32."""
    parts = [_wide(g) for g in grads]
    zero = jnp.zeros((), jnp.result_type(*parts))
    if NORM_ORDER[optimizer] == 1:
        return sum((jnp.sum(jnp.abs(g)) for g in parts), start=zero)
    square = sum((jnp.sum(g * g) for g in parts), start=zero)
    # the norm's derivative at 0 is undefined; the square root of a zero gradient stays 0
    safe = jnp.where(square > 0, square, 1.0)
    return jnp.where(square > 0, jnp.sqrt(safe), 0.0)


#: ``J(alpha, leaves, s1, s2, lr, gamma) -> (value, metrics)``: the objective at ``alpha``.
Objective = Callable[..., tuple[jax.Array, dict[str, jax.Array]]]


def make_objective(
    apply: Apply,
    loss: Loss,
    rebuild: Callable[[Sequence[jax.Array]], PyTree],
    scaled: Sequence[int],
    *,
    optimizer: BaseOptimizer,
) -> Objective:
    r"""The GradInit objective :math:`J(\alpha)` (see the module docstring), not compiled.

    Args:
      apply: ``(params, inputs) -> outputs``.
      loss: ``(outputs, targets) -> scalar``.
      rebuild: turns the trainable leaves back into the params tree ``apply`` takes.
      scaled: for each scale, the index of its block among the trainable leaves.
      optimizer: the base optimizer (``A`` and ``p``).

    Returns:
      ``J(alpha, leaves, s1, s2, lr, gamma) -> (value, metrics)``: ``leaves`` are the
      trainable leaves at scale 1 (:math:`\theta^0`), ``s1`` and ``s2`` the two ``(inputs,
      targets)`` mini-batches, ``lr`` the base optimizer's learning rate :math:`\eta` and
      ``gamma`` the gradient-norm bound :math:`\gamma` (arguments, not constants, so one
      compiled program serves every setting); ``metrics`` holds ``loss`` (on S1),
      ``grad_norm`` and ``constrained``.
    """
    position = {leaf: j for j, leaf in enumerate(scaled)}

    def batch_loss(leaves: Sequence[jax.Array], batch: tuple[PyTree, PyTree]) -> jax.Array:
        inputs, targets = batch
        return _wide(loss(apply(rebuild(leaves), inputs), targets))

    def objective(
        alpha: jax.Array,
        leaves: Sequence[jax.Array],
        s1: Any,
        s2: Any,
        lr: jax.Array | float,
        gamma: jax.Array | float,
    ) -> tuple[jax.Array, dict[str, jax.Array]]:
        theta = [
            leaf * alpha[position[i]].astype(leaf.dtype) if i in position else leaf
            for i, leaf in enumerate(leaves)
        ]
        before, grads = jax.value_and_grad(batch_loss)(theta, s1)
        norm = grad_norm(optimizer, grads)
        constrained = norm > gamma

        def after_step() -> jax.Array:
            steps = first_step(optimizer, grads)
            moved = [t - (lr * a).astype(t.dtype) for t, a in zip(theta, steps, strict=True)]
            return (batch_loss(moved, s2) / lr).astype(before.dtype)

        value = jax.lax.cond(constrained, lambda: norm.astype(before.dtype), after_step)
        return value, {"loss": before, "grad_norm": norm, "constrained": constrained}

    return objective


def make_update(
    objective: Objective,
    scale_optimizer: Callable[[jax.Array], Any],
    pair: Callable[[Sequence[Any]], tuple[Any, Any]],
) -> Callable[..., tuple[jax.Array, Any, dict[str, jax.Array]]]:
    r"""The jitted update of the scales: one compiled program for every step and setting.

    ``update(alpha, opt_state, leaves, draws, settings) -> (alpha, opt_state, metrics)``:
    ``pair(draws)`` gives the step's two mini-batches ``(s1, s2)``; then one step of
    ``scale_optimizer(settings["scale_lr"])`` (an Optax transformation) on
    :math:`\nabla_\alpha J`, and the clamp :math:`\alpha \leftarrow \max(\alpha,
    \alpha_{\min})`. ``settings`` holds ``lr``, ``gamma``, ``min_scale`` and ``scale_lr`` as
    scalars. ``metrics`` are those of ``objective`` plus its value, ``objective``, all at the
    scales given (before the update).
    """

    def update(
        alpha: jax.Array,
        opt_state: Any,
        leaves: Sequence[jax.Array],
        draws: Sequence[Any],
        settings: dict[str, jax.Array],
    ) -> tuple[jax.Array, Any, dict[str, jax.Array]]:
        s1, s2 = pair(draws)
        (value, metrics), grad = jax.value_and_grad(objective, has_aux=True)(
            alpha, leaves, s1, s2, settings["lr"], settings["gamma"]
        )
        transform = scale_optimizer(settings["scale_lr"])
        updates, opt_state = transform.update(grad, opt_state, alpha)
        alpha = jnp.maximum(alpha + updates, settings["min_scale"].astype(alpha.dtype))
        return alpha, opt_state, {**metrics, "objective": value}

    return jax.jit(update)
