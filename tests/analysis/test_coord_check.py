r"""``coord_check``: the μP coordinate check of Tensor Programs V on a small MLP family.

The family is 64 -> width -> width -> 10 (ReLU; layers ``input``, ``hidden``, ``readout``) at
widths 64, 128, 256, 512, trained 4 Adam steps (learning rate 1e-2) on 4 batches of 64 digits.

Theory (Yang et al. 2022, arXiv:2203.03466) fixes what the slope :math:`a` of
:math:`\log(\text{mean}|h|)` against :math:`\log n` tends to as the width grows:

* μP (``mup_rules`` + ``mup_learning_rates``): :math:`a = 0` for every layer at every step,
  except the read-out at initialization, whose variance ``base/n^2 * n`` gives exactly
  :math:`a = -1/2`.
* standard parametrization (LeCun init N(0, 1/fan_in), one global Adam rate): Adam moves every
  hidden weight by about :math:`\eta` per step, aligned with its input, so a hidden
  pre-activation changes by :math:`\propto \eta n`: its scale is :math:`c_0 + d\,n` and
  :math:`a \to 1`; the read-out grows by its own update and by its growing input,
  :math:`a \to 1 + a_\text{hidden}`. The input layer (fixed fan-in 64) is not expected to grow.

At widths 64-512 the SP curves are still in transit between the two terms of
:math:`c_0 + d\,n`, so the checks separate the two theories with one threshold, a quarter of
the way from 0 to 1: μP slopes must stay within :math:`\pm 1/4` (its finite-width corrections
are relative :math:`c/\sqrt n`, which move the slope by at most :math:`c/(2\sqrt{64}) = c/16`
at these widths: 1/4 allows :math:`c` up to 4) and SP hidden/read-out slopes must exceed 1/4
(the update part is then more than a third of the initial scale at the geometric-mean width).

Measured (jax 0.10.2, flax 0.12.8, 2-core x86 CPU) with key 0, slopes after the 4th update
(input, hidden, readout): μP -0.005, -0.025, 0.020; SP -0.057, 0.414, 0.864. Over keys 0-5:
μP |slope| <= 0.071, SP hidden 0.41-0.54, SP readout 0.84-0.89; read-out at init μP -0.37 to
-0.54, SP -0.04 to 0.13. Deliberately broken μP fails: the μP init with one global Adam rate
gives hidden 0.419 and readout 0.819 after 4 updates; the SP init with μP's rates a readout of
0.346 after 4 updates (and 0.053 at init).
"""

from __future__ import annotations

import functools
import re

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jinit
from jinit._src.analysis.coord_check.result import CoordCheck
from jinit._src.analysis.coord_check.run import coord_check
from jinit._src.study.data import load_dataset

WIDTHS = (64, 128, 256, 512)
BASE, LR, STEPS, BATCH = 64, 1e-2, 4, 64
MUP = {"base_fan_in": BASE, "input": "*input/kernel", "output": "*readout/kernel"}
#: Standard parametrization's init: every kernel N(0, 1/fan_in) (LeCun, untruncated: the
#: same draw as μP's input and hidden kernels, so the families differ only where μP differs).
LECUN = {"*kernel": jinit.variance_scaling(1.0, "fan_in", "normal"), "*bias": jinit.zeros}
#: The separation threshold between μP (slope 0) and SP (slope -> 1); see the module docstring.
QUARTER = 0.25


class MLP(nn.Module):
    width: int

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        x = nn.relu(nn.Dense(self.width, name="input")(x))
        x = nn.relu(nn.Dense(self.width, name="hidden")(x))
        return nn.Dense(10, name="readout")(x)


@functools.cache
def _batches() -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    data = load_dataset("digits")
    x, y = np.asarray(data.x_train, np.float32), np.asarray(data.y_train)
    return tuple((x[i * BATCH : (i + 1) * BATCH], y[i * BATCH : (i + 1) * BATCH]) for i in range(4))


def _mup_optimizer(params: object) -> optax.GradientTransformation:
    return jinit.mup_learning_rates(params, LR, **MUP)


