"""Model-level initialization on models jinit's authors did not write: every parameter checked.

The models (``tests/third_party_models.py``) are Equinox's own ``eqx.nn.MLP`` and
``eqx.nn.Conv2d`` (``(out, in, ...)`` weights), an einsum transformer with Gemma's parameter
layouts, a ResNet-18-style CNN with BatchNorm in the style of Flax's ImageNet example, and
layers stacked by ``nn.scan`` and ``nnx.vmap``. Their true fans are written by hand from the
architecture. For each model and each way of reading layouts (traced, and names/types where
those are certain), every weight's realized variance is checked against 2 / true fan_in
(``he_normal``) with ``stats_util.assert_variance`` (5 standard errors of the sample variance at
the weight's size), and nothing may be left abstract. Where names cannot tell, the error must
name the parameters and point to ``jinit.trace_axes``.

Before this suite (jinit af06cfd, names only), the worst ratios Var·fan/target were 25.0
(Equinox MLP), 106 (Equinox CNN), 0.24 (Gemma layouts), 1/6 (scanned and vmapped stacks):
``benchmarks/results/fan_audit_before.md``.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats

import jinit
from jinit._src.model.plan import plan
from tests.stats_util import assert_variance
from tests.third_party_models import ZOO, Zoo, fan_ratios, leaves, resnet

KEY = jax.random.key(7)


def _rules(zoo: Zoo, factory: object = jinit.he_normal) -> dict[str, object]:
    rules: dict[str, object] = {pattern: factory for pattern in zoo.weights}
    rules.update(zoo.others)
    return rules


def _check_every_weight(zoo: Zoo, new: object) -> None:
    flat = leaves(new)
    abstract = [p for p, leaf in flat.items() if isinstance(leaf, jax.ShapeDtypeStruct)]
    assert not abstract, abstract
    for path, (fan_in, _) in zoo.fans.items():
        assert_variance(np.asarray(flat[path], np.float64), 2.0 / fan_in, "truncated_normal")


@pytest.fixture(scope="module", params=list(ZOO))
def zoo(request: pytest.FixtureRequest) -> Zoo:
    return ZOO[request.param]()


# ----------------------------------------------------------------------------- traced


def test_traced_fans_are_the_true_fans(zoo: Zoo) -> None:
    axes = jinit.trace_axes(zoo.apply, zoo.params, *zoo.data)
    assert not axes.unclassified, [(p.path, p.reason) for p in axes.unclassified]
    for path, fans in zoo.fans.items():
        found = axes[path].fans
        assert found is not None and (found.fan_in, found.fan_out) == fans, (path, axes[path])
    assert set(axes) == set(
        p for p, leaf in leaves(zoo.params).items() if hasattr(leaf, "shape")
    )  # every array leaf is classified


def test_traced_reinit_gives_every_weight_its_variance(zoo: Zoo) -> None:
    axes = jinit.trace_axes(zoo.apply, zoo.params, *zoo.data)
    new = jinit.reinit(zoo.params, _rules(zoo), KEY, axes=axes)
    _check_every_weight(zoo, new)
    same = jinit.init_params(zoo.params, _rules(zoo), KEY, axes=axes)
    for a, b in zip(jax.tree.leaves(leaves(new)), jax.tree.leaves(leaves(same)), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))  # init_params == reinit


def test_the_audit_fails_when_the_fan_is_wrong() -> None:
    """The variance check has the power to see a wrong fan: Equinox weights read as Flax's."""
    zoo = ZOO["equinox_mlp"]()
    wrong = {path: {"in_axis": 0, "out_axis": 1} for path in zoo.fans}  # Flax's (in, out)
    new = jinit.reinit(zoo.params, _rules(zoo), KEY, axes=wrong)
    ratios = fan_ratios(new, zoo.fans, scale=2.0)
    assert min(ratios.values()) < 0.3 and max(ratios.values()) > 3.0, ratios
    with pytest.raises(AssertionError, match="realized variance"):
        _check_every_weight(zoo, new)


# ----------------------------------------------------------------------------- by names, types


@pytest.mark.parametrize("name", ["equinox_mlp", "equinox_cnn"])
def test_equinox_layer_types_are_recognized_without_a_trace(name: str) -> None:
    zoo = ZOO[name]()
    _check_every_weight(zoo, jinit.reinit(zoo.params, _rules(zoo), KEY))


