"""Batched training: many runs of one model and optimizer in one jitted ``vmap`` of a ``lax.scan``.

A *run* is one (parameters, learning rate, batch-order key) triple. Runs that share the model's
shapes and the optimizer train together: :func:`train_runs` stacks them on a leading axis and
calls one compiled function ``jit(vmap(run))``, where ``run`` is a ``lax.scan`` over evaluation
chunks of an inner ``lax.scan`` over steps. The learning rate is a traced argument, so one
compilation serves every initializer and every learning rate of a sweep.

Mini-batches are drawn without replacement within an epoch (a fresh permutation per epoch,
remainder dropped); a full-batch optimizer uses the whole training set every step. The loss is
the mean softmax cross-entropy.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from jinit._src.study.optimizers import OptimizerSpec

__all__ = ["Curves", "steps_to_target", "train_runs"]

Params = Any  # a Flax parameter pytree


@dataclass(frozen=True)
class Curves:
    """What :func:`train_runs` measured, one row per run.

    Attributes:
      steps: the steps at which the full training loss was evaluated, ``(n_evals + 1,)``,
        starting at 0 (the initialization).
      train_loss: full-training-set loss at those steps, ``(runs, n_evals + 1)``; NaN or Inf
        marks a diverged run.
      train_accuracy: final training accuracy, ``(runs,)``.
      test_accuracy: final test accuracy, ``(runs,)``.
      test_loss: final test loss, ``(runs,)``.
    """

    steps: np.ndarray
    train_loss: np.ndarray
    train_accuracy: np.ndarray
    test_accuracy: np.ndarray
    test_loss: np.ndarray


def _loss_and_accuracy(
    module: nn.Module, params: Params, x: jax.Array, y: jax.Array
) -> tuple[jax.Array, jax.Array]:
    logits: jax.Array = module.apply({"params": params}, x)  # type: ignore[assignment]
    loss = optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
    return loss, jnp.mean(jnp.argmax(logits, axis=-1) == y)


@functools.lru_cache(maxsize=64)
def _compiled_trainer(
    module: nn.Module, optimizer: OptimizerSpec, steps: int, eval_every: int, n_train: int
) -> Any:
    batch = n_train if optimizer.batch_size is None else min(optimizer.batch_size, n_train)
    steps_per_epoch = n_train // batch
    n_evals = steps // eval_every

    def loss_fn(params: Params, x: jax.Array, y: jax.Array) -> jax.Array:
        return _loss_and_accuracy(module, params, x, y)[0]

    def run(
        params: Params,
        learning_rate: jax.Array,
        key: jax.Array,
        x: jax.Array,
        y: jax.Array,
        x_test: jax.Array,
        y_test: jax.Array,
    ) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
        tx = optimizer.make(learning_rate)
        # every batch of the run up front: one permutation per epoch, not one per step
        n_epochs = -(-steps // steps_per_epoch)
        orders = jax.vmap(
            lambda epoch: jax.random.permutation(jax.random.fold_in(key, epoch), n_train)
        )(jnp.arange(n_epochs))
        batches = orders[:, : steps_per_epoch * batch].reshape(-1, batch)

        def step(carry: tuple[Params, Any], t: jax.Array) -> tuple[tuple[Params, Any], None]:
            params, opt_state = carry
            if optimizer.batch_size is None:
                xb, yb = x, y
            else:
                rows = batches[t]
                xb, yb = x[rows], y[rows]
            grads = jax.grad(loss_fn)(params, xb, yb)
            updates, opt_state = tx.update(grads, opt_state, params)
            return (optax.apply_updates(params, updates), opt_state), None

        def chunk(
            carry: tuple[Params, Any], start: jax.Array
        ) -> tuple[tuple[Params, Any], jax.Array]:
            carry, _ = jax.lax.scan(step, carry, start + jnp.arange(eval_every))
            return carry, loss_fn(carry[0], x, y)

        initial_loss = loss_fn(params, x, y)
        (params, _), losses = jax.lax.scan(
            chunk, (params, tx.init(params)), jnp.arange(n_evals) * eval_every
        )
        _, train_acc = _loss_and_accuracy(module, params, x, y)
        test_loss, test_acc = _loss_and_accuracy(module, params, x_test, y_test)
        curve = jnp.concatenate([initial_loss[None], losses])
        return curve, train_acc, test_acc, test_loss

    return jax.jit(jax.vmap(run, in_axes=(0, 0, 0, None, None, None, None)))


def train_runs(
    module: nn.Module,
    optimizer: OptimizerSpec,
    params: Params,
    learning_rates: np.ndarray,
    keys: jax.Array,
    data: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    *,
    steps: int,
    eval_every: int,
) -> Curves:
    """Train a stack of runs in parallel and return their loss curves and accuracies.

    Args:
      module: the linen model (its initializers are not used: ``params`` are given).
      optimizer: the optimizer spec; its batch size sets the sampling.
      params: parameters stacked on a leading run axis.
      learning_rates: one learning rate per run, ``(runs,)``.
      keys: one batch-order key per run, ``(runs,)`` typed keys.
      data: ``(x_train, y_train, x_test, y_test)``.
      steps: optimizer steps per run; a multiple of ``eval_every``.
      eval_every: steps between evaluations of the full training loss.

    Returns:
      The :class:`Curves` of every run.
    """
    if steps <= 0 or eval_every <= 0 or steps % eval_every:
        raise ValueError(
            f"jinit.study: steps ({steps}) must be a positive multiple of eval_every ({eval_every})"
        )
    x, y, x_test, y_test = (jnp.asarray(a) for a in data)
    trainer = _compiled_trainer(module, optimizer, steps, eval_every, int(x.shape[0]))
    curve, train_acc, test_acc, test_loss = trainer(
        params, jnp.asarray(learning_rates, jnp.float32), keys, x, y, x_test, y_test
    )
    return Curves(
        steps=np.arange(steps // eval_every + 1) * eval_every,
        train_loss=np.asarray(curve, np.float64),
        train_accuracy=np.asarray(train_acc, np.float64),
        test_accuracy=np.asarray(test_acc, np.float64),
        test_loss=np.asarray(test_loss, np.float64),
    )


def steps_to_target(steps: np.ndarray, loss: np.ndarray, target: float) -> float:
    """The first evaluated step whose loss is at most ``target``, or NaN if none is."""
    reached = np.flatnonzero(np.nan_to_num(loss, nan=np.inf) <= target)
    return float(steps[reached[0]]) if reached.size else float("nan")
