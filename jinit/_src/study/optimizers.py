"""The optimizers of ``jinit study``, under the names people know, with default learning rates.

===========  ==========================================  =========  ==========
name         Optax transformation                        batch      default lr
===========  ==========================================  =========  ==========
bgd          ``optax.sgd`` (full-batch gradient descent)  all        0.1
sgd          ``optax.sgd`` (stochastic, one sample)       1          0.01
minibatch    ``optax.sgd``                                32         0.05
momentum     ``optax.sgd(momentum=0.9)``                  32         0.01
nesterov     ``optax.sgd(momentum=0.9, nesterov=True)``   32         0.01
adagrad      ``optax.adagrad``                            32         0.05
rmsprop      ``optax.rmsprop`` (decay 0.9)                32         0.001
adam         ``optax.adam``                               32         0.001
adamw        ``optax.adamw(weight_decay=1e-4)``           32         0.001
===========  ==========================================  =========  ==========

The defaults are the usual textbook values for standardized inputs and a softmax cross-entropy
loss (SGD 0.01-0.1, adaptive methods 1e-3, Adagrad larger because its steps shrink); ``--lr``
overrides them and ``--lr-sweep`` also tries a third and three times each one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import jax
import optax

__all__ = ["OPTIMIZERS", "OptimizerSpec"]


@dataclass(frozen=True)
class OptimizerSpec:
    """One optimizer of the study.

    Attributes:
      name: the name on the command line.
      description: what it is, for tables and ``--help``.
      batch_size: samples per step; ``None`` means the whole training set (full batch).
      learning_rate: the default learning rate.
      make: builds the Optax transformation from a learning rate (a float or a traced scalar,
        so one compiled training loop serves every learning rate of a sweep).
    """

    name: str
    description: str
    batch_size: int | None
    learning_rate: float
    make: Callable[[float | jax.Array], optax.GradientTransformation]


def _sgd(lr: float | jax.Array) -> optax.GradientTransformation:
    return optax.sgd(lr)


def _momentum(lr: float | jax.Array) -> optax.GradientTransformation:
    return optax.sgd(lr, momentum=0.9)


def _nesterov(lr: float | jax.Array) -> optax.GradientTransformation:
    return optax.sgd(lr, momentum=0.9, nesterov=True)


def _adagrad(lr: float | jax.Array) -> optax.GradientTransformation:
    return optax.adagrad(lr)


def _rmsprop(lr: float | jax.Array) -> optax.GradientTransformation:
    return optax.rmsprop(lr, decay=0.9)


def _adam(lr: float | jax.Array) -> optax.GradientTransformation:
    return optax.adam(lr)


def _adamw(lr: float | jax.Array) -> optax.GradientTransformation:
    return optax.adamw(lr, weight_decay=1e-4)


#: Every optimizer of the study, by name, in the order tables show them.
OPTIMIZERS: dict[str, OptimizerSpec] = {
    spec.name: spec
    for spec in (
        OptimizerSpec("bgd", "full-batch gradient descent", None, 0.1, _sgd),
        OptimizerSpec("sgd", "stochastic gradient descent, batch 1", 1, 0.01, _sgd),
        OptimizerSpec("minibatch", "mini-batch SGD, batch 32", 32, 0.05, _sgd),
        OptimizerSpec("momentum", "SGD + momentum 0.9, batch 32", 32, 0.01, _momentum),
        OptimizerSpec("nesterov", "SGD + Nesterov momentum 0.9, batch 32", 32, 0.01, _nesterov),
        OptimizerSpec("adagrad", "Adagrad, batch 32", 32, 0.05, _adagrad),
        OptimizerSpec("rmsprop", "RMSprop (decay 0.9), batch 32", 32, 1e-3, _rmsprop),
        OptimizerSpec("adam", "Adam, batch 32", 32, 1e-3, _adam),
        OptimizerSpec("adamw", "AdamW (weight decay 1e-4), batch 32", 32, 1e-3, _adamw),
    )
}
