r"""The result of :func:`jinit.diagnose`: per-layer figures, verdicts, a table, a plot, JSON.

Verdicts compare the two ends of the network. For activations the *propagation ratio* is
:math:`\sigma_\text{last} / \sigma_\text{first}` (standard deviations); for gradients, grouped by
parameter name (all ``kernel``-s, all ``bias``-es), it is
:math:`\|\nabla\|_\text{first layer} / \|\nabla\|_\text{last layer}` -- in both cases what
arrives at the far end of the propagation over what left:

==============  =============================================================================
flag            rule
==============  =============================================================================
``vanishing``   ratio :math:`< 10^{-3}`, or the quantity is zero at both ends
``exploding``   ratio :math:`> 10^{3}`, or a value is not finite (overflow)
``shrinking``   ratio :math:`< 1/10` and a steady geometric trend: at least 4 layers and the
                least-squares line through :math:`\log_{10}` of the values has
                :math:`R^2 \ge 0.9` (not flagged when already ``vanishing``)
``growing``     the same with ratio :math:`> 10`
==============  =============================================================================

Why these numbers: a well-initialized network keeps its signal within about one decade from end
to end (measured, 30 layers of width 128 on digits: He on ReLU 0.6, Glorot on tanh 0.26), while a
mis-scaled one changes it by a constant factor per layer, which compounds to tens of decades
(fixed N(0, 0.01²) weights of width 128 multiply the std by :math:`0.01\sqrt{128} \approx 0.11`
per layer: :math:`5 \times 10^{-28}` after 30 layers; Glorot on ReLU loses :math:`\sqrt{2}` per
layer: :math:`3 \times 10^{-5}`). Three decades sit between the two with room on both sides,
hold at any depth, and mark where training is in practice lost: a layer whose gradients are a
thousand times smaller (or larger) than another's cannot learn at the same learning rate.
``shrinking``/``growing`` catch the same failure earlier: a decade lost at a steady rate per layer
becomes three decades at three times the depth. The :math:`R^2` condition keeps one odd layer or
the random walk of a finite-width network from counting as a trend.

Kernel gradients can hide a vanishing signal: in a plain stack whose layers all have the same
scale, :math:`\nabla W_l = h_{l-1}^\top \delta_l` multiplies a forward factor that shrinks with
depth by a backward one that grows towards the input, and the two cancel (Glorot & Bengio 2010,
section 4.2.2; measured: kernel-gradient ratio 0.65 where the activations vanish by
:math:`10^{-27}`). Bias gradients (:math:`\sum_\text{batch} \delta_l`) and activations do not
cancel, so every group is judged; saturation (tanh with large weights) breaks the cancellation
and shows in the kernels too.

References:
  Glorot & Bengio, "Understanding the difficulty of training deep feedforward neural networks",
  AISTATS 2010, https://proceedings.mlr.press/v9/glorot10a.html.
  He et al., "Delving Deep into Rectifiers", ICCV 2015, https://arxiv.org/abs/1502.01852.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from matplotlib.figure import Figure
    from rich.console import Console

__all__ = [
    "EXPLODING_RATIO",
    "TREND_MIN_LAYERS",
    "TREND_R2",
    "TREND_RATIO",
    "VANISHING_RATIO",
    "ActivationStats",
    "Diagnosis",
    "DiagnosisFlag",
    "ParameterStats",
    "flags_for",
]

#: Propagation ratio below which a quantity is ``vanishing``.
VANISHING_RATIO = 1e-3
#: Propagation ratio above which a quantity is ``exploding``.
EXPLODING_RATIO = 1e3
#: Propagation ratio (or its inverse) beyond which a steady trend is ``growing``/``shrinking``.
TREND_RATIO = 10.0
#: Least R² of the log-linear fit for a trend to count as steady.
TREND_R2 = 0.9
#: Fewest layers for a trend.
TREND_MIN_LAYERS = 4


@dataclass(frozen=True)
class ActivationStats:
    """Mean and standard deviation of one layer's activations over the batch and features."""

    name: str
    shape: tuple[int, ...]
    mean: float
    std: float


