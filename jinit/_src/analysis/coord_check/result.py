r"""The result of :func:`jinit.coord_check`: activation scales per width, step and layer.

:class:`CoordCheck` holds the scales :math:`s_{n,t,\ell}` (the mean absolute value of layer
:math:`\ell`'s output at width :math:`n` after :math:`t` updates), the slope of
:math:`\log s` against :math:`\log n` by least squares -- the exponent :math:`a` in
:math:`s \propto n^a`,

.. math::
   a_{t,\ell} = \frac{\sum_n (x_n - \bar x)(y_n - \bar y)}{\sum_n (x_n - \bar x)^2},
   \qquad x_n = \log n,\; y_n = \log s_{n,t,\ell},

-- and the figure of Tensor Programs V's coordinate check (one panel per step, scale vs width
on log-log axes, one line per layer).

References:
  Yang et al. (2022), "Tensor Programs V: Tuning Large Neural Networks via Zero-Shot
  Hyperparameter Transfer", https://arxiv.org/abs/2203.03466.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from jinit._src.core.errors import JinitValueError
from jinit._src.core.optional import require

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["CoordCheck"]


def _slopes(widths: Sequence[int], scales: np.ndarray) -> np.ndarray:
    """Least-squares slope of log(scale) on log(width) along axis 0; NaN where a scale <= 0."""
    x = np.log(np.asarray(widths, np.float64))
    x = x - x.mean()
    with np.errstate(divide="ignore", invalid="ignore"):
        y = np.log(np.where(scales > 0, scales, np.nan))
    shape = (-1,) + (1,) * (scales.ndim - 1)
    slopes: np.ndarray = np.sum(x.reshape(shape) * (y - y.mean(axis=0)), axis=0) / np.sum(x * x)
    return slopes


@dataclass(frozen=True, eq=False)
class CoordCheck:
    """What :func:`jinit.coord_check` measured.

    Attributes:
      widths: the widths, ascending.
      steps: the number of optimizer updates made before each measurement, ``(0, 1, ...,
        steps)``; step 0 is the initialization.
      layers: the module paths whose outputs were measured, in execution order.
      scales: ``scales[w, t, l]``, the mean absolute value of layer ``l``'s output at width
        ``widths[w]`` after ``steps[t]`` updates (float64, read-only).
      losses: ``losses[w, t]``, the training loss on the batch of that measurement.
    """

    widths: tuple[int, ...]
    steps: tuple[int, ...]
    layers: tuple[str, ...]
    scales: np.ndarray
    losses: np.ndarray

    def slopes(self, step: int | None = None) -> np.ndarray:
        r"""The exponent :math:`a` of :math:`\text{scale} \propto \text{width}^a`, least squares.

        Args:
          step: an index into :attr:`steps` (``-1``: after the last update), or ``None`` for
            every step.

        Returns:
          ``(layers,)`` for one step, ``(steps, layers)`` for all (float64).

        Raises:
          ValueError: ``step`` out of range, or a scale of 0 among those asked for (its log
            is undefined: a layer that is exactly zero, such as a zero-initialized read-out at
            step 0); the message names it, so other steps can be asked for.
        """
        count = len(self.steps)
        if step is not None and (
            isinstance(step, bool)
            or not isinstance(step, int | np.integer)
            or not -count <= step < count
        ):
            raise JinitValueError(
                f"jinit.CoordCheck.slopes: step must be an int in {-count}..{count - 1} or None, "
                f"got {step!r}"
            )
        if step is not None:
            step = int(step) % count
        scales = self.scales if step is None else self.scales[:, step : step + 1]
        zero = np.argwhere(scales <= 0)
        if zero.size:
            w, t, layer = (int(i) for i in zero[0])
            t = t if step is None else step
            raise JinitValueError(
                f"jinit.CoordCheck.slopes: the output of {self.layers[layer]!r} is exactly 0 at "
                f"width {self.widths[w]} after {self.steps[t]} update(s), so it has no "
                "log-log slope; ask for another step with slopes(step=...)"
            )
        slopes = _slopes(self.widths, scales)
        return slopes if step is None else slopes[0]

    def __str__(self) -> str:
        slopes = _slopes(self.widths, self.scales)
        name_width = max(len("layer"), *(len(name) for name in self.layers))
        head = "".join(f"{f't={t}':>9}" for t in self.steps)
        lines = [
            f"CoordCheck: {len(self.layers)} layer(s), widths {list(self.widths)}, "
            f"{self.steps[-1]} update(s); slope of log mean|activation| vs log width:",
            f"{'layer':<{name_width}}{head}",
        ]
        for k, name in enumerate(self.layers):
            cells = "".join(f"{'zero':>9}" if math.isnan(v) else f"{v:>9.3f}" for v in slopes[:, k])
            lines.append(f"{name:<{name_width}}{cells}")
        return "\n".join(lines)

    def plot(self, path: str | Path | None = None) -> Figure:
        """Draw the paper's figure: one panel per step, scale vs width (log-log), a line per layer.

        Uses the matplotlib ``Figure`` API, not pyplot, so a notebook's backend is left alone
        and nothing needs closing. Widths on a base-2 log axis, scales on a base-10 one; scales
        of 0 are left out (gaps on a log axis).

        Args:
          path: where to save the figure (the format follows the suffix, e.g. ``.png``), or
            ``None`` to only return it.

        Returns:
          The :class:`matplotlib.figure.Figure`, with ``len(steps)`` axes of ``len(layers)``
          lines each.
        """
        figure_module = require("matplotlib.figure", "coord_check")
        count = len(self.steps)
        fig: Figure = figure_module.Figure(figsize=(3.2 * count, 3.4))
        axes = np.atleast_1d(fig.subplots(1, count, sharey=True))
        for t, ax in enumerate(axes):
            for k, name in enumerate(self.layers):
                y = np.where(self.scales[:, t, k] > 0, self.scales[:, t, k], np.nan)
                ax.plot(self.widths, y, marker="o", markersize=3, label=name)
            ax.set_xscale("log", base=2)
            ax.set_yscale("log")
            ax.set_title(f"t = {self.steps[t]}")
            ax.set_xlabel("width")
            ax.grid(alpha=0.3)
        axes[0].set_ylabel("mean |activation|")
        axes[-1].legend(fontsize=7)
        fig.suptitle("coordinate check")
        fig.tight_layout()
        if path is not None:
            fig.savefig(path, dpi=110)
        return fig
