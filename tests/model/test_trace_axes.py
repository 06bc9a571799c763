"""``jinit.trace_axes``: each parameter's role and axes, read from the program that uses it.

Hand-written programs check one rule each (layout ops, nested programs, consumers); Flax's own
layers check that the trace agrees with the name-based layouts where those are certain.
"""

from __future__ import annotations

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import jinit
from jinit._src.model.layouts import infer_layout

X = jnp.ones((4, 8))


def _roles(fn, params, *data) -> dict[str, tuple[str, object, object, object]]:
    traced = jinit.trace_axes(fn, params, *data)
    return {
        path: (p.role, p.in_axis, p.out_axis, p.batch_axis) for path, p in traced.items()
    }


# ----------------------------------------------------------------------------- consumers


def test_dense_with_pytorch_layout_and_its_bias() -> None:
    params = {"w": jnp.zeros((16, 8)), "b": jnp.zeros(16)}
    traced = jinit.trace_axes(lambda p, x: x @ p["w"].T + p["b"], params, X)
    assert traced["w"].axes == {"in_axis": 1, "out_axis": 0, "batch_axis": ()}
    assert (traced["b"].role, traced["b"].kernels) == ("bias", ("w",))
    assert traced["w"].fans == jinit.compute_fans((16, 8), in_axis=1, out_axis=0)


@pytest.mark.parametrize(
    ("equation", "shape", "expected"),
    [
        ("BD,DF->BF", (8, 5), ("dense", 0, 1, ())),
        ("BD,FD->BF", (5, 8), ("dense", 1, 0, ())),
        ("BTD,NDH->BTNH", (3, 8, 6), ("dense", 1, (0, 2), ())),  # Gemma's q_einsum
        ("BTNH,NHD->BTD", (3, 2, 5), ("dense", (0, 1), 2, ())),  # attn_vec_einsum
    ],
)
def test_einsum_contracting_axes_are_fan_in(equation, shape, expected) -> None:
    data = jnp.ones((4, 8)) if equation.startswith("BD") else jnp.ones((4, 7, 8))
    if equation.startswith("BTNH"):
        data = jnp.ones((4, 7, 3, 2))
    roles = _roles(lambda w, x: jnp.einsum(equation, x, w), jnp.zeros(shape), data)
    assert roles[""] == expected


def test_convolutions_grouped_and_depthwise() -> None:
    x = jnp.ones((1, 9, 9, 8))

    def conv(kernel, x, groups):
        return jax.lax.conv_general_dilated(
            x, kernel, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"),
            feature_group_count=groups,
        )

    for groups, kernel in ((1, (3, 3, 8, 16)), (4, (3, 3, 2, 16)), (8, (3, 3, 1, 8))):
        traced = jinit.trace_axes(lambda k, x, g=groups: conv(k, x, g), jnp.zeros(kernel), x)
        p = traced[""]
        assert (p.role, p.in_axis, p.out_axis, p.groups) == ("conv", 2, 3, groups)
        assert p.fans.fan_in == 9 * kernel[2]  # the window times the inputs of one group


def test_embedding_lookup_and_tied_read_out_agree() -> None:
    table = jnp.zeros((100, 16))
    tokens = jnp.zeros((2, 5), jnp.int32)

    def tied(table, tokens):
        h = table[tokens]  # a lookup: gather of many rows
        return h @ table.T  # the read-out contracts the features

    for fn in (lambda t, i: t[i], lambda t, i: jnp.take(t, i, axis=0), tied):
        p = jinit.trace_axes(fn, table, tokens)[""]
        assert (p.role, p.in_axis, p.out_axis) == ("embedding", 1, 0)
        assert p.fans.fan_in == 16  # Flax's Embed: variance 1/features


def test_scale_other_unused_and_ambiguous() -> None:
    params = {
        "scale": jnp.ones(8),
        "log_std": jnp.zeros(8),
        "unused": jnp.zeros(3),
        "both": jnp.zeros((8, 8)),
    }

    def fn(p, x):
        y = x * p["scale"] + jnp.exp(p["log_std"])
        return y @ p["both"] + p["both"].sum(0)  # a kernel, and also added: ambiguous

    traced = jinit.trace_axes(fn, params, X)
    assert traced["scale"].role == "scale"
    assert traced["log_std"].role == "other" and "exp" in traced["log_std"].reason
    assert traced["unused"].role == "unused"
    assert traced["both"].role == "ambiguous" and "dense" in traced["both"].reason
    assert {p.path for p in traced.unclassified} == {"unused", "both"}


