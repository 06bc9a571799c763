"""``jinit.reinit``: rules by path, path-derived keys, layer-aware fans, linen and nnx models.

Fans are checked against hand-computed values for every layer type; variances through
``stats_util.assert_variance`` (5 standard errors of the sample variance).
"""

from __future__ import annotations

import re

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import assert_bit_identical
from flax import nnx

import jinit
from tests.stats_util import assert_variance


def _flat(tree: object) -> dict[str, jax.Array]:
    return {jinit.path_string(p): v for p, v in jax.tree_util.tree_flatten_with_path(tree)[0]}


class MLP(nn.Module):
    widths: tuple[int, ...]

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        for width in self.widths:
            x = nn.relu(nn.Dense(width)(x))
        return x


# ----------------------------------------------------------------------------- paths and keys


def test_path_string_for_dicts_attributes_sequences_and_nnx_values() -> None:
    tree = {"params": {"layers": [{"kernel": 1}, {"kernel": 2}]}}
    assert list(_flat(tree)) == ["params/layers/0/kernel", "params/layers/1/kernel"]
    _, state = nnx.split(nnx.Linear(2, 3, rngs=nnx.Rngs(0)))
    assert sorted(_flat(state)) == ["bias", "kernel"]  # nnx's trailing ".value" dropped


def test_path_key_depends_on_key_and_path_only() -> None:
    key = jax.random.key(0)
    a = jax.random.key_data(jinit.path_key(key, "params/Dense_0/kernel"))
    b = jax.random.key_data(jinit.path_key(key, "params/Dense_0/kernel"))
    c = jax.random.key_data(jinit.path_key(key, "params/Dense_1/kernel"))
    d = jax.random.key_data(jinit.path_key(jax.random.key(1), "params/Dense_0/kernel"))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c) and not np.array_equal(a, d)
    raw = jinit.path_key(jax.random.PRNGKey(0), "params/Dense_0/kernel")
    np.testing.assert_array_equal(raw, a)  # legacy keys derive the same words
    with pytest.raises(TypeError, match="path must be a str"):
        jinit.path_key(key, 3)  # type: ignore[arg-type]


def test_values_do_not_change_when_the_model_grows() -> None:
    x = jnp.ones((1, 8))
    small = MLP((16, 16)).init(jax.random.key(0), x)
    grown = MLP((16, 16, 16)).init(jax.random.key(0), x)
    rules = {"*/kernel": jinit.he_normal, "*/bias": jinit.normal(0.1)}
    new_small = _flat(jinit.reinit(small, rules, jax.random.key(7)))
    new_grown = _flat(jinit.reinit(grown, rules, jax.random.key(7)))
    for path, value in new_small.items():
        assert_bit_identical(value, new_grown[path])
    assert "params/Dense_2/kernel" in new_grown
    # and a different base key gives different values
    other = _flat(jinit.reinit(small, rules, jax.random.key(8)))
    assert not np.array_equal(other["params/Dense_0/kernel"], new_small["params/Dense_0/kernel"])


def test_values_equal_a_direct_call_with_the_path_key() -> None:
    variables = MLP((32,)).init(jax.random.key(0), jnp.ones((1, 8)))
    new = jinit.reinit(variables, {"*/kernel": jinit.glorot_uniform()}, jax.random.key(3))
    expected = jinit.glorot_uniform()(
        jinit.path_key(jax.random.key(3), "params/Dense_0/kernel"), (8, 32), jnp.float32
    )
    assert_bit_identical(new["params"]["Dense_0"]["kernel"], expected)
    assert_bit_identical(new["params"]["Dense_0"]["bias"], variables["params"]["Dense_0"]["bias"])


# ----------------------------------------------------------------------------- fans per layer


def _kernel_fans(path: str, shape: tuple[int, ...], bias: tuple[int, ...] | None, stacked: int = 0):
    axes = jinit.layer_axes(path, shape, bias_shape=bias, stacked=stacked)
    fans = jinit.compute_fans(shape, **axes)
    return float(fans.fan_in), float(fans.fan_out)


