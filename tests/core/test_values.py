"""Initializers and rule sets as values: repr, equality, hashing, pickling, configs, replace."""

from __future__ import annotations

import functools
import json
import pickle
import struct

import cloudpickle
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jinit
from jinit._src.core.values import Init
from jinit._src.initializers.catalogue import CATALOGUE
from jinit._src.initializers.registry import names
from tests.cases import CASES, Case
from tests.conftest import assert_bit_identical

KEY = jax.random.key(7)


def _shape(case: Case) -> tuple[int, ...]:
    return case.shapes[0]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_repr_rebuilds_an_equal_initializer_with_the_same_bits(case: Case) -> None:
    init = case.make()
    assert isinstance(init, Init)
    text = repr(init)
    assert text.startswith("jinit."), text
    again = eval(text, {"jinit": jinit})
    assert again == init and hash(again) == hash(init)
    assert_bit_identical(again(KEY, _shape(case)), init(KEY, _shape(case)))


@pytest.mark.parametrize("dumps", [pickle.dumps, cloudpickle.dumps], ids=["pickle", "cloudpickle"])
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_pickle_round_trip(case: Case, dumps: object) -> None:
    init = case.make()
    again = pickle.loads(dumps(init))  # type: ignore[operator]
    assert again == init
    assert_bit_identical(again(KEY, _shape(case)), init(KEY, _shape(case)))


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_config_round_trip_through_json(case: Case) -> None:
    init = case.make()
    config = json.loads(json.dumps(jinit.to_config(init)))
    assert jinit.from_config(config) == init
    assert jinit.get(config) == init


def test_repr_shows_only_non_default_arguments() -> None:
    assert repr(jinit.he_normal()) == "jinit.he_normal()"
    assert repr(jinit.he_normal(in_axis=-2)) == "jinit.he_normal()"
    assert repr(jinit.variance_scaling(2.0, "fan_in", "uniform")) == (
        "jinit.variance_scaling(2.0, 'fan_in', 'uniform')"
    )
    assert repr(jinit.normal(0.02)) == "jinit.normal(0.02)"
    assert repr(jinit.truncated_normal(0.02, lower=-3.0)) == (
        "jinit.truncated_normal(0.02, lower=-3.0)"
    )
    assert repr(jinit.normal(dtype=jnp.bfloat16)) == "jinit.normal(dtype='bfloat16')"
    transposed = jinit.he_uniform(in_axis=1, out_axis=0)
    assert repr(transposed) == "jinit.he_uniform(in_axis=1, out_axis=0)"
    assert repr(jinit.zeros) == "jinit.zeros" and repr(jinit.ones_init()) == "jinit.ones"


def test_equality_and_hash_by_factory_and_arguments() -> None:
    assert jinit.he_normal() == jinit.he_normal() == jinit.kaiming_normal()
    assert jinit.he_normal() != jinit.he_uniform()
    assert jinit.normal(0.02) != jinit.normal(0.03)
    assert jinit.normal(dtype=jnp.float32) == jinit.normal(dtype="float32")
    assert jinit.normal(np.float32(0.5)) == jinit.normal(0.5)
    axes = jinit.variance_scaling(1.0, "fan_in", "normal", in_axis=[0, 1], out_axis=2)
    assert axes == jinit.variance_scaling(1.0, "fan_in", "normal", in_axis=(0, 1), out_axis=2)
    assert jinit.constant(np.arange(3.0)) == jinit.constant([0.0, 1.0, 2.0])
    assert jinit.constant(np.arange(3.0)) != jinit.constant([0.0, 1.0, 5.0])
    assert len({jinit.he_normal(), jinit.he_normal(), jinit.glorot_normal()}) == 2
    assert jinit.zeros_init() == jinit.zeros and jinit.zeros != jinit.ones


def test_equal_initializers_hit_one_jit_cache_entry() -> None:
    compiled = jax.jit(lambda init, key: init(key, (8, 4)), static_argnums=0)
    first = compiled(jinit.normal(0.02), KEY)
    assert compiled._cache_size() == 1  # type: ignore[attr-defined]
    second = compiled(jinit.normal(0.02), KEY)  # a new, equal value: no recompilation
    assert compiled._cache_size() == 1  # type: ignore[attr-defined]
    assert_bit_identical(first, second)


def test_replace_calls_the_factory_again() -> None:
    init = jinit.normal(0.02)
    assert init.replace(stddev=0.1) == jinit.normal(0.1)
    assert jinit.variance_scaling(2.0, "fan_in", "uniform").replace(mode="fan_out") == (
        jinit.variance_scaling(2.0, "fan_out", "uniform")
    )
    with pytest.raises(ValueError, match=r"^jinit\.normal: stddev must be > 0"):
        init.replace(stddev=-1.0)
    with pytest.raises(TypeError, match=r"^jinit\.normal: replace got unknown argument\(s\) std;"):
        init.replace(std=0.1)


def test_unpickling_validates_again() -> None:
    # a pickle carries the call, so a tampered or stale one is checked when it is loaded
    payload = pickle.dumps(jinit.normal(0.02))
    assert payload.count(struct.pack(">d", 0.02)) == 1
    payload = payload.replace(struct.pack(">d", 0.02), struct.pack(">d", 0.0))
    with pytest.raises(ValueError, match=r"^jinit\.normal: stddev must be > 0, got 0\.0"):
        pickle.loads(payload)


