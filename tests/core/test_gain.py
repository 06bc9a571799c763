"""Gains: PyTorch's table exactly, and the computed gain of any activation."""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import integrate, stats

import jinit

TABLE = [
    ("linear", None, 1.0), ("conv1d", None, 1.0), ("conv2d", None, 1.0),
    ("conv3d", None, 1.0), ("conv_transpose1d", None, 1.0), ("conv_transpose2d", None, 1.0),
    ("conv_transpose3d", None, 1.0), ("sigmoid", None, 1.0), ("tanh", None, 5 / 3),
    ("relu", None, math.sqrt(2)), ("leaky_relu", None, math.sqrt(2 / (1 + 0.01**2))),
    ("leaky_relu", 0.2, math.sqrt(2 / 1.04)), ("leaky_relu", 0, math.sqrt(2)),
    ("leaky_relu", 1.0, 1.0), ("selu", None, 0.75),
]


@pytest.mark.parametrize(("name", "param", "expected"), TABLE,
                         ids=[f"{n}-{p}" for n, p, _ in TABLE])
def test_calculate_gain_table(name: str, param: float | None, expected: float) -> None:
    assert jinit.calculate_gain(name, param) == pytest.approx(expected, rel=1e-15)


def _reference_gain(fn: object) -> float:
    """Adaptive quadrature (scipy.integrate.quad) with the kinks as break points."""

    def integrand(z: float) -> float:
        with jax.enable_x64(True):
            value = float(fn(jnp.asarray(z, jnp.float64)))  # type: ignore[operator]
        return value**2 * stats.norm.pdf(z)

    moment = integrate.quad(integrand, -40, 40, points=[-6, -3, -1, 0, 1, 3, 6], limit=400,
                            epsabs=1e-15, epsrel=1e-13)[0]
    return 1 / math.sqrt(moment)


@pytest.mark.parametrize("name", sorted(jinit.ACTIVATIONS))
def test_gain_matches_adaptive_quadrature(name: str) -> None:
    assert jinit.gain(name) == pytest.approx(_reference_gain(jinit.ACTIVATIONS[name]),
                                             rel=1e-10)


@pytest.mark.parametrize(
    ("fn", "expected"),
    [
        (lambda x: x, 1.0),
        (jax.nn.relu, math.sqrt(2)),
        (functools.partial(jax.nn.leaky_relu, negative_slope=0.2), math.sqrt(2 / 1.04)),
        (jax.nn.selu, 1.0),  # SELU's fixed point: E[selu(z)^2] = 1 by construction
        (np.tanh, 1.5925374197),
        (jnp.abs, 1.0),
    ],
    ids=["linear", "relu", "leaky_0.2", "selu", "numpy_tanh", "abs"],
)
def test_gain_closed_forms(fn: object, expected: float) -> None:
    assert jinit.gain(fn) == pytest.approx(expected, rel=1e-9)  # type: ignore[arg-type]


def test_gain_differs_from_table_where_documented() -> None:
    assert jinit.gain("tanh") == pytest.approx(1.5925, abs=1e-4)
    assert jinit.calculate_gain("tanh") == pytest.approx(5 / 3)
    assert jinit.gain("selu") == pytest.approx(1.0, abs=1e-9)
    assert jinit.calculate_gain("selu") == 0.75


def test_gain_for_activations_pytorch_rejects() -> None:
    for name, expected in [("gelu", 1.5335), ("silu", 1.6765), ("mish", 1.4868),
                           ("softplus", 1.0419), ("elu", 1.2452)]:
        assert jinit.gain(name) == pytest.approx(expected, abs=1e-4)
        assert jinit.gain(jinit.ACTIVATIONS[name]) == jinit.gain(name)