@dataclass(frozen=True)
class ParameterStats:
    """Frobenius norms of one parameter, its gradient and its first optimizer update.

    ``update_ratio`` is ``update_norm / weight_norm``; NaN for a parameter that is all zeros (a
    freshly initialized bias), whose relative update is undefined.
    """

    path: str
    shape: tuple[int, ...]
    weight_norm: float
    grad_norm: float
    update_norm: float
    update_ratio: float


@dataclass(frozen=True)
class DiagnosisFlag:
    """One verdict: ``kind`` of ``quantity`` from layer ``start`` to layer ``end``.

    Attributes:
      kind: ``vanishing``, ``exploding``, ``shrinking`` or ``growing``.
      quantity: ``activation std``, or ``gradient norm (NAME)`` for the parameters named NAME.
      ratio: the propagation ratio, the value at ``end`` over the value at ``start``.
      factor: the fitted factor per layer (NaN with fewer than 4 layers or a zero value).
      start: where the propagation starts (the first layer forward, the last one backward).
      end: where it ends.
      layers: how many layers the ratio spans.
      message: one sentence for people.
    """

    kind: str
    quantity: str
    ratio: float
    factor: float
    start: str
    end: str
    layers: int
    message: str


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _g(value: float) -> str:
    return "—" if math.isnan(value) else f"{value:.3g}"


def _groups(parameters: Sequence[ParameterStats]) -> dict[str, list[ParameterStats]]:
    """Parameters by their name (the last path component), in layer order."""
    groups: dict[str, list[ParameterStats]] = {}
    for p in parameters:
        groups.setdefault(p.path.rsplit("/", 1)[-1], []).append(p)
    return groups


