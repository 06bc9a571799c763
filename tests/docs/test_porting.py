"""The porting pages (``docs/porting/``): every mapping checked against the framework itself.

Each of ``pytorch.md``, ``keras.md`` and ``haiku.md`` has one table of initializers, two columns
wide (three would not fit the theme's width): ``<call>`` → ``<jinit expression>``, then notes
that start with the distribution in bold. The call is a function of ``torch.nn.init``, or a class
of ``keras.initializers`` or ``haiku.initializers``; on the PyTorch page, an expression that
depends on the layout is followed by ``; PyTorch layout: `<arguments>` ``. For every row, with
the argument names bound to the values in ``SYMBOLS`` and fixed seeds:

* the jinit expression evaluates (``jinit`` imported) to a jinit initializer, or to a number for
  ``calculate_gain``; a row without one says **no equivalent** instead, and its notes name no
  distribution. Its framework call still runs, so the row is real;
* where the framework imports (``pytest.importorskip``), both are drawn with the same shape in
  the framework's layout and compared by distribution. On the PyTorch page twice: the expression
  on the Flax layout of the same weight (``(out, in, *window)`` -> ``(*window, in, out)``), and
  with the row's PyTorch-layout arguments on PyTorch's own shape.

  - **fixed**: the arrays are equal (PyTorch's moved to the Flax layout for the first draw);
    **number**: the numbers are equal;
  - random (**uniform**, **normal**, **truncated normal**, **orthogonal**): ``N = 110,592`` draws
    from each (a 3x3 convolution, 96 -> 128 channels; the 2-D-only rows 12,288), and

    + mean: the difference within 5 standard errors, ``5 sqrt(s1^2/n1 + s2^2/n2)``;
    + variance: the ratio ``s1^2/s2^2`` within ``1 +- 5 sqrt((k1 - 1)/n1 + (k2 - 1)/n2)``, ``k``
      each sample's kurtosis (the standard error of a sample variance is
      ``sigma^2 sqrt((k - 1)/n)``, and the relative errors of two independent ones add in
      quadrature). For two normal samples of N that is 3.0%, so a fan_in/fan_out swap on these
      shapes (a factor 4/3), a dropped receptive field (9), tanh's table gain 5/3 for another
      (1.096) or a missing truncation correction (0.774) fails;
    + a two-sample Kolmogorov-Smirnov test, ``p > 1e-6``: the same variance with another shape
      (a truncated normal for an untruncated one) passes the moments, not this;
    + **uniform** and **truncated normal**: the support: the two samples' minima, and their
      maxima, differ by less than a fraction ``f = max(1%, 20/n)`` of the range. A correct pair
      fails this only if a sample has no draw in a strip of that width at an edge: for a uniform
      the probability is ``(1 - f)^n < e^-20``; for the truncated normals (all drawn with
      ``n >= 24,576``) it is at most ``e^-55``, the thinnest edge being Haiku's truncation at
      +2.5 sigma in the table, where 84 of N draws are expected in the strip.

  Each check is at 5 sigma (p = 1e-6 for KS), so a correct mapping fails with probability about
  1e-6 per check for a random seed; the seeds are fixed, so the outcome is deterministic.

The Python blocks of each page (the rules for the layer defaults, then the worked example) run
in order, and the parameters they build are compared the same way with those of the layers the
framework builds. A row the parser cannot read fails; none is skipped.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

import jinit
from jinit._src.core.values import Init

ROOT = Path(__file__).resolve().parents[2]
PORTING = ROOT / "docs" / "porting"
PAGES = ("pytorch", "keras", "haiku")
SEED = 20260101
Z = 5.0
KS_FLOOR = 1e-6
#: The argument names of each page's table and the values the test gives them: away from the
#: defaults, asymmetric, so that a swapped or dropped argument changes the distribution.
SYMBOLS: dict[str, dict[str, object]] = {
    "pytorch": {
        "a": -0.3,
        "b": 0.7,
        "mean": 0.1,
        "std": 0.5,
        "val": 0.25,
        "gain": 1.7,
        "groups": 2,
        "sparsity": 0.1,
        "nonlinearity": "leaky_relu",
        "param": 0.2,
    },
    "keras": {
        "minval": -0.3,
        "maxval": 0.7,
        "mean": 0.1,
        "stddev": 0.5,
        "value": 0.25,
        "gain": 1.7,
        "scale": 1.3,
    },
    "haiku": {
        "minval": -0.3,
        "maxval": 0.7,
        "mean": 0.1,
        "stddev": 0.5,
        "lower": -1.5,
        "upper": 2.5,
        "constant": 0.25,
        "gain": 1.7,
        "scale": 1.3,
        "axis": 0,
    },
}
#: Shapes in each framework's layout: a convolution, and a matrix for the 2-D-only rows.
CONV = {"pytorch": (128, 96, 3, 3), "keras": (3, 3, 96, 128), "haiku": (3, 3, 96, 128)}
MATRIX = {"pytorch": (128, 96), "keras": (96, 128), "haiku": (96, 128)}
#: Framework initializers that take 2-D shapes only (in the framework or in jinit).
MATRIX_ONLY = {"eye_", "sparse_", "Identity"}
RANDOM = ("uniform", "normal", "truncated normal", "orthogonal")
BOUNDED = ("uniform", "truncated normal")
DISTRIBUTIONS = (*RANDOM, "fixed", "number")
MAPPING = re.compile(
    r"`(?P<call>[^`]+)` → (?:\*\*no equivalent\*\*|`(?P<expression>[^`]+)`"
    r"(?:; PyTorch layout: `(?P<arguments>[^`]+)`)?)"
)


@dataclass(frozen=True)
class Row:
    """One row of an initializer table."""

    page: str
    framework: str  # the framework's call
    jinit: str | None  # the jinit expression; None: no equivalent
    torch_layout: str | None  # PyTorch page: the arguments to add for (out, in, *window)
    distribution: str | None  # the notes' bold lead; None: they have none

    @property
    def name(self) -> str:
        """The framework function or class the row calls (``uniform_``, ``GlorotUniform``)."""
        return self.framework.split("(", 1)[0]

    def __str__(self) -> str:
        return f"{self.page}: {self.framework}"


def _cells(line: str) -> list[str]:
    inner = line.strip()
    assert inner.startswith("|") and inner.endswith("|"), f"not a table row: {line!r}"
    return [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", inner[1:-1])]


def tables(text: str) -> Iterator[tuple[list[str], list[list[str]]]]:
    """Every Markdown table of a page: its header cells and its rows' cells."""
    block: list[str] = []
    for line in [*text.splitlines(), ""]:
        if line.startswith("|"):
            block.append(line)
        elif block:
            header, separator, *rows = block
            assert set(separator.replace("|", "").strip()) <= {"-", ":", " "}, separator
            yield _cells(header), [_cells(r) for r in rows]
            block = []


