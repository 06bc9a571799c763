"""Data sets for ``jinit study``: embedded tabular sets, synthetic tasks and user ``.npz`` files.

Every data set is a classification task, standardized per feature with the training split's mean
and standard deviation, split once with a fixed stratified permutation (20 % test), so results
differ between runs only through the study's ``--seed`` (initialization and batch order).

Embedded (stored in ``jinit/_data``, no download, no scikit-learn needed at run time):

* ``digits``: 1,797 handwritten digits, 8x8 grey levels 0..16, 10 classes (UCI optdigits test
  set as bundled with scikit-learn). The default.
* ``breast_cancer``: 569 tumours, 30 features, 2 classes (Wisconsin diagnostic).
* ``wine``: 178 wines, 13 features, 3 classes.

Synthetic (generated with a fixed NumPy seed):

* ``spirals``: two interleaved spirals in 2-D, 1,000 points, 2 classes.
* ``teacher``: 2,000 Gaussian inputs in 20-D labelled by the arg-max of a fixed random
  two-layer tanh network with 4 outputs.

A path ending in ``.npz`` loads the user's arrays ``X`` (samples first; extra axes are flattened)
and ``y`` (integer class labels).
"""

from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass
from importlib import resources

import numpy as np

__all__ = ["DATASETS", "Dataset", "load_dataset"]

EMBEDDED = ("digits", "breast_cancer", "wine")
SYNTHETIC = ("spirals", "teacher")
#: Every accepted name; a path to a ``.npz`` file is accepted too.
DATASETS = (*EMBEDDED, *SYNTHETIC)
_TEST_FRACTION = 0.2
_SPLIT_SEED = 0


