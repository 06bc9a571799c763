"""``jinit.diagnose`` and ``jinit diagnose``: figures, verdicts, model kinds, outputs, errors.

The deep nets are the study's 30-layer MLPs of width 128 on 256 digits (fixed keys, jax 0.10.2,
2-core x86 CPU). Each assertion states the measured value; the verdict thresholds are 1e-3 and
1e3 (see ``jinit/_src/diagnosis.py``), and the measured ratios sit decades away from them, so
the margins below are wide on purpose. One apply module serves every initializer of an
activation, so each depth-30 measurement compiles once.
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

from jinit._src.cli import main
from jinit._src.diagnose import diagnose
from jinit._src.diagnosis import ActivationStats, Diagnosis, flags_for
from jinit._src.gain import ACTIVATIONS
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
    }
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


# ----------------------------------------------------------------------------- verdict rules


def _acts(values: list[float]) -> list[ActivationStats]:
    return [ActivationStats(f"l{i}", (4,), 0.0, v) for i, v in enumerate(values)]


@pytest.mark.parametrize(
    ("values", "kind"),
    [
        ([0.5**i for i in range(6)], "shrinking"),  # ratio 0.031, R² 1
        ([2.0**i for i in range(6)], "growing"),  # ratio 32
        ([1.0, 1e-4], "vanishing"),  # two layers: no trend needed
        ([1.0, 2e3], "exploding"),
        ([1.0, 0.5, math.inf, 1.0], "exploding"),  # overflow
        ([0.0, 0.0, 0.0], "vanishing"),  # no signal at all
        ([1.0, 0.01, 1.0, 0.05, 0.5, 0.02], None),  # ratio 0.02, but no steady trend (R² 0.1)
        ([1.0, 0.9, 1.1, 0.8, 0.3], None),  # within a decade
        ([1.0], None),  # one layer: nothing to compare
    ],
)
def test_flag_rules(values: list[float], kind: str | None) -> None:
    flags = flags_for(_acts(values), [])
    assert [f.kind for f in flags] == ([kind] if kind else [])


# ----------------------------------------------------------------------------- outputs


def test_to_dict_table_and_plot(tmp_path: Path) -> None:
    d = deep("tanh", "normal:1")
    text = json.dumps(d.to_dict(), allow_nan=False)  # strict JSON: NaN became null
    data = json.loads(text)
    assert data["activation_source"] == "sown" and len(data["activations"]) == DEPTH
    assert data["parameters"][0]["update_ratio"] is None  # Dense_0/bias: zero weights
    assert {f["kind"] for f in data["flags"]} == {"exploding"}
    assert data["thresholds"]["vanishing_ratio"] == 1e-3
    out = io.StringIO()
    d.table(console=Console(file=out, width=160))
    printed = out.getvalue()
    assert "activations/29" in printed and "Dense_30/kernel" in printed
    assert "gradient norm (kernel) exploding" in printed
    fig = d.plot(tmp_path / "d.png")
    assert len(fig.axes) == 3
    assert (tmp_path / "d.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "exploding" in str(d)


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