def page_rows(page: str) -> list[Row]:
    """The rows of the initializer table of ``docs/porting/<page>.md``."""
    text = (PORTING / f"{page}.md").read_text(encoding="utf-8")
    found = [(h, rows) for h, rows in tables(text) if h[0].endswith("→ jinit")]
    assert len(found) == 1, f"{page}.md: expected one initializer table, found {len(found)}"
    assert found[0][0][1:] == ["notes"], f"{page}.md: header {found[0][0]}"
    parsed = []
    for cells in found[0][1]:
        assert len(cells) == 2, f"{page}.md: a row of {len(cells)} cells: {cells}"
        match = MAPPING.fullmatch(cells[0])
        assert match, f"{page}.md: expected `call` → `jinit expression`, got {cells[0]!r}"
        assert page == "pytorch" or match["arguments"] is None, f"{page}.md: {cells[0]!r}"
        lead = re.match(r"\*\*([^*]+)\.\*\*", cells[1])
        distribution = lead.group(1) if lead else None
        parsed.append(
            Row(page, match["call"], match["expression"], match["arguments"], distribution)
        )
    return parsed


ROWS = [row for page in PAGES for row in page_rows(page)]
COMPARABLE = [row for row in ROWS if row.jinit is not None]


def test_tables_are_complete() -> None:
    """Every initializer of each framework's public API has a row; every mode and distribution."""
    names = {page: {row.name for row in ROWS if row.page == page} for page in PAGES}
    assert names["pytorch"] >= {
        "uniform_", "normal_", "trunc_normal_", "constant_", "ones_", "zeros_", "eye_", "dirac_",
        "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_",
        "orthogonal_", "sparse_", "calculate_gain",
    }  # fmt: skip
    assert names["keras"] >= {
        "GlorotUniform", "GlorotNormal", "HeUniform", "HeNormal", "LecunUniform", "LecunNormal",
        "RandomUniform", "RandomNormal", "TruncatedNormal", "VarianceScaling", "Orthogonal",
        "Identity", "Constant", "Zeros", "Ones", "STFT",
    }  # fmt: skip
    assert names["haiku"] >= {
        "Constant", "RandomNormal", "RandomUniform", "TruncatedNormal", "VarianceScaling",
        "UniformScaling", "Orthogonal", "Identity",
    }  # fmt: skip
    for page, distributions in (
        ("keras", {"truncated_normal", "untruncated_normal", "normal", "uniform"}),
        ("haiku", {"truncated_normal", "normal", "uniform"}),
    ):
        calls = [r.framework for r in ROWS if r.page == page and r.name == "VarianceScaling"]
        strings = {s for call in calls for s in re.findall(r'"(\w+)"', call)}
        assert strings >= {"fan_in", "fan_out", "fan_avg", *distributions}, (page, strings)
    assert {row.name for row in ROWS} >= MATRIX_ONLY  # the 2-D set names real rows