@functools.cache
def _mup() -> CoordCheck:
    return coord_check(
        MLP,
        WIDTHS,
        list(_batches()),
        jax.random.key(0),
        rules=jinit.mup_rules(**MUP),
        optimizer=_mup_optimizer,
        steps=STEPS,
    )


@functools.cache
def _sp() -> CoordCheck:
    return coord_check(
        MLP,
        WIDTHS,
        list(_batches()),
        jax.random.key(0),
        rules=LECUN,
        optimizer=optax.adam(LR),
        steps=STEPS,
        progress=True,  # the bar (rich, transient) must not disturb the run
    )


def test_mup_curves_are_flat() -> None:
    check = _mup()
    assert check.layers == ("input", "hidden", "readout")  # execution order, not names
    assert check.widths == WIDTHS and check.steps == (0, 1, 2, 3, 4)
    assert check.scales.shape == (4, 5, 3)
    last = check.slopes(-1)
    # measured -0.005, -0.025, 0.020 (keys 0-5: |slope| <= 0.071); theory 0
    assert np.all(np.abs(last) < QUARTER), dict(zip(check.layers, last, strict=True))
    # input and hidden at every step (measured max |slope| 0.025); the read-out is left out
    # before the last step: its init part, which shrinks like n^-1/2, still shows after one
    # update (measured -0.198, -0.055, -0.044 at t = 1, 2, 3)
    assert np.all(np.abs(check.slopes()[:, :2]) < QUARTER)
    # the read-out at init: variance base/n^2 per weight, so scale ∝ n^-1/2 (measured -0.447;
    # keys 0-5: -0.37 to -0.54); the standard init's read-out has slope 0
    assert abs(check.slopes(0)[2] + 0.5) < QUARTER
    # the model trains: the loss falls from about ln 10 = 2.30 (measured 2.29-2.39 -> 0.63-0.98)
    assert np.all(check.losses[:, -1] < check.losses[:, 0] - 1.0)


def test_standard_parametrization_grows_with_width() -> None:
    check = _sp()
    slope = dict(zip(check.layers, check.slopes(-1), strict=True))
    # measured hidden 0.414, readout 0.864 (keys 0-5: 0.41-0.54 and 0.84-0.89); theory -> 1, 2
    assert slope["hidden"] > QUARTER, slope
    assert slope["readout"] > QUARTER, slope
    # the read-out grows by its own update and by its growing input: faster than the hidden
    assert slope["readout"] > slope["hidden"], slope
    # at the base width μP *is* standard parametrization: read-out variance base/n^2 = 1/n,
    # learning rates η·base/n = η; same rules, keys and data, so the same run (float32 rounding
    # of one multi_transform vs one adam aside: 1e-6 relative; measured equal to 4 digits)
    np.testing.assert_allclose(check.scales[0], _mup().scales[0], rtol=1e-6)
    np.testing.assert_allclose(check.losses[0], _mup().losses[0], rtol=1e-6)
    # at init the input and hidden kernels are μP's draws (same rule, keys and paths): flat
    # (measured -0.015, -0.025, as for μP)
    assert np.all(np.abs(check.slopes(0)[:2]) < QUARTER)


def test_scales_are_the_mean_absolute_layer_outputs() -> None:
    """Steps 0 and 1 at width 64, recomputed here with flax, jinit and optax directly."""
    check = _mup()
    (x0, y0), (x1, _) = _batches()[:2]
    init_key, rules_key = jax.random.split(jax.random.key(0))  # as documented
    model = MLP(64)
    abstract = jax.eval_shape(model.init, init_key, x0)  # the rules draw every parameter
    variables = jinit.reinit(abstract, jinit.mup_rules(**MUP), rules_key)

    def scales(params: object, x: np.ndarray) -> tuple[jax.Array, list[jax.Array]]:
        out, state = model.apply(
            {"params": params}, x, capture_intermediates=True, mutable=["intermediates"]
        )
        inter = state["intermediates"]
        return out, [jnp.mean(jnp.abs(inter[k]["__call__"][0])) for k in check.layers]

    def loss(params: object, x: np.ndarray, y: np.ndarray) -> jax.Array:
        logits = model.apply({"params": params}, x)
        return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

    tx = _mup_optimizer(variables["params"])

    @jax.jit  # one program for the whole recomputation (compiling op by op is slower)
    def direct(params: object) -> tuple[list[jax.Array], jax.Array, list[jax.Array]]:
        first = scales(params, x0)[1]
        updates, _ = tx.update(jax.grad(loss)(params, x0, y0), tx.init(params), params)
        second = scales(optax.apply_updates(params, updates), x1)[1]  # step 1 is on batch 1
        return first, loss(params, x0, y0), second

    first, value, second = direct(variables["params"])
    # float32 sums in another order (other fusion, scan): 1e-5 relative
    np.testing.assert_allclose(check.scales[0, 0], first, rtol=1e-5)
    np.testing.assert_allclose(check.losses[0, 0], value, rtol=1e-5)
    # Adam's first step is η·g/(|g| + ε): gradients differing by rounding barely move it
    np.testing.assert_allclose(check.scales[0, 1], second, rtol=1e-4)