@dataclass(frozen=True)
class Dataset:
    """A standardized classification data set with a fixed train/test split.

    Attributes:
      name: the name it was loaded by.
      x_train: float32 features ``(n_train, n_features)``, zero mean and unit variance per
        feature over the training split (constant features are only centred).
      y_train: int32 labels ``(n_train,)`` in ``0 .. n_classes - 1``.
      x_test: float32 features, standardized with the training statistics.
      y_test: int32 labels.
      n_classes: number of classes.
      image_shape: ``(height, width)`` when the features are the pixels of an image (digits),
        else ``None``; the CNN model needs it.
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    n_classes: int
    image_shape: tuple[int, int] | None = None

    @property
    def n_features(self) -> int:
        """Number of input features."""
        return int(self.x_train.shape[1])

    def summary(self) -> str:
        """One line describing the data set."""
        return (
            f"{self.name}: {len(self.x_train)} train / {len(self.x_test)} test samples, "
            f"{self.n_features} features, {self.n_classes} classes"
        )


def _embedded(name: str) -> tuple[np.ndarray, np.ndarray]:
    resource = resources.files("jinit").joinpath("_data", f"{name}.npz")
    with resource.open("rb") as handle, np.load(handle) as arrays:
        return np.asarray(arrays["X"], np.float64), np.asarray(arrays["y"])


def _spirals(n: int = 1000, noise: float = 0.2) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(_SPLIT_SEED)
    half = n // 2
    t = np.sqrt(rng.uniform(0.0, 1.0, half)) * 3.0 * np.pi  # denser near the centre
    arm = np.stack([t * np.cos(t), t * np.sin(t)], axis=1)
    x = np.concatenate([arm, -arm]) + noise * rng.standard_normal((2 * half, 2))
    y = np.concatenate([np.zeros(half, np.int64), np.ones(half, np.int64)])
    return x, y


def _teacher(
    n: int = 2000, dim: int = 20, hidden: int = 32, classes: int = 4
) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(_SPLIT_SEED)
    x = rng.standard_normal((n, dim))
    w1 = rng.standard_normal((dim, hidden)) / np.sqrt(dim)
    w2 = rng.standard_normal((hidden, hidden)) / np.sqrt(hidden)
    w3 = rng.standard_normal((hidden, classes)) / np.sqrt(hidden)
    logits = np.tanh(np.tanh(x @ w1) @ w2) @ w3
    return x, np.argmax(logits, axis=1).astype(np.int64)


def _from_npz(path: str) -> tuple[np.ndarray, np.ndarray]:
    allowed = "a .npz file with arrays 'X' (samples first) and 'y' (integer class labels)"
    if not os.path.isfile(path):
        raise ValueError(f"jinit.study: --dataset {path!r}: no such file; expected {allowed}")
    # numpy reports a file that is not a zip archive as a refused pickle (ValueError), a
    # truncated archive as zipfile.BadZipFile (leaking the file it opened, hence our own
    # handle), and returns a lone .npy array as an ndarray
    unreadable = (OSError, EOFError, ValueError, zipfile.BadZipFile)
    with open(path, "rb") as handle:
        try:
            archive = np.load(handle, allow_pickle=False)
        except unreadable as error:
            raise ValueError(
                f"jinit.study: --dataset {path!r} is not a readable .npz file ({error}); "
                f"expected {allowed}"
            ) from error
        if not isinstance(archive, np.lib.npyio.NpzFile):
            raise ValueError(
                f"jinit.study: --dataset {path!r} holds a single array, not an .npz archive; "
                f"expected {allowed}"
            )
        with archive as arrays:
            missing = [k for k in ("X", "y") if k not in arrays.files]
            if missing:
                raise ValueError(
                    f"jinit.study: --dataset {path!r} has arrays {sorted(arrays.files)}, "
                    f"missing {missing}; expected {allowed}"
                )
            try:
                x, y = np.asarray(arrays["X"]), np.asarray(arrays["y"])
            except unreadable as error:  # a corrupt member, or object arrays (pickles)
                raise ValueError(
                    f"jinit.study: --dataset {path!r}: cannot read X and y ({error}); "
                    f"expected {allowed}"
                ) from error
    if x.ndim < 2 or y.ndim != 1 or len(x) != len(y):
        raise ValueError(
            f"jinit.study: --dataset {path!r}: X has shape {x.shape} and y {y.shape}; "
            "expected X (n, features...) and y (n,) with the same n"
        )
    if not (np.issubdtype(x.dtype, np.number) and np.all(np.isfinite(x))):
        raise ValueError(f"jinit.study: --dataset {path!r}: X must be finite numbers")
    integral = np.issubdtype(y.dtype, np.floating) and bool(np.all(y == np.round(y)))
    if not (np.issubdtype(y.dtype, np.integer) or integral):
        raise ValueError(
            f"jinit.study: --dataset {path!r}: y has dtype {y.dtype}; expected integer class labels"
        )
    return x.reshape(len(x), -1).astype(np.float64), y.astype(np.int64)


def _stratified_split(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(_SPLIT_SEED)
    train, test = [], []
    for label in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == label))
        n_test = round(_TEST_FRACTION * len(members))
        test.append(members[:n_test])
        train.append(members[n_test:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


def load_dataset(name: str) -> Dataset:
    """Load a data set by name (see :data:`DATASETS`) or from a ``.npz`` path.

    Args:
      name: ``digits`` (default of the study), ``breast_cancer``, ``wine``, ``spirals``,
        ``teacher``, or a path ending in ``.npz``.

    Returns:
      The standardized :class:`Dataset` with its fixed stratified 80/20 split.

    Raises:
      ValueError: for an unknown name or an unreadable or malformed ``.npz`` file; the message
        lists what is accepted.

    Example:
      >>> data = load_dataset("digits")
      >>> data.x_train.shape, data.n_classes
      ((1438, 64), 10)
    """
    if not isinstance(name, str):
        raise TypeError(f"jinit.study: dataset must be a str, got {type(name).__name__}")
    if name.endswith(".npz"):
        x, y = _from_npz(name)
    elif name in EMBEDDED:
        x, y = _embedded(name)
    elif name == "spirals":
        x, y = _spirals()
    elif name == "teacher":
        x, y = _teacher()
    else:
        raise ValueError(
            f"jinit.study: unknown --dataset {name!r}; expected one of {', '.join(DATASETS)} "
            "or a path to a .npz file with arrays X and y"
        )
    labels, y = np.unique(y, return_inverse=True)
    if len(labels) < 2:
        raise ValueError(f"jinit.study: --dataset {name!r} has a single class; need at least 2")
    train, test = _stratified_split(y)
    mean = x[train].mean(axis=0)
    std = x[train].std(axis=0)
    std = np.where(std > 0, std, 1.0)  # constant pixels (digits' borders): centre only

    def standardize(rows: np.ndarray) -> np.ndarray:
        return np.asarray((x[rows] - mean) / std, dtype=np.float32)

    return Dataset(
        name=name,
        x_train=standardize(train),
        y_train=y[train].astype(np.int32),
        x_test=standardize(test),
        y_test=y[test].astype(np.int32),
        n_classes=len(labels),
        image_shape=(8, 8) if name == "digits" else None,
    )