@pytest.mark.parametrize("row", ROWS, ids=str)
def test_row_is_marked(row: Row) -> None:
    """A distribution the test knows where there is an equivalent, none where there is not."""
    if row.jinit is None:
        assert row.distribution is None, f"{row}: no equivalent, yet '{row.distribution}'"
    else:
        assert row.distribution in DISTRIBUTIONS, f"{row}: notes start {row.distribution!r}"


def _with_arguments(expression: str, arguments: str | None) -> str:
    """``jinit.f(a)`` with ``in_axis=1`` added: ``jinit.f(a, in_axis=1)``."""
    if arguments is None:
        return expression
    assert expression.endswith(")"), f"cannot add {arguments!r} to {expression!r}"
    return expression[:-1] + ("" if expression.endswith("()") else ", ") + arguments + ")"


def expressions(row: Row) -> list[str]:
    """The row's jinit expressions: as written, and (PyTorch) for PyTorch's layout."""
    assert row.jinit is not None
    if row.page != "pytorch":
        return [row.jinit]
    return [row.jinit, _with_arguments(row.jinit, row.torch_layout)]


def _evaluate(expression: str, row: Row) -> Any:
    return eval(expression, {"jinit": jinit, **SYMBOLS[row.page]})


@pytest.mark.parametrize("row", COMPARABLE, ids=str)
def test_jinit_expression_evaluates(row: Row) -> None:
    for expression in expressions(row):
        value = _evaluate(expression, row)
        if row.distribution == "number":
            assert isinstance(value, float), f"{row}: {expression} gave {value!r}"
        else:
            assert isinstance(value, Init), f"{row}: {expression} is not an initializer"


# --- the frameworks ---------------------------------------------------------------------------


def _flax_layout(array: np.ndarray) -> np.ndarray:
    """A PyTorch ``(out, in, *window)`` weight as the Flax kernel ``(*window, in, out)``."""
    return np.transpose(array, (*range(2, array.ndim), 1, 0))


def _flax_shape(shape: tuple[int, ...]) -> tuple[int, ...]:
    return (*shape[2:], shape[1], shape[0])


def _torch_call(row: Row, shape: tuple[int, ...]) -> object:
    torch = pytest.importorskip("torch")
    torch.manual_seed(SEED)
    w = torch.empty(shape)
    value = eval(row.framework, {**vars(torch.nn.init), "w": w, **SYMBOLS[row.page]})
    return value.numpy() if isinstance(value, torch.Tensor) else value


def _keras() -> Any:
    os.environ.setdefault("KERAS_BACKEND", "jax")
    return pytest.importorskip("keras")


def _keras_call(row: Row, shape: tuple[int, ...]) -> object:
    keras = _keras()
    keras.utils.set_random_seed(SEED)
    init = eval(row.framework, {**vars(keras.initializers), **SYMBOLS[row.page]})
    if row.jinit is None:
        return init  # made, not drawn: nothing to compare it with
    return keras.ops.convert_to_numpy(init(shape, dtype="float32"))