@pytest.mark.parametrize(
    ("path", "shape", "bias", "stacked", "fan_in", "fan_out"),
    [
        ("params/Dense_0/kernel", (64, 32), (32,), 0, 64, 32),
        ("params/Conv_0/kernel", (3, 3, 16, 32), (32,), 0, 3 * 3 * 16, 3 * 3 * 32),
        ("params/ConvTranspose_0/kernel", (4, 4, 8, 16), (16,), 0, 4 * 4 * 8, 4 * 4 * 16),
        ("params/Conv_1/kernel", (3, 3, 4, 32), (32,), 0, 3 * 3 * 4, 3 * 3 * 32),  # groups 4
        ("params/DenseGeneral_0/kernel", (32, 4, 8), (4, 8), 0, 32, 32),
        ("params/DenseGeneral_1/kernel", (4, 8, 64), (64,), 0, 32, 64),
        # fan_in = features, as Flax's Embed init; fan_out = vocabulary, as the tied read-out
        ("params/Embed_0/embedding", (1000, 32), None, 0, 32, 1000),
        ("params/MultiHeadDotProductAttention_0/query/kernel", (64, 4, 16), (4, 16), 0, 64, 64),
        ("params/MultiHeadDotProductAttention_0/key/kernel", (64, 4, 16), None, 0, 64, 64),
        ("params/MultiHeadDotProductAttention_0/out/kernel", (4, 16, 64), (64,), 0, 64, 64),
        ("params/OptimizedLSTMCell_0/ii/kernel", (8, 16), None, 0, 8, 16),
        ("params/OptimizedLSTMCell_0/hi/kernel", (16, 16), (16,), 0, 16, 16),
        ("params/ScanDense_0/kernel", (6, 64, 32), (6, 32), 1, 64, 32),
        ("params/ScanConv_0/kernel", (6, 3, 3, 8, 16), (6, 16), 1, 72, 144),
    ],
)
def test_layer_axes_give_hand_computed_fans(path, shape, bias, stacked, fan_in, fan_out) -> None:
    assert _kernel_fans(path, shape, bias, stacked) == (fan_in, fan_out)


def test_fans_of_real_flax_layers_through_reinit() -> None:
    class Zoo(nn.Module):
        @nn.compact
        def __call__(self, x: jax.Array, tokens: jax.Array) -> jax.Array:
            h = nn.Conv(32, (3, 3), feature_group_count=4)(x)  # kernel (3, 3, 4, 32)
            h = nn.ConvTranspose(16, (4, 4))(h)  # kernel (4, 4, 32, 16)
            seq = h.reshape(h.shape[0], -1, 16)
            seq = nn.MultiHeadDotProductAttention(num_heads=4, qkv_features=64)(seq)
            seq = nn.DenseGeneral((4, 8))(seq)  # kernel (16, 4, 8)
            emb = nn.Embed(500, 32)(tokens)
            carry = nn.RNN(nn.OptimizedLSTMCell(24))(seq.reshape(seq.shape[0], -1, 32))
            return jnp.sum(carry) + jnp.sum(emb)

    # abstract shapes: Flax's own eager init of these layers would only cost compile time
    variables = jax.eval_shape(
        Zoo().init, jax.random.key(0), jnp.ones((1, 8, 8, 16)), jnp.zeros((1, 3), jnp.int32)
    )
    rules = {"*kernel": jinit.he_normal, "*bias": jinit.zeros, "*embedding": jinit.normal(1.0)}
    new = _flat(jinit.reinit(variables, rules, jax.random.key(1)))
    expected_fan_in = {
        "params/Conv_0/kernel": 3 * 3 * 4,
        "params/ConvTranspose_0/kernel": 4 * 4 * 32,
        "params/MultiHeadDotProductAttention_0/query/kernel": 16,
        "params/MultiHeadDotProductAttention_0/out/kernel": 64,
        "params/DenseGeneral_0/kernel": 16,
        "params/OptimizedLSTMCell_0/ii/kernel": 32,
        "params/OptimizedLSTMCell_0/hi/kernel": 24,
    }
    for path, fan_in in expected_fan_in.items():
        # he_normal: variance 2 / fan_in, truncated normal; ~1e3-1e4 samples -> tolerance 5-15 %
        assert_variance(np.asarray(new[path]), 2.0 / fan_in, "truncated_normal")


def test_stacked_layers_exclude_the_stack_axis() -> None:
    params = {
        "blocks": {"Dense_0": {"kernel": jnp.zeros((8, 256, 128)), "bias": jnp.zeros((8, 128))}}
    }
    stacked = jinit.reinit(
        params, {"*/kernel": jinit.he_normal}, jax.random.key(0), stacked=("blocks/*",)
    )
    kernel = np.asarray(stacked["blocks"]["Dense_0"]["kernel"])
    for layer in kernel:  # each of the 8 layers: variance 2/256 (n = 32768 -> tol ~3.2 %)
        assert_variance(layer, 2.0 / 256, "truncated_normal")
    assert not np.array_equal(kernel[0], kernel[1])
    # without the hint, the stack axis would count as receptive field (2 / (8 * 256), 8x too
    # small, silently, before): now the rank-3 Dense kernel is refused with what to pass
    with pytest.raises(
        ValueError,
        match=r"'blocks/Dense_0/kernel': a Dense kernel is \(in, out\), but this one has rank 3; "
        r"if the layer is stacked by nn.scan/vmap, name it in stacked=\[...\]\. "
        r"Pass axes=jinit.trace_axes",
    ):
        jinit.reinit(params, {"*/kernel": jinit.he_normal}, jax.random.key(0))


# ----------------------------------------------------------------------------- rules


