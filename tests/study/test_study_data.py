"""``jinit study`` inputs: the data sets (embedded, synthetic, user ``.npz``) and initializer names.

Nothing here trains a model; the training, resume, command-line and experiment tests are in
``tests/test_study.py``.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import jax
import numpy as np
import pytest

from jinit._src.study.data import DATASETS, EMBEDDED, _stratified_split, load_dataset
from jinit._src.study.inits import INITIALIZERS, resolve_init
from tests.stats_util import assert_variance

DATA_DIR = Path(__file__).resolve().parents[2] / "jinit" / "_data"
#: The scikit-learn loader (in ``sklearn.datasets``) each embedded data set was copied from.
LOADERS = {
    "digits": "load_digits",
    "breast_cancer": "load_breast_cancer",
    "wine": "load_wine",
}
#: (train, test, features, classes) of every named data set.
SHAPES = {
    "digits": (1438, 359, 64, 10),
    "breast_cancer": (456, 113, 30, 2),
    "wine": (142, 36, 13, 3),
    "spirals": (800, 200, 2, 2),
    "teacher": (1600, 400, 20, 4),
}
# Standardized features are float32; their mean and std, recomputed in float64, differ from 0
# and 1 only by float32 rounding of the stored values (measured: < 6e-7 for the mean, < 1e-6 for
# the std). 1e-5 is the requested tolerance, ten times the measured error.
STANDARDIZATION_TOL = 1e-5
#: Variance kept by N(0, 1) truncated to (-2, 2): 1 - 4 φ(2) / erf(√2) = 0.7737.
TRUNCATED_VARIANCE = 1 - 4 * math.exp(-2) / math.sqrt(2 * math.pi) / math.erf(math.sqrt(2))


def _raw(name: str) -> tuple[np.ndarray, np.ndarray]:
    """The scikit-learn arrays of an embedded data set (scikit-learn is in the test extras)."""
    sklearn_datasets = pytest.importorskip("sklearn.datasets")
    bunch = getattr(sklearn_datasets, LOADERS[name])()
    return np.asarray(bunch.data), np.asarray(bunch.target)


# --------------------------------------------------------------------------------------------
# embedded data sets


def test_every_embedded_data_set_has_a_scikit_learn_loader() -> None:
    assert set(EMBEDDED) == set(LOADERS)
    assert set(DATASETS) == set(SHAPES)


@pytest.mark.parametrize("name", EMBEDDED)
def test_embedded_arrays_equal_scikit_learn(name: str) -> None:
    x, y = _raw(name)
    with np.load(DATA_DIR / f"{name}.npz", allow_pickle=False) as stored:
        assert sorted(stored.files) == ["X", "y"]
        # digits is stored as uint8 (grey levels 0..16); the values must match exactly
        np.testing.assert_array_equal(stored["X"].astype(np.float64), x, strict=True)
        np.testing.assert_array_equal(stored["y"], y, strict=True)


@pytest.mark.parametrize("name", EMBEDDED)
def test_load_dataset_standardizes_the_scikit_learn_arrays(name: str) -> None:
    x, y = _raw(name)
    data = load_dataset(name)
    train, test = _stratified_split(y)
    mean = x[train].mean(axis=0)
    std = x[train].std(axis=0)
    std = np.where(std > 0, std, 1.0)
    # the features are the raw rows of the split, standardized with the *training* statistics
    np.testing.assert_allclose(data.x_train, (x[train] - mean) / std, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(data.x_test, (x[test] - mean) / std, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(data.y_train, y[train])
    np.testing.assert_array_equal(data.y_test, y[test])


@pytest.mark.parametrize("name", DATASETS)
def test_load_dataset_shapes_dtypes_and_standardization(name: str) -> None:
    data = load_dataset(name)
    n_train, n_test, n_features, n_classes = SHAPES[name]
    assert data.x_train.shape == (n_train, n_features)
    assert data.x_test.shape == (n_test, n_features)
    assert data.x_train.dtype == data.x_test.dtype == np.float32
    assert data.y_train.dtype == data.y_test.dtype == np.int32
    assert (data.n_features, data.n_classes) == (n_features, n_classes)
    assert data.image_shape == ((8, 8) if name == "digits" else None)
    assert set(np.unique(data.y_train)) == set(np.unique(data.y_test)) == set(range(n_classes))
    assert f"{n_train} train / {n_test} test" in data.summary()

    x = data.x_train.astype(np.float64)
    std = x.std(axis=0)
    constant = std == 0
    np.testing.assert_allclose(x.mean(axis=0), 0.0, atol=STANDARDIZATION_TOL)
    np.testing.assert_allclose(std[~constant], 1.0, atol=STANDARDIZATION_TOL)
    # digits has 3 constant border pixels (all 0 in the training split): centred to exactly 0
    assert int(constant.sum()) == (3 if name == "digits" else 0)
    assert np.all(data.x_train[:, constant] == 0)


@pytest.mark.parametrize("name", DATASETS)
def test_load_dataset_is_deterministic(name: str) -> None:
    first, second = load_dataset(name), load_dataset(name)
    for field in ("x_train", "y_train", "x_test", "y_test"):
        np.testing.assert_array_equal(getattr(first, field), getattr(second, field), strict=True)


@pytest.mark.parametrize("name", EMBEDDED)
def test_split_is_stratified_disjoint_and_complete(name: str) -> None:
    _, y = _raw(name)
    train, test = _stratified_split(y)
    assert np.intersect1d(train, test).size == 0
    np.testing.assert_array_equal(np.sort(np.concatenate([train, test])), np.arange(len(y)))
    for label in np.unique(y):
        members = int(np.sum(y == label))
        # 20 % of every class goes to the test split, rounded per class
        assert int(np.sum(y[test] == label)) == round(0.2 * members)
    np.testing.assert_array_equal(_stratified_split(y)[1], test)  # fixed permutation


def test_user_npz_loads_flattens_and_relabels(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    counts = {3: 10, 7: 14, 9: 16}  # non-contiguous labels, stored as floats
    y = np.concatenate([np.full(n, label, np.float64) for label, n in counts.items()])
    x = rng.standard_normal((len(y), 2, 3))  # extra axes are flattened into 6 features
    path = tmp_path / "mine.npz"
    np.savez(path, X=x, y=rng.permutation(y))

    data = load_dataset(str(path))
    assert data.n_classes == 3
    assert data.n_features == 6
    assert data.image_shape is None
    # labels 3, 7, 9 become 0, 1, 2 in order; per class round(20 %) = 2, 3, 3 test samples
    labels = np.concatenate([data.y_train, data.y_test])
    np.testing.assert_array_equal(np.bincount(labels), [10, 14, 16])
    np.testing.assert_array_equal(np.bincount(data.y_test), [2, 3, 3])
    assert len(data.x_train) + len(data.x_test) == len(y)


# --------------------------------------------------------------------------------------------
# bad data sets: ValueError saying what is accepted


ACCEPTED_FILE = "expected a .npz file with arrays 'X'"


def _npz(path: Path, **arrays: np.ndarray) -> str:
    np.savez(path, **arrays)  # type: ignore[arg-type]
    return str(path)


def test_unknown_dataset_name_lists_the_names() -> None:
    with pytest.raises(ValueError, match="unknown --dataset 'mnist'") as info:
        load_dataset("mnist")
    for name in DATASETS:
        assert name in str(info.value)
    assert ".npz" in str(info.value)


def test_missing_npz_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=f"no such file; {ACCEPTED_FILE}"):
        load_dataset(str(tmp_path / "absent.npz"))


def test_garbage_bytes_are_not_an_npz_file(tmp_path: Path) -> None:
    path = tmp_path / "garbage.npz"
    path.write_bytes(b"certainly not a zip archive\x00\x01\x02" * 8)
    with pytest.raises(ValueError, match=f"is not a readable .npz file.*{ACCEPTED_FILE}"):
        load_dataset(str(path))


def test_truncated_npz_file(tmp_path: Path) -> None:
    good = tmp_path / "good.npz"
    np.savez(good, X=np.zeros((50, 2)), y=np.arange(50) % 2)
    path = tmp_path / "truncated.npz"
    path.write_bytes(good.read_bytes()[:-40])  # zipfile.BadZipFile inside numpy
    with pytest.raises(ValueError, match=f"is not a readable .npz file.*{ACCEPTED_FILE}"):
        load_dataset(str(path))


def test_single_npy_array_named_npz(tmp_path: Path) -> None:
    path = tmp_path / "array.npz"
    with path.open("wb") as handle:
        np.save(handle, np.zeros((5, 2)))
    with pytest.raises(ValueError, match=f"single array.*{ACCEPTED_FILE}"):
        load_dataset(str(path))


def test_npz_without_y(tmp_path: Path) -> None:
    path = _npz(tmp_path / "no_y.npz", X=np.zeros((10, 2)), labels=np.zeros(10))
    with pytest.raises(ValueError, match=re.escape("missing ['y']") + f".*{ACCEPTED_FILE}"):
        load_dataset(path)


def test_npz_with_mismatched_lengths(tmp_path: Path) -> None:
    path = _npz(tmp_path / "lengths.npz", X=np.zeros((10, 2)), y=np.arange(9) % 2)
    with pytest.raises(ValueError, match=re.escape("X has shape (10, 2) and y (9,)")):
        load_dataset(path)


def test_npz_with_fractional_float_labels(tmp_path: Path) -> None:
    path = _npz(tmp_path / "float.npz", X=np.zeros((10, 2)), y=np.linspace(0, 1, 10))
    with pytest.raises(ValueError, match="y has dtype float64; expected integer class labels"):
        load_dataset(path)


def test_npz_with_a_single_class(tmp_path: Path) -> None:
    path = _npz(tmp_path / "one.npz", X=np.ones((10, 2)), y=np.full(10, 4))
    with pytest.raises(ValueError, match="has a single class; need at least 2"):
        load_dataset(path)


def test_npz_with_non_finite_features(tmp_path: Path) -> None:
    x = np.zeros((10, 2))
    x[3, 1] = np.nan
    path = _npz(tmp_path / "nan.npz", X=x, y=np.arange(10) % 2)
    with pytest.raises(ValueError, match="X must be finite numbers"):
        load_dataset(path)


# --------------------------------------------------------------------------------------------
# initializers by name

SHAPE = (256, 128)  # fan_in 256, fan_out 128: 32,768 samples
FAN_IN, FAN_OUT = SHAPE
#: name -> (variance, distribution for the tolerance of tests/stats_util.py). The *_normal
#: presets draw a corrected truncated normal; the plain normal's kurtosis (3 > 2.37) gives them
#: a wider, still valid, tolerance (5 standard errors: 3.9 % at 32,768 samples).
EXPECTED_VARIANCE = {
    "normal": (0.01**2, "normal"),
    # the registry's names (jinit.get): uniform is jinit.uniform's U[0, 0.01), second moment
    # s^2 / 3 (|w| is U[0, s) as for the symmetric form, so the same tolerance holds);
    # symmetric_uniform is what the study called "uniform" before: U[-0.05, 0.05)
    "uniform": (0.01**2 / 3, "uniform"),
    "symmetric_uniform": (0.05**2 / 3, "uniform"),
    "random_uniform": (0.05**2 / 3, "uniform"),
    "random_normal": (0.05**2, "normal"),
    "trunc_normal": (TRUNCATED_VARIANCE, "truncated_normal"),  # std 1 truncated at +-2
    "truncated_normal": (0.01**2 * TRUNCATED_VARIANCE, "truncated_normal"),
    **{
        f"{family}_{kind}": (scale, "normal" if kind == "normal" else "uniform")
        for family, scale in (
            ("glorot", 2 / (FAN_IN + FAN_OUT)),
            ("xavier", 2 / (FAN_IN + FAN_OUT)),
            ("he", 2 / FAN_IN),
            ("kaiming", 2 / FAN_IN),
            ("lecun", 1 / FAN_IN),
        )
        for kind in ("normal", "uniform")
    },
    # PyTorch's defaults in Flax's (in, out) layout: kaiming with a = 0 (gain² 2), xavier with
    # gain 1, nn.Linear's kaiming_uniform(a=√5): gain² = 2 / (1 + 5), variance 1 / (3 fan_in)
    "torch_kaiming_normal": (2 / FAN_IN, "normal"),
    "torch_kaiming_uniform": (2 / FAN_IN, "uniform"),
    "torch_linear_default": (1 / (3 * FAN_IN), "uniform"),
    "torch_xavier_normal": (2 / (FAN_IN + FAN_OUT), "normal"),
    "torch_xavier_uniform": (2 / (FAN_IN + FAN_OUT), "uniform"),
}


def test_every_name_is_covered() -> None:
    constants = {"zeros", "ones", "zeros_init", "ones_init"}
    assert set(INITIALIZERS) == {*constants, "orthogonal", *EXPECTED_VARIANCE}


@pytest.mark.parametrize("name", INITIALIZERS)
def test_resolve_init_by_name(name: str) -> None:
    w = np.asarray(resolve_init(name)(jax.random.key(7), SHAPE))
    assert w.shape == SHAPE
    assert w.dtype == np.float32
    if name in ("zeros", "ones", "zeros_init", "ones_init"):
        assert np.all(w == name.startswith("ones"))
    elif name == "orthogonal":
        np.testing.assert_allclose(w.T @ w, np.eye(FAN_OUT), atol=1e-5)
    else:
        variance, distribution = EXPECTED_VARIANCE[name]
        assert_variance(w, variance, distribution)


@pytest.mark.parametrize(
    ("spec", "variance", "distribution", "bound"),
    [
        ("normal:0.5", 0.25, "normal", None),
        ("symmetric_uniform:0.5", 0.25 / 3, "uniform", 0.5),
        ("truncated_normal:0.5", 0.25 * TRUNCATED_VARIANCE, "truncated_normal", 1.0),
        ("normal:1", 1.0, "normal", None),
    ],
)
def test_name_with_scale(
    spec: str, variance: float, distribution: str, bound: float | None
) -> None:
    w = np.asarray(resolve_init(spec)(jax.random.key(3), SHAPE))
    # tolerance: 5 standard errors of the sample variance at 32,768 samples (stats_util)
    assert_variance(w, variance, distribution)
    if bound is not None:
        assert np.abs(w).max() <= bound


def test_orthogonal_with_scale() -> None:
    w = np.asarray(resolve_init("orthogonal:2")(jax.random.key(3), SHAPE))
    np.testing.assert_allclose(w.T @ w, 4.0 * np.eye(FAN_OUT), atol=1e-4)


def test_unknown_initializer_lists_the_names() -> None:
    with pytest.raises(ValueError, match="unknown initializer 'kaiming'") as info:
        resolve_init("kaiming")
    for name in INITIALIZERS:
        assert name in str(info.value)
    assert "each also as NAME:ARGS (e.g. normal:0.02), or constant:ARGS" in str(info.value)


@pytest.mark.parametrize("spec", ["he_normal:2", "torch_linear_default:1", "zeros:1", "ones:2"])
def test_scale_on_a_preset(spec: str) -> None:
    with pytest.raises(ValueError, match=r"takes no (positional )?arguments"):
        resolve_init(spec)


@pytest.mark.parametrize("scale", ["abc", "-1", "0", "nan", "inf", "1e400"])
def test_bad_scale(scale: str) -> None:
    refused = r"^jinit\.normal: stddev must be (> 0|finite|a real)"
    with pytest.raises((ValueError, TypeError), match=refused):
        resolve_init(f"normal:{scale}")