def _haiku_call(row: Row, shape: tuple[int, ...]) -> object:
    hk = pytest.importorskip("haiku")
    init = eval(row.framework, {**vars(hk.initializers), **SYMBOLS[row.page]})
    draw = hk.transform(lambda: init(shape, jnp.float32))
    return np.asarray(draw.apply({}, jax.random.key(SEED)))


FRAMEWORK: dict[str, Callable[[Row, tuple[int, ...]], object]] = {
    "pytorch": _torch_call,
    "keras": _keras_call,
    "haiku": _haiku_call,
}


def _f64(array: object) -> np.ndarray:
    return np.asarray(array, dtype=np.float64)


def assert_same_distribution(ours: object, theirs: object, kind: str, what: str) -> None:
    """Mean, variance, KS and (bounded kinds) support, with the tolerances of the module doc."""
    x, y = _f64(ours).ravel(), _f64(theirs).ravel()
    n, m = x.size, y.size
    mean_x, mean_y, var_x, var_y = x.mean(), y.mean(), x.var(), y.var()
    mean_tol = Z * math.sqrt(var_x / n + var_y / m)
    assert abs(mean_x - mean_y) <= mean_tol, (
        f"{what}: mean {mean_x:.6g} vs {mean_y:.6g}, allowed +- {mean_tol:.3g}"
    )
    kurt_x = float(np.mean((x - mean_x) ** 4) / var_x**2)
    kurt_y = float(np.mean((y - mean_y) ** 4) / var_y**2)
    var_tol = Z * math.sqrt((kurt_x - 1) / n + (kurt_y - 1) / m)
    ratio = var_x / var_y
    assert abs(ratio - 1) <= var_tol, (
        f"{what}: variance {var_x:.6g} vs {var_y:.6g} (ratio {ratio:.4f}), allowed 1 +- "
        f"{var_tol:.4f}"
    )
    p = float(stats.ks_2samp(x, y).pvalue)
    assert p > KS_FLOOR, f"{what}: two-sample KS p = {p:.3g} <= {KS_FLOOR}"
    if kind in BOUNDED:
        width = y.max() - y.min()
        tol = max(0.01, 20 / min(n, m)) * width
        for ends in ((x.min(), y.min()), (x.max(), y.max())):
            assert abs(ends[0] - ends[1]) <= tol, (
                f"{what}: support [{x.min():.6g}, {x.max():.6g}] vs [{y.min():.6g}, "
                f"{y.max():.6g}], allowed +- {tol:.3g}"
            )


@pytest.mark.parametrize("row", ROWS, ids=str)
def test_row_matches_the_framework(row: Row) -> None:
    shape = MATRIX[row.page] if row.name in MATRIX_ONLY else CONV[row.page]
    theirs = FRAMEWORK[row.page](row, shape)  # the framework call runs, in every row
    if row.jinit is None:
        return  # nothing to compare: test_row_is_marked checks the row says so
    for draw, expression in enumerate(expressions(row)):
        flax_draw = row.page == "pytorch" and draw == 0
        init = _evaluate(expression, row)
        what = f"{row} vs {expression}"
        if row.distribution == "number":
            assert math.isclose(init, theirs, rel_tol=1e-12), f"{what}: {init} vs {theirs}"
            continue
        ours = init(jax.random.key(SEED + draw), _flax_shape(shape) if flax_draw else shape)
        if row.distribution == "fixed":
            expected = _flax_layout(theirs) if flax_draw else theirs
            np.testing.assert_allclose(_f64(ours), _f64(expected), rtol=1e-6, err_msg=what)
        else:
            assert_same_distribution(ours, theirs, row.distribution, what)


# --- the layer defaults and the worked examples -----------------------------------------------


