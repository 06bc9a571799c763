r"""The result of :func:`jinit.diagnose`: per-layer figures, verdicts, a table, a plot, JSON.

Most verdicts compare the two ends of the network. For activations the *propagation ratio* is
:math:`\sigma_\text{last} / \sigma_\text{first}` (standard deviations); for gradients, grouped by
parameter name (all ``kernel``-s, all ``bias``-es), it is
:math:`\|\nabla\|_\text{first layer} / \|\nabla\|_\text{last layer}` -- in both cases what
arrives at the far end of the propagation over what left. Two more look where the ends cannot:
the peak of the activations inside the network, and the loss against chance:

=====================  ======================================================================
flag                   rule
=====================  ======================================================================
``vanishing``          ratio :math:`< 10^{-3}`, or the quantity is zero at both ends
``exploding``          ratio :math:`> 10^{3}`, or a value is not finite (overflow); for the
                       activations also when any layer's std exceeds :math:`10^{3}` times the
                       first layer's (the *peak ratio*: ``end`` names the peak layer)
``shrinking``          ratio :math:`< 1/10` and a steady geometric trend: at least 4 layers and
                       the least-squares line through :math:`\log_{10}` of the values has
                       :math:`R^2 \ge 0.9` (not flagged when already ``vanishing``)
``growing``            the same with ratio :math:`> 10` (not flagged when already
                       ``exploding``, at the ends or inside)
``loss_above_chance``  with the default cross-entropy over :math:`C` classes: the loss
                       exceeds :math:`\ln C + \max(\ln C, 3)` -- twice chance, and at least
                       3 nats above it
=====================  ======================================================================

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

**The peak inside.** A normalization resets the scale, so the ends can look fine while the
layers between explode. In a pre-norm transformer whose weights are all N(0, 1), each block
multiplies its LayerNorm's unit output by :math:`\sqrt{d}` in ``q``/``k``/``v`` and in the MLP's
first layer, and by :math:`\sqrt{4d \cdot d/2}` more in the MLP's output (std
:math:`\approx \sqrt2\, d`), and the final LayerNorm brings the head back to :math:`\sqrt d`.
The *peak ratio*, the largest std over the first layer's, sees this; only peaks count, never
dips, since zero-initialized branches (Fixup, zero residual projections) and GPT-2's scaled-down
projections are what healthy schemes do. Measured peak ratios: the study's MLPs at most 1.32 with
LeCun, Glorot, He, orthogonal or PyTorch's default, residual MLPs 2.1 (6.5 with He); the
pre-norm transformer of ``tests/test_diagnose.py`` (vocab 2000) 8.2 with Flax's defaults and 51
with GPT-2's init at width :math:`d = 64` (50 at 1024: the LayerNorms' unit outputs over the
N(0, 0.02²) embedding, 1/0.02 at any width), against 98 with N(0, 1) weights at :math:`d = 64`
and :math:`1.43 \times 10^3` at :math:`d = 1024` (the MLP output). The limit is the end-to-end
one, :math:`10^3`, 20 times GPT-2's peak. The N(0, 1) transformer's :math:`\sqrt2\, d` crosses
it only from :math:`d \approx 710`; narrower, its peak is within a factor 2 of GPT-2's own, no
activation-std rule can tell them apart, and the loss flags it instead.

**The loss against chance.** Logits :math:`z_c` of std :math:`s` that do not depend on the label
:math:`y` give an expected cross-entropy

.. math::

   E\Big[\log \sum_{c=1}^C e^{z_c}\Big] - E[z_y] \le \ln C + \frac{s^2}{2}
   \qquad \text{(Jensen; } \ln C + (1 - \tfrac1C)\tfrac{s^2}{2} \text{ to second order in } s).

As :math:`C` grows the bound becomes exact up to :math:`s = \sqrt{2 \ln C}`, where the loss is
:math:`2 \ln C`; beyond, the softmax collapses onto the largest logits and the loss grows as
:math:`s \sqrt{2 \ln C}` (the random energy model, Derrida 1981). Twice chance thus marks
logits large enough that the model starts out confidently wrong. Measured with independent
normal logits, the loss reaches :math:`2 \ln C` at :math:`s` = 4.3 for 2000 classes, 2.7 for
10 and 2.1 for 2, while unit logits (a LeCun head) add 0.55, 0.42 and 0.21 nats and He's
:math:`s = \sqrt 2` adds 1.07, 0.80 and 0.37. With few classes twice chance is too near:
:math:`\ln 2` is 0.69 nats, and a random net of a few input features is wrong over whole regions
of the input, which spreads its loss. Over 20 seeds, :math:`2 \ln C` alone flagged up to 7
of 20 healthy He-, LeCun- and Glorot-initialized ReLU MLPs and residual MLPs (4 hidden layers
of 64) on the study's 2- and 3-class data sets (the largest excess 2.0 nats, a loss of 3.1 on
wine; 2.4 on spirals, whose first 256 training samples are all of one class), hence the second
condition, 3 nats above chance (about logits of std :math:`\sqrt 6 \approx 2.4` at large
:math:`C`), which decides below :math:`C = e^3 \approx 20`.
With both, no healthy net measured is flagged: the study's MLPs (4×64 and 30×128), residual
MLPs and CNN on its 5 data sets with LeCun, Glorot, He, orthogonal and PyTorch's default (3 to
20 seeds each) start at most 2.4 nats above chance, at most 1.9·ln C on 10 classes; the
transformer starts at 1.0006·ln C with GPT-2's init (1.035 at :math:`d = 1024`) and
1.06·ln C with Flax's defaults. Broken ones start far above: N(0, 1) weights give the
transformer 3.6·ln C (27.2 at :math:`d = 64`) and 14·ln C (108 at :math:`d = 1024`), tanh MLPs
4.0 to 6.2·ln C on 10 classes, the CNN 160·ln C and ReLU MLPs 785·ln C (digits, breast cancer)
and more; He on residual MLPs, whose stream doubles its variance per block, 4.5 to 11·ln C on 10
classes. With 2 classes the loss says less: N(0, 1) tanh MLPs, whose logits have std 8, pass
the limit in 8 of 20 seeds on breast cancer and 10 of 20 on spirals (19 and 20 of 20 with 3 and
4 classes), and the gradient rules must speak for the others.

References:
  Glorot & Bengio, "Understanding the difficulty of training deep feedforward neural networks",
  AISTATS 2010, https://proceedings.mlr.press/v9/glorot10a.html.
  He et al., "Delving Deep into Rectifiers", ICCV 2015, https://arxiv.org/abs/1502.01852.
  Derrida, "Random-energy model: an exactly solvable model of disordered systems", Phys. Rev. B
  24, 2613 (1981), https://doi.org/10.1103/PhysRevB.24.2613.
  Radford et al., "Language Models are Unsupervised Multitask Learners" (GPT-2), 2019.
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
    "LOSS_CHANCE_RATIO",
    "LOSS_EXCESS_NATS",
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
#: Propagation ratio above which a quantity is ``exploding``; also the limit of the activations'
#: peak ratio (largest std over the first layer's).
EXPLODING_RATIO = 1e3
#: Multiple of chance (ln C) above which the initial cross-entropy is ``loss_above_chance``.
LOSS_CHANCE_RATIO = 2.0
#: Nats above chance the initial cross-entropy must also exceed to be ``loss_above_chance``.
LOSS_EXCESS_NATS = 3.0
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
    r"""One verdict: ``kind`` of ``quantity`` from layer ``start`` to layer ``end``.

    Attributes:
      kind: ``vanishing``, ``exploding``, ``shrinking``, ``growing`` or ``loss_above_chance``.
      quantity: ``activation std``, ``gradient norm (NAME)`` for the parameters named NAME, or
        ``loss``.
      ratio: the propagation ratio, the value at ``end`` over the value at ``start``; for a peak
        inside the network the peak over the first layer; for ``loss_above_chance`` the loss
        over chance :math:`\ln C`.
      factor: the fitted factor per layer (NaN with fewer than 4 layers, a zero value, a peak
        inside or the loss).
      start: where the propagation starts (the first layer forward, the last one backward);
        ``chance`` for the loss.
      end: where it ends: the last layer, the peak layer for a peak inside; ``loss`` for the
        loss.
      layers: how many layers the ratio spans (0 for the loss).
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
      classes: the number of classes :math:`C` of the default cross-entropy (the output's last
        axis); ``None`` for other losses, whose chance level is unknown.
    """

    activations: tuple[ActivationStats, ...]
    parameters: tuple[ParameterStats, ...]
    flags: tuple[DiagnosisFlag, ...]
    loss: float
    loss_name: str
    activation_source: str
    classes: int | None = None

    @property
    def chance_loss(self) -> float:
        r"""The cross-entropy of a uniform prediction, :math:`\ln C`; NaN without classes."""
        return math.log(self.classes) if self.classes else math.nan

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
        chance = f"; chance ln {self.classes} = {self.chance_loss:.4g}" if self.classes else ""
        return (
            f"Diagnosis: {len(self.activations)} activation(s) ({self.activation_source}), "
            f"{len(self.parameters)} parameter(s), loss {self.loss:.4g} ({self.loss_name}"
            f"{chance})\n{self.verdict()}"
        )

    def to_dict(self) -> dict[str, Any]:
        """Everything as JSON-serializable builtins; values that are not finite become ``None``."""
        return {
            "loss": _finite(self.loss),
            "loss_name": self.loss_name,
            "classes": self.classes,
            "chance_loss": _finite(self.chance_loss),
            "activation_source": self.activation_source,
            "thresholds": {
                "vanishing_ratio": VANISHING_RATIO,
                "exploding_ratio": EXPLODING_RATIO,
                "trend_ratio": TREND_RATIO,
                "trend_r2": TREND_R2,
                "trend_min_layers": TREND_MIN_LAYERS,
                "loss_chance_ratio": LOSS_CHANCE_RATIO,
                "loss_excess_nats": LOSS_EXCESS_NATS,
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
            colour = "yellow" if f.kind in ("shrinking", "growing") else "red"
            console.print(f"[bold {colour}]{escape(f.message)}[/]")
        if not self.flags:
            console.print(
                "[bold green]no flags[/]: activations, gradients and loss within the thresholds"
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


def _peak(quantity: str, names: Sequence[str], values: Sequence[float]) -> DiagnosisFlag | None:
    """``exploding`` when a layer's value exceeds ``EXPLODING_RATIO`` times the first's, or None.

    Only peaks count, never dips (a zero-initialized branch is no fault); values that are not
    finite or a first value of zero are the end-to-end rule's to judge.
    """
    v = np.asarray(values, dtype=float)
    if len(v) < 3 or not np.isfinite(v).all() or not v[0] > 0:
        return None
    k = int(np.argmax(v))
    ratio = float(v[k] / v[0])
    if ratio <= EXPLODING_RATIO:
        return None
    message = (
        f"{quantity} exploding inside: {names[k]} / {names[0]} = {ratio:.3g} at layer {k + 1} "
        f"of {len(v)}, while the last layer {names[-1]} is {v[-1] / v[0]:.3g}× the first"
    )
    return DiagnosisFlag("exploding", quantity, ratio, math.nan, names[0], names[k], k + 1, message)


def _above_chance(loss: float, classes: int | None) -> DiagnosisFlag | None:
    r"""``loss_above_chance`` when the loss exceeds :math:`\ln C + \max(\ln C, 3)`, or None."""
    if classes is None or classes < 2 or math.isnan(loss):
        return None
    chance = math.log(classes)
    limit = max(LOSS_CHANCE_RATIO * chance, chance + LOSS_EXCESS_NATS)
    if not loss > limit:
        return None
    ratio = loss / chance
    message = (
        f"loss above chance: cross-entropy {loss:.4g} = {ratio:.3g} × ln {classes} "
        f"({chance:.3g}), above the limit {limit:.3g}: the logits are too large at "
        "initialization (scale the output layer down)"
    )
    return DiagnosisFlag("loss_above_chance", "loss", ratio, math.nan, "chance", "loss", 0, message)


def flags_for(
    activations: Sequence[ActivationStats],
    parameters: Sequence[ParameterStats],
    *,
    loss: float = math.nan,
    classes: int | None = None,
) -> tuple[DiagnosisFlag, ...]:
    r"""The verdicts on activation std (forward), each gradient group (backward) and the loss.

    Args:
      activations: per layer, in execution order.
      parameters: per parameter, in the order of the layers that own them.
      loss: the initial loss; judged only with ``classes``.
      classes: the number of classes :math:`C` of a cross-entropy ``loss``, or ``None``.

    Returns:
      The flags: activation std (end to end, then a peak inside), the gradient groups, the loss.

    Example:
      >>> acts = [ActivationStats(f"layer{i}", (8, 4), 0.0, 0.5**i) for i in range(6)]
      >>> [f.kind for f in flags_for(acts, [])]
      ['shrinking']
      >>> flags_for(acts, [])[0].factor
      0.5
      >>> inside = [ActivationStats(n, (8, 4), 0.0, s) for n, s in [("a", 1), ("b", 2e3), ("c", 1)]]
      >>> [(f.kind, f.end) for f in flags_for(inside, [], loss=27.2, classes=2000)]
      [('exploding', 'b'), ('loss_above_chance', 'loss')]
    """
    names, stds = [a.name for a in activations], [a.std for a in activations]
    end_to_end = _judge("activation std", names, stds)
    inside = None
    if end_to_end is None or end_to_end.kind != "exploding":
        inside = _peak("activation std", names, stds)
    if inside is not None and end_to_end is not None and end_to_end.kind == "growing":
        end_to_end = None  # exploding inside says more than growing at the end
    found = [end_to_end, inside]
    for name, group in _groups(parameters).items():
        backward = group[::-1]  # the gradient starts at the last layer
        found.append(
            _judge(
                f"gradient norm ({name})",
                [p.path for p in backward],
                [p.grad_norm for p in backward],
            )
        )
    found.append(_above_chance(loss, classes))
    return tuple(f for f in found if f is not None)
