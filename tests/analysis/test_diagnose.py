"""``jinit.diagnose`` and ``jinit diagnose``: figures, verdicts, model kinds, outputs, errors.

The deep nets are the study's 30-layer MLPs of width 128 on 256 digits (fixed keys, jax 0.10.2,
2-core x86 CPU). Each assertion states the measured value; the verdict thresholds are 1e-3 and
1e3 (see ``jinit/_src/diagnosis.py``), and the measured ratios sit decades away from them, so
the margins below are wide on purpose. One apply module serves every initializer of an
activation, so each depth-30 measurement compiles once.

The transformer is a small pre-norm GPT (vocab 2000, next-token labels on 8 random sequences of
16 tokens) at width 64 (2 blocks) and at width 1024 (1 block, the scale of the user's report
that a final LayerNorm hid an explosion inside): with every weight N(0, 1) the loss starts far
above chance ln 2000 = 7.6 and, at width 1024, the MLP output peaks 1.43e3 × the embedding's
std; with GPT-2's initialization nothing is flagged.
"""

from __future__ import annotations

import functools
import io
import itertools
import json
import math
from pathlib import Path
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx
from rich.console import Console

import jinit
from jinit._src.analysis.diagnose.flags import ActivationStats, flags_for
from jinit._src.analysis.diagnose.result import Diagnosis
from jinit._src.analysis.diagnose.run import diagnose
from jinit._src.analysis.jacobian.run import jacobian_spectrum as jinit_spectrum
from jinit._src.cli.main import main
from jinit._src.core.gain import ACTIVATIONS
from jinit._src.study.data import DATASETS, load_dataset
from jinit._src.study.inits import INITIALIZERS, resolve_init
from jinit._src.study.models import MODELS, ModelSpec
from jinit._src.study.optimizers import OPTIMIZERS

DEPTH, WIDTH, BATCH = 30, 128, 256


@functools.cache
def _digits() -> tuple[np.ndarray, np.ndarray]:
    data = load_dataset("digits")
    return data.x_train[:BATCH], data.y_train[:BATCH]


@functools.cache
def _apply_module(activation: str) -> nn.Module:
    return ModelSpec("mlp", DEPTH, WIDTH, activation).build(resolve_init("zeros"), 10, None)


def _kernel(rng: np.random.Generator, init: str, fan_in: int, fan_out: int) -> np.ndarray:
    """NumPy draws from the initializer's distribution (JAX's samplers take seconds to compile
    per shape on a 2-core CPU; jinit's own samplers are tested in test_statistics.py)."""
    shape = (fan_in, fan_out)
    if init == "he_normal":  # variance 2 / fan_in
        return rng.normal(0.0, math.sqrt(2.0 / fan_in), shape)
    if init == "glorot_uniform":  # variance 2 / (fan_in + fan_out)
        limit = math.sqrt(6.0 / (fan_in + fan_out))
        return rng.uniform(-limit, limit, shape)
    return rng.normal(0.0, float(init.removeprefix("normal:")), shape)  # normal:SCALE


@functools.cache
def deep(activation: str, init: str) -> Diagnosis:
    x, y = _digits()
    rng = np.random.default_rng(0)
    widths = [x.shape[1], *([WIDTH] * DEPTH), 10]
    params = {
        f"Dense_{i}": {
            "kernel": _kernel(rng, init, fan_in, fan_out).astype(np.float32),
            "bias": np.zeros(fan_out, np.float32),
        }
        for i, (fan_in, fan_out) in enumerate(itertools.pairwise(widths))
    }
    return diagnose(_apply_module(activation), {"params": params}, x, labels=y)


def _flag(d: Diagnosis, quantity: str) -> Any:
    return next(f for f in d.flags if f.quantity == quantity)


def _kinds(d: Diagnosis) -> set[tuple[str, str]]:
    return {(f.kind, f.quantity) for f in d.flags}


# ----------------------------------------------------------------------------- the deep nets


def test_tanh_with_small_normal_weights_vanishes() -> None:
    d = deep("tanh", "normal:0.01")
    assert d.activation_source == "sown" and len(d.activations) == DEPTH
    assert _kinds(d) == {("vanishing", "activation std"), ("vanishing", "gradient norm (bias)")}
    acts = _flag(d, "activation std")
    # measured 5.4e-28 at ×0.115 per layer (theory 0.01·√128 = 0.113); 12 seeds: 3e-28..5.4e-28
    assert acts.ratio < 1e-20
    assert acts.factor == pytest.approx(0.01 * math.sqrt(WIDTH), rel=0.1)
    assert _flag(d, "gradient norm (bias)").ratio < 1e-20  # measured 2.0e-29
    # kernel gradients cancel (forward shrink × backward growth): first/last measured 0.72,
    # 12 seeds 0.58..1.3 -- why the bias gradients and the activations are judged too
    kernels = [p.grad_norm for p in d.parameters if p.path.endswith("kernel")]
    assert 0.1 < kernels[0] / kernels[-1] < 10