def run_page(page: str, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    """Run the page's Python blocks in order, in one namespace; return it."""
    text = (PORTING / f"{page}.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)
    assert len(blocks) == 2, f"{page}.md: expected the rules and the example, got {len(blocks)}"
    namespace: dict[str, Any] = {"__name__": f"docs_porting_{page}"}
    for block in blocks:
        exec(compile(block, f"docs/porting/{page}.md", "exec"), namespace)
    assert capsys.readouterr().out.strip(), f"{page}.md: the example prints nothing"
    return namespace


def _numpy(tensor: Any) -> np.ndarray:
    return tensor.detach().numpy()


def test_pytorch_rules_and_example_match_torch_nn(capsys: pytest.CaptureFixture[str]) -> None:
    torch = pytest.importorskip("torch")
    ns = run_page("pytorch", capsys)
    params, e, hidden = ns["params"], ns["E"], ns["HIDDEN"]
    torch.manual_seed(SEED)
    mha = torch.nn.MultiheadAttention(e, 8)
    norm = torch.nn.LayerNorm(e)
    linear = torch.nn.Linear(e, 512)
    lstm = torch.nn.LSTM(512, hidden)
    conv_t = torch.nn.ConvTranspose2d(hidden, 64, 3)

    attn = params["MultiHeadDotProductAttention_0"]
    in_proj = _numpy(mha.in_proj_weight)
    for i, name in enumerate(("query", "key", "value")):
        theirs = in_proj[i * e : (i + 1) * e]
        assert_same_distribution(attn[name]["kernel"], theirs, "uniform", f"{name} kernel")
        assert not np.any(attn[name]["bias"]) and not np.any(_numpy(mha.in_proj_bias))
    out = mha.out_proj
    assert_same_distribution(attn["out"]["kernel"], _numpy(out.weight), "uniform", "out_proj")
    assert not np.any(attn["out"]["bias"]) and not np.any(_numpy(out.bias))
    layer_norm = params["LayerNorm_0"]
    np.testing.assert_array_equal(layer_norm["scale"], _numpy(norm.weight))
    np.testing.assert_array_equal(layer_norm["bias"], _numpy(norm.bias))
    dense = params["Dense_0"]
    assert_same_distribution(dense["kernel"], _numpy(linear.weight), "uniform", "Linear weight")
    assert_same_distribution(dense["bias"], _numpy(linear.bias), "uniform", "Linear bias")

    cell, gates = params["LSTMCell_0"], ("i", "f", "g", "o")  # PyTorch's order i, f, g, o
    pairs = {
        "LSTM input weights": ([cell[f"i{g}"]["kernel"] for g in gates], lstm.weight_ih_l0),
        "LSTM hidden weights": ([cell[f"h{g}"]["kernel"] for g in gates], lstm.weight_hh_l0),
        "LSTM biases": ([cell[f"h{g}"]["bias"] for g in gates], lstm.bias_hh_l0),
    }
    for what, (ours, theirs) in pairs.items():
        flat = np.concatenate([np.ravel(a) for a in ours])
        assert_same_distribution(flat, _numpy(theirs), "uniform", what)
    conv = params["ConvTranspose_0"]
    ours_kernel = conv["kernel"]  # (3, 3, in, out); PyTorch's weight is (in, out, 3, 3)
    assert_same_distribution(ours_kernel, _numpy(conv_t.weight), "uniform", "ConvTranspose")
    assert_same_distribution(conv["bias"], _numpy(conv_t.bias), "uniform", "ConvTranspose bias")


def test_keras_rules_and_example_match_keras_layers(capsys: pytest.CaptureFixture[str]) -> None:
    keras = _keras()
    ns = run_page("keras", capsys)
    params, features, units = ns["params"], ns["FEATURES"], ns["UNITS"]
    keras.utils.set_random_seed(SEED)
    lstm = keras.layers.LSTM(units)
    embedding = keras.layers.Embedding(1000, features)
    dense = keras.layers.Dense(10)
    lstm.build((None, 12, features))
    embedding.build((None, 12))
    dense.build((None, units))

    def value(variable: Any) -> np.ndarray:
        return np.asarray(variable.value)  # the backend's array (np.array(variable) warns)

    kernel, recurrent, bias = (value(w) for w in lstm.weights)
    cell, gates = params["LSTMCell_0"], ("i", "f", "g", "o")  # Keras's order i, f, c, o
    ours_kernel = np.concatenate([cell[f"i{g}"]["kernel"] for g in gates], axis=1)
    ours_recurrent = np.concatenate([cell[f"h{g}"]["kernel"] for g in gates], axis=1)
    ours_bias = np.concatenate([cell[f"h{g}"]["bias"] for g in gates])
    assert_same_distribution(ours_kernel, kernel, "uniform", "LSTM kernel")
    assert_same_distribution(ours_recurrent, recurrent, "orthogonal", "LSTM recurrent kernel")
    for matrix in (ours_recurrent, recurrent):  # the four gates together: orthonormal rows
        np.testing.assert_allclose(matrix @ matrix.T, np.eye(units), atol=2e-6)
    np.testing.assert_array_equal(ours_bias, bias)  # the forget gate's 1, the others 0
    ours_embedding = params["Embed_0"]["embedding"]
    assert_same_distribution(ours_embedding, value(embedding.embeddings), "uniform", "embedding")
    ours_dense = params["Dense_0"]
    assert_same_distribution(ours_dense["kernel"], value(dense.kernel), "uniform", "Dense kernel")
    np.testing.assert_array_equal(ours_dense["bias"], value(dense.bias))


def test_haiku_rules_and_example_match_haiku_modules(capsys: pytest.CaptureFixture[str]) -> None:
    hk = pytest.importorskip("haiku")
    import flax.linen as nn

    ns = run_page("haiku", capsys)
    params = ns["params"]

    def forward(tokens: jax.Array) -> jax.Array:
        x = hk.Embed(1000, 64)(tokens)
        x = hk.Conv1D(128, 3)(x)
        x = hk.LayerNorm(-1, create_scale=True, create_offset=True)(x)
        return hk.Linear(256)(x)

    init = jax.jit(hk.transform(forward).init)  # one compilation instead of one per operation
    theirs = init(jax.random.key(SEED), jnp.zeros((1, 16), jnp.int32))
    pairs = {
        "embedding": (params["Embed_0"]["embedding"], theirs["embed"]["embeddings"]),
        "conv kernel": (params["Conv_0"]["kernel"], theirs["conv1_d"]["w"]),
        "linear kernel": (params["Dense_0"]["kernel"], theirs["linear"]["w"]),
    }
    for what, (ours, expected) in pairs.items():
        assert ours.shape == expected.shape, what
        assert_same_distribution(ours, expected, "truncated normal", what)
    for ours_name, theirs_name, param in (
        ("Conv_0", "conv1_d", "b"),
        ("Dense_0", "linear", "b"),
        ("LayerNorm_0", "layer_norm", "offset"),
        ("LayerNorm_0", "layer_norm", "scale"),
    ):
        ours = params[ours_name]["scale" if param == "scale" else "bias"]
        np.testing.assert_array_equal(ours, theirs[theirs_name][param])

    # haiku_lstm: Flax's LSTMCell against hk.LSTM, one Linear(4h) on [x, h] (gates i, g, f, o).
    features, hidden = 96, 128
    carry = (jnp.zeros((1, hidden)), jnp.zeros((1, hidden)))
    x = jnp.ones((1, features))
    flax_lstm = jax.eval_shape(nn.LSTMCell(hidden).init, jax.random.key(0), carry, x)
    rules = ns["haiku_lstm"](features, hidden) | ns["HAIKU"]
    cell = jinit.reinit(flax_lstm, rules, jax.random.key(1), strict=False)["params"]

    def step(x: jax.Array) -> jax.Array:
        core = hk.LSTM(hidden)
        return core(x, core.initial_state(1))[0]

    haiku_lstm = jax.jit(hk.transform(step).init)(jax.random.key(SEED), x)
    w = haiku_lstm["lstm/linear"]["w"]  # (features + hidden, 4 hidden)
    ours_w = np.concatenate(
        [np.concatenate([cell[f"i{g}"]["kernel"], cell[f"h{g}"]["kernel"]]) for g in "ifgo"], 1
    )
    assert ours_w.shape == w.shape
    assert_same_distribution(ours_w, w, "truncated normal", "LSTM weights")
    assert not np.any(haiku_lstm["lstm/linear"]["b"])
    assert float(cell["hf"]["bias"].min()) == 1.0  # Haiku's +1 on the forget gate, as a bias
    assert not any(np.any(cell[f"h{g}"]["bias"]) for g in "igo")
