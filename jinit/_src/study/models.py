"""Flax (linen) models of ``jinit study``: MLP, residual MLP and a small CNN for digits.

All models take the initializer under study for **every** kernel (biases start at zero), so a
study cell changes nothing but the initialization. Each hidden activation is recorded with
``Module.sow("intermediates", "activations", h)``, which the signal experiments read with
``apply(..., mutable=["intermediates"])``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import flax.linen as nn
import jax
import jax.numpy as jnp

from jinit._src.core.gain import ACTIVATIONS
from jinit._src.core.types import Initializer

__all__ = ["CNN", "MLP", "MODELS", "ModelSpec", "ResidualMLP"]

#: Accepted ``--model`` names.
MODELS = ("mlp", "resmlp", "cnn")

Activation = Callable[[jax.Array], jax.Array]


class MLP(nn.Module):
    """``depth`` hidden Dense layers of ``width`` units with ``activation``, then a linear read-out.

    Attributes:
      depth: number of hidden layers (0 gives a linear classifier).
      width: units per hidden layer.
      n_out: number of outputs (classes).
      activation: the nonlinearity after each hidden layer.
      kernel_init: initializer of every kernel, read-out included.
      use_bias: whether layers have biases (initialized to zero).
    """

    depth: int
    width: int
    n_out: int
    activation: Activation
    kernel_init: Initializer
    use_bias: bool = True

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        h = x.reshape(x.shape[0], -1)
        for _ in range(self.depth):
            h = self.activation(
                nn.Dense(self.width, self.use_bias, kernel_init=self.kernel_init)(h)
            )
            self.sow("intermediates", "activations", h)
        return nn.Dense(self.n_out, self.use_bias, kernel_init=self.kernel_init)(h)


class ResidualMLP(nn.Module):
    """An input projection, ``depth`` residual blocks ``h + W2 act(W1 h)``, a linear read-out."""

    depth: int
    width: int
    n_out: int
    activation: Activation
    kernel_init: Initializer

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        h = nn.Dense(self.width, kernel_init=self.kernel_init)(x.reshape(x.shape[0], -1))
        for _ in range(self.depth):
            branch = self.activation(nn.Dense(self.width, kernel_init=self.kernel_init)(h))
            h = h + nn.Dense(self.width, kernel_init=self.kernel_init)(branch)
            self.sow("intermediates", "activations", h)
        return nn.Dense(self.n_out, kernel_init=self.kernel_init)(self.activation(h))


class CNN(nn.Module):
    """A small CNN for 8x8 images: two 3x3 convolutions (16, 32 channels; the second strided)."""

    image_shape: tuple[int, int]
    n_out: int
    activation: Activation
    kernel_init: Initializer

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        h = x.reshape(x.shape[0], *self.image_shape, 1)
        h = self.activation(nn.Conv(16, (3, 3), kernel_init=self.kernel_init)(h))
        self.sow("intermediates", "activations", h)
        h = self.activation(nn.Conv(32, (3, 3), strides=2, kernel_init=self.kernel_init)(h))
        self.sow("intermediates", "activations", h)
        return nn.Dense(self.n_out, kernel_init=self.kernel_init)(h.reshape(h.shape[0], -1))


@dataclass(frozen=True)
class ModelSpec:
    """What to build: a model kind with its depth, width and activation name.

    Attributes:
      kind: ``mlp``, ``resmlp`` or ``cnn``.
      depth: hidden layers (MLP) or residual blocks (residual MLP); ignored by the CNN.
      width: hidden units; ignored by the CNN.
      activation: a name in :data:`jinit.ACTIVATIONS`.
      use_bias: MLP only; the deep-linear experiment uses bias-free linear nets.
    """

    kind: str = "mlp"
    depth: int = 3
    width: int = 64
    activation: str = "relu"
    use_bias: bool = True

    def __post_init__(self) -> None:
        if self.kind not in MODELS:
            raise ValueError(
                f"jinit.study: unknown --model {self.kind!r}; expected one of {', '.join(MODELS)}"
            )
        if self.activation not in ACTIVATIONS:
            raise ValueError(
                f"jinit.study: unknown --activation {self.activation!r}; expected one of "
                f"{', '.join(ACTIVATIONS)}"
            )
        for name, value, low in (("depth", self.depth, 0), ("width", self.width, 1)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(
                    f"jinit.study: --{name} must be an integer >= {low}, got {value!r}"
                )

    def build(
        self, kernel_init: Initializer, n_out: int, image_shape: tuple[int, int] | None
    ) -> nn.Module:
        """The linen module with ``kernel_init`` on every kernel."""
        activation = ACTIVATIONS[self.activation]
        if self.kind == "mlp":
            return MLP(self.depth, self.width, n_out, activation, kernel_init, self.use_bias)
        if self.kind == "resmlp":
            return ResidualMLP(self.depth, self.width, n_out, activation, kernel_init)
        if image_shape is None:
            raise ValueError(
                "jinit.study: --model cnn needs an image data set (digits); use mlp or resmlp"
            )
        return CNN(image_shape, n_out, activation, kernel_init)

    def describe(self) -> str:
        """A short human-readable description."""
        if self.kind == "cnn":
            return f"CNN (conv16-conv32/2, {self.activation})"
        name = "MLP" if self.kind == "mlp" else "residual MLP"
        return f"{name} depth {self.depth}, width {self.width}, {self.activation}"


def init_params(module: nn.Module, key: jax.Array, n_features: int) -> dict[str, object]:
    """Initialize ``module``'s parameters for inputs of ``n_features`` (no batch dependence)."""
    variables = module.init(key, jnp.zeros((1, n_features), jnp.float32))
    return dict(variables["params"])
