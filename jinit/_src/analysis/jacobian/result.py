r"""What :func:`jinit.jacobian_spectrum` returns, built from singular values or probes."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from jinit._src.core.errors import JinitValueError

__all__ = ["JacobianSpectrum", "from_probes", "from_values"]


@dataclass(frozen=True)
class JacobianSpectrum:
    r"""The moments of a Jacobian's squared singular values (see the module documentation).

    Attributes:
      method: ``"exact"`` (SVD) or ``"randomized"`` (Hutchinson probes).
      shape: ``(m, n)``, outputs by inputs, of one example's (flattened) Jacobian.
      examples: how many inputs the spectrum pools (1 unless ``batched``).
      probes: Rademacher probes per example (0 for ``"exact"``).
      mean: :math:`E[s^2]`, over the :math:`k = \min(m, n)` singular values of every example.
      second_moment: :math:`E[s^4]`.
      spread: :math:`\operatorname{Var}(s^2)/E[s^2]^2`.
      max: the largest :math:`s^2` (``None`` for ``"randomized"``: unknown).
      min: the smallest :math:`s^2` (``None`` for ``"randomized"``).
      mean_stderr: the standard error of ``mean`` (0.0 for ``"exact"``).
      spread_stderr: the standard error of ``spread`` (0.0 for ``"exact"``).
      squared_singular_values: ``(examples, k)``, each row descending (``"exact"``), or
        ``None``.
    """

    method: str
    shape: tuple[int, int]
    examples: int
    probes: int
    mean: float
    second_moment: float
    spread: float
    max: float | None
    min: float | None
    mean_stderr: float = 0.0
    spread_stderr: float = 0.0
    squared_singular_values: np.ndarray | None = field(default=None, compare=False, repr=False)

    def __str__(self) -> str:
        m, n = self.shape
        how = "exact" if self.method == "exact" else f"randomized, {self.probes} probes"
        mean, spread = f"{self.mean:.4g}", f"{self.spread:.4g}"
        if self.method != "exact":
            mean += f" ± {self.mean_stderr:.2g}"
            spread += f" ± {self.spread_stderr:.2g}"
        bounds = "" if self.max is None else f", s² in [{self.min:.3g}, {self.max:.3g}]"
        return (
            f"Jacobian {m}×{n} ({how}, {self.examples} example(s)): E[s²] = {mean}, "
            f"Var(s²)/E[s²]² = {spread}{bounds}"
        )

    def to_dict(self) -> dict[str, Any]:
        """The figures as JSON-serializable builtins (the singular values left out)."""
        return {
            "method": self.method,
            "shape": list(self.shape),
            "examples": self.examples,
            "probes": self.probes,
            "mean": self.mean,
            "second_moment": self.second_moment,
            "spread": self.spread,
            "max": self.max,
            "min": self.min,
            "mean_stderr": self.mean_stderr,
            "spread_stderr": self.spread_stderr,
        }


# ----------------------------------------------------------------------------- the spectrum


def from_values(s: np.ndarray, shape: tuple[int, int]) -> JacobianSpectrum:
    s2 = s.astype(np.float64) ** 2
    mean = float(s2.mean())
    if mean == 0:
        raise JinitValueError(
            "the Jacobian is zero at x (every singular value is 0), so its spread is "
            "undefined; check that fn depends on x there (a zero-initialized output layer?)."
        )
    second = float((s2**2).mean())
    spread = float(((s2 - mean) ** 2).mean() / mean**2)
    return JacobianSpectrum(
        "exact", shape, s2.shape[0], 0, mean, second, spread, float(s2.max()),
        float(s2.min()), squared_singular_values=s2,
    )  # fmt: skip


def from_probes(raw: np.ndarray, shape: tuple[int, int]) -> JacobianSpectrum:
    raw = raw.astype(np.float64)
    k = min(shape)
    a = raw[..., 0] ** 2 * raw[..., 1] / k  # ‖Jv‖² / k: unbiased for E[s²]
    b = raw[..., 2] ** 2 * raw[..., 3] / k  # ‖JᵀJv‖² / k: unbiased for E[s⁴]
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise JinitValueError(
            "‖JᵀJv‖² overflows float64: the Jacobian's singular values are beyond 1e75; the "
            "network explodes, its spread cannot be measured."
        )
    m1, m2 = float(a.mean()), float(b.mean())
    if m1 == 0:
        raise JinitValueError(
            "the Jacobian is zero at x (Jv = 0 for every probe), so its spread is undefined; "
            "check that fn depends on x there (a zero-initialized output layer?)."
        )
    examples, probes = a.shape
    # per example the sample covariance of (a, b); the pooled mean's covariance is their sum
    # over examples / (examples² · probes)
    cov = sum(np.cov(a[e], b[e]) for e in range(examples)) / (examples**2 * probes)
    grad = np.array([-2 * m2 / m1**3, 1 / m1**2])  # of m2 / m1² - 1 in (m1, m2)
    spread_se = math.sqrt(max(float(grad @ cov @ grad), 0.0))
    return JacobianSpectrum(
        "randomized", shape, examples, probes, m1, m2, m2 / m1**2 - 1, None, None,
        math.sqrt(max(float(cov[0, 0]), 0.0)), spread_se,
    )  # fmt: skip
