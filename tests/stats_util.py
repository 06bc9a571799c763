"""Tolerances for statistical tests, derived from the sample size.

For n i.i.d. samples with variance sigma^2 and fourth central moment mu4, the sample variance
has standard error sqrt((mu4 - sigma^4) / n). We accept |s^2/sigma^2 - 1| < Z * se_rel with
Z = 5 (two-sided p ~ 6e-7 per check), so a correct formula essentially never fails while a
formula wrong by a few percent (e.g. 2/(fan_in+fan_out) for He: a factor 2; the uncorrected
truncated normal: 0.774; JAX's complex truncation: 1.0187) fails at the sample sizes used.
"""

from __future__ import annotations

import math

import numpy as np

Z = 5.0

#: Excess-kurtosis-based relative standard error of the sample variance, per distribution:
#: se(s^2)/sigma^2 = sqrt((kurtosis - 1) / n), with kurtosis = mu4 / sigma^4.
KURTOSIS = {
    "normal": 3.0,
    "uniform": 1.8,
    # N(0,1) truncated to (-2, 2): mu4 / sigma^4 = 2.3655 (scipy.stats.truncnorm)
    "truncated_normal": 2.3655,
    # complex: |z|^2 second moment; for E|z|^4 / (E|z|^2)^2: complex normal 2, disk 4/3,
    # truncated complex normal 1.8127 (E[X^2]/E[X]^2, X = |z|^2 ~ Exp(1) on [0, 4))
    "complex_normal": 2.0,
    "complex_uniform": 4.0 / 3.0,
    "complex_truncated_normal": 1.8127,
}


def variance_tolerance(n: int, distribution: str) -> float:
    """Relative tolerance for a sample variance of ``n`` draws (Z standard errors)."""
    return Z * math.sqrt((KURTOSIS[distribution] - 1.0) / n)


def assert_variance(samples: np.ndarray, target: float, distribution: str) -> None:
    """Assert the realized second moment matches ``target`` within the derived tolerance."""
    flat = np.asarray(samples, dtype=np.complex128 if np.iscomplexobj(samples) else np.float64)
    flat = flat.ravel()
    realized = float(np.mean(np.abs(flat) ** 2))  # mean 0 by construction: E|w|^2 = Var
    tolerance = variance_tolerance(flat.size, distribution)
    ratio = realized / target
    assert abs(ratio - 1.0) < tolerance, (
        f"realized variance {realized:.6g} vs target {target:.6g}: ratio {ratio:.5f}, "
        f"allowed 1 +- {tolerance:.5f} (n={flat.size}, {Z} standard errors)"
    )
