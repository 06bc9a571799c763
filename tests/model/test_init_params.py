"""``init_params``: grouped, one-jit initialization equals ``reinit`` leaf by leaf, bit for bit."""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import jinit
from jinit._src.model.draw import _group_fn
from jinit._src.model.plan import Assignment, plan
from tests.cases import CASES, Case
from tests.conftest import assert_bit_identical


class MLP(nn.Module):
    depth: int
    width: int

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        for _ in range(self.depth):
            x = nn.relu(nn.Dense(self.width)(x))
        return nn.Dense(3)(x)


class ConvNet(nn.Module):
    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        x = nn.Conv(8, (3, 3))(x)
        x = nn.Conv(8, (3, 3))(x)
        x = nn.Conv(8, (3, 3), feature_group_count=2)(x)
        return nn.Dense(4)(x.reshape(x.shape[0], -1))


RULES = {"*kernel": jinit.he_normal, "*bias": jinit.torch_bias}


def _groups(assignments: list[Assignment]) -> list[list[Assignment]]:
    grouped: dict[tuple[object, ...], list[Assignment]] = {}
    for a in assignments:
        grouped.setdefault(a.group, []).append(a)
    return list(grouped.values())


def _assert_same_tree(a: object, b: object) -> None:
    assert jax.tree_util.tree_structure(a) == jax.tree_util.tree_structure(b)
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        assert_bit_identical(x, y)


@pytest.mark.parametrize(
    ("model", "x"),
    [(MLP(6, 16), jnp.ones((1, 5))), (ConvNet(), jnp.ones((1, 6, 6, 3)))],
    ids=["mlp", "conv"],
)
def test_equals_reinit_bit_for_bit(model: nn.Module, x: jax.Array) -> None:
    abstract = jax.eval_shape(model.init, jax.random.key(0), x)
    grouped = jinit.init_params(abstract, RULES, jax.random.key(7))
    assert all(isinstance(leaf, jax.Array) for leaf in jax.tree.leaves(grouped))
    _assert_same_tree(grouped, jinit.reinit(abstract, RULES, jax.random.key(7)))
    # ... and each leaf is its initializer at its own path key (the reinit contract)
    kernel = grouped["params"]["Dense_0" if isinstance(model, MLP) else "Conv_1"]["kernel"]
    path = "params/Dense_0/kernel" if isinstance(model, MLP) else "params/Conv_1/kernel"
    expected = jinit.he_normal(**jinit.layer_axes(path, kernel.shape))(
        jinit.path_key(jax.random.key(7), path), kernel.shape, kernel.dtype
    )
    assert_bit_identical(kernel, expected)


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_every_initializer_family_equals_reinit_bit_for_bit(case: Case) -> None:
    """init_params == reinit == the jitted initializer at the path key, for every family.

    Before, reinit called the initializer eagerly and init_params jitted it: for the untruncated
    normal family XLA reassociates ``sqrt(2) * erfinv(u) * std`` inside the jit, and 27-61 % of
    the elements differed by one ulp (normal(0.02), torch_kaiming_normal, gpt2_rules).
    """
    shape, dtype = case.shapes[0], jnp.float32
    tree = {name: {"w": jax.ShapeDtypeStruct(shape, dtype)} for name in ("a", "b")}
    rules = {"*w": case.make()}
    grouped = jinit.init_params(tree, rules, jax.random.key(11))
    _assert_same_tree(grouped, jinit.reinit(tree, rules, jax.random.key(11)))
    init = case.make()
    direct = jax.jit(lambda k: init(jinit.path_key(k, "b/w"), shape, dtype))(jax.random.key(11))
    assert_bit_identical(grouped["b"]["w"], direct)