def test_first_matching_rule_wins_and_regex_patterns_work() -> None:
    variables = MLP((16, 16)).init(jax.random.key(0), jnp.ones((1, 8)))
    rules = {
        re.compile(r"params/Dense_0/kernel"): jinit.zeros,
        "*/kernel": jinit.ones,
    }
    new, report = jinit.reinit_with_report(variables, rules, jax.random.key(1))
    assert float(jnp.abs(new["params"]["Dense_0"]["kernel"]).max()) == 0.0
    assert float(new["params"]["Dense_1"]["kernel"].min()) == 1.0
    assert report.touched == {  # keyed by the patterns as written
        re.compile(r"params/Dense_0/kernel"): ("params/Dense_0/kernel",),
        "*/kernel": ("params/Dense_1/kernel",),
    }
    assert "re:params/Dense_0/kernel: 1 parameter(s)" in str(report)
    assert report.untouched == ("params/Dense_0/bias", "params/Dense_1/bias")
    assert "untouched: 2 parameter(s)" in str(report)


def test_strict_rejects_a_rule_that_matches_nothing() -> None:
    variables = MLP((16,)).init(jax.random.key(0), jnp.ones((1, 8)))
    rules = {"*/kernel": jinit.he_normal, "Dense_*/kernel": jinit.zeros}
    with pytest.raises(ValueError, match=r"\['Dense_\*/kernel'\] matched no parameter.*'\*'"):
        jinit.reinit(variables, rules, jax.random.key(0))
    new = jinit.reinit(variables, rules, jax.random.key(0), strict=False)
    assert new["params"]["Dense_0"]["kernel"].shape == (8, 16)


@pytest.mark.parametrize(
    ("rules", "match"),
    [
        ({}, "non-empty mapping"),
        ([("*", jinit.zeros)], "non-empty mapping"),
        ({"*": 3.0}, "not an initializer"),
        ({3: jinit.zeros}, "glob str or a compiled re.Pattern"),
    ],
)
def test_bad_rules_raise_type_errors(rules, match) -> None:
    with pytest.raises(TypeError, match=match):
        jinit.reinit({"w": jnp.zeros(3)}, rules, jax.random.key(0))


def test_matching_a_non_array_leaf_is_a_clear_error() -> None:
    with pytest.raises(TypeError, match=r"'name'.*not an array"):
        jinit.reinit({"name": "dense", "w": jnp.zeros(3)}, {"*": jinit.zeros}, jax.random.key(0))


def test_abstract_shapes_from_eval_shape_are_materialized() -> None:
    model = MLP((32, 10))
    abstract = jax.eval_shape(model.init, jax.random.key(0), jnp.ones((1, 8)))
    rules = {"*/kernel": jinit.lecun_normal, "*/bias": jinit.zeros}
    new = jinit.reinit(abstract, rules, jax.random.key(0))
    concrete = jinit.reinit(
        model.init(jax.random.key(5), jnp.ones((1, 8))), rules, jax.random.key(0)
    )
    jax.tree.map(assert_bit_identical, new, concrete)  # values depend on path and key only


def test_reinit_under_jit() -> None:
    variables = MLP((16,)).init(jax.random.key(0), jnp.ones((1, 8)))
    rules = {"*/kernel": jinit.he_uniform, "*/bias": jinit.zeros}
    jitted = jax.jit(lambda v, k: jinit.reinit(v, rules, k))(variables, jax.random.key(2))
    eager = jinit.reinit(variables, rules, jax.random.key(2))
    jax.tree.map(assert_bit_identical, jitted, eager)


# ----------------------------------------------------------------------------- nnx


class NnxNet(nnx.Module):
    def __init__(self, rngs: nnx.Rngs) -> None:
        self.conv = nnx.Conv(3, 16, (3, 3), rngs=rngs)
        self.attention = nnx.MultiHeadAttention(
            num_heads=4, in_features=16, qkv_features=32, decode=False, rngs=rngs
        )
        self.head = nnx.Linear(16, 10, rngs=rngs)


def test_nnx_module_returns_a_new_module_and_leaves_the_old_one() -> None:
    model = NnxNet(nnx.Rngs(0))
    before = np.asarray(model.head.kernel[...])
    new, report = jinit.reinit_with_report(
        model,
        {"*kernel": jinit.he_normal, "*bias": jinit.zeros},
        jax.random.key(1),
    )
    assert isinstance(new, NnxNet) and new is not model
    np.testing.assert_array_equal(np.asarray(model.head.kernel[...]), before)
    assert not np.array_equal(np.asarray(new.head.kernel[...]), before)
    assert "head/kernel" in report.touched["*kernel"]
    # nnx attention kernels get the attention fans: query (16, 4, 8) fan_in 16, out fan_in 32
    axes = jinit.layer_axes("attention/out/kernel", new.attention.out.kernel[...].shape)
    assert axes["in_axis"] == (0, 1)
    query = np.asarray(new.attention.query.kernel[...])
    assert query.shape == (16, 4, 8)
    np.testing.assert_allclose(query.var(), 2.0 / 16, rtol=0.35)  # n = 512: loose on purpose
    # the new module runs
    assert new.head(jnp.ones((2, 16))).shape == (2, 10)
