"""``gradinit``: one learned scale per parameter block for a good first step (Zhu et al. 2021).

The main network is the study's 30-layer ReLU MLP of width 128 with Glorot kernels, on digits.
Figures quoted at the assertions were measured on CPU (jax 0.10.2, flax 0.12.8) with the keys
used here; the margins sit well away from them. Every other test uses a two-layer tanh network
given as a plain function, small enough to compile in well under a second.
"""

from __future__ import annotations

import itertools
import math
import re

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jinit
from jinit._src.analysis.gradinit.objective import make_objective
from jinit._src.analysis.gradinit.run import GradInitReport, gradinit
from jinit._src.core.errors import JinitTypeError, JinitValueError
from jinit._src.study.data import load_dataset
from jinit._src.study.models import MLP
from jinit._src.study.optimizers import OPTIMIZERS
from jinit._src.study.training import train_runs

LN10 = math.log(10.0)
K = jax.random.key(0)


def _apply(params: dict[str, jax.Array], x: jax.Array) -> jax.Array:
    return jnp.tanh(x @ params["w1"] + params["b1"]) @ params["w2"] + params["b2"]


def _params(key: jax.Array, dtype: jnp.dtype = jnp.float32) -> dict[str, jax.Array]:
    k1, k2, k3, k4 = jax.random.split(key, 4)
    return {  # nonzero biases, so that every block's scale matters
        "w1": jax.random.normal(k1, (4, 16), dtype),
        "b1": 0.3 * jax.random.normal(k2, (16,), dtype),
        "w2": 0.5 * jax.random.normal(k3, (16, 3), dtype),
        "b2": 0.3 * jax.random.normal(k4, (3,), dtype),
    }


def _data(n: int = 96, dtype: jnp.dtype = jnp.float32) -> tuple[jax.Array, jax.Array]:
    x = jax.random.normal(jax.random.key(7), (n, 4), dtype)
    return x, jnp.argmax(x[:, :3] + 0.5 * x[:, 3:], axis=1)


def _ce(outputs: jax.Array, targets: jax.Array) -> jax.Array:
    return optax.softmax_cross_entropy_with_integer_labels(outputs, targets).mean()


def _pairs(count: int = 3, size: int = 16) -> list[tuple[jax.Array, jax.Array]]:
    x, y = _data(count * size)
    return [(x[i * size : (i + 1) * size], y[i * size : (i + 1) * size]) for i in range(count)]


# ----------------------------------------------------------------------------- the deep MLP


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


def test_on_the_30_layer_glorot_relu_mlp_kernels_grow_and_momentum_sgd_then_trains(
    digits,
) -> None:
    x, y = jnp.asarray(digits.x_train), jnp.asarray(digits.y_train)
    model = MLP(30, 128, 10, jax.nn.relu, jinit.glorot_normal())
    variables = model.init(jax.random.key(0), x[:1])
    # the defaults (SGD, lr 0.1, gamma 1, min scale 0.01, scale_lr 0.01, draws of 128), but
    # 100 steps instead of 200 to keep this test short
    new, report = gradinit(model, variables, (x, y), jax.random.key(100), steps=100)
    kernels = [block.scale for block in report.blocks if block.path.endswith("kernel")]
    assert len(kernels) == 31
    # Glorot's hidden kernels times sqrt(2) are He's. Measured: median 1.334 (1.277 and 1.289
    # with init/data keys 1/101 and 2/102), 2 of 100 steps constrained; a scale update of the
    # wrong sign gives 0.867. (S2 disjoint from S1, overlap=False, still gives 1.34 with these
    # keys, but 0.96 with the other two, after which the net stays at ln 10.)
    median = float(np.median(kernels))
    assert 1.2 < median < math.sqrt(2) + 0.05, median
    assert all(
        block.scale == 1.0 for block in report.blocks if block.path.endswith("bias")
    )  # zero biases: no scale changes them, so their gradient is 0 and they stay at 1

    # The study's deep-relu protocol (SGD + momentum 0.9, lr 0.003, batch 32), 300 steps here
    # (1000 in the study); both nets in one compiled run. Measured: Glorot 2.303 (ln 10: the
    # signal dies over 30 layers), GradInit 0.718 (0.770 and 0.359 for the other two keys).
    data = (digits.x_train, digits.y_train, digits.x_test, digits.y_test)
    stacked = jax.tree.map(lambda a, b: jnp.stack([a, b]), variables["params"], new["params"])
    curves = train_runs(
        model,
        OPTIMIZERS["momentum"],
        stacked,
        np.array([0.003, 0.003]),
        jax.random.split(jax.random.key(7), 2),
        data,
        steps=300,
        eval_every=300,
    )
    glorot, after = curves.train_loss[:, -1]
    assert glorot > LN10 - 0.1, glorot  # stays at ln 10 = 2.303
    assert after < 1.2, after


