"""``metainit``: the gradient quotient, its Hessian-vector product, and MetaInit's norm tuning.

The main check is the issue's: from 0.5 x LeCun on a 20-layer tanh MLP (19 hidden layers of
width 64 and a linear read-out, digits), MetaInit with the paper's step size, momentum and
epsilon at least halves the gradient quotient, raises the median norm scale above 1, and keeps
every array's direction. Figures quoted at the assertions were measured on CPU (jax 0.10.2,
flax 0.12.8, optax 0.2.8) with the keys used here.
"""

from __future__ import annotations

import itertools
import re

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import jinit
from jinit._src.analysis.metainit.quotient import gradient_quotient, hvp
from jinit._src.analysis.metainit.run import MetaInitArray, MetaInitReport, metainit
from jinit._src.study.data import load_dataset
from jinit._src.study.models import MLP

EPS = 1e-5  # the paper's epsilon


def _listing_quotient(objective, params, eps: float = EPS) -> float:
    """GQ computed as the authors' listing does: Hg as the gradient of |g|^2 / 2 (double
    backprop, no jvp), in float64 NumPy after the derivatives."""
    grad = jax.grad(objective)
    g = jax.tree.leaves(grad(params))
    hg = jax.tree.leaves(
        jax.grad(lambda p: sum(0.5 * jnp.sum(a**2) for a in jax.tree.leaves(grad(p))))(params)
    )
    total, count = 0.0, 0
    for a, b in zip(g, hg, strict=True):
        a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
        total += np.abs((a - b) / (a + eps * np.where(a >= 0, 1.0, -1.0)) - 1.0).sum()
        count += a.size
    return total / count


def _flat(tree) -> dict[str, jax.Array]:
    return {jinit.path_string(p): v for p, v in jax.tree_util.tree_flatten_with_path(tree)[0]}


# ----------------------------------------------------------------------------- the quotient


def test_hvp_matches_the_explicit_hessian_of_a_quadratic() -> None:
    # f = x^T A x / 2 + b^T x has Hessian A exactly: Hv = A v. float32 products of a 5x5
    # matrix: relative error ~1e-7; rtol 1e-5 leaves room, and a factor or transpose error
    # (A^T v with A not symmetrized, 2 A v) is off by O(1).
    a = np.asarray(jax.random.normal(jax.random.key(0), (5, 5)))
    a = (a + a.T) / 2
    b = jnp.arange(5.0)
    x = jax.random.normal(jax.random.key(1), (5,))
    v = jax.random.normal(jax.random.key(2), (5,))
    got = hvp(lambda t: 0.5 * t @ jnp.asarray(a) @ t + b @ t, x, v)
    np.testing.assert_allclose(got, a @ np.asarray(v), rtol=1e-5, atol=1e-6)


def test_hvp_matches_finite_differences_of_the_gradient() -> None:
    # Non-quadratic: Hv = (g(x + h v) - g(x - h v)) / 2h + O(h^2). With h = 1e-2 in float32 the
    # truncation error is ~1e-4 relative and the rounding ~1e-7 / h = 1e-5: rtol 2e-3.
    def f(p: dict[str, jax.Array]) -> jax.Array:
        return jnp.sum(jnp.tanh(p["w"] @ p["x"]) ** 2) + jnp.sum(p["w"] ** 3) / 3

    p = {"w": jax.random.normal(jax.random.key(3), (3, 4)), "x": jnp.linspace(-1, 1, 4)}
    v = {"w": jax.random.normal(jax.random.key(4), (3, 4)), "x": jnp.ones(4)}
    h = 1e-2
    grad = jax.jit(jax.grad(f))
    plus = grad(jax.tree.map(lambda a, b: a + h * b, p, v))
    minus = grad(jax.tree.map(lambda a, b: a - h * b, p, v))
    expected = jax.tree.map(lambda a, b: (a - b) / (2 * h), plus, minus)
    got = jax.jit(hvp, static_argnums=0)(f, p, v)
    for name in p:
        np.testing.assert_allclose(got[name], expected[name], rtol=2e-3, atol=2e-3)


