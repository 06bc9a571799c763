"""Model presets for ``jinit.reinit``: PyTorch defaults (against real ``torch.nn`` modules when
PyTorch is installed), Keras and Flax defaults, and the fan-in-aware bias.

Distribution comparisons use two-sample KS tests at p > 1e-4 on >= 1e4 pooled values with fixed
seeds; a wrong bound (e.g. the bias's own size as fan) shifts the distribution by >= 20 %, which
these sample sizes reject with p < 1e-10 (asserted by the "must fail" tests).
"""

from __future__ import annotations

import math

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats

import jinit
from tests.stats_util import assert_variance


class ConvNet(nn.Module):
    @nn.compact
    def __call__(self, x: jax.Array, tokens: jax.Array) -> jax.Array:
        h = nn.Conv(48, (3, 3))(x)  # kernel (3, 3, 24, 48): fan_in 216
        h = nn.Dense(200)(h.reshape(h.shape[0], -1)[:, :300])  # kernel (300, 200)
        e = nn.Embed(400, 64)(tokens)
        return jnp.sum(h) + jnp.sum(e)


@pytest.fixture(scope="module")
def torch_init() -> dict[str, np.ndarray]:
    variables = ConvNet().init(
        jax.random.key(0), jnp.ones((1, 5, 5, 24)), jnp.zeros((1, 2), jnp.int32)
    )
    new = jinit.reinit(variables, jinit.preset("torch"), jax.random.key(1))
    return {
        jinit.path_string(p): np.asarray(v) for p, v in jax.tree_util.tree_flatten_with_path(new)[0]
    }


def test_torch_preset_bounds_use_the_kernel_fan_in(torch_init: dict[str, np.ndarray]) -> None:
    for layer, fan_in in (("Conv_0", 3 * 3 * 24), ("Dense_0", 300)):
        bound = 1.0 / math.sqrt(fan_in)
        for name in ("kernel", "bias"):
            values = np.abs(torch_init[f"params/{layer}/{name}"])
            assert values.max() <= bound * (1 + 1e-6)
        # the kernel fills its interval: max within 1 % of the bound at >= 6e4 samples
        assert np.abs(torch_init[f"params/{layer}/kernel"]).max() > 0.99 * bound
    embedding = torch_init["params/Embed_0/embedding"]
    assert_variance(embedding, 1.0, "normal")  # N(0, 1), n = 25600: tolerance 4.4 %


def test_torch_preset_matches_torch_nn_modules(torch_init: dict[str, np.ndarray]) -> None:
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    reference = {
        "params/Dense_0/kernel": [torch.nn.Linear(300, 200).weight for _ in range(1)],
        "params/Dense_0/bias": [torch.nn.Linear(300, 200).bias for _ in range(60)],
        "params/Conv_0/kernel": [torch.nn.Conv2d(24, 48, 3).weight for _ in range(1)],
        "params/Conv_0/bias": [torch.nn.Conv2d(24, 48, 3).bias for _ in range(250)],
        "params/Embed_0/embedding": [torch.nn.Embedding(400, 64).weight for _ in range(1)],
    }
    for path, tensors in reference.items():
        theirs = np.concatenate([t.detach().numpy().ravel() for t in tensors])
        ours = torch_init[path].ravel()
        if ours.size < 1000:  # biases: pool more of ours from other keys
            variables = ConvNet().init(
                jax.random.key(0), jnp.ones((1, 5, 5, 24)), jnp.zeros((1, 2), jnp.int32)
            )
            pooled = []
            for seed in range(60 if "Dense" in path else 250):
                new = jinit.reinit(variables, jinit.preset("torch"), jax.random.key(seed + 10))
                layer = path.split("/")[1]
                pooled.append(np.asarray(new["params"][layer]["bias"]))
            ours = np.concatenate(pooled)
        result = scipy.stats.ks_2samp(ours, theirs)
        assert result.pvalue > 1e-4, (path, result)


def test_a_bias_bound_from_the_wrong_fan_is_detected() -> None:
    # the bias's own size (200) instead of the kernel's fan_in (300): bound 22 % too large
    right = np.asarray(jinit.torch_bias(fan_in=300)(jax.random.key(0), (20000,)))
    wrong = np.asarray(jinit.torch_bias(fan_in=200)(jax.random.key(1), (20000,)))
    assert scipy.stats.ks_2samp(right, wrong).pvalue < 1e-10


