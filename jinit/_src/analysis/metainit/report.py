"""What :func:`jinit.metainit` reports: the gradient quotient before and after, and each norm.

:class:`MetaInitReport` is the second value :func:`jinit.metainit` returns; it prints as a
summary of the run (GQ before and after on the first batch, the trajectory) and a table of the
tuned arrays, one :class:`MetaInitArray` each, with the factor its norm was multiplied by.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

__all__ = ["MetaInitArray", "MetaInitReport", "natural_order"]


def natural_order(path: str) -> tuple[tuple[int, int | str], ...]:
    """A sort key that puts ``Dense_2`` before ``Dense_10`` (numbers compare as numbers)."""
    return tuple(
        (1, int(part)) if part.isdigit() else (0, part) for part in re.split(r"(\d+)", path)
    )


@dataclass(frozen=True)
class MetaInitArray:
    """What MetaInit did to one array: its norm, before and after (its direction is kept).

    Attributes:
      path: the array's path (``params/Dense_0/kernel``).
      shape: its shape.
      norm_before: its Frobenius norm as given.
      norm_after: its norm as returned.
      floored: the steps at which the update would have taken the norm below
        ``min_scale * norm_before`` and it was held there (0 when it never was).
    """

    path: str
    shape: tuple[int, ...]
    norm_before: float
    norm_after: float
    floored: int

    @property
    def scale(self) -> float:
        """The factor the array was multiplied by, ``norm_after / norm_before``."""
        return self.norm_after / self.norm_before


@dataclass(frozen=True)
class MetaInitReport:
    """The outcome of :func:`jinit.metainit`.

    Attributes:
      arrays: one :class:`MetaInitArray` per tuned array, by path (numbers in order).
      gq_before: the gradient quotient of the given parameters on the first batch.
      gq_after: the gradient quotient of the returned parameters on the same batch.
      trajectory: the gradient quotient at each step, on that step's batch, before its
        update (``trajectory[0] == gq_before``).
      n_params: :math:`N`, the number of trainable elements the quotient averages over.
      steps: sign-SGD steps made.
      lr: the step size on the norms.
      momentum: the momentum.
      eps: the safe-division epsilon.
      min_scale: the floor on each norm, as a fraction of its initial norm.
    """

    arrays: tuple[MetaInitArray, ...]
    gq_before: float
    gq_after: float
    trajectory: tuple[float, ...]
    n_params: int
    steps: int
    lr: float
    momentum: float
    eps: float
    min_scale: float

    @property
    def ratio(self) -> float:
        """``gq_after / gq_before`` (below 1 when MetaInit lowered the quotient)."""
        return self.gq_after / self.gq_before if self.gq_before > 0 else float("inf")

    @property
    def scales(self) -> dict[str, float]:
        """``{path: norm scale}`` of every tuned array."""
        return {array.path: array.scale for array in self.arrays}

    @property
    def median_scale(self) -> float:
        """The median of the norm scales."""
        return float(np.median([array.scale for array in self.arrays]))

    def __str__(self) -> str:
        trajectory = np.asarray(self.trajectory)
        marks = sorted({0, *(round(f * (len(trajectory) - 1)) for f in (0.25, 0.5, 0.75, 1))})
        path = "  ".join(f"{i}: {trajectory[i]:.4g}" for i in marks)
        best = int(np.argmin(trajectory))
        floored = [array.path for array in self.arrays if array.floored]
        lines = [
            f"MetaInit: {len(self.arrays)} array(s) tuned, {self.steps} steps "
            f"(sign-SGD lr={self.lr:g}, momentum={self.momentum:g}, eps={self.eps:g}), "
            f"GQ over N={self.n_params} parameters",
            f"  GQ on the first batch: {self.gq_before:.4g} -> {self.gq_after:.4g} "
            f"(x{self.ratio:.3g}); median norm scale {self.median_scale:.4g}",
            f"  trajectory (step: GQ on its batch): {path}; lowest {trajectory[best]:.4g} at "
            f"step {best}",
        ]
        if floored:
            lines.append(
                f"  {len(floored)} array(s) held at min_scale={self.min_scale:g} of their norm "
                f"at some step: {', '.join(floored)}"
            )
        width = max([len("array"), *(len(array.path) for array in self.arrays)])
        lines.append(f"  {'array':<{width}}  {'norm before':>11}  {'norm after':>10}  {'scale':>7}")
        for array in self.arrays:
            flag = f"  (floored {array.floored}x)" if array.floored else ""
            lines.append(
                f"  {array.path:<{width}}  {array.norm_before:>11.4g}  {array.norm_after:>10.4g}"
                f"  {array.scale:>7.4g}{flag}"
            )
        return "\n".join(lines)
