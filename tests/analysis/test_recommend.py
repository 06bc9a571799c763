"""``recommend``: each activation family maps to its initializer, and the recommendation works.

The depth test runs 20 bias-free layers of width 256 (1,024 standard normal inputs, first layer
fed ``f(x)`` so it starts at the fixed point) and tracks the pre-activation second moment
``q_l``. Margins come from 8 seeds measured on CPU (jax 0.10.2) and are stated per activation;
a wrongly scaled control shows the same test fails by orders of magnitude.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import assert_bit_identical

import jinit
from jinit._src.analysis.recommend import Recommendation, recommend
from tests.stats_util import assert_variance

FAMILIES = [
    # (activation, scale, mode, name with distribution="truncated_normal", paper in the reason)
    ("relu", 2.0, "fan_in", "jinit.he_normal()", "1502.01852"),
    ("relu6", 2.0, "fan_in", "jinit.he_normal()", "1502.01852"),
    ("leaky_relu", 2.0 / (1 + 0.01**2), "fan_in", None, "1502.01852"),
    ("tanh", 1.0, "fan_avg", "jinit.glorot_normal()", "glorot10a"),
    ("sigmoid", 1.0, "fan_avg", "jinit.glorot_normal()", "glorot10a"),
    ("linear", 1.0, "fan_avg", "jinit.glorot_normal()", "glorot10a"),
    ("selu", 1.0, "fan_in", "jinit.lecun_normal()", "1706.02515"),
]


@pytest.mark.parametrize(("activation", "scale", "mode", "name", "paper"), FAMILIES)
def test_named_families(activation, scale, mode, name, paper) -> None:
    rec = recommend(activation, distribution="truncated_normal")
    assert isinstance(rec, Recommendation)
    assert (rec.scale, rec.mode, rec.distribution) == (
        pytest.approx(scale, rel=1e-15),
        mode,
        "truncated_normal",
    )
    if name is not None:
        assert rec.name == name
    assert paper in rec.reason and paper in str(rec)


@pytest.mark.parametrize(
    ("preset", "activation"),
    [
        (jinit.he_normal, "relu"),
        (jinit.glorot_normal, "tanh"),
        (jinit.lecun_normal, "selu"),
        (jinit.he_uniform, "relu"),
        (jinit.glorot_uniform, "linear"),
    ],
)
def test_named_families_equal_the_presets_bit_for_bit(preset, activation) -> None:
    distribution = "uniform" if "uniform" in preset.__name__ else "truncated_normal"
    rec = recommend(activation, distribution=distribution)
    assert rec.name == f"jinit.{preset.__name__}()"
    key = jax.random.key(0)
    assert_bit_identical(rec.initializer(key, (64, 32)), preset()(key, (64, 32)))


@pytest.mark.parametrize(
    "activation",
    [
        "gelu",
        "gelu_tanh",
        "silu",
        "swish",
        "mish",
        "softplus",
        "elu",
        "celu",
        "hard_tanh",
        "soft_sign",
        "log_sigmoid",
        "hard_swish",
    ],
)
def test_other_names_use_the_computed_gain(activation: str) -> None:
    rec = recommend(activation)
    assert rec.scale == pytest.approx(jinit.gain(activation) ** 2, rel=1e-12)
    assert rec.mode == "fan_in" and rec.distribution == "normal"
    assert (
        rec.name == f"jinit.variance_scaling(jinit.gain({activation!r}) ** 2, 'fan_in', 'normal')"
    )
    assert "1502.01852" in rec.reason
    # the initializer realizes the variance gain^2 / fan_in (n = 65,536: tolerance ~2.8 %)
    w = rec.initializer(jax.random.key(1), (512, 128))
    assert_variance(np.asarray(w), rec.scale / 512, "normal")


def test_stability_of_the_fixed_point_is_stated() -> None:
    # slope of q -> g^2 E[f(sqrt(q) z)^2] at q = 1: GELU 1.144, SiLU 1.173, ELU 0.891
    assert "unstable fixed point" in recommend("gelu").reason
    assert "slope 1.173" in recommend("silu").reason
    assert "stable fixed point" in recommend("elu").reason
    assert "fixed point" not in recommend(lambda x: jnp.maximum(x, 0.0) * 3.0).reason  # slope 1


def test_leaky_relu_slope() -> None:
    for slope in (0.0, 0.2, 1.0):
        rec = recommend("leaky_relu", negative_slope=slope)
        assert rec.scale == pytest.approx(jinit.calculate_gain("leaky_relu", slope) ** 2, rel=1e-15)
        assert f"negative slope {slope:g}" in rec.reason
    # a callable with its own slope gets the same scale through the computed gain
    partial = recommend(functools.partial(jax.nn.leaky_relu, negative_slope=0.2))
    assert partial.scale == pytest.approx(2 / 1.04, rel=1e-9)
    assert recommend(jax.nn.leaky_relu).scale == recommend("leaky_relu").scale


def test_callables() -> None:
    # the jax.nn functions behind the names get the names' families
    assert recommend(jax.nn.relu).name == recommend("relu").name
    assert recommend(jnp.tanh).mode == "fan_avg"
    assert recommend(jax.nn.selu).scale == 1.0 and recommend(jax.nn.selu).mode == "fan_in"
    # any other callable: the computed gain; jax.nn.gelu defaults to the tanh approximation
    rec = recommend(jax.nn.gelu)
    assert rec.scale == pytest.approx(jinit.gain("gelu_tanh") ** 2, rel=1e-12)
    assert rec.name.startswith("jinit.variance_scaling(jinit.gain(gelu) ** 2")
    assert recommend(lambda x: 2.0 * x).scale == pytest.approx(0.25, rel=1e-12)
    assert "gain(fn)" in recommend(lambda x: 2.0 * x).name


# ----------------------------------------------------------------------------- depth


def _second_moments(init: jinit.Initializer, fn, seed: int = 0) -> np.ndarray:
    key = jax.random.key(seed)
    h = fn(jax.random.normal(jax.random.fold_in(key, 1000), (1024, 256)))
    moments = []
    for layer in range(20):
        z = h @ init(jax.random.fold_in(key, layer), (256, 256))
        moments.append(float(jnp.mean(z**2)))
        h = fn(z)
    return np.asarray(moments)


@pytest.mark.parametrize(
    ("activation", "low", "high"),
    [
        # q_20 / q_1 over 8 seeds: relu 0.44-1.38 (finite width makes log q a random walk),
        # gelu 0.56-4.1 (unstable fixed point, slope 1.14), selu 0.95-1.06 (stable); with the
        # seed used here: relu 0.455, gelu 0.573, selu 0.973
        ("relu", 1 / 8, 8.0),
        ("gelu", 1 / 10, 10.0),
        ("selu", 0.8, 1.25),
    ],
)
def test_recommended_init_keeps_the_variance_through_20_layers(activation, low, high) -> None:
    q = _second_moments(recommend(activation).initializer, jinit.ACTIVATIONS[activation])
    assert 0.9 < q[0] < 1.1, q[0]  # layer 1: g^2 E[f(x)^2] = 1 by the definition of the gain
    assert low < q[-1] / q[0] < high, q


def test_tanh_with_glorot_decays_polynomially_not_exponentially() -> None:
    # q_1 = E[tanh(x)^2] = 0.394; at the critical point q_l ~ 1/(2 l): q_20 measured
    # 0.023-0.027 over 8 seeds (0.024 here). Half the variance (scale 0.5) collapses to 2e-7.
    q = _second_moments(recommend("tanh").initializer, jnp.tanh)
    assert 0.38 < q[0] < 0.41, q[0]
    assert 0.01 < q[-1] < 0.06, q
    collapsed = _second_moments(jinit.variance_scaling(0.5, "fan_in", "normal"), jnp.tanh)
    assert collapsed[-1] < 1e-5, collapsed[-1]


def test_the_depth_test_catches_a_wrong_scale() -> None:
    # LeCun (variance 1/fan_in) for ReLU halves q at each layer: 2^-19 = 1.9e-6 after 20 layers
    q = _second_moments(jinit.lecun_normal(), jax.nn.relu)
    assert q[-1] / q[0] < 1e-4, q
    # He's 2 for GELU (which needs 2.35) falls off the unstable fixed point: measured 3.3e-5
    q = _second_moments(jinit.he_normal(), jinit.ACTIVATIONS["gelu"])
    assert q[-1] / q[0] < 1e-3, q


# ----------------------------------------------------------------------------- errors


def test_unknown_name_lists_the_valid_ones() -> None:
    with pytest.raises(
        ValueError,
        match=r"activation must be one of 'linear', 'relu'.*'gelu'.*"
        r"got 'gleu'. Did you mean 'gelu'\?",
    ):
        recommend("gleu")


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"activation": 3}, TypeError, "name in jinit.ACTIVATIONS or a callable, got 3"),
        (
            {"activation": "relu", "distribution": "gaussian"},
            ValueError,
            "distribution must be one of 'normal', 'truncated_normal', 'uniform'",
        ),
        (
            {"activation": "relu", "negative_slope": 0.1},
            ValueError,
            "negative_slope applies only to 'leaky_relu'",
        ),
        (
            {"activation": "leaky_relu", "negative_slope": math.nan},
            ValueError,
            "negative_slope must be finite",
        ),
        (
            {"activation": "leaky_relu", "negative_slope": "0.1"},
            TypeError,
            "negative_slope must be a real number",
        ),
        ({"activation": lambda x: 0.0 * x}, ValueError, "finite, positive second moment"),
    ],
)
def test_errors(kwargs, error, match) -> None:
    with pytest.raises(error, match=match):
        recommend(**kwargs)


@pytest.mark.parametrize(
    ("activation", "phase"),
    # He for ReLU and 1/fan_in for tanh are the edge of chaos (chi_1 = 1: relu sigma_w^2 / 2,
    # tanh'(0)^2 at q* = 0); LeCun for SELU is chaotic (chi_1 = 1.07 at q* = 1); the gain
    # of GELU/SiLU makes q = 1 an unstable fixed point, so mean field has no stable one
    [("relu", "critical"), ("tanh", "critical"), ("selu", "chaotic"), ("gelu", None)],
)
def test_reports_the_mean_field_phase_and_trainable_depth(activation: str, phase: str) -> None:
    rec = recommend(activation)
    assert rec.phase == phase
    if phase is None:
        assert rec.trainable_depth is None
        assert "no stable fixed point" in rec.reason
    else:
        point = jinit.mean_field(activation, rec.scale)
        assert rec.trainable_depth == point.trainable_depth
        assert f"{phase} phase" in rec.reason
    if phase == "critical":
        assert "trainable to any depth" in rec.reason
    if phase == "chaotic":  # a finite depth, stated in the reason
        assert rec.trainable_depth is not None and math.isfinite(rec.trainable_depth)
        assert f"about {rec.trainable_depth:.3g} layers" in rec.reason