def test_groups_follow_shapes_and_rules_not_layers() -> None:
    abstract = jax.eval_shape(MLP(20, 16).init, jax.random.key(0), jnp.ones((1, 5)))
    groups = _groups(plan(abstract, RULES).assignments)
    # kernels (5,16) (16,16)x19 (16,3); biases: fan_in 5 / 16 with shape (16,), fan_in 16 (3,)
    sizes = sorted(len(g) for g in groups)
    assert sizes == [1, 1, 1, 1, 19, 19], sizes
    assert len(jax.tree.leaves(abstract)) == 42


def test_one_compiled_draw_per_group_shared_across_depths() -> None:
    """XLA compiles once per (rule, arguments, shape, dtype), not once per layer."""
    _group_fn.cache_clear()
    x = jnp.ones((1, 5))
    deep = jinit.init_params(
        jax.eval_shape(MLP(20, 16).init, jax.random.key(0), x), RULES, jax.random.key(1)
    )
    groups = _group_fn.cache_info().currsize
    assert groups == 6, groups  # the six groups of test_groups_follow_shapes_and_rules_not_layers
    deeper = jinit.init_params(
        jax.eval_shape(MLP(30, 16).init, jax.random.key(0), x), RULES, jax.random.key(1)
    )
    info = _group_fn.cache_info()
    assert (info.currsize, info.misses) == (6, 6), info  # 30 layers reuse the same six draws
    compiled = [
        _group_fn(members[0].group, None)._cache_size()  # type: ignore[attr-defined]
        for members in _groups(plan(deep, RULES).assignments)
    ]
    assert compiled == [1] * 6, compiled  # one executable each, whatever the number of layers
    assert_bit_identical(deep["params"]["Dense_5"]["kernel"], deeper["params"]["Dense_5"]["kernel"])


def test_rbg_keys_equal_reinit_too() -> None:
    """Each parameter is its own unbatched draw, so even rbg keys match leaf by leaf."""
    abstract = jax.eval_shape(MLP(2, 8).init, jax.random.key(0), jnp.ones((1, 5)))
    key = jax.random.key(5, impl="rbg")
    _assert_same_tree(jinit.init_params(abstract, RULES, key), jinit.reinit(abstract, RULES, key))


def test_keys_are_stable_when_the_model_grows() -> None:
    small = jax.eval_shape(MLP(3, 16).init, jax.random.key(0), jnp.ones((1, 5)))
    large = jax.eval_shape(MLP(5, 16).init, jax.random.key(0), jnp.ones((1, 5)))
    a = jinit.init_params(small, RULES, jax.random.key(1))["params"]
    b = jinit.init_params(large, RULES, jax.random.key(1))["params"]
    for name in ("Dense_0", "Dense_1", "Dense_2"):  # Dense_3 is the read-out in `small`
        assert_bit_identical(a[name]["kernel"], b[name]["kernel"])


def test_nothing_is_left_abstract_and_strict_still_applies() -> None:
    abstract = jax.eval_shape(MLP(2, 8).init, jax.random.key(0), jnp.ones((1, 4)))
    # before: the biases came back as ShapeDtypeStructs and broke later inside apply
    with pytest.raises(
        ValueError,
        match=r"jinit\.init_params: 3 abstract parameter\(s\) .* matched no rule and would stay "
        r"abstract: \['params/Dense_0/bias', 'params/Dense_1/bias', 'params/Dense_2/bias'\]",
    ):
        jinit.init_params(abstract, {"*kernel": jinit.glorot_uniform()}, jax.random.key(0))
    concrete = MLP(2, 8).init(jax.random.key(0), jnp.ones((1, 4)))
    out = jinit.init_params(concrete, {"*kernel": jinit.glorot_uniform()}, jax.random.key(0))
    assert_bit_identical(out["params"]["Dense_0"]["bias"], concrete["params"]["Dense_0"]["bias"])
    with pytest.raises(ValueError, match=r"jinit.init_params: rule\(s\) \['\*embedding'\]"):
        jinit.init_params(
            concrete, {"*embedding": jinit.normal(1.0)}, jax.random.key(0)
        )
    with pytest.raises(TypeError, match=r"jinit\.init_params: rules must be a non-empty mapping"):
        jinit.init_params(abstract, {}, jax.random.key(0))