@dataclass(frozen=True)
class Diagnosis:
    """What :func:`jinit.diagnose` measured, and its verdicts.

    Attributes:
      activations: per layer, in execution order.
      parameters: per parameter, in the order of the layers that own them.
      flags: the verdicts (see the module documentation); empty when nothing looks wrong.
      loss: the loss at the parameters given.
      loss_name: which loss the gradients are of.
      activation_source: ``sown`` (values the model sows), ``layers`` (outputs of the modules
        that own parameters) or ``none`` (a plain function: no activations).
    """

    activations: tuple[ActivationStats, ...]
    parameters: tuple[ParameterStats, ...]
    flags: tuple[DiagnosisFlag, ...]
    loss: float
    loss_name: str
    activation_source: str

    @property
    def ok(self) -> bool:
        """Whether no flag was raised."""
        return not self.flags

    def flagged(self, kind: str, quantity: str | None = None) -> bool:
        """Whether a flag of ``kind`` was raised (for a ``quantity`` starting with this text)."""
        return any(
            f.kind == kind and (quantity is None or f.quantity.startswith(quantity))
            for f in self.flags
        )

    def verdict(self) -> str:
        """One line per flag, or ``no flags``."""
        return "\n".join(f.message for f in self.flags) if self.flags else "no flags"

    def __str__(self) -> str:
        return (
            f"Diagnosis: {len(self.activations)} activation(s) ({self.activation_source}), "
            f"{len(self.parameters)} parameter(s), loss {self.loss:.4g} ({self.loss_name})\n"
            f"{self.verdict()}"
        )

    def to_dict(self) -> dict[str, Any]:
        """Everything as JSON-serializable builtins; values that are not finite become ``None``."""
        return {
            "loss": _finite(self.loss),
            "loss_name": self.loss_name,
            "activation_source": self.activation_source,
            "thresholds": {
                "vanishing_ratio": VANISHING_RATIO,
                "exploding_ratio": EXPLODING_RATIO,
                "trend_ratio": TREND_RATIO,
                "trend_r2": TREND_R2,
                "trend_min_layers": TREND_MIN_LAYERS,
            },
            "activations": [
                {
                    "name": a.name,
                    "shape": list(a.shape),
                    "mean": _finite(a.mean),
                    "std": _finite(a.std),
                }
                for a in self.activations
            ],
            "parameters": [
                {
                    "path": p.path,
                    "shape": list(p.shape),
                    "weight_norm": _finite(p.weight_norm),
                    "grad_norm": _finite(p.grad_norm),
                    "update_norm": _finite(p.update_norm),
                    "update_ratio": _finite(p.update_ratio),
                }
                for p in self.parameters
            ],
            "flags": [
                {
                    "kind": f.kind,
                    "quantity": f.quantity,
                    "ratio": _finite(f.ratio),
                    "factor": _finite(f.factor),
                    "start": f.start,
                    "end": f.end,
                    "layers": f.layers,
                    "message": f.message,
                }
                for f in self.flags
            ],
        }

    def table(self, console: Console | None = None) -> None:
        """Print the activation and parameter tables and the verdicts with ``rich``."""
        from rich.console import Console
        from rich.markup import escape
        from rich.table import Table

        console = console or Console()
        if self.activations:
            first = self.activations[0].std
            acts = Table(title=f"activations ({self.activation_source})", title_justify="left")
            for column in ("layer", "shape", "mean", "std", "std / first"):
                acts.add_column(column, justify="left" if column in ("layer", "shape") else "right")
            for a in self.activations:
                relative = a.std / first if first > 0 else math.nan
                acts.add_row(escape(a.name), str(a.shape), _g(a.mean), _g(a.std), _g(relative))
            console.print(acts)
        params = Table(title=f"parameters (gradient of the {self.loss_name})", title_justify="left")
        for column in ("parameter", "shape", "‖w‖", "‖∇w‖", "‖Δw‖ / ‖w‖"):
            params.add_column(
                column, justify="left" if column in ("parameter", "shape") else "right"
            )
        for p in self.parameters:
            params.add_row(
                escape(p.path),
                str(p.shape),
                _g(p.weight_norm),
                _g(p.grad_norm),
                _g(p.update_ratio),
            )
        console.print(params)
        for f in self.flags:
            colour = "red" if f.kind in ("vanishing", "exploding") else "yellow"
            console.print(f"[bold {colour}]{escape(f.message)}[/]")
        if not self.flags:
            console.print(
                "[bold green]no flags[/]: activations and gradients within the thresholds"
            )

    def plot(self, path: str | Path | None = None) -> Figure:
        """Draw activation std, gradient norms and update ratios per layer, on log scales.

        Uses the matplotlib ``Figure`` API, not pyplot, so a notebook's backend is left alone
        and nothing needs closing.

        Args:
          path: where to save the figure (the format follows the suffix, e.g. ``.png``), or
            ``None`` to only return it.

        Returns:
          The :class:`matplotlib.figure.Figure`.
        """
        from matplotlib.figure import Figure

        fig = Figure(figsize=(13.5, 4.0))
        axes = fig.subplots(1, 3)
        _log_line(axes[0], [a.std for a in self.activations], "std", marker="o", markersize=3)
        _log_line(axes[0], [abs(a.mean) for a in self.activations], "|mean|", linestyle="--")
        axes[0].set_title(f"activations ({self.activation_source})")
        axes[0].set_xlabel("layer (execution order)")
        for k, (name, group) in enumerate(_groups(self.parameters).items()):
            style = {"marker": "o", "markersize": 3, "color": f"C{k % 10}"}
            _log_line(axes[1], [p.grad_norm for p in group], name, **style)
            _log_line(axes[2], [p.update_ratio for p in group], name, **style)
        axes[1].set_title(f"gradient norm ({self.loss_name})")
        axes[2].set_title("‖update‖ / ‖weight‖ after one step")
        for ax in axes[1:]:
            ax.set_xlabel("layer (per parameter name)")
        for ax in axes:
            ax.grid(alpha=0.3)
            if ax.get_legend_handles_labels()[0]:
                ax.legend(fontsize=7)
        title = "; ".join(f"{f.kind} {f.quantity}" for f in self.flags) or "no flags"
        fig.suptitle(title, color="tab:red" if self.flags else "tab:green")
        fig.tight_layout()
        if path is not None:
            fig.savefig(path, dpi=110)
        return fig