def test_gradient_quotient_by_hand_with_the_safe_division() -> None:
    # f = sum(a w^2) / 2: g = a w = [2, -1, 0], Hg = a g = [4, -0.5, 0]. With eps = 0.5 the
    # sign-safe denominators are g + eps s = [2.5, -1.5, 0.5]:
    #   |(2 - 4)/2.5 - 1| = 1.8,  |(-1 + 0.5)/(-1.5) - 1| = 2/3,  |0/0.5 - 1| = 1,
    # GQ = (1.8 + 2/3 + 1) / 3 = 1.155556. (Adding +eps to the negative component instead
    # gives 0.9333; a plain division gives NaN.) float32: rtol 1e-6.
    a = jnp.array([2.0, 0.5, 3.0])
    w = jnp.array([1.0, -2.0, 0.0])
    value = gradient_quotient(lambda t: 0.5 * jnp.sum(a * t**2), w, eps=0.5)
    assert float(value) == pytest.approx((1.8 + 2 / 3 + 1) / 3, rel=1e-6)


def test_gradient_quotient_by_hand_on_a_tiny_model_through_metainit() -> None:
    # y_hat = x @ w + c on x = I (two examples), y = 0, loss = sum of squares / 2, w = [1, 2],
    # c = 0. Parameters (w1, w2, c), z_b = (x_b, 1): r = [1, 2], g = sum r_b z_b = [1, 2, 3],
    # H = sum z_b z_b^T = [[1,0,1],[0,1,1],[1,1,2]], Hg = [4, 5, 9].
    # GQ = (|(1-4)/1 - 1| + |(2-5)/2 - 1| + |(3-9)/3 - 1|) / 3 = (4 + 2.5 + 3) / 3 = 3.1667
    # (eps shifts it by ~1e-5); the bias counts in N (kernel alone: 3.25). float32: rtol 1e-5.
    params = {"kernel": jnp.array([[1.0], [2.0]]), "bias": jnp.zeros(1)}
    batch = (jnp.eye(2), jnp.zeros((2, 1)))
    g, hg = np.array([1.0, 2.0, 3.0]), np.array([4.0, 5.0, 9.0])
    expected = np.mean(np.abs((g - hg) / (g + EPS) - 1))

    def apply(p, x):
        return x @ p["kernel"] + p["bias"]

    def loss(out, y):
        return 0.5 * jnp.sum((out - y) ** 2)

    _, report = metainit(apply, params, [batch], jax.random.key(0), loss=loss, steps=1)
    assert report.n_params == 3
    assert report.gq_before == pytest.approx(expected, rel=1e-5)
    assert report.trajectory == (report.gq_before,)


# ----------------------------------------------------------------------------- the check


@pytest.fixture(scope="module")
def tanh_run() -> tuple[MLP, dict, list, dict, MetaInitReport]:
    data = load_dataset("digits")
    rows = np.random.default_rng(0).permutation(len(data.x_train))[: 8 * 64].reshape(8, 64)
    batches = [(jnp.asarray(data.x_train[r]), jnp.asarray(data.y_train[r])) for r in rows]
    model = MLP(19, 64, 10, jnp.tanh, jinit.variance_scaling(0.25, "fan_in", "normal"))
    variables = model.init(jax.random.key(0), batches[0][0])
    new, report = metainit(model, variables, batches, jax.random.key(1), steps=100)
    return model, variables, batches, new, report


