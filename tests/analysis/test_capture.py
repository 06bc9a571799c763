"""``jinit._src.analysis.capture``: key paths, the module-output/sown split, and execution order.

The models are tiny and named so that alphabetical order disagrees with execution order
(``b`` runs before ``a``, ``z`` before ``a``, ``Dense_9`` before ``Dense_10``); the order tests
include layers computed inside one ``jax.jit``/``nn.remat`` call, where only the positions
inside the nested jaxpr tell them apart.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from jax.tree_util import DictKey, GetAttrKey, SequenceKey

from jinit._src.analysis.capture import (
    Captured,
    captured,
    execution_order,
    key_parts,
    module_outputs,
    output_type,
    outvar_positions,
    producer,
)
from jinit._src.analysis.diagnose.run import diagnose

X = jnp.arange(15.0).reshape(5, 3) / 10


class _Sowing(nn.Module):
    """``b`` runs before ``a``; the hidden activation is sown as ``h``."""

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        h = jnp.tanh(nn.Dense(4, name="b")(x))
        self.sow("intermediates", "h", h)
        return nn.Dense(2, name="a")(h)


class _Block(nn.Module):
    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        return nn.Dense(3, name="a")(jnp.tanh(nn.Dense(4, name="b")(x)))


class _Remat(nn.Module):
    """``block/b`` then ``block/a``, both inside one rematerialized call, then ``out``."""

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        return nn.Dense(2, name="out")(nn.remat(_Block)(name="block")(x))


class _NnxNet(nnx.Module):
    """``z`` runs before ``a``; the hidden activation is sown as ``hidden``."""

    def __init__(self, rngs: nnx.Rngs) -> None:
        self.z = nnx.Linear(3, 4, rngs=rngs)
        self.a = nnx.Linear(4, 2, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        h = jnp.tanh(self.z(x))
        self.sow(nnx.Intermediate, "hidden", h)
        return self.a(h)


def _dense(params: dict, x: jax.Array) -> jax.Array:
    return x @ params["kernel"] + params["bias"]


# ----------------------------------------------------------------------------- key paths


def test_key_parts_drops_only_the_nnx_value_attribute() -> None:
    path = (DictKey("layers"), SequenceKey(2), GetAttrKey("value"), GetAttrKey("w"), DictKey(7))
    assert key_parts(path) == ("layers", "2", "w", "7")
    assert key_parts(()) == ()


def test_key_parts_of_nnx_parameters_and_captured_outputs() -> None:
    model = _NnxNet(nnx.Rngs(0))
    state = nnx.state(model, nnx.Param)
    paths = [path for path, _ in jax.tree_util.tree_leaves_with_path(state)]
    assert GetAttrKey("value") in paths[0]  # nnx does put a .value in the key path
    assert [key_parts(p) for p in paths] == [
        ("a", "bias"),
        ("a", "kernel"),
        ("z", "bias"),
        ("z", "kernel"),
    ]
    _, inter = nnx.capture(model, nnx.Intermediate, method_outputs=nnx.Intermediate)(X)
    names = {key_parts(p) for p, _ in jax.tree_util.tree_leaves_with_path(inter)}
    assert names == {
        ("__call__", "0"),
        ("a", "__call__", "0"),
        ("z", "__call__", "0"),
        ("hidden", "0"),
    }


# ----------------------------------------------------------------------------- the split


def test_linen_split_into_module_outputs_and_sown_values() -> None:
    model = _Sowing()
    variables = model.init(jax.random.key(0), X)
    out, state = model.apply(variables, X, capture_intermediates=True, mutable=["intermediates"])
    found = captured(state["intermediates"])
    p = variables["params"]
    hidden = jnp.tanh(_dense(p["b"], X))
    assert [(c.kind, c.module, c.parts) for c in found] == [
        ("module", "", ("0",)),
        ("module", "a", ("0",)),
        ("module", "b", ("0",)),
        ("sown", "", ("h", "0")),
    ]
    values = {(c.kind, c.module): c.value for c in found}
    np.testing.assert_allclose(values["module", ""], out, rtol=1e-6)
    np.testing.assert_allclose(values["module", "a"], _dense(p["a"], hidden), rtol=1e-6)
    np.testing.assert_allclose(values["module", "b"], _dense(p["b"], X), rtol=1e-6)
    np.testing.assert_allclose(values["sown", ""], hidden, rtol=1e-6)
    # sown_only keeps the sown value alone; module_outputs keeps the module outputs alone
    assert [(c.kind, c.parts) for c in captured(state["intermediates"], sown_only=True)] == [
        ("sown", ("h", "0"))
    ]
    grouped = module_outputs(state["intermediates"])
    assert sorted(grouped) == ["", "a", "b"]
    assert [a.shape for a in grouped["b"]] == [(5, 4)]
    np.testing.assert_allclose(grouped["a"][0], out, rtol=1e-6)


def test_nnx_split_with_the_output_type() -> None:
    model = _NnxNet(nnx.Rngs(0))
    kind = output_type()
    assert kind is output_type()  # one class, so capture filters and caches agree
    assert issubclass(kind, nnx.Variable) and not issubclass(kind, nnx.Intermediate)
    out, sown, outputs = nnx.capture(model, nnx.Intermediate, kind, method_outputs=kind)(X)
    hidden = jnp.tanh(model.z(X))
    sown_found = captured(sown, sown_only=True)
    assert [(c.kind, c.module, c.parts) for c in sown_found] == [("sown", "", ("hidden", "0"))]
    np.testing.assert_allclose(sown_found[0].value, hidden, rtol=1e-6)
    module_found = captured(outputs)
    assert [(c.kind, c.module, c.parts) for c in module_found] == [
        ("module", "", ("0",)),
        ("module", "a", ("0",)),
        ("module", "z", ("0",)),
    ]
    np.testing.assert_allclose(module_found[1].value, out, rtol=1e-6)
    np.testing.assert_allclose(module_found[2].value, model.z(X), rtol=1e-6)
    # captured as plain nnx.Intermediate, the sown value sits in the same tree: left out
    _, both = nnx.capture(model, nnx.Intermediate, method_outputs=nnx.Intermediate)(X)
    grouped = module_outputs(both)
    assert sorted(grouped) == ["", "a", "z"]
    np.testing.assert_allclose(grouped["z"][0], model.z(X), rtol=1e-6)


def test_captured_is_a_named_tuple() -> None:
    entry = Captured("module", "Dense_0", ("0",), jnp.zeros(2))
    kind, module, parts, value = entry
    assert (kind, module, parts, value.shape) == ("module", "Dense_0", ("0",), (2,))


# ----------------------------------------------------------------------------- execution order


def test_positions_inside_a_jitted_call() -> None:
    def inner(v: jax.Array) -> dict[str, jax.Array]:
        first = v * 2.0  # inner equation 0
        second = jnp.sin(first)  # inner equation 1
        return {"a": second, "b": first}

    def f(x: jax.Array) -> tuple[dict[str, jax.Array], jax.Array, jax.Array, float]:
        y = jnp.cos(x)  # top-level equation 0
        return jax.jit(inner)(y), jnp.exp(y), x, 3.0  # equations 1 (pjit) and 2; x an input

    closed = jax.make_jaxpr(f)(1.0)
    # outputs flatten as a, b, exp, x, 3.0; a and b come out of the same top-level equation
    positions = outvar_positions(closed)
    assert positions == [(1, 1), (1, 0), (2,), (-1,), (-1,)]
    assert [producer(closed.jaxpr, v) for v in closed.jaxpr.outvars] == positions
    assert [p[0] for p in positions[:2]] == [1, 1]  # a flat equation index would tie them


def test_positions_inside_remat_and_nested_jit() -> None:
    def inner(u: jax.Array) -> tuple[jax.Array, jax.Array]:
        w = u + 1.0
        return w, jnp.tanh(w)

    @jax.checkpoint
    def block(v: jax.Array) -> tuple[jax.Array, jax.Array]:
        early, late = jax.jit(inner)(v * 3.0)
        return late, early

    closed = jax.make_jaxpr(block)(1.0)
    # block's equations: mul (0), pjit (1); inside the pjit: add (0), tanh (1)
    assert outvar_positions(closed) == [(0, 1, 1), (0, 1, 0)]


def test_execution_order_is_not_name_order() -> None:
    def chain(x: jax.Array) -> dict[str, jax.Array]:
        outputs = {}
        for i in range(12):
            x = jnp.sin(x) + i
            outputs[f"Dense_{i}"] = x
        return outputs

    expected = [f"Dense_{i}" for i in range(12)]
    assert sorted(expected) != expected  # Dense_10 sorts before Dense_2
    assert execution_order(chain, jnp.ones(3)) == expected


def test_execution_order_inside_jit_uses_the_nested_positions() -> None:
    def layers(x: jax.Array) -> dict[str, jax.Array]:
        b = jnp.tanh(x)
        c = jnp.cos(b)
        return {"a": jnp.sin(c), "b": b, "c": c}

    def model(x: jax.Array) -> dict[str, jax.Array]:
        return jax.jit(layers)(x)  # every output comes from one top-level equation

    closed = jax.make_jaxpr(model)(jnp.ones(3))
    assert len({p[0] for p in outvar_positions(closed)}) == 1
    assert execution_order(model, jnp.ones(3)) == ["b", "c", "a"]


def test_execution_order_of_a_pytree_value_is_its_earliest_array() -> None:
    def f(x: jax.Array) -> dict[str, tuple[jax.Array, jax.Array]]:
        early = jnp.sin(x)
        middle = jnp.cos(x)
        late = jnp.exp(x)
        return {"a": (late, middle), "b": (early, late)}

    assert execution_order(f, 1.0) == ["b", "a"]


def test_linen_outputs_ordered_inside_nn_remat() -> None:
    model = _Remat()
    variables = model.init(jax.random.key(0), X)

    def probe(params: dict, x: jax.Array) -> list[jax.Array]:
        _, state = model.apply(
            {"params": params}, x, capture_intermediates=True, mutable=["intermediates"]
        )
        return [c.value for c in captured(state["intermediates"])]

    _, state = model.apply(variables, X, capture_intermediates=True, mutable=["intermediates"])
    modules = [c.module for c in captured(state["intermediates"])]
    assert modules == ["", "block", "block/a", "block/b", "out"]  # flattening: by name
    positions = outvar_positions(jax.make_jaxpr(probe)(variables["params"], X))
    where = dict(zip(modules, positions, strict=True))
    assert where["block/a"][0] == where["block/b"][0]  # one remat equation computes both
    assert where["block/b"] < where["block/a"] < where["out"]
    order = [modules[i] for i in sorted(range(len(modules)), key=lambda i: positions[i])]
    assert order.index("block/b") < order.index("block/a") < order.index("out")


def test_diagnose_orders_layers_inside_nn_remat() -> None:
    model = _Remat()
    variables = model.init(jax.random.key(0), X)
    d = diagnose(model, variables, X)
    assert d.activation_source == "layers"
    assert [a.name for a in d.activations] == ["block/b", "block/a", "out"]
    assert [p.path for p in d.parameters] == [
        "block/b/bias",
        "block/b/kernel",
        "block/a/bias",
        "block/a/kernel",
        "out/bias",
        "out/kernel",
    ]