def test_tanh_with_unit_normal_weights_explodes_gradients() -> None:
    d = deep("tanh", "normal:1")
    assert _kinds(d) == {
        ("exploding", "gradient norm (kernel)"),
        ("exploding", "gradient norm (bias)"),
        ("loss_above_chance", "loss"),
    }
    # a N(0, 1) head on ±1 features: logits of std √128 = 11, loss measured 16.4 = 7.1·ln 10
    assert _flag(d, "loss").ratio > 4
    # saturated tanh: activation std ratio 1.02 (12 seeds 1.02..1.03); the backward gain is
    # ×2.45 per layer (12 seeds 2.43..2.53): kernel ratio 3.7e11 (12 seeds 2.3e11..9.2e11)
    assert 0.5 < d.activations[-1].std / d.activations[0].std < 2
    assert _flag(d, "gradient norm (kernel)").ratio > 1e9
    assert _flag(d, "gradient norm (kernel)").factor == pytest.approx(2.45, rel=0.15)
    assert d.flagged("exploding", "gradient norm") and not d.ok


def test_relu_with_glorot_vanishes_by_a_factor_sqrt2_per_layer() -> None:
    d = deep("relu", "glorot_uniform")
    assert d.flagged("vanishing", "activation std") or d.flagged("shrinking", "activation std")
    acts = _flag(d, "activation std")
    # ReLU halves the variance Glorot keeps: ×0.707 per layer (12 seeds 0.69..0.73), ratio
    # 4.1e-5 (12 seeds 1.8e-5..9.2e-5), a decade below the limit of 1e-3
    assert acts.ratio < 1e-3
    assert acts.factor == pytest.approx(1 / math.sqrt(2), rel=0.05)


def test_relu_with_he_raises_no_flag() -> None:
    d = deep("relu", "he_normal")
    assert d.ok, d.verdict()
    assert d.verdict() == "no flags"
    # measured: activation std ratio 1.06, gradient ratios 0.15 (kernel) and 0.35 (bias);
    # 12 seeds: 0.45..2.9, 0.074..0.60 and 0.29..0.80. The kernel ratio can pass 1/10, but the
    # end layers make it, not a trend (R² < 0.9), so it is no flag
    ratio = d.activations[-1].std / d.activations[0].std
    assert 0.2 < ratio < 5


# E[s²] of the input-output Jacobian (64 inputs, 10 classes, 4 examples, exact) is the product of
# the tangent gains, fan_out·Var(w)·E[φ'²] per layer, times 64/10: He on ReLU 2·1^29·(20/128)·6.4
# = 2.0 (measured 2.005, spread 4.42), Glorot on ReLU 0.67·0.5^29·0.145·6.4 = 1.2e-9 (measured
# 1.9e-9); tanh with N(0, 0.01²) loses 0.0128 per layer (measured 1.3e-59), tanh with N(0, 1)
# gains (measured 1.4e26). The bounds sit decades from the neighbouring cases.
@pytest.mark.parametrize(
    ("activation", "init", "low", "high"),
    [
        ("relu", "he_normal", 1.0, 4.0),
        ("relu", "glorot_uniform", 1e-12, 1e-6),
        ("tanh", "normal:0.01", 1e-70, 1e-40),
        ("tanh", "normal:1", 1e20, 1e32),
    ],
)
def test_input_jacobian_of_the_deep_nets(
    activation: str, init: str, low: float, high: float
) -> None:
    d = deep(activation, init)
    j = d.jacobian
    assert j is not None and d.jacobian_note == ""
    assert (j.method, j.shape, j.examples) == ("exact", (10, 64), 4)
    assert low < j.mean < high
    assert j.spread > 0 and j.max is not None and j.min is not None and j.min <= j.max


def test_update_to_weight_ratios_of_one_sgd_step() -> None:
    d = deep("relu", "he_normal")
    kernels = [p for p in d.parameters if p.path.endswith("kernel")]
    biases = [p for p in d.parameters if p.path.endswith("bias")]
    assert len(kernels) == len(biases) == DEPTH + 1
    for p in kernels:  # measured 3.7e-4 .. 9.0e-3 (12 seeds: 2.0e-4 .. 4.3e-2)
        assert math.isfinite(p.update_ratio) and 1e-5 < p.update_ratio < 1e-1, p
        # plain SGD: ‖Δw‖ = lr ‖∇w‖ exactly (float32)
        assert p.update_norm == pytest.approx(1e-2 * p.grad_norm, rel=1e-5)
    for p in biases:  # zero at initialization: the relative update is undefined
        assert p.weight_norm == 0 and p.update_norm > 0 and math.isnan(p.update_ratio)


# ----------------------------------------------------------------------------- small models


class Tower(nn.Module):
    """11 Dense layers, so that ``Dense_10`` sorts before ``Dense_2`` by name; sows nothing."""

    depth: int = 10

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        for _ in range(self.depth):
            x = nn.tanh(nn.Dense(8)(x))
        return nn.Dense(3)(x)


X = jax.random.normal(jax.random.key(1), (16, 5))