def test_metainit_halves_the_quotient_of_a_deep_tanh_net(tanh_run) -> None:
    model, variables, batches, new, report = tanh_run
    x, y = batches[0]

    def objective_at(params):
        def objective(p):
            logits = model.apply({"params": p}, x)
            return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(logits), y[:, None], 1))

        return objective

    # The report's numbers are the quotient of the given and returned parameters on the first
    # batch, recomputed here the listing's way (double backprop, float64 sums). Measured
    # agreement 1.4e-7 and 1.7e-7 relative; rtol 1e-4 allows for float32 derivatives in a
    # different operation order, while an error in Hg (a factor, g for Hg) moves GQ by O(1).
    before = _listing_quotient(objective_at(variables["params"]), variables["params"])
    after = _listing_quotient(objective_at(new["params"]), new["params"])
    assert report.gq_before == pytest.approx(before, rel=1e-4)
    assert report.gq_after == pytest.approx(after, rel=1e-4)
    # Measured: GQ 1.157 -> 0.377 (x0.326), median norm scale 2.70 over the 20 kernels
    # (hidden layers 0.74 to 5.04, the read-out 0.49). The thresholds are the issue's, not
    # tuned; lr, momentum and eps are the paper's defaults, steps 100 (of 500) for time.
    assert report.gq_after <= 0.5 * report.gq_before, str(report)
    assert report.median_scale > 1, str(report)
    assert len(report.trajectory) == 100 and report.trajectory[0] == report.gq_before


def test_metainit_changes_only_the_norms(tanh_run) -> None:
    _, variables, _, new, report = tanh_run
    flat_old, flat_new = _flat(variables), _flat(new)
    assert flat_old.keys() == flat_new.keys()
    for path, w0 in flat_old.items():
        w1 = flat_new[path]
        assert w1.dtype == w0.dtype and w1.shape == w0.shape
        if not path.endswith("kernel"):
            np.testing.assert_array_equal(w1, w0)  # biases are not tuned
            continue
        a, b = np.asarray(w0, np.float64).ravel(), np.asarray(w1, np.float64).ravel()
        cosine = a @ b / (np.linalg.norm(a) * np.linalg.norm(b))
        # w1 = fl32(w0 * s): each element is off by <= 2^-24 relative, a perpendicular error
        # that moves the cosine (taken in float64) by ~(2^-24)^2 / 2 ~ 1e-15: measured at most
        # 2.2e-16. 1e-12 leaves room for that and float64 rounding, and fails for a flipped
        # array (cos = -1) or any change of direction above ~1e-6 relative.
        assert abs(cosine - 1) <= 1e-12, (path, cosine)
        scale = np.linalg.norm(b) / np.linalg.norm(a)
        assert report.scales[path] == pytest.approx(scale, rel=1e-6)
    # The read-out is the array whose norm the listing's update (no floor) drives through zero:
    # measured, it comes back flipped (cosine -1). Here it was held at the floor instead
    # (measured: at 2 steps).
    assert {a.path for a in report.arrays if a.floored} <= {"params/Dense_19/kernel"}


def test_the_report_prints() -> None:
    report = MetaInitReport(
        arrays=(MetaInitArray("params/Dense_0/kernel", (4, 4), 2.0, 3.0, 1),),
        gq_before=1.0,
        gq_after=0.25,
        trajectory=(1.0, 0.5, 0.25),
        n_params=20,
        steps=3,
        lr=0.1,
        momentum=0.9,
        eps=1e-5,
        min_scale=0.01,
    )
    text = str(report)
    assert "1 -> 0.25 (x0.25)" in text and "median norm scale 1.5" in text
    assert "params/Dense_0/kernel" in text and "(floored 1x)" in text


# ----------------------------------------------------------------------------- the floor