def _log_line(ax: Any, values: Sequence[float], label: str, **style: Any) -> None:
    """Plot the positive finite values on a log axis (the others are gaps)."""
    y = np.array(values, dtype=float)
    y[~(np.isfinite(y) & (y > 0))] = np.nan
    if np.isnan(y).all():
        return
    ax.plot(np.arange(len(y)), y, label=label, **style)
    ax.set_yscale("log")


def _judge(quantity: str, names: Sequence[str], values: Sequence[float]) -> DiagnosisFlag | None:
    """The flag of ``values`` given in propagation order, or None."""
    v = np.asarray(values, dtype=float)
    n = len(v)
    if n < 2:
        return None
    start, end = names[0], names[-1]

    def flag(kind: str, ratio: float, factor: float, detail: str) -> DiagnosisFlag:
        message = f"{quantity} {kind}: {detail}"
        return DiagnosisFlag(kind, quantity, ratio, factor, start, end, n, message)

    if not np.isfinite(v).all():
        bad = names[int(np.flatnonzero(~np.isfinite(v))[0])]
        return flag("exploding", math.inf, math.nan, f"not finite at {bad} (overflow)")
    if v[0] == 0:
        if v[-1] == 0:
            return flag("vanishing", 0.0, math.nan, f"zero at {start} and at {end}")
        return flag("exploding", math.inf, math.nan, f"zero at {start} but not at {end}")
    ratio = float(v[-1] / v[0])
    factor, r2 = math.nan, 0.0
    if n >= TREND_MIN_LAYERS and (v > 0).all():
        x, y = np.arange(n, dtype=float), np.log10(v)
        slope, intercept = np.polyfit(x, y, 1)
        total = float(((y - y.mean()) ** 2).sum())
        r2 = 1.0 - float(((y - slope * x - intercept) ** 2).sum()) / total if total > 0 else 0.0
        factor = float(10.0**slope)
    per_layer = f", ×{factor:.3g} per layer" if math.isfinite(factor) else ""
    detail = f"{end} / {start} = {ratio:.3g} over {n} layers{per_layer}"
    if ratio < VANISHING_RATIO:
        return flag("vanishing", ratio, factor, detail)
    if ratio > EXPLODING_RATIO:
        return flag("exploding", ratio, factor, detail)
    if r2 >= TREND_R2 and ratio < 1 / TREND_RATIO and factor < 1:
        return flag("shrinking", ratio, factor, f"{detail} (R² {r2:.2f})")
    if r2 >= TREND_R2 and ratio > TREND_RATIO and factor > 1:
        return flag("growing", ratio, factor, f"{detail} (R² {r2:.2f})")
    return None


def flags_for(
    activations: Sequence[ActivationStats], parameters: Sequence[ParameterStats]
) -> tuple[DiagnosisFlag, ...]:
    """The verdicts on activation std (forward) and on each gradient group (backward).

    Example:
      >>> acts = [ActivationStats(f"layer{i}", (8, 4), 0.0, 0.5**i) for i in range(6)]
      >>> [f.kind for f in flags_for(acts, [])]
      ['shrinking']
      >>> flags_for(acts, [])[0].factor
      0.5
    """
    found = [_judge("activation std", [a.name for a in activations], [a.std for a in activations])]
    for name, group in _groups(parameters).items():
        backward = group[::-1]  # the gradient starts at the last layer
        found.append(
            _judge(
                f"gradient norm ({name})",
                [p.path for p in backward],
                [p.grad_norm for p in backward],
            )
        )
    return tuple(f for f in found if f is not None)