def numpy_init(model: nn.Module, seed: int = 0) -> Any:
    """LeCun-normal kernels and small biases, drawn with NumPy in the model's structure
    (rebuilt by ``jax.tree.map``, so the keys are sorted by name: Dense_10 before Dense_2)."""
    rng = np.random.default_rng(seed)
    shapes = jax.eval_shape(model.init, jax.random.key(0), X)

    def draw(path: Any, leaf: jax.ShapeDtypeStruct) -> np.ndarray:
        if path[-1].key in ("scale", "var"):  # BatchNorm
            return np.ones(leaf.shape, np.float32)
        scale = 1 / math.sqrt(leaf.shape[0]) if len(leaf.shape) == 2 else 0.1
        return rng.normal(0.0, scale, leaf.shape).astype(np.float32)

    return jax.tree_util.tree_map_with_path(draw, shapes)


@functools.cache
def tower() -> tuple[Tower, Any]:
    return Tower(), numpy_init(Tower())


def test_figures_equal_a_direct_computation() -> None:
    model, variables = tower()
    assert list(variables["params"])[:3] == ["Dense_0", "Dense_1", "Dense_10"]
    y = jnp.arange(16) % 3
    d = diagnose(model, variables, X, labels=y, optimizer=optax.adam(1e-3))
    assert d.activation_source == "layers" and d.loss_name == "cross-entropy"
    names = [a.name for a in d.activations]
    assert names == [f"Dense_{i}" for i in range(11)]  # execution order, not sorted names

    @jax.jit
    def reference(params: Any) -> tuple[Any, jax.Array, Any]:
        def loss(params: Any) -> tuple[jax.Array, Any]:
            logits, state = model.apply(
                {"params": params}, X, capture_intermediates=True, mutable=["intermediates"]
            )
            ce = optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
            return ce, state["intermediates"]

        (value, intermediates), grads = jax.value_and_grad(loss, has_aux=True)(params)
        return intermediates, value, grads

    intermediates, value, grads = reference(variables["params"])
    # the input Jacobian of each of the first 4 examples alone, by jax.jacrev and NumPy's SVD
    # (float32: the moments agree to ~1e-6)
    s2 = np.concatenate([
        np.linalg.svd(jax.jacrev(lambda x: model.apply(variables, x[None])[0])(X[i]),
                      compute_uv=False) ** 2
        for i in range(4)
    ])  # fmt: skip
    assert d.jacobian is not None and d.jacobian.shape == (3, 5) and d.jacobian.examples == 4
    assert d.jacobian.mean == pytest.approx(s2.mean(), rel=1e-4)
    assert d.jacobian.spread == pytest.approx(s2.var() / s2.mean() ** 2, rel=1e-4)
    for a in d.activations:
        (out,) = intermediates[a.name]["__call__"]
        np.testing.assert_allclose([a.mean, a.std], [out.mean(), out.std()], rtol=1e-5, atol=1e-7)
    assert d.loss == pytest.approx(float(value), rel=1e-6)
    assert [p.path for p in d.parameters[:4]] == [
        "Dense_0/bias", "Dense_0/kernel", "Dense_1/bias", "Dense_1/kernel"
    ]  # fmt: skip
    assert d.parameters[-1].path == "Dense_10/kernel"
    for p in d.parameters:
        layer, name = p.path.split("/")
        g = np.asarray(grads[layer][name])
        w = np.asarray(variables["params"][layer][name])
        assert p.grad_norm == pytest.approx(np.linalg.norm(g), rel=1e-5)
        assert p.weight_norm == pytest.approx(np.linalg.norm(w), rel=1e-5)
        # Adam's first step is lr·g/(|g| + eps) ≈ lr·sign(g): ‖Δw‖ ≈ lr·√(size)
        assert p.update_norm == pytest.approx(1e-3 * math.sqrt(g.size), rel=1e-3)


def test_sown_layers_and_params_only() -> None:
    model, variables = tower()
    by_layers = diagnose(model, variables["params"], X, activations="layers")
    assert by_layers.loss_name == "random projection"
    assert len(by_layers.activations) == 11
    with pytest.raises(ValueError, match=r"sows no floating-point values.*'layers'"):
        diagnose(model, variables, X, activations="sown")
    mlp = ModelSpec("mlp", 3, 8, "relu").build(resolve_init("he_normal"), 3, None)
    mlp_vars = numpy_init(mlp)
    sown = diagnose(mlp, mlp_vars, X)
    assert sown.activation_source == "sown"
    assert [a.name for a in sown.activations] == [f"activations/{i}" for i in range(3)]
    layers = diagnose(mlp.apply, mlp_vars, X, activations="layers")
    assert [a.name for a in layers.activations] == [f"Dense_{i}" for i in range(4)]