def test_the_floor_keeps_a_norm_that_would_cross_zero_positive() -> None:
    # L = |w|^4 / 4: g = |w|^2 w, Hg = 3 |w|^4 w, so GQ = 3 |w|^2 (up to eps, here 1e-12 so
    # that its 1/|g| term does not make a minimum above the floor) falls all the way to 0.
    # The listing's additive update (lr 0.1, momentum 0.9) takes the norm 1 -> 0.9 -> 0.71 ->
    # 0.44 -> 0.095 -> below zero at step 5, flipping w. Here it is held at min_scale * 1 =
    # 0.05: the returned w is 0.05 w0 (the floor; float32 rtol 1e-6), pointing the same way.
    w0 = jnp.array([0.6, -0.8])
    new, report = metainit(
        lambda p, x: p["w"],
        {"w": w0},
        [jnp.zeros(1)],
        jax.random.key(0),
        loss=lambda out, _: 0.25 * jnp.sum(out**2) ** 2,
        steps=30,
        eps=1e-12,
        param_pattern="w",
        min_scale=0.05,
    )
    np.testing.assert_allclose(new["w"], 0.05 * w0, rtol=1e-6)
    assert report.arrays[0].floored >= 20  # reached at step 4, then held (measured 26)
    # GQ at the floor: 3 * 0.05^2 = 0.0075 (float32 rtol 1e-4)
    assert report.gq_after == pytest.approx(0.0075, rel=1e-4)


# ----------------------------------------------------------------------------- argument errors


def _tiny() -> tuple[nn.Module, dict, tuple[jax.Array, jax.Array]]:
    model = nn.Sequential([nn.Dense(4), nn.tanh, nn.Dense(3)])
    x = jax.random.normal(jax.random.key(0), (8, 2))
    y = jnp.arange(8) % 3
    return model, model.init(jax.random.key(1), x), (x, y)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"steps": 0}, ValueError, "steps must be an int >= 1, got 0"),
        ({"steps": 2.0}, TypeError, "steps must be an int >= 1, got 2.0"),
        ({"lr": 0.0}, ValueError, "lr must be > 0, got 0.0"),
        ({"lr": float("nan")}, ValueError, "lr must be finite, got nan"),
        ({"lr": "0.1"}, TypeError, "lr must be a real number"),
        ({"momentum": 1.0}, ValueError, re.escape("momentum must be in [0, 1), got 1.0")),
        ({"momentum": -0.5}, ValueError, "momentum must be >= 0, got -0.5"),
        ({"eps": 0}, ValueError, "eps must be > 0, got 0.0"),
        ({"min_scale": 0.0}, ValueError, "min_scale must be > 0"),
        ({"min_scale": 2}, ValueError, re.escape("min_scale must be in (0, 1], got 2.0")),
        ({"batch_size": 0}, ValueError, "batch_size must be an int >= 1, got 0"),
        ({"progress": 1}, TypeError, "progress must be a bool, got 1"),
        ({"loss": "mse"}, TypeError, "loss must be a function"),
        ({"param_pattern": 3}, TypeError, "param_pattern must be a glob str"),
        ({"apply_kwargs": [1]}, TypeError, "apply_kwargs must be a mapping"),
        ({"param_pattern": "*weight"}, ValueError, "param_pattern '\\*weight' matched no"),
        ({"loss": lambda out, y: out}, TypeError, "loss must return a real floating scalar"),
    ],
)
def test_bad_arguments_are_refused_by_name(kwargs, error, match) -> None:
    model, variables, batch = _tiny()
    with pytest.raises(error, match=f"^jinit.metainit: {match}") as caught:
        metainit(model, variables, batch, jax.random.key(2), **kwargs)
    assert str(caught.value).count("jinit.") == 1


