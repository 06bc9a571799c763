"""Mean-field signal propagation: fixed points, chi_1, depth scales, critical points.

References are computed independently of jinit's code: a different quadrature (Gauss–Hermite
with 120 nodes from NumPy, exact to ~1e-12 for smooth tanh) and SciPy's ``brentq`` root finder
for the fixed points; plus a Monte-Carlo simulation of a wide random tanh network. The
published values (Schoenholz et al. 2017, Fig. 2-3: tanh with sigma_b^2 = 0.05 is critical at
sigma_w^2 ~ 1.76; xi_c(1.5) ~ 16, xi_c(2.0) ~ 25) are checked to the digits the paper gives.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.optimize import brentq

import jinit
from jinit._src.analysis.mean_field.run import chi_1, critical_point, mean_field

_Z, _W = np.polynomial.hermite_e.hermegauss(120)
_W = _W / _W.sum()  # expectations against N(0, 1)


def _reference(weight_var: float, bias_var: float) -> dict[str, float]:
    """q*, chi_1, c*, chi_c, xi_c of tanh by Gauss–Hermite and brentq (not jinit's code)."""
    phi, dphi = np.tanh, lambda x: 1.0 / np.cosh(x) ** 2

    def length(q: float) -> float:
        return weight_var * np.sum(_W * phi(np.sqrt(q) * _Z) ** 2) + bias_var

    q = brentq(lambda q: length(q) - q, 1e-9, 100.0)
    chi = weight_var * np.sum(_W * dphi(np.sqrt(q) * _Z) ** 2)
    z1, z2 = np.meshgrid(_Z, _Z, indexing="ij")
    w2 = np.outer(_W, _W)

    def pair(c: float) -> tuple[np.ndarray, np.ndarray]:
        return np.sqrt(q) * z1, np.sqrt(q) * (c * z1 + math.sqrt(1 - c * c) * z2)

    def gap(c: float) -> float:
        u1, u2 = pair(c)
        return (weight_var * np.sum(w2 * phi(u1) * phi(u2)) + bias_var) / q - c

    c = 1.0 if chi <= 1 else brentq(gap, 0.0, 1 - 1e-9)
    u1, u2 = pair(c)
    chi_c = chi if chi <= 1 else weight_var * np.sum(w2 * dphi(u1) * dphi(u2))
    return {"q_star": q, "chi_1": chi, "c_star": c, "chi_c": chi_c, "xi_c": -1 / math.log(chi_c)}


@pytest.mark.parametrize("weight_var", [1.0, 1.5, 2.0, 2.5])
def test_tanh_matches_an_independent_quadrature_and_root_finder(weight_var: float) -> None:
    got = mean_field("tanh", weight_var, 0.05)
    want = _reference(weight_var, 0.05)
    # float32 quadrature of a smooth integrand and fixed points converged to 1e-4 relative
    # residual: 1e-3 relative agreement; xi_c = -1/ln(chi_c) amplifies chi_c's error by
    # 1/|ln chi_c| (<= 25 here), hence 3e-3 for it
    for name in ("q_star", "chi_1", "c_star", "chi_c"):
        assert float(getattr(got, name)) == pytest.approx(want[name], rel=1e-3, abs=1e-6), name
    assert float(got.xi_c) == pytest.approx(want["xi_c"], rel=3e-3)


def test_published_tanh_values() -> None:
    # Schoenholz et al. (2017): sigma_b^2 = 0.05 is critical at sigma_w^2 ~ 1.76; the depth
    # scale xi_c peaks there, ~16 at 1.5 and ~25 at 2.0 (read off their Fig. 3, ~5%)
    point = critical_point("tanh", bias_var=0.05)
    assert float(point.weight_var) == pytest.approx(1.76, abs=0.01)
    # |chi_1 - 1| <= 1e-4 at the critical point: 6 xi_c = -6 / ln chi_1 >= 6e4
    assert point.phase == "critical" and point.trainable_depth > 6e4
    assert float(mean_field("tanh", 1.5, 0.05).xi_c) == pytest.approx(16, rel=0.05)
    assert float(mean_field("tanh", 2.0, 0.05).xi_c) == pytest.approx(25, rel=0.05)


def test_relu_chi_1_is_half_the_weight_variance_and_critical_at_two() -> None:
    # ReLU is positively homogeneous: chi_1 = sigma_w^2 E[1(z > 0)] = sigma_w^2 / 2 exactly
    # whatever q*; symmetric quadrature nodes make the expectation exact
    for weight_var in (0.5, 1.0, 1.9):
        assert float(chi_1("relu", weight_var)) == pytest.approx(weight_var / 2, rel=1e-6)
    point = critical_point("relu")
    assert float(point.weight_var) == pytest.approx(2.0, rel=1e-6)
    assert float(point.q_star) == pytest.approx(2.0, rel=1e-5)  # unit inputs: q^1 = 2
    # with a bias, q* = b / (1 - w / 2) has no finite limit at w = 2: no critical point
    with pytest.raises(ValueError, match=r"^jinit\.critical_point: 'relu'.*bias_var = 0"):
        critical_point("relu", bias_var=0.05)


def test_selu_critical_point_is_where_the_zero_fixed_point_loses_stability() -> None:
    # SELU(0) = 0, so q* = 0 while stable; there chi_1 = sigma_w^2 E[selu'(0 * z)^2] =
    # sigma_w^2 * lambda^2 (1 + alpha^2) / 2, which is 1 at sigma_w^2 = 2 / (lambda^2 (1 + alpha^2))
    # (0.476772). mean_field works in float64, where the bisection on chi_1 = 1 lands within
    # 1e-5 of it (measured 3e-6; in float32 it was 2.9e-4, chi_1 - 1 being < 1e-6 up to 0.477)
    lam, alpha = 1.0507009873554805, 1.6732632423543772
    expected = 2 / (lam**2 * (1 + alpha**2))
    point = critical_point("selu")
    assert float(point.weight_var) == pytest.approx(expected, rel=1e-5)
    assert float(point.chi_1) == pytest.approx(1.0, abs=1e-4)


def test_phases_and_depth_scales() -> None:
    ordered, chaotic = mean_field("tanh", 1.5, 0.05), mean_field("tanh", 2.5, 0.05)
    assert ordered.phase == "ordered" and float(ordered.c_star) == 1.0
    assert float(ordered.chi_c) == float(ordered.chi_1)  # c* = 1: the same slope
    assert float(ordered.xi_c) == pytest.approx(-1 / math.log(float(ordered.chi_1)))
    assert chaotic.phase == "chaotic" and float(chaotic.c_star) < 1.0
    assert chaotic.trainable_depth == pytest.approx(6 * float(chaotic.xi_c))
    assert "ordered" in str(ordered) and "tanh" in str(ordered)


def test_a_wide_random_network_converges_to_q_star() -> None:
    # Monte Carlo: width 4000, 30 tanh layers, weights N(0, w/n), biases N(0, b); the mean of
    # h^2 over units and the last 10 layers estimates q* with relative standard error
    # ~ sqrt(2 / (4000 * 10)) ~ 0.7% (layers are correlated, so allow 4%)
    width, weight_var, bias_var = 4000, 1.5, 0.05
    keys = jax.random.split(jax.random.key(7), 61)
    h = jax.random.normal(keys[0], (width,))
    lengths = []
    for layer in range(30):
        w = jax.random.normal(keys[2 * layer + 1], (width, width)) * math.sqrt(weight_var / width)
        b = jax.random.normal(keys[2 * layer + 2], (width,)) * math.sqrt(bias_var)
        h = w @ (jnp.tanh(h) if layer else h) + b
        lengths.append(float(jnp.mean(h**2)))
    expected = float(mean_field("tanh", weight_var, bias_var).q_star)
    assert np.mean(lengths[-10:]) == pytest.approx(expected, rel=0.04)


def test_vmap_equals_the_loop_and_jit_works() -> None:
    grid = jnp.array([1.0, 1.5, 2.0, 2.5])
    batched = jax.vmap(lambda w: mean_field("tanh", w, 0.05))(grid)
    for index, w in enumerate(grid):
        single = mean_field("tanh", float(w), 0.05)
        np.testing.assert_allclose(batched.xi_c[index], single.xi_c, rtol=1e-5)
    chis = jax.jit(jax.vmap(lambda w: chi_1("tanh", w, 0.05)))(grid)
    np.testing.assert_allclose(chis, [float(chi_1("tanh", float(w), 0.05)) for w in grid], 1e-5)


def test_initializers_of_a_point() -> None:
    kernel, bias = critical_point("tanh", bias_var=0.05).initializers()
    point = critical_point("tanh", bias_var=0.05)
    assert kernel == jinit.variance_scaling(float(point.weight_var), "fan_in", "normal")
    assert bias == jinit.normal(math.sqrt(float(point.bias_var)))  # float32(0.05)
    assert critical_point("relu").initializers()[1] == jinit.zeros
    w = kernel(jax.random.key(0), (1000, 500))
    # 5e5 samples: the sample variance's relative standard error is sqrt(2/5e5) ~ 0.2%; 1%
    assert float(jnp.var(w) * 1000) == pytest.approx(float(point.weight_var), rel=0.01)


def test_refusals() -> None:
    with pytest.raises(ValueError, match=r"^jinit\.mean_field: activation must be one of"):
        mean_field("tanhh", 1.0)
    with pytest.raises(ValueError, match=r"^jinit\.mean_field: weight_var"):
        mean_field("tanh", -1.0)
    with pytest.raises(ValueError, match=r"^jinit\.mean_field: bias_var"):
        mean_field("tanh", 1.0, -0.1)
    with pytest.raises(TypeError, match=r"^jinit\.mean_field: activation must be a name"):
        mean_field(3, 1.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"^jinit\.mean_field: .*grows without bound"):
        mean_field("relu", 2.5)
    with pytest.raises(ValueError, match=r"^jinit\.critical_point: 'gelu'.*no critical point"):
        critical_point("gelu")


def test_chaotic_just_past_the_edge_without_bias() -> None:
    # tanh, sigma_b^2 = 0: just past sigma_w^2 = 1 the network is chaotic and, tanh being odd,
    # c* = 0 is the stable correlation; the correlation map's gap near c = 1 is ~1e-8 there,
    # below float32's resolution, so a float32 computation put these points at c* = 1 with
    # xi_c = inf (found by the notebook). Reference: the independent quadrature above.
    for weight_var in (1.2, 1.3):
        point = mean_field("tanh", weight_var, 0.0)
        assert point.phase == "chaotic"
        assert abs(float(point.c_star)) < 1e-6
        want = _reference_chi_c_at_zero(weight_var)
        assert float(point.xi_c) == pytest.approx(-1 / math.log(want), rel=3e-3)


def _reference_chi_c_at_zero(weight_var: float) -> float:
    """chi_c at c* = 0 for tanh without bias: sigma_w^2 E[tanh'(u)]^2 at the reference q*."""
    q = brentq(lambda q: weight_var * np.sum(_W * np.tanh(np.sqrt(q) * _Z) ** 2) - q, 1e-6, 10)
    mean_slope = np.sum(_W / np.cosh(np.sqrt(q) * _Z) ** 2)
    return weight_var * mean_slope**2