@pytest.mark.parametrize(
    ("name", "refused"),
    [
        (
            "gemma_einsum",
            r"10 parameter\(s\).*'params/layer_0/attn/attn_vec_einsum/kernel': a "
            r"rank-3 kernel of 'attn_vec_einsum'",
        ),
        ("resnet18_bn", r"4 parameter\(s\).*a rank-4 kernel of 'conv_proj'"),
        (
            "linen_scan",
            r"'params/blocks/Dense_0/kernel': a Dense kernel is \(in, out\), but this "
            r"one has rank 3",
        ),
        ("nnx_vmap", r"'layers/kernel': it has rank 3, but nnx.Linear makes rank 2"),
    ],
)
def test_layouts_names_cannot_tell_are_refused_not_guessed(name: str, refused: str) -> None:
    zoo = ZOO[name]()
    with pytest.raises(ValueError, match=refused + r".*Pass axes=jinit\.trace_axes"):
        jinit.reinit(zoo.params, _rules(zoo), KEY)


def test_explicit_axes_in_a_partial_are_never_overridden() -> None:
    zoo = ZOO["equinox_mlp"]()
    right = functools.partial(jinit.he_normal, in_axis=1, out_axis=0)
    _check_every_weight(zoo, jinit.reinit(zoo.params, _rules(zoo, right), KEY))
    # the user's own (here: wrong) axes win over the type's, with or without traced axes
    mine = functools.partial(jinit.he_normal, in_axis=0, out_axis=1)
    axes = jinit.trace_axes(zoo.apply, zoo.params, *zoo.data)
    for kwargs in ({}, {"axes": axes}):
        new = leaves(jinit.reinit(zoo.params, _rules(zoo, mine), KEY, **kwargs))
        weight = np.asarray(new["layers/0/weight"])  # (256, 64): fan "in" axis 0 = 256
        assert_variance(weight, 2.0 / 256, "truncated_normal")


# ----------------------------------------------------------------------------- Gemma + GPT-2


def test_gemma_layouts_with_gpt2_rules_and_several_residual_patterns() -> None:
    zoo = ZOO["gemma_einsum"]()
    layers = 2
    residual = ["*attn_vec_einsum/kernel", "*mlp/linear"]
    rules = jinit.gpt2_rules(layers, residual=residual)
    # GPT-2's rules name '*kernel' and '*embedding': Gemma's gating_einsum and norm scales are
    # not covered, and must not stay abstract
    with pytest.raises(
        ValueError,
        match=r"7 abstract parameter\(s\) .*would stay abstract: \['params/final_norm/scale', "
        r"'params/layer_0/mlp/gating_einsum', .*\] and 2 more\. Add rules for them",
    ):
        jinit.init_params(zoo.params, rules, KEY)
    rules = rules | {"*gating_einsum": jinit.normal(0.02), "*scale": jinit.zeros}  # a RuleSet
    new = leaves(jinit.init_params(zoo.params, rules, KEY))
    assert not [p for p, v in new.items() if isinstance(v, jax.ShapeDtypeStruct)]
    small = 0.02 / math.sqrt(2 * layers)
    for path, value in new.items():
        if path.endswith(("attn_vec_einsum/kernel", "mlp/linear")):
            assert_variance(np.asarray(value), small**2, "normal")
        elif path.endswith(("kernel", "embedding", "gating_einsum")):
            assert_variance(np.asarray(value), 0.02**2, "normal")
        else:
            assert not np.asarray(value).any(), path
    with pytest.raises(ValueError, match=r"residual must name at least one pattern"):
        jinit.gpt2_rules(layers, residual=[])


# ----------------------------------------------------------------------------- ResNet vs torch


def _resolved(variables: object, rules: object, axes: object) -> dict[str, jinit.Initializer]:
    resolved = plan(variables, rules, axes=axes, strict=False)
    return {a.path: a.initializer for a in resolved.assignments}


def _sample(init: jinit.Initializer, shape: tuple[int, ...], n: int) -> np.ndarray:
    """``n`` values of ``init`` for a parameter of ``shape`` (more keys for small ones)."""
    draws, total, seed = [], 0, 0
    while total < n:
        draws.append(np.asarray(init(jax.random.key(1000 + seed), shape, jnp.float32)).ravel())
        total, seed = total + draws[-1].size, seed + 1
    return np.concatenate(draws)


