r"""One MetaInit update, compiled: the gradient quotient of the norms and a sign-SGD step on them.

:func:`make_update` builds ``update(norms, state, floor, arrays, units, inputs, targets)``. The
tuned arrays are ``units[k] * norms[k]`` (their fixed directions times their norms); the other
array leaves come in ``arrays``, and the leaves that are not arrays are constants. It returns
the new norms, the optimizer state, the quotient at the given norms and which norms were held
at the floor. The optimizer (:func:`sign_momentum`) is Optax's ``scale_by_sign`` followed by
``sgd`` with momentum, which is the authors' update exactly:

.. math::
   m \leftarrow \mu m + \operatorname{sign}(d), \quad n \leftarrow n - \eta m
   \quad\Longleftrightarrow\quad
   m' \leftarrow \mu m' - \eta \operatorname{sign}(d), \quad n \leftarrow n + m'

(:math:`m' = -\eta m`). A norm that would fall below ``floor`` is set to it and its momentum
reset to zero (module docstring of :mod:`jinit._src.analysis.metainit.run`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp

from jinit._src.analysis.metainit.data import Loss
from jinit._src.analysis.metainit.model import Setup
from jinit._src.analysis.metainit.quotient import quotient_terms
from jinit._src.core.optional import require
from jinit._src.core.types import PyTree

__all__ = ["make_update", "sign_momentum"]


def sign_momentum(lr: float, momentum: float) -> Any:
    """Sign-SGD with heavy-ball momentum on the signs: ``optax.chain(scale_by_sign, sgd)``."""
    optax = require("optax", "metainit")
    return optax.chain(optax.scale_by_sign(), optax.sgd(lr, momentum))


def make_update(
    target: Setup, tuned: Sequence[int], loss: Loss, eps: float, optimizer: Any
) -> Callable[..., tuple[Any, ...]]:
    """The jitted MetaInit update for the arrays at indices ``tuned`` of ``target``.

    Args:
      target: the model (:func:`jinit._src.analysis.metainit.model.setup`).
      tuned: indices of the leaves whose norms are tuned (trainable ones).
      loss: ``loss(outputs, targets) -> scalar``.
      eps: the safe-division epsilon of the quotient.
      optimizer: the Optax transformation of the norms' meta-gradient (:func:`sign_momentum`).

    Returns:
      ``update(norms, state, floor, arrays, units, inputs, targets) -> (norms, state, gq,
      held)``, compiled once per input shape.
    """
    optax = require("optax", "metainit")
    arrays_at, trainable = target.arrays, target.trainable

    def quotient(
        norms: jax.Array,
        arrays: list[jax.Array],
        units: list[jax.Array],
        inputs: PyTree,
        targets: PyTree,
    ) -> jax.Array:
        values: dict[int, Any] = dict(zip(arrays_at, arrays, strict=True))
        for k, i in enumerate(tuned):
            values[i] = (units[k] * norms[k]).astype(target.leaves[i].dtype)

        def objective(train: list[jax.Array]) -> jax.Array:
            tree = target.rebuild({**values, **dict(zip(trainable, train, strict=True))})
            result: jax.Array = loss(target.apply(tree, inputs), targets)
            return result

        total, count = quotient_terms(objective, [values[i] for i in trainable], eps)
        return total / count

    def update(
        norms: jax.Array,
        state: Any,
        floor: jax.Array,
        arrays: list[jax.Array],
        units: list[jax.Array],
        inputs: PyTree,
        targets: PyTree,
    ) -> tuple[Any, ...]:
        gq, grad = jax.value_and_grad(quotient)(norms, arrays, units, inputs, targets)
        updates, state = optimizer.update(grad, state)
        new = optax.apply_updates(norms, updates)
        held = new < floor
        trace = optax.tree_utils.tree_get(state, "trace")
        state = optax.tree_utils.tree_set(state, trace=jnp.where(held, 0.0, trace))
        return jnp.where(held, floor, new), state, gq, held

    return jax.jit(update)
