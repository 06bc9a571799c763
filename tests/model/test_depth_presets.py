"""Depth- and width-aware rule sets: GPT-2, Fixup, ReZero/SkipInit, μP.

The training test reproduces the point of Fixup and ReZero: a 24-block residual ReLU MLP with
plain He branches starts with a loss of ~1e4-1e5 and diverges (NaN) under SGD + momentum, while
the same network with Fixup or ReZero rules trains on digits. Margins from measurements (300
steps, 32 blocks: He NaN from an initial 8.8e4; Fixup 0.035; ReZero 0.002) are stated at each
assertion.
"""

from __future__ import annotations

import math

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jinit
from jinit._src.model.rulesets.depth import (
    fixup_rules,
    gpt2_rules,
    mup_learning_rates,
    mup_rules,
    rezero_rules,
)
from jinit._src.study.data import load_dataset
from tests.stats_util import assert_variance


class Residual(nn.Module):
    blocks: int
    width: int = 64
    gated: bool = False

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        h = nn.Dense(self.width, name="stem")(x)
        for i in range(self.blocks):
            branch = nn.Dense(self.width, name=f"block{i}_a")(nn.relu(h))
            branch = nn.Dense(self.width, name=f"block{i}_b")(nn.relu(branch))
            if self.gated:
                branch = branch * self.param(f"block{i}_alpha", nn.initializers.ones, ())
            h = h + branch
        return nn.Dense(10, name="head")(nn.relu(h))


def _train(model: nn.Module, params: object, steps: int = 200) -> tuple[float, float]:
    data = load_dataset("digits")
    x, y = jnp.asarray(data.x_train), jnp.asarray(data.y_train)
    tx = optax.sgd(0.01, momentum=0.9)

    def loss(p: object, xb: jax.Array, yb: jax.Array) -> jax.Array:
        logits = model.apply({"params": p}, xb)
        return optax.softmax_cross_entropy_with_integer_labels(logits, yb).mean()

    @jax.jit
    def run(params: object) -> tuple[jax.Array, jax.Array]:
        def step(carry, key):
            p, state = carry
            rows = jax.random.randint(key, (64,), 0, x.shape[0])
            grads = jax.grad(loss)(p, x[rows], y[rows])
            updates, state = tx.update(grads, state, p)
            return (optax.apply_updates(p, updates), state), None

        keys = jax.random.split(jax.random.key(1), steps)
        (final, _), _ = jax.lax.scan(step, (params, tx.init(params)), keys)
        return loss(params, x, y), loss(final, x, y)

    first, last = run(params)
    return float(first), float(last)


BLOCKS = 24


@pytest.fixture(scope="module")
def residual_variables() -> dict[str, object]:
    plain = Residual(BLOCKS).init(jax.random.key(0), jnp.ones((1, 64)))
    gated = Residual(BLOCKS, gated=True).init(jax.random.key(0), jnp.ones((1, 64)))
    return {"plain": plain, "gated": gated}


def test_plain_he_residual_branches_diverge(residual_variables) -> None:
    rules = {"*kernel": jinit.he_normal, "*bias": jinit.zeros}
    variables = jinit.reinit(residual_variables["plain"], rules, jax.random.key(2))
    first, last = _train(Residual(BLOCKS), variables["params"])
    assert first > 100.0  # measured 1e4-1e5: the residual stream's variance doubles per block
    assert not math.isfinite(last) or last > first  # measured: NaN


def test_fixup_trains_where_he_diverges(residual_variables) -> None:
    rules = fixup_rules(
        BLOCKS, 2, last="*_b/kernel", branch="*_a/kernel", classifier="*head/kernel"
    ) | {"*kernel": jinit.he_normal}
    variables = jinit.reinit(residual_variables["plain"], rules, jax.random.key(2))
    params = variables["params"]
    assert not np.asarray(params["block3_b"]["kernel"]).any()  # last layer of each branch: 0
    assert not np.asarray(params["head"]["kernel"]).any()
    # inner branch layers: He variance 2/64 scaled by L^(-1/(m-1)) = 1/24 (n = 4096, tol ~8 %)
    inner = np.concatenate([np.asarray(params[f"block{i}_a"]["kernel"]) for i in range(BLOCKS)])
    assert_variance(inner, 2.0 / 64 / BLOCKS, "normal")
    first, last = _train(Residual(BLOCKS), params)
    assert first == pytest.approx(math.log(10), abs=1e-3)  # zero classifier: uniform output
    assert last < 0.5  # measured 0.03-0.1; stays at ln 10 if the branches cannot learn