def test_products_of_parameters_are_not_weights() -> None:
    """LoRA's A @ B and weight normalization: no single parameter has a layer's fans."""
    lora = {"a": jnp.zeros((8, 2)), "b": jnp.zeros((2, 16)), "w": jnp.zeros((8, 16))}
    traced = jinit.trace_axes(lambda p, x: x @ (p["w"] + p["a"] @ p["b"]), lora, X)
    assert traced["w"].role == "dense"  # w + (a @ b) is still w's layout
    assert traced["a"].role == traced["b"].role == "other"
    norm = {"v": jnp.zeros((8, 16)), "g": jnp.ones(16)}
    traced = jinit.trace_axes(
        lambda p, x: x @ (p["g"] * p["v"] / jnp.linalg.norm(p["v"], axis=0)), norm, X
    )
    assert traced["v"].role == "ambiguous"  # a kernel, and the input of its own norm
    assert traced["g"].role == "ambiguous"
    assert "none of its axes is contracted" in traced["g"].reason


# ----------------------------------------------------------------------------- layouts


def test_fused_weights_indexed_on_the_stack_axis_are_batch() -> None:
    gating = jnp.zeros((2, 8, 32))
    p = jinit.trace_axes(lambda w, x: jax.nn.gelu(x @ w[0]) * (x @ w[1]), gating, X)[""]
    assert (p.role, p.in_axis, p.out_axis, p.batch_axis) == ("dense", 1, 2, (0,))
    assert p.fans.fan_in == 8


def test_an_output_axis_the_model_takes_apart_is_a_stack() -> None:
    """Gemma's kv_einsum: 'BSD,CKDH->CBSKH', then kv[0] (keys) and kv[1] (values)."""
    kv = jnp.zeros((2, 3, 8, 5))

    def attention(w, x):
        both = jnp.einsum("BSD,CKDH->CBSKH", x, w)
        keys, values = both[0], both[1]
        return jnp.einsum("BSKH,BTKH->BKST", keys, values)

    p = jinit.trace_axes(attention, kv, jnp.ones((2, 7, 8)))[""]
    assert (p.in_axis, p.out_axis, p.batch_axis) == (2, (1, 3), (0,))
    assert p.fans.fan_out == 15  # one projection's kv_heads x head_dim, not both
    # used whole (merged into one feature axis), the same axis holds output units
    whole = jinit.trace_axes(
        lambda w, x: jnp.einsum("BSD,CKDH->BSCKH", x, w).reshape(2, 7, 30), kv,
        jnp.ones((2, 7, 8)),
    )[""]
    assert whole.out_axis == (0, 1, 3) and whole.fans.fan_out == 30


def test_a_part_of_a_fan_axis_is_refused() -> None:
    fused = jnp.zeros((8, 48))  # q, k, v side by side, sliced before the contraction
    p = jinit.trace_axes(lambda w, x: (x @ w[:, :16], x @ w[:, 16:]), fused, X)[""]
    assert p.role == "ambiguous" and "sliced to a part of its length" in p.reason


def test_reshape_transpose_and_dtype_conversion_are_followed() -> None:
    w = jnp.zeros((8, 4, 6))  # DenseGeneral-style (in, heads, dim), flattened before use

    def fn(w, x):
        flat = w.astype(jnp.bfloat16).reshape(8, 24).T  # (24, 8)
        return x.astype(jnp.bfloat16) @ flat.T

    assert _roles(fn, w, X)[""] == ("dense", 0, (1, 2), ())


def test_stack_axes_of_scan_vmap_and_python_loops_are_batch() -> None:
    stack = jnp.zeros((5, 8, 8))

    def scanned(w, x):
        return jax.lax.scan(lambda h, layer: (jnp.tanh(h @ layer), None), x, w)[0]

    def looped(w, x):
        for i in range(w.shape[0]):
            x = jnp.tanh(x @ w[i])
        return x

    def vmapped(w, x):  # an ensemble: the input shared, the outputs then used apart
        return jax.vmap(lambda layer, h: h @ layer)(w, jax.vmap(lambda layer: x @ layer)(w))

    def fori(w, x):
        return jax.lax.fori_loop(0, 5, lambda i, h: jnp.tanh(h @ w[i]), x)

    for fn in (scanned, looped, vmapped, fori):
        assert _roles(fn, stack, X)[""] == ("dense", 1, 2, (0,)), fn.__name__