# ----------------------------------------------------------------------------- the objective


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_the_objective_and_its_gradient_match_an_independent_computation(optimizer: str) -> None:
    with jax.enable_x64(True):
        params = _params(jax.random.key(1), jnp.float64)
        x, y = _data(64, jnp.float64)
        s1, s2 = (x[:32], y[:32]), (x[32:], y[32:])
        names = ["b1", "b2", "w1", "w2"]  # the leaf order of the dict
        objective = make_objective(
            _apply,
            _ce,
            lambda leaves: dict(zip(names, leaves, strict=True)),
            [0, 1, 2, 3],
            optimizer=optimizer,
        )
        leaves = [params[name] for name in names]

        def by_hand(alpha: jax.Array, gamma: jax.Array) -> jax.Array:  # Eq. 1, written again
            theta = {n: a * params[n] for n, a in zip(names, alpha, strict=True)}
            g = jax.grad(lambda p: _ce(_apply(p, s1[0]), s1[1]))(theta)
            if optimizer == "sgd":
                norm = jnp.sqrt(sum(jnp.sum(v**2) for v in g.values()))
                step = g
            else:
                norm = sum(jnp.sum(jnp.abs(v)) for v in g.values())
                step = {n: v / (jnp.abs(v) + 1e-8) for n, v in g.items()}
            moved = {n: theta[n] - 0.1 * step[n] for n in names}
            after = _ce(_apply(moved, s2[0]), s2[1]) / 0.1
            return jnp.where(norm > gamma, norm, after)

        eps = 1e-6

        @jax.jit  # one compilation for every quantity compared, at both gammas
        def measure(alpha: jax.Array, gamma: jax.Array) -> tuple[jax.Array, ...]:
            value, metrics = objective(alpha, leaves, s1, s2, 0.1, gamma)
            grad = jax.grad(lambda a: objective(a, leaves, s1, s2, 0.1, gamma)[0])(alpha)
            shifted = alpha + eps * jnp.concatenate([jnp.eye(4), -jnp.eye(4)])
            around = jax.vmap(by_hand, in_axes=(0, None))(shifted, gamma)
            central = (around[:4] - around[4:]) / (2 * eps)
            return value, metrics["constrained"], by_hand(alpha, gamma), grad, central

        alpha = jnp.array([0.8, 1.1, 0.9, 1.3])
        for gamma in (1e3, 1e-3):  # the gradient norms here are 0.5-3: never / always over
            value, constrained, expected, grad, central = measure(alpha, jnp.float64(gamma))
            assert bool(constrained) == (gamma < 1)
            # float64 throughout: agreement to rounding (1e-12 relative)
            np.testing.assert_allclose(value, expected, rtol=1e-12)
            # central differences in float64 at eps 1e-6: truncation ~eps^2, rounding ~1e-10
            np.testing.assert_allclose(grad, central, rtol=1e-6, atol=1e-8)