def test_rezero_trains_where_he_diverges(residual_variables) -> None:
    rules = rezero_rules("*alpha") | {"*kernel": jinit.he_normal, "*bias": jinit.zeros}
    variables = jinit.reinit(residual_variables["gated"], rules, jax.random.key(2))
    assert all(float(v) == 0.0 for k, v in variables["params"].items() if k.endswith("alpha"))
    first, last = _train(Residual(BLOCKS, gated=True), variables["params"])
    assert first < 10.0  # the network is stem + head at init: an ordinary 2-layer net
    assert last < 0.5  # measured 0.002-0.05


def test_gpt2_rules_scale_residual_projections() -> None:
    params = {
        "h_0": {
            "attn": {
                "c_attn": {"kernel": jnp.zeros((256, 768))},
                "c_proj": {"kernel": jnp.zeros((256, 256))},
            },
            "mlp": {"c_proj": {"kernel": jnp.zeros((1024, 256)), "bias": jnp.zeros(256)}},
        },
        "wte": {"embedding": jnp.zeros((500, 256))},
    }
    new = jinit.reinit(params, gpt2_rules(12), jax.random.key(0))
    assert_variance(np.asarray(new["h_0"]["attn"]["c_attn"]["kernel"]), 0.02**2, "normal")
    assert_variance(np.asarray(new["wte"]["embedding"]), 0.02**2, "normal")
    residual = np.concatenate(
        [
            np.asarray(new["h_0"]["attn"]["c_proj"]["kernel"]).ravel(),
            np.asarray(new["h_0"]["mlp"]["c_proj"]["kernel"]).ravel(),
        ]
    )
    assert_variance(residual, 0.02**2 / 24, "normal")  # 1/(2L), L = 12
    assert not np.asarray(new["h_0"]["mlp"]["c_proj"]["bias"]).any()


def test_mup_output_init_and_learning_rates() -> None:
    width, base = 512, 128
    params = {
        "embed": {"kernel": jnp.zeros((64, width))},
        "hidden": {"kernel": jnp.zeros((width, width)), "bias": jnp.zeros(width)},
        "readout": {"kernel": jnp.zeros((width, 10))},
    }
    rules = mup_rules(base_fan_in=base, input="embed/*", output="readout/*")
    new = jinit.reinit(params, rules, jax.random.key(0))
    assert_variance(np.asarray(new["hidden"]["kernel"]), 1.0 / width, "normal")
    assert_variance(np.asarray(new["embed"]["kernel"]), 1.0 / 64, "normal")
    # output: base / fan_in^2 = 128 / 512^2 (4x smaller than standard parametrization)
    assert_variance(np.asarray(new["readout"]["kernel"]), base / width**2, "normal")
    tx = mup_learning_rates(new, 1e-3, base_fan_in=base, input="embed/*", output="readout/*")
    grads = jax.tree.map(jnp.ones_like, new)
    updates, _ = tx.update(grads, tx.init(new), new)
    # Adam's first step moves each weight by its learning rate (gradient sign, eps aside)
    step = {k: float(jnp.abs(v["kernel"]).mean()) for k, v in updates.items()}
    assert step["embed"] == pytest.approx(1e-3, rel=1e-4)
    assert step["hidden"] == pytest.approx(1e-3 * base / width, rel=1e-4)
    assert step["readout"] == pytest.approx(1e-3 * base / width, rel=1e-4)
    assert float(jnp.abs(updates["hidden"]["bias"]).mean()) == pytest.approx(1e-3, rel=1e-4)


def test_errors() -> None:
    with pytest.raises(ValueError, match="n_layers must be an integer >= 1, got 0"):
        gpt2_rules(0)
    with pytest.raises(ValueError, match="branch_depth must be an integer >= 2, got 1"):
        fixup_rules(4, 1, last="*b", branch="*a")
    with pytest.raises(ValueError, match="std"):
        gpt2_rules(2, std=-1.0)