@pytest.mark.parametrize("name", ["torch", "torchvision"])
def test_resnet_presets_match_torch_modules_layer_by_layer(name: str) -> None:
    """KS per layer against ``torch.nn`` modules initialized as PyTorch / torchvision do.

    torchvision's ResNet init (``torchvision/models/resnet.py``), applied to torch.nn modules:
    ``kaiming_normal_(conv.weight, mode="fan_out", nonlinearity="relu")``, BatchNorm weight 1
    and bias 0, ``nn.Linear`` left at its default. Two-sample KS at p > 1e-4, >= 4000 values a
    side; a wrong fan (fan_in for fan_out: half or double the variance) gives p < 1e-10 at
    these sizes (checked below).
    """
    torch = pytest.importorskip("torch")
    from third_party_models import ResNet18, resnet_convs

    zoo = resnet()
    model = ResNet18()
    axes = jinit.trace_axes(zoo.apply, zoo.params, *zoo.data)
    rules = jinit.preset(name)
    new = leaves(jinit.init_params(zoo.params, rules, KEY, axes=axes))
    assert not [p for p, v in new.items() if isinstance(v, jax.ShapeDtypeStruct)]
    inits = _resolved(zoo.params, rules, axes)
    torch.manual_seed(0)

    def theirs_conv(i: int, o: int, k: int) -> np.ndarray:
        values = []
        while sum(v.size for v in values) < 4000:
            conv = torch.nn.Conv2d(i, o, k, bias=False)
            if name == "torchvision":
                torch.nn.init.kaiming_normal_(conv.weight, mode="fan_out", nonlinearity="relu")
            values.append(conv.weight.detach().numpy().ravel())
        return np.concatenate(values)

    for path, (i, o, k) in resnet_convs(model).items():
        ours = np.asarray(new[path]).ravel()
        if ours.size < 4000:
            ours = _sample(inits[path], new[path].shape, 4000)
        result = scipy.stats.ks_2samp(ours, theirs_conv(i, o, k))
        assert result.pvalue > 1e-4, (path, result)
    head_in = model.width * 8
    linears = [torch.nn.Linear(head_in, model.classes) for _ in range(400)]
    for param, attr in (("kernel", "weight"), ("bias", "bias")):
        path = f"params/Dense_0/{param}"
        ours = _sample(inits[path], new[path].shape, 4000)
        theirs = np.concatenate([getattr(m, attr).detach().numpy().ravel() for m in linears])
        assert scipy.stats.ks_2samp(ours, theirs).pvalue > 1e-4, path
    for path, value in new.items():  # BatchNorm: scale 1, bias 0; running mean 0, var 1
        if path.endswith(("scale", "var")):
            np.testing.assert_array_equal(np.asarray(value), 1.0)
        elif path.endswith(
            ("BatchNorm_0/bias", "BatchNorm_1/bias", "bn_init/bias", "norm_proj/bias", "mean")
        ):
            np.testing.assert_array_equal(np.asarray(value), 0.0)


def test_resnet_ks_rejects_the_other_preset() -> None:
    """The per-layer KS has the power to tell torch's default conv init from torchvision's."""
    torch = pytest.importorskip("torch")
    torch.manual_seed(1)
    conv = torch.nn.Conv2d(32, 64, 3, bias=False)
    torch.nn.init.kaiming_normal_(conv.weight, mode="fan_out", nonlinearity="relu")
    zoo = resnet()
    axes = jinit.trace_axes(zoo.apply, zoo.params, *zoo.data)
    path = "params/ResNetBlock_2/Conv_0/kernel"  # (3, 3, 16, 32): fans 144 / 288
    for wrong in (
        jinit.preset("torch"),
        {**jinit.preset("torchvision"), "*kernel": jinit.torch_kaiming_normal},
    ):
        init = _resolved(zoo.params, wrong, axes)[path]
        ours = _sample(init, (3, 3, 32, 64), 18432)
        assert scipy.stats.ks_2samp(ours, conv.weight.detach().numpy().ravel()).pvalue < 1e-10


def test_resnet_by_names_refuses_user_named_convs_and_says_what_to_pass() -> None:
    zoo = resnet()
    with pytest.raises(
        ValueError,
        match=r"'params/ResNetBlock_2/conv_proj/kernel'.*"
        r"Pass axes=jinit\.trace_axes\(apply_fn, params, x\)",
    ):
        jinit.reinit(zoo.params, jinit.preset("torchvision"), KEY)
    # torch's preset needs no layout for the stem (all kernels share one rule): it still
    # refuses, because its kernel rule takes the fan from the layout
    with pytest.raises(ValueError, match=r"'params/conv_init/kernel': a rank-4 kernel"):
        jinit.reinit(zoo.params, jinit.preset("torch"), KEY)


# ----------------------------------------------------------------------------- stacks


@pytest.mark.parametrize("name", ["linen_scan", "nnx_vmap"])
def test_stacked_layers_each_get_the_fan_of_one_layer(name: str) -> None:
    zoo = ZOO[name]()
    axes = jinit.trace_axes(zoo.apply, zoo.params, *zoo.data)
    (path,) = zoo.fans
    assert axes[path].batch_axis == (0,)
    kernel = np.asarray(leaves(jinit.reinit(zoo.params, _rules(zoo), KEY, axes=axes))[path])
    for layer in kernel:  # 6 layers of 128 x 128: each variance 2/128 (tolerance ~4.6 %)
        assert_variance(layer, 2.0 / 128, "truncated_normal")
    assert not np.array_equal(kernel[0], kernel[1])