def test_slopes_of_exact_power_laws() -> None:
    widths = (4, 8, 32, 100)
    exponents = np.array([[0.0, 1.0, -0.5], [2.0, 0.25, -1.0]])  # (steps, layers)
    w = np.asarray(widths, float)[:, None, None]
    scales = 3.0 * w ** exponents[None]  # exact power laws with a prefactor
    check = CoordCheck(widths, (0, 1), ("a", "b", "c"), scales, np.ones((4, 2)))
    np.testing.assert_allclose(check.slopes(), exponents, atol=1e-12)
    np.testing.assert_allclose(check.slopes(-1), exponents[1], atol=1e-12)
    np.testing.assert_allclose(check.slopes(0), exponents[0], atol=1e-12)
    # a noisy law: least squares, not the end points (by hand: x = log w centred)
    noisy = scales * np.array([1.0, 1.1, 0.9, 1.05])[:, None, None]
    x = np.log(widths) - np.log(widths).mean()
    expected = exponents + (x @ np.log([1.0, 1.1, 0.9, 1.05])) / (x @ x)
    got = CoordCheck(widths, (0, 1), ("a", "b", "c"), noisy, np.ones((4, 2))).slopes()
    np.testing.assert_allclose(got, expected, atol=1e-12)
    zero = scales.copy()
    zero[2, 0, 1] = 0.0
    dead = CoordCheck(widths, (0, 1), ("a", "b", "c"), zero, np.ones((4, 2)))
    with pytest.raises(ValueError, match=r"'b' is exactly 0 at width 32 after 0 update"):
        dead.slopes()
    np.testing.assert_allclose(dead.slopes(1), exponents[1], atol=1e-12)  # other steps fine
    assert "zero" in str(dead)
    with pytest.raises(ValueError, match=r"jinit.CoordCheck.slopes: step must be an int in -2..1"):
        check.slopes(2)


def test_print_and_plot(tmp_path) -> None:
    check = _mup()
    text = str(check)
    assert "widths [64, 128, 256, 512], 4 update(s)" in text
    assert re.search(r"readout\s+-0\.\d{3}", text)  # t=0: about -0.45
    path = tmp_path / "coord.png"
    fig = check.plot(path)
    assert path.stat().st_size > 1000
    assert len(fig.axes) == len(check.steps)  # one panel per step
    for t, ax in enumerate(fig.axes):
        assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
        assert ax.get_title() == f"t = {t}"
        lines = ax.get_lines()
        assert [line.get_label() for line in lines] == list(check.layers)  # one per layer
        np.testing.assert_array_equal(lines[0].get_xdata(), WIDTHS)
        np.testing.assert_array_equal(lines[2].get_ydata(), check.scales[:, t, 2])


def _never(width: int) -> nn.Module:
    raise AssertionError("make_model was called before the arguments were checked")


X, Y = np.ones((4, 3), np.float32), np.zeros(4, np.int32)
GOOD = {"widths": [4, 8], "batches": [(X, Y)], "optimizer": optax.adam(1e-2), "steps": 1}
RUNS = GOOD | {"rules": LECUN}  # for the runs that compile: an untruncated init compiles faster