def test_float_labels_give_the_squared_error_and_a_custom_loss_is_used() -> None:
    def apply_fn(params: dict[str, jax.Array], x: jax.Array) -> jax.Array:
        return jnp.tanh(x @ params["w1"]) @ params["w2"]

    params = {
        "w1": jax.random.normal(jax.random.key(0), (5, 8)),
        "w2": jax.random.normal(jax.random.key(1), (8, 3)),
    }
    out = apply_fn(params, X)
    d = diagnose(apply_fn, params, X, labels=jnp.ones((16, 3)))
    assert d.loss_name == "mean squared error"
    assert d.loss == pytest.approx(float(jnp.mean((out - 1.0) ** 2)), rel=1e-6)
    assert d.activation_source == "none" and d.activations == ()
    assert [p.path for p in d.parameters] == ["w1", "w2"]
    custom = diagnose(apply_fn, params, X, loss_fn=lambda out, _: jnp.sum(out**2))
    assert custom.loss_name == "custom loss"
    assert custom.loss == pytest.approx(float(jnp.sum(out**2)), rel=1e-5)
    # chance is unknown for both: no loss flag, however large the loss (here 4.45 and 176)
    assert custom.loss > 100 and d.loss > 4
    assert d.jacobian is not None and d.jacobian.shape == (3, 5)  # a plain function has one too
    for result in (d, custom):
        assert result.classes is None and math.isnan(result.chance_loss)
        assert not result.flagged("loss_above_chance")


class NnxNet(nnx.Module):
    """``head`` sorts before ``layers`` by name but runs last."""

    def __init__(self, rngs: nnx.Rngs, sow: bool) -> None:
        self.layers = nnx.List([nnx.Linear(5 if i == 0 else 8, 8, rngs=rngs) for i in range(3)])
        self.head = nnx.Linear(8, 3, rngs=rngs)
        self.sow_activations = sow

    def __call__(self, x: jax.Array) -> jax.Array:
        for layer in self.layers:
            x = nnx.relu(layer(x))
            if self.sow_activations:
                self.sow(nnx.Intermediate, "relu", x)
        return self.head(x)


def test_nnx_modules_in_execution_order() -> None:
    model = NnxNet(nnx.Rngs(0), sow=False)
    d = diagnose(model, None, X)
    assert d.activation_source == "layers"
    assert [a.name for a in d.activations] == ["layers/0", "layers/1", "layers/2", "head"]
    assert d.parameters[-1].path == "head/kernel" and d.parameters[0].path == "layers/0/bias"
    assert len(d.parameters) == 8
    sown = diagnose(NnxNet(nnx.Rngs(0), sow=True), None, X)
    assert sown.activation_source == "sown"
    assert [a.name for a in sown.activations] == ["relu/0", "relu/1", "relu/2"]
    # the module is left as it was: no captured values stay behind
    assert not nnx.state(model, nnx.Intermediate)


def test_other_collections_are_passed_along() -> None:
    class Normed(nn.Module):
        @nn.compact
        def __call__(self, x: jax.Array) -> jax.Array:
            return nn.Dense(3)(nn.BatchNorm(use_running_average=True)(nn.Dense(8)(x)))

    variables = numpy_init(Normed())
    assert "batch_stats" in variables
    d = diagnose(Normed(), variables, X)
    # Python builds the outer nn.Dense(3) first, so it is Dense_0, yet it runs last
    assert [a.name for a in d.activations] == ["Dense_1", "BatchNorm_0", "Dense_0"]
    assert [p.path for p in d.parameters] == [
        "Dense_1/bias", "Dense_1/kernel", "BatchNorm_0/bias", "BatchNorm_0/scale",
        "Dense_0/bias", "Dense_0/kernel",
    ]  # fmt: skip


# ----------------------------------------------------------------------------- a transformer

VOCAB, TOKENS = 2000, 16
CHANCE = math.log(VOCAB)  # 7.60
UNIT_RULES = {
    "*embedding": jinit.normal(1.0),
    "*kernel": jinit.normal(1.0),
    "*bias": jinit.zeros,
    "*scale": jinit.ones,
}