def test_with_a_tiny_gamma_the_scales_descend_the_gradient_norm_not_the_loss() -> None:
    params = _params(jax.random.key(2))
    pairs = _pairs(3)
    (x0, y0), (x1, y1), (x2, y2) = pairs
    s1 = (jnp.concatenate([x0, x1]), jnp.concatenate([y0, y1]))  # what step 0 uses
    s2 = (jnp.concatenate([x0, x2]), jnp.concatenate([y0, y2]))
    names = ["b1", "b2", "w1", "w2"]

    @jax.jit
    def both(alpha: jax.Array) -> tuple[jax.Array, jax.Array]:  # (||g||_2, L(θ - 0.1 g; S2))
        p = {n: a * params[n] for n, a in zip(names, alpha, strict=True)}
        g = jax.grad(lambda q: _ce(_apply(q, s1[0]), s1[1]))(p)
        moved = jax.tree.map(lambda a, b: a - 0.1 * b, p, g)
        return jnp.sqrt(sum(jnp.sum(v**2) for v in g.values())), _ce(_apply(moved, s2[0]), s2[1])

    def slopes(which: int) -> np.ndarray:  # central differences at alpha = 1, eps 1e-2
        e = 1e-2 * np.eye(4, dtype=np.float32)
        return np.array([(both(1 + e[i])[which] - both(1 - e[i])[which]) / 2e-2 for i in range(4)])

    norm_slopes, loss_slopes = slopes(0), slopes(1)
    # the two objectives pull some scales in opposite directions (measured: b2 and w1), so
    # the check tells them apart
    assert np.any(np.sign(norm_slopes) != np.sign(loss_slopes)), (norm_slopes, loss_slopes)
    # every slope is far from 0 (measured |slope| >= 0.0148; the float32 central-difference
    # error here is <~ 1e-4), so its sign is certain
    assert np.all(np.abs(norm_slopes) > 0.01) and np.all(np.abs(loss_slopes) > 0.01)

    norm0, after0 = (float(v) for v in both(jnp.ones(4)))
    for gamma, expected in ((1e-6, norm_slopes), (1e6, loss_slopes)):
        _, report = gradinit(_apply, params, pairs, K, steps=1, gamma=gamma)
        # Adam's first step is scale_lr * sign(gradient) (up to its eps): each scale moves
        # 0.01 against its objective's slope
        moved = np.array([report.scales[n] for n in names]) - 1.0
        np.testing.assert_allclose(moved, -0.01 * np.sign(expected), rtol=1e-4)
        assert report.grad_norm[0] == pytest.approx(norm0, rel=1e-5)  # float32 sums
        if gamma < 1:
            assert report.constrained_steps == 1 and report.loss_after == (None,)
        else:
            assert report.constrained_steps == 0
            assert report.loss_after[0] == pytest.approx(after0, rel=1e-5)

    # over many steps (the same three pairs every step) the norm falls: measured 1.93 -> 1.51
    # in 30 steps, every one constrained
    _, report = gradinit(_apply, params, pairs, K, steps=30, gamma=1e-6)
    assert report.constrained_steps == 30
    assert report.grad_norm[-1] < 0.9 * report.grad_norm[0]


# ----------------------------------------------------------------------------- guarantees


def test_scales_stay_at_or_above_min_scale() -> None:
    params = _params(jax.random.key(3))
    # a tiny gamma makes every step shrink the gradient norm, which drives the scales down
    # fast at scale_lr 0.2; the clamp must hold them at min_scale
    new, report = gradinit(
        _apply,
        params,
        _data(),
        jax.random.key(0),
        steps=30,
        gamma=1e-6,
        scale_lr=0.2,
        min_scale=0.4,
        batch_size=16,
    )
    scales = np.array(list(report.scales.values()))
    assert np.all(scales >= 0.4)
    assert np.any(scales == np.float32(0.4)), scales  # the clamp was reached
    for name in params:
        np.testing.assert_allclose(new[name], report.scales[name] * params[name], rtol=1e-6)