def test_nested_programs_jit_remat_custom_rules_cond() -> None:
    @jax.custom_vjp
    def dense(w, x):
        return x @ w

    dense.defvjp(lambda w, x: (x @ w, (w, x)), lambda res, g: (res[1].T @ g, g @ res[0].T))

    @jax.custom_jvp
    def dense_jvp(w, x):
        return x @ w

    dense_jvp.defjvp(lambda primals, tangents: (dense_jvp(*primals), tangents[1] @ primals[0]))

    wrappers = {
        "jit": jax.jit(lambda w, x: x @ w),
        "remat": jax.checkpoint(lambda w, x: x @ w),
        "custom_vjp": dense,
        "custom_jvp": dense_jvp,
        "cond": lambda w, x: jax.lax.cond(x.sum() > 0, lambda: x @ w, lambda: -(x @ w)),
        "while": lambda w, x: jax.lax.while_loop(
            lambda c: c[0] < 3, lambda c: (c[0] + 1, jnp.tanh(c[1] @ w)), (0, x)
        )[1],
    }
    for name, fn in wrappers.items():
        assert _roles(fn, jnp.zeros((8, 8)), X)[""] == ("dense", 0, 1, ()), name


def test_recurrent_kernels_applied_to_a_carry_that_starts_at_zero() -> None:
    """An RNN's carry starts as zeros (data-free): the kernel must still be read as dense."""
    cell = nn.RNN(nn.GRUCell(12))
    x = jnp.ones((2, 5, 8))
    variables = jax.eval_shape(cell.init, jax.random.key(0), x)
    traced = jinit.trace_axes(cell, variables, x)
    assert not traced.unclassified
    assert traced["params/cell/hn/kernel"].axes == {"in_axis": 0, "out_axis": 1, "batch_axis": ()}


# ----------------------------------------------------------------------------- models


class FlaxZoo(nn.Module):
    @nn.compact
    def __call__(self, x: jax.Array, tokens: jax.Array) -> jax.Array:
        h = nn.Conv(32, (3, 3), feature_group_count=4)(x)
        h = nn.Conv(32, (3, 3), feature_group_count=32)(h)  # depthwise
        h = nn.ConvTranspose(16, (4, 4))(h)
        seq = h.reshape(h.shape[0], -1, 16)
        seq = nn.MultiHeadDotProductAttention(num_heads=4, qkv_features=64)(seq)
        seq = nn.DenseGeneral((4, 8))(seq)
        seq = nn.DenseGeneral(8, axis=(-2, -1))(seq)
        emb = nn.Embed(500, 32)(tokens)
        carry = nn.RNN(nn.OptimizedLSTMCell(24))(jnp.concatenate([seq] * 4, -1))
        g = nn.RNN(nn.GRUCell(12))(carry)
        out = nn.remat(nn.Dense)(5)(nn.LayerNorm()(g))
        return jnp.sum(out) + jnp.sum(emb)


def test_the_trace_agrees_with_names_on_every_flax_layer() -> None:
    x, tokens = jnp.ones((1, 8, 8, 16)), jnp.zeros((1, 3), jnp.int32)
    variables = jax.eval_shape(FlaxZoo().init, jax.random.key(0), x, tokens)
    traced = jinit.trace_axes(FlaxZoo(), variables, x, tokens)
    assert not traced.unclassified
    shapes = {path: p.shape for path, p in traced.items()}
    roles = set()
    for path, p in traced.items():
        prefix = path.rsplit("/", 1)[0]
        siblings = {
            q.rsplit("/", 1)[1]: s for q, s in shapes.items()
            if q.rsplit("/", 1)[0] == prefix and q != path
        }
        named = infer_layout(path, p.shape, siblings=siblings)
        assert (p.role, p.fans) == (named.role, named.fans), (path, p, named)
        roles.add(p.role)
    assert roles == {"dense", "conv", "embedding", "bias", "scale"}


def test_linen_nnx_equinox_and_pure_functions() -> None:
    pytest.importorskip("equinox")
    import equinox as eqx

    dense = nn.Dense(3)
    variables = dense.init(jax.random.key(0), X)
    for fn in (dense, dense.apply, functools.partial(dense.apply)):
        assert _roles(fn, variables, X)["params/kernel"] == ("dense", 0, 1, ())

    model = nnx.Sequential(nnx.Linear(8, 4, rngs=nnx.Rngs(0)), nnx.Linear(4, 2, rngs=nnx.Rngs(1)))
    roles = _roles(lambda m, x: m(x), model, X)
    assert roles["layers/1/kernel"] == ("dense", 0, 1, ())
    assert jinit.trace_axes(lambda m, x: m(x), model, X)["layers/0/bias"].kernels == (
        "layers/0/kernel",
    )

    linear = eqx.nn.Linear(8, 4, key=jax.random.key(0))
    assert _roles(lambda m, x: m(x), linear, jnp.ones(8))["weight"] == ("dense", 1, 0, ())
    # only shapes count: ShapeDtypeStructs are traced like arrays
    abstract = jax.ShapeDtypeStruct((8, 4), jnp.float32)
    data = jax.ShapeDtypeStruct((2, 8), jnp.float32)
    assert _roles(lambda w, x: x @ w, abstract, data)[""][0] == "dense"