@pytest.mark.parametrize(
    ("change", "error", "match"),
    [
        ({"widths": [8]}, ValueError, r"widths must hold at least 2 distinct widths .* got \[8\]"),
        (
            {"widths": [8, 8]},
            ValueError,
            r"widths must hold at least 2 distinct widths .* got \[8, 8\]",
        ),
        ({"widths": [0, 8]}, ValueError, r"widths must be ints >= 1, got 0 in \[0, 8\]"),
        ({"widths": [4, 8.0]}, TypeError, r"widths must be ints >= 1, got 8.0"),
        ({"widths": "48"}, TypeError, r"widths must be a sequence of ints >= 1, got '48'"),
        ({"steps": 0}, ValueError, r"steps must be an int >= 1, got 0"),
        ({"batches": (X, Y)}, TypeError, r"batches\[0\] must be an \(inputs, targets\) pair"),
        ({"batches": []}, TypeError, r"batches must be a non-empty list .* pass \[\(x, y\)\]"),
        (
            {"batches": [(X, Y), (X[:2], Y[:2])]},
            ValueError,
            r"batches\[1\] differs in structure, shapes or dtypes",
        ),
        ({"batches": [(X * np.nan, Y)]}, ValueError, r"batches\[0\] has NaN or infinite"),
        ({"optimizer": "adam"}, TypeError, r"optimizer must be an optax.GradientTransformation"),
        ({"rules": [("*", jinit.zeros)]}, TypeError, r"rules must be a mapping"),
        ({"loss": 3}, TypeError, r"loss must be callable \(output, targets\) -> scalar, got 3"),
        ({"progress": 1}, TypeError, r"progress must be a bool, got 1"),
    ],
)
def test_argument_errors_come_before_any_work(change, error, match) -> None:
    with pytest.raises(error, match=r"^jinit\.coord_check: " + match):
        coord_check(_never, key=jax.random.key(0), **(GOOD | change))


def test_errors_found_while_running() -> None:
    key = jax.random.key(0)
    with pytest.raises(TypeError, match=r"^jinit.coord_check: make_model must be callable"):
        coord_check(3, key=key, **GOOD)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"make_model\(4\) must return a flax.linen Module"):
        coord_check(lambda w: None, key=key, **GOOD)  # type: ignore[arg-type,return-value]
    with pytest.raises(ValueError, match=r"make_model\(4\) has no parameters"):
        coord_check(lambda w: nn.Sequential([jnp.tanh]), key=key, **GOOD)
    floats = GOOD | {"batches": [(X, X)]}  # float targets of shape (4, 3) for a (4, 10) output
    with pytest.raises(ValueError, match=r"the targets fit no default loss .* or loss=fn"):
        coord_check(MLP, key=key, **floats)

    def deeper(width: int) -> nn.Module:
        hidden = [nn.Dense(width) for _ in range(1 if width < 8 else 2)]
        return nn.Sequential([*hidden, nn.Dense(10)])

    with pytest.raises(ValueError, match=r"the layers differ between widths: \['layers_0', "):
        coord_check(deeper, key=key, **GOOD)
    with pytest.raises(
        ValueError, match=r"loss must return a scalar, got ShapeDtypeStruct\(shape=\(4,\)"
    ):
        coord_check(MLP, key=key, loss=lambda out, y: out.sum(-1), **GOOD)
    # a NaN loss with zero gradients: the parameters stay finite, the loss is refused
    nan_loss = lambda out, y: jax.lax.stop_gradient(jnp.sum(out)) * jnp.nan  # noqa: E731
    with pytest.raises(
        ValueError, match=r"^jinit.coord_check: training diverged at width 4: the loss is nan "
    ):
        coord_check(MLP, key=key, loss=nan_loss, **RUNS)
    # a NaN gradient: every parameter is NaN after the first update
    nan_grad = lambda out, y: jnp.sqrt(-jnp.abs(out).sum())  # noqa: E731
    with pytest.raises(
        ValueError, match=r"training diverged at width 4: the output of 'input' is nan after 1"
    ):
        coord_check(MLP, key=key, loss=nan_grad, **RUNS)
    bad_optimizer = GOOD | {"optimizer": lambda params: "adam"}
    with pytest.raises(TypeError, match=r"optimizer\(params\) must return an optax"):
        coord_check(MLP, key=key, **bad_optimizer)