@pytest.mark.parametrize("name", ["keras", "flax"])
def test_keras_and_flax_presets(name: str) -> None:
    class Rnn(nn.Module):
        @nn.compact
        def __call__(self, x: jax.Array) -> jax.Array:
            return nn.Dense(10)(nn.RNN(nn.OptimizedLSTMCell(128))(nn.Dense(256)(x)))

    variables = Rnn().init(jax.random.key(0), jnp.ones((1, 3, 128)))
    new = jinit.reinit(variables, jinit.preset(name), jax.random.key(1), strict=False)
    flat = {
        jinit.path_string(p): np.asarray(v) for p, v in jax.tree_util.tree_flatten_with_path(new)[0]
    }
    recurrent = flat["params/OptimizedLSTMCell_0/hi/kernel"]  # (128, 128): orthogonal
    np.testing.assert_allclose(recurrent.T @ recurrent, np.eye(128), atol=1e-5)
    kernel = flat["params/Dense_1/kernel"]  # Dense(256), built after the outer Dense(10)
    assert kernel.shape == (128, 256)
    if name == "keras":  # glorot_uniform: variance 2 / (128 + 256), bound sqrt(6 / 384)
        assert_variance(kernel, 2.0 / 384, "uniform")
        assert np.abs(kernel).max() <= math.sqrt(6 / 384)
    else:  # lecun_normal: variance 1 / 128 (truncated normal)
        assert_variance(kernel, 1.0 / 128, "truncated_normal")
    for path, value in flat.items():
        if path.endswith("bias"):
            assert not value.any(), path


def test_preset_errors() -> None:
    with pytest.raises(ValueError, match=r"unknown preset 'pytorch'; expected one of torch"):
        jinit.preset("pytorch")
    with pytest.raises(ValueError, match="fan_in"):
        jinit.torch_bias(fan_in=0)
    # a parameter whose role cannot be known is refused, not guessed
    with pytest.raises(
        ValueError,
        match=r"cannot tell the layout of 1 parameter.*'b': jinit does "
        r"not know the layout of a parameter named 'b'",
    ):
        jinit.reinit({"b": jnp.zeros(3)}, {"b": jinit.torch_bias}, jax.random.key(0))
    # a fan_in factory that cannot take fan_in=None, given a bias that belongs to no kernel
    with pytest.raises(
        ValueError,
        match=r"needs the fan-in of the kernel the parameter is added "
        r"to, but there is none",
    ):
        jinit.reinit(
            {"norm": {"bias": jnp.zeros(3), "scale": jnp.ones(3)}},
            {"*bias": lambda *, fan_in: jinit.torch_bias(fan_in=fan_in)},
            jax.random.key(0),
        )


# ----------------------------------------------------------------------------- real layouts


def test_torch_preset_on_norm_layers_and_torch_style_weights() -> None:
    """BatchNorm/LayerNorm: scale 1, bias 0 (before: ``no params/BatchNorm_0/kernel`` even with
    strict=False); Equinox ``weight``/``bias`` as PyTorch's Linear, known by the layer type."""
    eqx = pytest.importorskip("equinox")

    class Net(nn.Module):
        @nn.compact
        def __call__(self, x: jax.Array) -> jax.Array:
            h = nn.BatchNorm(use_running_average=True)(nn.Conv(32, (3, 3))(x))
            return nn.Dense(10)(nn.LayerNorm()(h.reshape(h.shape[0], -1)))

    x = jnp.ones((1, 6, 6, 8))
    abstract = jax.eval_shape(Net().init, jax.random.key(0), x)
    new = jinit.init_params(abstract, jinit.preset("torch"), jax.random.key(1))
    flat = {
        jinit.path_string(p): np.asarray(v) for p, v in jax.tree_util.tree_flatten_with_path(new)[0]
    }
    for path in (
        "params/BatchNorm_0/scale",
        "params/LayerNorm_0/scale",
        "batch_stats/BatchNorm_0/var",
    ):
        np.testing.assert_array_equal(flat[path], 1.0)
    for path in (
        "params/BatchNorm_0/bias",
        "params/LayerNorm_0/bias",
        "batch_stats/BatchNorm_0/mean",
    ):
        np.testing.assert_array_equal(flat[path], 0.0)
    bound = 1 / math.sqrt(3 * 3 * 8)  # the conv bias takes its kernel's fan-in
    assert np.abs(flat["params/Conv_0/bias"]).max() <= bound
    assert np.abs(flat["params/Conv_0/bias"]).max() > 0.5 * bound

    class Torchy(eqx.Module):
        linear: eqx.nn.Linear
        norm: eqx.nn.LayerNorm

        def __call__(self, x: jax.Array) -> jax.Array:
            return self.norm(self.linear(x))

    model = Torchy(eqx.nn.Linear(300, 200, key=jax.random.key(0)), eqx.nn.LayerNorm(200))
    axes = jinit.trace_axes(lambda m, x: m(x), model, jnp.ones(300))
    by_type = jinit.reinit(model, jinit.preset("torch"), jax.random.key(2))
    traced = jinit.reinit(model, jinit.preset("torch"), jax.random.key(2), axes=axes)
    for new_model in (by_type, traced):
        np.testing.assert_array_equal(np.asarray(new_model.norm.weight), 1.0)
        np.testing.assert_array_equal(np.asarray(new_model.norm.bias), 0.0)
        assert np.abs(np.asarray(new_model.linear.bias)).max() <= 1 / math.sqrt(300)
    np.testing.assert_array_equal(
        np.asarray(by_type.linear.weight), np.asarray(traced.linear.weight)
    )
    torch = pytest.importorskip("torch")
    torch.manual_seed(3)
    theirs = torch.nn.Linear(300, 200).weight.detach().numpy().ravel()
    assert scipy.stats.ks_2samp(np.asarray(by_type.linear.weight).ravel(), theirs).pvalue > 1e-4
