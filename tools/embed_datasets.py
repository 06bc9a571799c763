"""Write the data sets that ship inside jinit (``jinit/_data/*.npz``) from scikit-learn.

``jinit study`` must run on a fresh install with no network and without scikit-learn, so the
three small tabular sets it offers are stored in the package. This script regenerates them;
``tests/test_study_data.py`` checks the stored arrays still equal scikit-learn's.

Run: ``python tools/embed_datasets.py`` (needs scikit-learn).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sklearn import datasets

OUT = Path(__file__).resolve().parents[1] / "jinit" / "_data"


def main() -> None:
    """Write digits, breast_cancer and wine as compressed ``.npz`` files."""
    OUT.mkdir(parents=True, exist_ok=True)
    for name, loader in (
        ("digits", datasets.load_digits),
        ("breast_cancer", datasets.load_breast_cancer),
        ("wine", datasets.load_wine),
    ):
        bunch = loader()
        x = np.asarray(bunch.data)
        # digits are integers 0..16: store them exactly in the smallest type
        x = x.astype(np.uint8) if name == "digits" else x.astype(np.float64)
        np.savez_compressed(OUT / f"{name}.npz", X=x, y=np.asarray(bunch.target, np.int64))
        print(f"{name}: X {x.shape} {x.dtype}, y {bunch.target.shape}")


if __name__ == "__main__":
    main()