def test_every_block_keeps_its_direction_and_only_its_norm_changes() -> None:
    model = nn.Sequential([nn.Dense(16), nn.tanh, nn.Dense(3)])
    x, y = _data()
    variables = model.init(jax.random.key(4), x)
    new, report = gradinit(model, variables, (x, y), jax.random.key(5), steps=20, lr=0.5)
    assert set(new) == {"params"} and jax.tree.structure(new) == jax.tree.structure(variables)
    old_leaves = jax.tree_util.tree_flatten_with_path(variables)[0]
    new_leaves = jax.tree.leaves(new)
    moved = 0
    for (path, old), fresh in zip(old_leaves, new_leaves, strict=True):
        block = jinit.path_string(path)
        scale = report.scales[block]
        moved += scale != 1.0
        # float32 products: one rounding per element
        np.testing.assert_allclose(fresh, scale * old, rtol=1e-6, atol=0)
        if np.linalg.norm(old) > 0:
            np.testing.assert_allclose(
                fresh / np.linalg.norm(fresh), old / np.linalg.norm(old), rtol=1e-5, atol=1e-7
            )
    assert moved == 2  # the two kernels (the zero biases cannot change)

    # blocks param_pattern does not match are returned untouched, bit for bit
    new, report = gradinit(
        model, variables, (x, y), jax.random.key(5), steps=3, param_pattern="*kernel"
    )
    assert list(report.scales) == ["params/layers_0/kernel", "params/layers_2/kernel"]
    for layer in ("layers_0", "layers_2"):
        assert new["params"][layer]["bias"] is variables["params"][layer]["bias"]


# ----------------------------------------------------------------------------- batches, report


def test_adam_uses_the_l1_norm_and_the_report_prints() -> None:
    params = _params(jax.random.key(6))
    pairs = _pairs(3)
    _, report = gradinit(_apply, params, pairs, jax.random.key(0), steps=4, optimizer="adam")
    s1 = (jnp.concatenate([pairs[0][0], pairs[1][0]]), jnp.concatenate([pairs[0][1], pairs[1][1]]))
    g = jax.grad(lambda p: _ce(_apply(p, s1[0]), s1[1]))(params)
    l1 = float(sum(jnp.sum(jnp.abs(v)) for v in g.values()))
    assert report.norm_order == 1
    assert report.grad_norm[0] == pytest.approx(l1, rel=1e-5)  # float32 sums of 119 terms
    assert isinstance(report, GradInitReport) and report.steps == 4
    text = str(report)
    assert text.startswith("GradInit (adam, lr 0.1, ||g||_1 <= 1, min scale 0.01): 4 block(s)")
    for name in params:
        assert re.search(rf"^  {name} ", text, re.MULTILINE), text
    assert "gradient norm" in text and "loss after the step" in text


def test_batches_from_a_list_an_iterator_and_disjoint_draws() -> None:
    params = _params(jax.random.key(8))
    pairs = _pairs(6)
    # a list is cycled; an iterator yields 3 draws a step (4 without overlap)
    from_list = gradinit(_apply, params, pairs, jax.random.key(0), steps=4)[1]
    from_iter = gradinit(_apply, params, itertools.cycle(pairs), jax.random.key(0), steps=4)[1]
    assert from_list.scales == from_iter.scales
    used = iter(pairs[:4])
    gradinit(_apply, params, used, jax.random.key(0), steps=1, overlap=False)
    assert next(used, None) is None  # exactly 4 consumed
    with pytest.raises(JinitValueError, match=r"^jinit\.gradinit: batches: the iterator ran out"):
        gradinit(_apply, params, iter(pairs[:2]), jax.random.key(0), steps=1)
    # a dataset: the same key draws the same rows (and so learns the same scales)
    data = _data()
    a = gradinit(_apply, params, data, jax.random.key(1), steps=3, batch_size=16)[1]
    b = gradinit(_apply, params, data, jax.random.key(1), steps=3, batch_size=16)[1]
    assert a.scales == b.scales and a.loss == b.loss


# ----------------------------------------------------------------------------- refusals

X, Y = _data()
P = _params(jax.random.key(9))
CE = "loss: the default softmax cross-entropy needs "  # the start of the default loss' refusals
DATASET = r"batches: the dataset \(x, y\) needs "