class Attention(nn.Module):
    """Causal multi-head self-attention; ``nn.Dense`` projections ``q``, ``k``, ``v``, ``out``."""

    heads: int

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        b, t, d = x.shape
        q, k, v = (nn.Dense(d, name=n)(x).reshape(b, t, self.heads, -1) for n in "qkv")
        scores = jnp.einsum("bqhc,bkhc->bhqk", q, k) / math.sqrt(d // self.heads)
        causal = jnp.tril(jnp.ones((t, t), bool))
        weights = jax.nn.softmax(jnp.where(causal, scores, -jnp.inf), axis=-1)
        mixed = jnp.einsum("bhqk,bkhc->bqhc", weights, v).reshape(b, t, d)
        return nn.Dense(d, name="out")(mixed)


class Mlp(nn.Module):
    """``out(gelu(fc(x)))`` with a hidden layer 4 times as wide."""

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        h = nn.gelu(nn.Dense(4 * x.shape[-1], name="fc")(x))
        return nn.Dense(x.shape[-1], name="out")(h)


class Block(nn.Module):
    """Pre-norm: ``x + attn(LN(x))``, then ``x + mlp(LN(x))``."""

    heads: int

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        x = x + Attention(self.heads, name="attn")(nn.LayerNorm(name="ln1")(x))
        return x + Mlp(name="mlp")(nn.LayerNorm(name="ln2")(x))


class Transformer(nn.Module):
    """Token embedding, ``blocks`` pre-norm blocks, a final LayerNorm and a linear head."""

    width: int
    blocks: int
    heads: int = 4

    @nn.compact
    def __call__(self, tokens: jax.Array) -> jax.Array:
        x = nn.Embed(VOCAB, self.width, name="embed")(tokens)
        for i in range(self.blocks):
            x = Block(self.heads, name=f"block{i}")(x)
        return nn.Dense(VOCAB, name="head")(nn.LayerNorm(name="ln_f")(x))


@functools.cache
def transformer(width: int, blocks: int) -> tuple[Transformer, Any, jax.Array, jax.Array]:
    """The model, its parameter shapes and a next-token batch: 8 sequences of 16 tokens."""
    tokens = jax.random.randint(jax.random.key(0), (8, TOKENS + 1), 0, VOCAB)
    x, y = tokens[:, :-1], tokens[:, 1:]
    model = Transformer(width, blocks)
    return model, jax.eval_shape(model.init, jax.random.key(0), x), x, y


@functools.cache
def transformer_diagnosis(width: int, blocks: int, init: str) -> Diagnosis:
    model, shapes, x, y = transformer(width, blocks)
    if init == "unit":  # every weight N(0, 1), biases 0, LayerNorm scales 1
        rules: dict[str, Any] = UNIT_RULES
    elif init == "gpt2":  # N(0, 0.02²), both residual projections 0.02/√(2L), embedding too
        rules = {**jinit.gpt2_rules(blocks, residual="*out/kernel"), "*scale": jinit.ones}
    else:  # "zero branches": GPT-2 with zero residual projections (the branches start off)
        rules = {"*out/kernel": jinit.zeros, **jinit.gpt2_rules(blocks), "*scale": jinit.ones}
    variables = jinit.reinit(shapes, rules, jax.random.key(2), strict=False)
    return diagnose(model, variables, x, labels=y)


def _std(d: Diagnosis, name: str) -> float:
    return next(a.std for a in d.activations if a.name == name)


def test_unit_normal_transformer_starts_far_above_chance() -> None:
    d = transformer_diagnosis(64, 2, "unit")
    assert d.loss_name == "cross-entropy" and d.classes == VOCAB
    assert d.chance_loss == pytest.approx(CHANCE)
    # logits of std √64 = 8 (measured 8.0 at head): about 8·√(2 ln C) -- measured 27.2 = 3.6·ln C,
    # over the limit max(2 ln C, ln C + 3) = 15.2; the verdict was "no flags" before the rule
    assert _std(d, "head") == pytest.approx(8.0, rel=0.05)
    assert _kinds(d) == {("loss_above_chance", "loss")}
    flag = _flag(d, "loss")
    assert d.loss > 20 and flag.ratio == pytest.approx(d.loss / CHANCE)
    assert "ln 2000" in flag.message and "15.2" in flag.message
    # the peak inside, the MLP output of std ≈ √2·d = 91 (measured 96 over the embedding's
    # 0.98: 98×), stays under 10³ at d = 64: only the loss sees this model
    peak = max(d.activations, key=lambda a: a.std)
    assert peak.name.endswith("mlp/out") and 30 < peak.std / d.activations[0].std < 300


def test_wide_unit_normal_transformer_explodes_inside() -> None:
    # the user's report at d = 1024: a loss of 107.5 = 14·ln C and MLP outputs of std 1.43e3,
    # while the last LayerNorm brings the head back to √1024 = 32 × the embedding's std
    d = transformer_diagnosis(1024, 1, "unit")
    assert d.activations[0].name == "embed" and d.activations[-1].name == "head"
    assert d.activations[-1].std / d.activations[0].std < 100  # the ends look fine
    inside = _flag(d, "activation std")
    assert inside.kind == "exploding"
    assert (inside.start, inside.end) == ("embed", "block0/mlp/out")
    assert inside.ratio == pytest.approx(math.sqrt(2) * 1024, rel=0.1)  # measured 1434
    assert inside.layers == 9 and math.isnan(inside.factor)
    assert "exploding inside: block0/mlp/out / embed" in inside.message
    assert _flag(d, "loss").ratio == pytest.approx(14.1, rel=0.1)
    data = json.loads(json.dumps(d.to_dict(), allow_nan=False))
    assert {"kind": "exploding", "end": "block0/mlp/out"}.items() <= data["flags"][0].items()
    # token ids: no input Jacobian, and no number made up for one
    assert d.jacobian is None and "dtype int32 (token ids" in d.jacobian_note
    assert data["jacobian"] is None and data["jacobian_note"] == d.jacobian_note
    out = io.StringIO()
    d.table(console=Console(file=out, width=200))
    assert "input-output Jacobian: not available" in out.getvalue()
    assert "activation std exploding inside" in out.getvalue()
    assert "loss above chance" in out.getvalue()


@pytest.mark.parametrize(("width", "blocks"), [(64, 2), (1024, 1)])
def test_gpt2_transformer_raises_no_flag(width: int, blocks: int) -> None:
    d = transformer_diagnosis(width, blocks, "gpt2")
    assert d.ok, d.verdict()
    # logits of std s = 0.02·√d, about ln C + s²/2: measured ln C + 0.005 at d = 64 and
    # ln C + 0.27 at d = 1024 (s²/2 = 0.20), far under the limit ln C + 7.6
    assert 0 < d.loss - CHANCE < 0.5
    # the LayerNorms' unit outputs over the N(0, 0.02²) embedding: a peak of 50, 20× under 10³
    ratio = max(a.std for a in d.activations) / d.activations[0].std
    assert 20 < ratio < 100
    weight_std = {p.path: p.weight_norm / math.sqrt(math.prod(p.shape)) for p in d.parameters}
    for path in ("block0/attn/out/kernel", "block0/mlp/out/kernel"):  # the residual projections
        assert weight_std[path] == pytest.approx(0.02 / math.sqrt(2 * blocks), rel=0.02)
    assert weight_std["block0/mlp/fc/kernel"] == pytest.approx(0.02, rel=0.02)


def test_zero_residual_branches_are_no_peak() -> None:
    d = transformer_diagnosis(64, 2, "zero branches")
    assert _std(d, "block0/attn/out") == 0 == _std(d, "block1/mlp/out")  # dips, not peaks
    assert not d.flagged("exploding") and not d.flagged("loss_above_chance"), d.verdict()


# ----------------------------------------------------------------------------- verdict rules


def _acts(values: list[float]) -> list[ActivationStats]:
    return [ActivationStats(f"l{i}", (4,), 0.0, v) for i, v in enumerate(values)]


@pytest.mark.parametrize(
    ("values", "kinds"),
    [
        ([0.5**i for i in range(6)], ["shrinking"]),  # ratio 0.031, R² 1
        ([2.0**i for i in range(6)], ["growing"]),  # ratio 32
        ([1.0, 1e-4], ["vanishing"]),  # two layers: no trend needed
        ([1.0, 2e3], ["exploding"]),
        ([1.0, 0.5, math.inf, 1.0], ["exploding"]),  # overflow
        ([0.0, 0.0, 0.0], ["vanishing"]),  # no signal at all
        ([1.0, 0.01, 1.0, 0.05, 0.5, 0.02], []),  # ratio 0.02, but no steady trend (R² 0.1)
        ([1.0, 0.9, 1.1, 0.8, 0.3], []),  # within a decade
        ([1.0], []),  # one layer: nothing to compare
        # peaks inside: a final normalization brings the end back
        ([1.0, 8.0, 1.2e3, 1.0, 8.0], ["exploding"]),  # peak 1.2e3 at layer 3
        ([1.0, 8.0, 9e2, 1.0, 8.0], []),  # peak 900: under 10³
        ([1.0, 0.0, 1.0, 0.0, 1.0], []),  # zero branches are dips, not peaks
        ([1.0, 1e-9, 1.0, 1e-9, 1.0], []),  # nor are near-zero ones (GPT-2's small projections)
        ([1.0, 2e3, 2e-4], ["vanishing", "exploding"]),  # up inside, then lost at the end
        ([1.0, 10.0, 100.0, 1e3, 3e3, 500.0], ["exploding"]),  # not also growing (ratio 500)
        ([1.0, 3e3, 2e3], ["exploding"]),  # at the end already: one flag, the end-to-end one
    ],
)
def test_flag_rules(values: list[float], kinds: list[str]) -> None:
    flags = flags_for(_acts(values), [])
    assert [f.kind for f in flags] == kinds


def test_peak_flag_names_the_peak_layer() -> None:
    (flag,) = flags_for(_acts([2.0, 16.0, 4e3, 2.0, 16.0]), [])
    assert (flag.kind, flag.quantity, flag.start, flag.end) == (
        "exploding", "activation std", "l0", "l2"
    )  # fmt: skip
    assert flag.ratio == 2e3 and flag.layers == 3 and math.isnan(flag.factor)
    assert flag.message == (
        "activation std exploding inside: l2 / l0 = 2e+03 at layer 3 of 5, while the last layer "
        "l4 is 8× the first"
    )
    (end_to_end,) = flags_for(_acts([1.0, 3e3, 2e3]), [])
    assert end_to_end.end == "l2" and end_to_end.ratio == 2e3  # the end, not the peak


# chance ln C; the limit is max(2 ln C, ln C + 3): 15.2 for 2000 classes, 5.30 for 10 (the 3
# nats decide below C = e³ ≈ 20), 3.69 for 2
@pytest.mark.parametrize(
    ("loss", "classes", "flagged"),
    [
        (15.3, 2000, True),
        (15.1, 2000, False),
        (5.31, 10, True),
        (5.29, 10, False),  # above 2·ln 10 = 4.61, but not 3 nats above chance
        (3.70, 2, True),
        (3.68, 2, False),
        (0.1, 10, False),  # below chance: fine
        (1e6, None, False),  # no classes (a custom loss, squared error): chance unknown
        (1e6, 1, False),  # one class: no chance level
        (math.nan, 10, False),
    ],
)
def test_loss_rule(loss: float, classes: int | None, flagged: bool) -> None:
    flags = flags_for([], [], loss=loss, classes=classes)
    assert [(f.kind, f.quantity) for f in flags] == ([("loss_above_chance", "loss")] * flagged)
    if flagged:
        assert flags[0].ratio == pytest.approx(loss / math.log(classes or 1))
        assert (flags[0].start, flags[0].end, flags[0].layers) == ("chance", "loss", 0)


# ----------------------------------------------------------------------------- outputs


def test_to_dict_table_and_plot(tmp_path: Path) -> None:
    d = deep("tanh", "normal:1")
    text = json.dumps(d.to_dict(), allow_nan=False)  # strict JSON: NaN became null
    data = json.loads(text)
    assert data["activation_source"] == "sown" and len(data["activations"]) == DEPTH
    assert data["parameters"][0]["update_ratio"] is None  # Dense_0/bias: zero weights
    assert {f["kind"] for f in data["flags"]} == {"exploding", "loss_above_chance"}
    assert data["thresholds"]["vanishing_ratio"] == 1e-3
    assert data["thresholds"]["loss_chance_ratio"] == 2.0
    assert data["classes"] == 10 and data["chance_loss"] == pytest.approx(math.log(10))
    assert data["jacobian"]["method"] == "exact" and data["jacobian"]["shape"] == [10, 64]
    assert d.jacobian is not None and data["jacobian_note"] == ""
    assert data["jacobian"]["mean"] == pytest.approx(d.jacobian.mean)
    out = io.StringIO()
    d.table(console=Console(file=out, width=160))
    printed = out.getvalue()
    assert "activations/29" in printed and "Dense_30/kernel" in printed
    assert "gradient norm (kernel) exploding" in printed
    assert "loss above chance: cross-entropy 16.4" in " ".join(printed.split())
    assert "input-output Jacobian 10×64 (exact, 4 example(s)): E[s²] = " in printed
    fig = d.plot(tmp_path / "d.png")
    assert len(fig.axes) == 3
    assert (tmp_path / "d.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "exploding" in str(d) and "chance ln 10 = 2.303" in str(d)
    assert "input-output Jacobian 10×64" in str(d)


def test_input_jacobian_when_it_cannot_be_measured_or_is_large() -> None:
    def apply_fn(params: dict[str, jax.Array], x: Any) -> jax.Array:
        return jnp.tanh(x["a"] @ params["w"]) if isinstance(x, dict) else x @ params["w"]

    params = {"w": jax.random.normal(jax.random.key(0), (5, 3))}
    skipped = diagnose(apply_fn, params, X, jacobian_examples=0)
    assert skipped.jacobian is None
    assert skipped.jacobian_note == "not measured (jacobian_examples=0)"
    tree = diagnose(apply_fn, params, {"a": X})
    assert tree.jacobian is None and "batch is a pytree of 1 arrays" in tree.jacobian_note
    zero = diagnose(apply_fn, {"w": jnp.zeros((5, 3))}, X)  # a zero head: J = 0, spread 0/0
    assert zero.jacobian is None and "not available: the Jacobian is zero" in zero.jacobian_note
    assert "input-output Jacobian: not available: the Jacobian is zero" in str(zero)
    # min(m, n) = 300 > 256: 32 Rademacher probes per example, within 4 standard errors of
    # the exact figures: measured E[s²] 1.001 ± 0.007 against 1.000 (0.2 errors), spread
    # 1.009 ± 0.010 against 1.006 (0.4 errors; Marchenko-Pastur's 1 for a Gaussian matrix)
    wide = {"w": jax.random.normal(jax.random.key(1), (300, 300)) / math.sqrt(300)}
    xs = jax.random.normal(jax.random.key(2), (8, 300))
    j = diagnose(apply_fn, wide, xs).jacobian
    assert j is not None and (j.method, j.probes, j.examples, j.max) == ("randomized", 32, 4, None)
    exact = jinit_spectrum(lambda x: apply_fn(wide, x), xs[:4], batched=True)
    assert abs(j.mean - exact.mean) < 4 * j.mean_stderr
    assert abs(j.spread - exact.spread) < 4 * j.spread_stderr


# ----------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"model": 3}, TypeError, "must be a linen Module.*got a int"),
        ({"params": [1.0]}, TypeError, r"needs its variables \(\{'params'"),
        ({"activations": "all"}, ValueError, "expected one of auto, sown, layers"),
        ({"optimizer": "sgd"}, TypeError, "optax.GradientTransformation"),
        ({"loss_fn": 3}, TypeError, "loss_fn must be callable"),
        ({"batch": jnp.full((4, 5), jnp.nan)}, ValueError, "batch '\\(root\\)' has NaN"),
        ({"labels": jnp.arange(16)}, ValueError, r"class indices in 0..2.*0..15"),
        ({"labels": jnp.zeros((16, 2))}, ValueError, "fit no default loss"),
        ({"labels": jnp.zeros(15, int)}, ValueError, r"integer labels of shape \(15,\)"),
        ({"loss_fn": lambda out, _: out}, TypeError, "the loss must be a real scalar"),
        ({"jacobian_examples": -1}, ValueError, "jacobian_examples must be an int >= 0, got -1"),
        ({"jacobian_examples": 2.0}, TypeError, "jacobian_examples must be an int >= 0"),
    ],
)
def test_bad_inputs(kwargs: dict[str, Any], error: type[Exception], match: str) -> None:
    model, variables = tower()
    args = {"model": model, "params": variables, "batch": X, **kwargs}
    with pytest.raises(error, match=match):
        diagnose(args.pop("model"), args.pop("params"), args.pop("batch"), **args)