def test_to_config_refuses_what_has_no_json_form() -> None:
    with pytest.raises(TypeError, match=r"^jinit\.to_config: expected an initializer made by"):
        jinit.to_config(jax.nn.initializers.he_normal())
    traced = []

    @jax.jit
    def build(value: jax.Array) -> jax.Array:
        traced.append(jinit.constant(value))
        return value

    build(jnp.ones(2))
    with pytest.raises(TypeError, match=r"^jinit\.to_config: argument value=.* has no JSON form"):
        jinit.to_config(traced[0])


def test_rich_and_treescope_render_the_repr() -> None:
    from rich.pretty import pretty_repr

    assert pretty_repr(jinit.he_normal()) == "jinit.he_normal()"
    assert pretty_repr([jinit.normal(0.02)]) == "[jinit.normal(0.02)]"
    treescope = pytest.importorskip("treescope")  # Flax's viewer, installed with Flax
    shown = treescope.render_to_text({"kernel": jinit.normal(0.02), "bias": jinit.zeros})
    assert shown == "{'kernel': jinit.normal(0.02), 'bias': jinit.zeros}"


# ----------------------------------------------------------------------------- rule sets

RULE_SETS = {
    "preset": lambda: jinit.preset("torch"),
    "torch_preset": jinit.torch_preset,
    "keras_preset": jinit.keras_preset,
    "gpt2_rules": lambda: jinit.gpt2_rules(12, residual=["*attn/out", "*mlp/out"]),
    "fixup_rules": lambda: jinit.fixup_rules(8, 2, last="*conv2/kernel", branch="*conv1/kernel"),
    "mup_rules": lambda: jinit.mup_rules(base_fan_in=64, input="*in/kernel", output="*out/kernel"),
    "rezero_rules": jinit.rezero_rules,
}


@pytest.mark.parametrize("make", RULE_SETS.values(), ids=RULE_SETS.keys())
def test_rule_sets_print_compare_and_pickle(make: functools.partial[object]) -> None:
    rules = make()
    text = repr(rules)
    assert text.startswith("jinit.") and "object at" not in text, text
    assert eval(text, {"jinit": jinit}) == rules
    assert make() == rules
    for dumps in (pickle.dumps, cloudpickle.dumps):
        again = pickle.loads(dumps(rules))
        assert again == rules and list(again) == list(rules)
        assert again.optional == rules.optional


def test_rule_sets_with_different_arguments_differ() -> None:
    assert jinit.gpt2_rules(12) != jinit.gpt2_rules(24)
    assert jinit.preset("torch") != jinit.preset("keras")
    extended = jinit.preset("torch") | {"*gate": jinit.zeros}
    assert extended != jinit.preset("torch")
    assert pickle.loads(pickle.dumps(extended)) == extended  # by its rules: no call to repeat


def test_rule_set_drawn_identically_after_pickling() -> None:
    params = {"Dense_0": {"kernel": jnp.zeros((16, 8)), "bias": jnp.zeros(8)}}
    rules = jinit.preset("torch")
    again = pickle.loads(pickle.dumps(rules))
    first = jinit.reinit(params, rules, KEY)
    second = jinit.reinit(params, again, KEY)
    jax.tree.map(assert_bit_identical, first, second)


# ----------------------------------------------------------------------------- the registry


def test_every_registry_name_has_a_contract_case() -> None:
    covered = {case.registry_name for case in CASES}
    factories = {name.removesuffix("()") for e in CATALOGUE for name in (e.name, *e.aliases)}
    missing = factories - covered
    # aliases share their canonical name's object; one case per object is enough
    objects = {id(jinit.get(name) if name in ("zeros", "ones") else getattr(jinit, name))
               for name in covered}
    missing = {name for name in missing if id(getattr(jinit, name)) not in objects}
    assert not missing, f"registry names without a case in tests/cases.py: {sorted(missing)}"


def test_get_forms() -> None:
    assert jinit.get("he_normal") == jinit.he_normal()
    assert jinit.get("kaiming_normal") == jinit.he_normal()
    assert jinit.get("normal:0.02") == jinit.normal(0.02)
    assert jinit.get("uniform:0.5") == jinit.uniform(0.5)  # U[0, 0.5), as jinit.uniform
    assert jinit.get("symmetric_uniform:0.5") == jinit.random_uniform(-0.5, 0.5)
    assert jinit.get("variance_scaling:2,fan_in,uniform") == (
        jinit.variance_scaling(2, "fan_in", "uniform")
    )
    assert jinit.get("torch_linear_default") == jinit.torch_kaiming_uniform(a=5**0.5)
    assert jinit.get("zeros") is jinit.zeros
    init = jinit.orthogonal(2.0)
    assert jinit.get(init) is init
    assert set(names()) >= {"he_normal", "xavier_uniform", "eye", "zeros_init"}


def test_get_errors() -> None:
    with pytest.raises(ValueError, match=r"^jinit\.get: unknown initializer 'he_normall'; .*"
                       r"Did you mean 'he_normal'\?"):
        jinit.get("he_normall")
    with pytest.raises(ValueError, match=r"^jinit\.normal: stddev must be > 0, got -1\.0"):
        jinit.get("normal:-1")
    with pytest.raises(ValueError, match=r"^jinit\.get: zeros takes no arguments"):
        jinit.get("zeros:1")
    with pytest.raises(TypeError, match=r"^jinit\.get: spec must be a name"):
        jinit.get(3)
    with pytest.raises(TypeError, match=r"^jinit\.from_config: config must be a dict with a "):
        jinit.from_config({"args": {}})
    with pytest.raises(ValueError, match=r"^jinit\.from_config: config has unknown keys"):
        jinit.from_config({"name": "normal", "args": {}, "extra": 1})
    with pytest.raises(TypeError, match=r"^jinit\.normal: got an unexpected keyword argument"):
        jinit.from_config({"name": "normal", "args": {"std": 0.1}})