BAD_ARGUMENTS = [
    ({"optimizer": "rmsprop"}, JinitValueError, r"optimizer must be one of 'sgd', 'adam'"),
    ({"optimizer": 1}, JinitTypeError, r"optimizer must be a string"),
    ({"lr": 0.0}, JinitValueError, r"lr must be > 0, got 0\.0"),
    ({"lr": "0.1"}, JinitTypeError, r"lr must be a real number"),
    ({"gamma": -1.0}, JinitValueError, r"gamma must be > 0"),
    ({"gamma": math.inf}, JinitValueError, r"gamma must be finite"),
    ({"scale_lr": 0}, JinitValueError, r"scale_lr must be > 0"),
    ({"min_scale": 0.0}, JinitValueError, r"min_scale must be > 0"),
    ({"min_scale": 1.5}, JinitValueError, r"min_scale must lie in \(0, 1\].*got 1\.5"),
    ({"steps": 0}, JinitValueError, r"steps must be an int >= 1, got 0"),
    ({"steps": 2.0}, JinitTypeError, r"steps must be an int >= 1, got 2\.0"),
    ({"batch_size": 0}, JinitValueError, r"batch_size must be an int >= 1, got 0"),
    ({"overlap": "yes"}, JinitTypeError, r"overlap must be a bool, got 'yes'"),
    ({"progress": 1}, JinitTypeError, r"progress must be a bool, got 1"),
    ({"apply_kwargs": [1]}, JinitTypeError, r"apply_kwargs must be a mapping"),
    ({"loss": "ce"}, JinitTypeError, r"loss must be a function"),
    ({"param_pattern": 3}, JinitTypeError, r"param_pattern must be a glob str .*got 3"),
    ({"param_pattern": "*kernel"}, JinitValueError, r"param_pattern '\*kernel' matched no "),
    ({"loss": lambda o, t: o.mean(axis=0)}, JinitValueError, r"loss must return a scalar"),
]


@pytest.mark.parametrize(("kwargs", "kind", "message"), BAD_ARGUMENTS)
def test_bad_arguments_are_refused_before_any_work(kwargs, kind, message) -> None:
    with pytest.raises(kind, match=r"^jinit\.gradinit: " + message):
        gradinit(_apply, P, (X, Y), K, **kwargs)


BAD_CALLS = [
    ((_apply, P, (X, Y), 0), JinitTypeError, r"key must be a JAX PRNG key"),
    ((3, P, (X, Y), K), JinitTypeError, r"model: must be a flax\.linen Module"),
    ((_apply, None, (X, Y), K), JinitTypeError, r"variables: a function model needs"),
    ((nn.Dense(3), P, (X, Y), K), JinitTypeError, r"variables: a linen Module needs .*'params'"),
    ((_apply, P, X, K), JinitTypeError, r"batches: got a single array"),
    ((_apply, P, [], K), JinitValueError, r"batches: got an empty sequence"),
    ((_apply, P, 5, K), JinitTypeError, r"batches: got int"),
    ((_apply, P, [X], K), JinitTypeError, r"batches: item 0 must be an \(inputs, targets\)"),
    ((_apply, P, (X, Y[:5]), K), JinitValueError, DATASET + "as many targets as inputs"),
    ((_apply, P, (X[:2], Y[:2]), K), JinitValueError, DATASET + "at least 3 examples"),
    ((_apply, P, (X, Y * 1.0), K), JinitTypeError, CE + "integer class labels"),
    ((_apply, P, (X, Y + 1), K), JinitValueError, r"batches: labels must lie in 0\.\.2 \(the"),
    ((_apply, P, (X, Y[:, None]), K), JinitValueError, CE + "logits of shape"),
    (
        (_apply, P, [(X[:4], Y[:4]), (X[:4, :2], Y[:4])], K),
        JinitValueError,
        r"batches: the draws of a step cannot be joined",
    ),
]


@pytest.mark.parametrize(("args", "kind", "message"), BAD_CALLS)
def test_bad_models_keys_and_batches_are_refused(args, kind, message) -> None:
    with pytest.raises(kind, match=r"^jinit\.gradinit: " + message):
        gradinit(*args)


def test_a_run_whose_loss_is_not_finite_is_refused_not_returned() -> None:
    def nan_loss(outputs: jax.Array, targets: jax.Array) -> jax.Array:
        return jnp.sqrt(_ce(outputs, targets) - 100.0)  # NaN: the loss is far below 100

    with pytest.raises(
        JinitValueError, match=r"^jinit\.gradinit: the loss became non-finite at step 0"
    ):
        gradinit(_apply, P, (X, Y), jax.random.key(0), steps=2, loss=nan_loss)