def test_bad_model_inputs() -> None:
    with pytest.raises(TypeError, match="nnx Module holds its own parameters"):
        diagnose(NnxNet(nnx.Rngs(0), sow=False), {"w": jnp.ones(3)}, X)
    with pytest.raises(TypeError, match="parameter 'step' has dtype int32"):
        diagnose(lambda p, x: x * p["w"], {"w": jnp.ones(5), "step": jnp.zeros((), int)}, X)
    with pytest.raises(TypeError) as info:  # the model's own error, with a note
        diagnose(lambda p, x: x @ p["w"], {"w": jnp.ones((3, 2))}, X)
    assert any("applying the model to the batch" in n for n in info.value.__notes__)


# ----------------------------------------------------------------------------- the command


def run_cli(*args: str) -> int:
    return main(["diagnose", *args])


def test_command_writes_json_and_png(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    json_path, png_path = tmp_path / "d.json", tmp_path / "d.png"
    small = ["--depth", "8", "--width", "16", "--batch", "64", "--activation", "tanh"]
    status = run_cli(*small, "--init", "normal:0.01", "--json", str(json_path),
                     "--plot", str(png_path), "--fail-on-flags")  # fmt: skip
    assert status == 1  # 0.01·√16 = 0.04 per layer: measured ratio 1.8e-10 over 8 layers
    printed = " ".join(capsys.readouterr().out.split())
    assert "activation std vanishing" in printed and "activations/7" in printed
    data = json.loads(json_path.read_text())
    assert data["config"]["init"] == "normal:0.01" and data["config"]["batch"] == 64
    assert len(data["activations"]) == 8 and data["loss_name"] == "cross-entropy"
    assert any(f["kind"] == "vanishing" for f in data["flags"])
    assert data["jacobian"]["shape"] == [10, 64] and data["jacobian"]["examples"] == 4
    assert "input-output Jacobian 10×64" in printed
    assert png_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # LeCun's 1/√16 on tanh keeps the signal (ratio measured 0.38): no flag, status 0
    assert run_cli(*small, "--init", "normal:0.25", "--optimizer", "adam", "--fail-on-flags") == 0
    assert "no flags" in capsys.readouterr().out


BAD_ARGUMENTS = [
    (["--init", "bogus"], "unknown initializer 'bogus'", INITIALIZERS),
    (["--model", "transformer"], "unknown --model 'transformer'", MODELS),
    (["--activation", "swishy"], "unknown --activation 'swishy'", ACTIVATIONS),
    (["--dataset", "mnist"], "unknown --dataset 'mnist'", DATASETS),
    (["--optimizer", "lbfgs"], "unknown --optimizer 'lbfgs'", OPTIMIZERS),
    (["--lr", "-1"], "--lr must be a positive number", []),
    (["--batch", "0"], "--batch must be >= 1", []),
    (["--depth", "-1"], "--depth must be an integer >= 0", []),
    (["--json", "/no/such/dir/d.json"], "does not exist", []),
]


@pytest.mark.parametrize(("args", "message", "names"), BAD_ARGUMENTS)
def test_command_errors_exit_2_listing_valid_names(
    capsys: pytest.CaptureFixture[str], args: list[str], message: str, names: list[str]
) -> None:
    assert run_cli(*args) == 2
    printed = " ".join(capsys.readouterr().out.split())  # undo the console's line wrapping
    assert "jinit diagnose: error:" in printed and message in printed
    for name in names:
        assert name in printed, name


def test_command_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        run_cli("--help")
    assert info.value.code == 0
    text = capsys.readouterr().out
    for name in ("--depth", "--init", "--plot", "--json", *MODELS, *OPTIMIZERS, "vanishing"):
        assert name in text, name
    assert "peak inside" in text and "loss_above_chance" in text


def test_command_flags_a_loss_far_above_chance(capsys: pytest.CaptureFixture[str]) -> None:
    # N(0, 1) kernels, tanh, width 16: logits of std ≈ 4 on ±1 features
    args = ["--depth", "2", "--width", "16", "--batch", "64", "--activation", "tanh"]
    assert run_cli(*args, "--init", "normal:1", "--fail-on-flags") == 1
    printed = " ".join(capsys.readouterr().out.split())
    assert "loss above chance: cross-entropy" in printed and "× ln 10" in printed