@pytest.mark.parametrize(
    ("model", "variables", "batches", "key", "error", "match"),
    [
        (None, None, "default", jax.random.key(0), TypeError, "model must be a flax.linen Module"),
        (
            "linen",
            [1],
            "default",
            jax.random.key(0),
            TypeError,
            "a linen Module needs its variables",
        ),
        (
            "linen",
            {"state": {}},
            "default",
            jax.random.key(0),
            ValueError,
            "no 'params' collection",
        ),
        ("linen", None, "default", 0, TypeError, "key must be one PRNG key"),
        ("linen", None, "default", "split", TypeError, "key must be one PRNG key"),
        ("linen", None, [], jax.random.key(0), ValueError, "batches is an empty sequence"),
        ("linen", None, "abc", jax.random.key(0), TypeError, "batches must be an array"),
        ("linen", None, "unequal", jax.random.key(0), ValueError, "as many targets as inputs"),
        ("linen", None, "bare", jax.random.key(0), TypeError, "needs \\(inputs, targets\\)"),
        ("linen", None, "float", jax.random.key(0), TypeError, "needs integer class labels"),
        ("linen", None, "range", jax.random.key(0), ValueError, "run from 0 to 7, outside"),
        ("linen", None, "shape", jax.random.key(0), ValueError, "labels need the logits' shape"),
    ],
)
def test_bad_models_keys_and_batches_are_refused(
    model, variables, batches, key, error, match
) -> None:
    tiny, tiny_variables, (x, y) = _tiny()
    model = tiny if model == "linen" else model
    variables = tiny_variables if variables is None and model is tiny else variables
    key = jax.random.split(jax.random.key(0)) if isinstance(key, str) else key
    batches = {
        "default": (x, y),
        "unequal": (x, y[:5]),
        "bare": x,
        "float": (x, y.astype(jnp.float32)),
        "range": (x, jnp.arange(8)),
        "shape": (x, y[:, None]),
    }.get(batches if isinstance(batches, str) else "", batches)
    with pytest.raises(error, match=f"^jinit.metainit: .*{match}"):
        metainit(model, variables, batches, key)


def test_an_nnx_module_is_refused_with_the_way_to_pass_it() -> None:
    module = nnx.Linear(2, 3, rngs=nnx.Rngs(0))
    with pytest.raises(TypeError, match=r"^jinit.metainit: model is an nnx Module.*nnx.split"):
        metainit(module, None, jnp.zeros((4, 2)), jax.random.key(0))


def test_arrays_that_cannot_be_tuned_are_refused() -> None:
    params = {"kernel": jnp.zeros((2, 2)), "steps": jnp.array(3)}
    x = jnp.ones((4, 2))
    with pytest.raises(ValueError, match=r"\['kernel'\] has norm 0 or not finite"):
        metainit(lambda p, x: x @ p["kernel"], params, x, jax.random.key(0), loss=jnp.mean)
    with pytest.raises(ValueError, match=r"matches \['steps'\], which are not trainable"):
        metainit(lambda p, x: x, params, x, jax.random.key(0), param_pattern="steps")


def test_an_iterator_that_runs_out_is_refused() -> None:
    model, variables, batch = _tiny()
    with pytest.raises(ValueError, match=r"ran out after 2 batch\(es\).*steps=3"):
        metainit(model, variables, iter([batch, batch]), jax.random.key(0), steps=3)
    # itertools.cycle never runs out
    _, report = metainit(model, variables, itertools.cycle([batch]), jax.random.key(0), steps=3)
    assert len(report.trajectory) == 3


def test_random_rows_are_a_function_of_the_key() -> None:
    model, variables, (x, y) = _tiny()  # 8 rows, 4 drawn per step

    def run(key: jax.Array) -> tuple[float, ...]:
        return metainit(model, variables, (x, y), key, steps=3, batch_size=4)[1].trajectory

    first = run(jax.random.key(5))
    assert run(jax.random.key(5)) == first
    assert run(jax.random.PRNGKey(6)) != first  # a raw key works too; other rows, other GQ


def test_a_non_finite_quotient_is_refused_not_returned() -> None:
    model, variables, batch = _tiny()

    def loss(out: jax.Array, y: jax.Array) -> jax.Array:
        return jnp.mean(jnp.sqrt(out - 1e3))  # sqrt of a negative number: NaN, and its slope

    with pytest.raises(ValueError, match=r"gradient quotient is nan at step 0 \(the given"):
        metainit(model, variables, batch, jax.random.key(0), loss=loss, steps=2)
    with pytest.raises(ValueError, match="the gradient quotient is nan"):
        gradient_quotient(lambda w: jnp.sum(jnp.sqrt(w)), -jnp.ones(2))