def test_stacked_layers_and_nnx_modules() -> None:
    params = {"blocks": {"kernel": jax.ShapeDtypeStruct((4, 32, 16), jnp.float32)}}
    rules = {"*kernel": jinit.he_normal}
    out = jinit.init_params(params, rules, jax.random.key(2), stacked=("blocks/*",))
    ref = jinit.reinit(params, rules, jax.random.key(2), stacked=("blocks/*",))
    _assert_same_tree(out, ref)
    assert not np.array_equal(out["blocks"]["kernel"][0], out["blocks"]["kernel"][1])

    model = nnx.Sequential(nnx.Linear(4, 8, rngs=nnx.Rngs(0)), nnx.Linear(8, 2, rngs=nnx.Rngs(1)))
    new = jinit.init_params(model, {"*kernel": jinit.orthogonal()}, jax.random.key(3))
    ref_model = jinit.reinit(model, {"*kernel": jinit.orthogonal()}, jax.random.key(3))
    assert isinstance(new, nnx.Sequential) and new is not model
    _assert_same_tree(nnx.state(new), nnx.state(ref_model))


# ----------------------------------------------------------------------------- ensembles


@pytest.mark.parametrize("batch_size", [None, 3], ids=["map", "chunks-of-3"])
def test_ensemble_copies_equal_one_init_per_split_key(batch_size: int | None) -> None:
    model, x = MLP(2, 8), jnp.ones((1, 5))
    stacked = jinit.ensemble_init(model.init, jax.random.key(4), 7, x, batch_size=batch_size)
    keys = jax.random.split(jax.random.key(4), 7)
    assert stacked["params"]["Dense_0"]["kernel"].shape == (7, 5, 8)
    for i in (0, 3, 6):  # 7 = 2 chunks of 3 + a remainder of 1 with batch_size=3
        one = model.init(keys[i], x)
        _assert_same_tree(jax.tree.map(lambda leaf, i=i: leaf[i], stacked), one)
    kernels = np.asarray(stacked["params"]["Dense_1"]["kernel"])
    assert not np.array_equal(kernels[0], kernels[1])


def test_ensemble_kwargs_and_bad_arguments() -> None:
    def init_fn(key: jax.Array, *, width: int) -> dict[str, jax.Array]:
        return {"w": jinit.he_normal()(key, (4, width))}

    out = jinit.ensemble_init(init_fn, jax.random.key(0), 2, width=3)
    assert out["w"].shape == (2, 4, 3)
    with pytest.raises(ValueError, match=r"jinit\.ensemble_init: n must be >= 1, got 0"):
        jinit.ensemble_init(init_fn, jax.random.key(0), 0, width=3)
    with pytest.raises(TypeError, match=r"jinit\.ensemble_init: batch_size must be an int"):
        jinit.ensemble_init(init_fn, jax.random.key(0), 2, batch_size=1.5, width=3)
    with pytest.raises(TypeError, match="init_fn must be callable"):
        jinit.ensemble_init("model", jax.random.key(0), 2)


def test_a_fresh_preset_compiles_nothing_again() -> None:
    """preset(name) hands out the same rule values each call, so the draws stay cached (a loop
    over seeds with a fresh preset each time took 75 s instead of 2 s before)."""
    abstract = jax.eval_shape(ConvNet().init, jax.random.key(0), jnp.ones((1, 6, 6, 3)))
    jinit.init_params(abstract, jinit.preset("torch"), jax.random.key(0))
    misses = _group_fn.cache_info().misses
    for seed in range(3):
        jinit.init_params(abstract, jinit.preset("torch"), jax.random.key(seed))
    assert _group_fn.cache_info().misses == misses