def test_the_table_and_errors() -> None:
    traced = jinit.trace_axes(lambda p, x: x @ p["w"] + p["b"],
                              {"w": jnp.zeros((8, 4)), "b": jnp.zeros(4)}, X)
    table = str(traced).splitlines()
    assert table[0].split() == ["path", "shape", "role", "in", "out", "batch", "fan_in",
                                "fan_out", "note"]
    assert table[2].split()[:7] == ["w", "(8,", "4)", "dense", "0", "1", "8"]
    assert "added to w" in table[1]
    assert repr(traced) == "TracedAxes(2 parameters: 1 bias, 1 dense)"
    with pytest.raises(TypeError, match=r"jinit\.trace_axes: fn must be callable"):
        jinit.trace_axes(3, {}, X)
    with pytest.raises(TypeError) as raised:
        jinit.trace_axes(lambda p, x: p["w"] @ x, {"w": jnp.zeros((3, 5))}, X)
    assert "jinit.trace_axes: raised while tracing" in "".join(raised.value.__notes__)


def test_reinit_with_traced_axes_refuses_factories_on_biases_and_stale_axes() -> None:
    params = {"w": jnp.zeros((16, 8)), "b": jnp.zeros(16)}
    traced = jinit.trace_axes(lambda p, x: x @ p["w"].T + p["b"], params, X)
    new = jinit.reinit(params, {"w": jinit.he_normal, "b": jinit.torch_bias}, jax.random.key(0),
                       axes=traced)
    assert np.abs(np.asarray(new["b"])).max() <= 1 / np.sqrt(8)  # the bias gets w's fan_in
    with pytest.raises(ValueError, match=r"gives 'b' \(shape \(16,\)\) to the factory he_normal, "
                       r"which needs a weight's fans, but the parameter is a bias \(added to the "
                       r"output of w\)"):
        jinit.reinit(params, {"*": jinit.he_normal}, jax.random.key(0), axes=traced)
    with pytest.raises(ValueError, match=r"axes has entries for 2 path\(s\) the tree does not "
                       r"have \(\['b', 'w'\]\); were the axes traced from another model"):
        jinit.reinit({"v": jnp.zeros((16, 8))}, {"*": jinit.he_normal}, jax.random.key(0),
                     axes=traced)
    with pytest.raises(ValueError, match=r"axes\['w'\] is for shape \(16, 8\), but the "
                       r"parameter has shape \(8, 8\)"):
        jinit.reinit({"w": jnp.zeros((8, 8)), "b": jnp.zeros(16)}, {"w": jinit.he_normal},
                     jax.random.key(0), axes=traced)
    hand = jinit.reinit(params, {"w": jinit.he_normal}, jax.random.key(0),
                        axes={"w": {"in_axis": 1, "out_axis": 0}})
    np.testing.assert_array_equal(np.asarray(hand["w"]), np.asarray(new["w"]))


def test_by_role_picks_by_the_traced_role() -> None:
    params = {"w": jnp.zeros((16, 8)), "b": jnp.zeros(16), "s": jnp.zeros(16)}
    traced = jinit.trace_axes(lambda p, x: (x @ p["w"].T + p["b"]) * p["s"], params, X)
    rule = jinit.by_role(dense=jinit.he_normal, bias=jinit.zeros, scale=jinit.ones)
    new = jinit.reinit(params, {"*": rule}, jax.random.key(0), axes=traced)
    assert float(new["s"].min()) == 1.0 and not np.asarray(new["b"]).any()
    assert float(np.var(np.asarray(new["w"]))) == pytest.approx(2 / 8, rel=0.35)
    with pytest.raises(ValueError, match=r"has no entry for 's', whose role is 'scale'"):
        jinit.reinit(params, {"*": jinit.by_role(dense=jinit.he_normal, bias=jinit.zeros)},
                     jax.random.key(0), axes=traced)
    with pytest.raises(TypeError, match=r"jinit\.by_role: unknown role 'weight'"):
        jinit.by_role(weight=jinit.zeros)
