r"""The result of :func:`jinit.diagnose`: per-layer figures and verdicts, as a record and JSON.

:class:`Diagnosis` holds what was measured (:class:`ActivationStats` per layer,
:class:`ParameterStats` per parameter) and the verdicts (:class:`DiagnosisFlag`), which
:mod:`jinit._src.analysis.diagnose.flags` derives; that module gives every rule, every threshold
and the
measurements behind them. Its tables and plot are drawn by
:mod:`jinit._src.analysis.diagnose.render`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jinit._src.analysis.diagnose import flags as rules
from jinit._src.analysis.diagnose.flags import (
    ActivationStats,
    DiagnosisFlag,
    ParameterStats,
)
from jinit._src.analysis.jacobian.run import JacobianSpectrum

if TYPE_CHECKING:
    from matplotlib.figure import Figure
    from rich.console import Console

__all__ = ["Diagnosis"]


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _finite_dict(data: dict[str, Any]) -> dict[str, Any]:
    return {k: _finite(v) if isinstance(v, float) else v for k, v in data.items()}


@dataclass(frozen=True)
class Diagnosis:
    r"""What :func:`jinit.diagnose` measured, and its verdicts.

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
      jacobian: the spectrum of the input-output Jacobian on the first examples of the batch
        (``mean`` :math:`E[s^2]`, ``spread`` :math:`\operatorname{Var}(s^2)/E[s^2]^2`, 0 for
        dynamical isometry), or ``None`` when it is not available.
      jacobian_note: why ``jacobian`` is ``None`` (token ids as inputs, say); ``""`` when it
        was measured.
    """

    activations: tuple[ActivationStats, ...]
    parameters: tuple[ParameterStats, ...]
    flags: tuple[DiagnosisFlag, ...]
    loss: float
    loss_name: str
    activation_source: str
    classes: int | None = None
    jacobian: JacobianSpectrum | None = None
    jacobian_note: str = ""

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

    def jacobian_line(self) -> str:
        """One line on the input-output Jacobian: its spectrum, or why there is none."""
        if self.jacobian is None:
            return f"input-output Jacobian: {self.jacobian_note}"
        return f"input-output {self.jacobian}"

    def __str__(self) -> str:
        chance = f"; chance ln {self.classes} = {self.chance_loss:.4g}" if self.classes else ""
        return (
            f"Diagnosis: {len(self.activations)} activation(s) ({self.activation_source}), "
            f"{len(self.parameters)} parameter(s), loss {self.loss:.4g} ({self.loss_name}"
            f"{chance})\n{self.jacobian_line()}\n{self.verdict()}"
        )

    def to_dict(self) -> dict[str, Any]:
        """Everything as JSON-serializable builtins; values that are not finite become ``None``."""
        return {
            "loss": _finite(self.loss),
            "loss_name": self.loss_name,
            "classes": self.classes,
            "chance_loss": _finite(self.chance_loss),
            "activation_source": self.activation_source,
            "jacobian": None if self.jacobian is None else _finite_dict(self.jacobian.to_dict()),
            "jacobian_note": self.jacobian_note,
            "thresholds": {
                "vanishing_ratio": rules.VANISHING_RATIO,
                "exploding_ratio": rules.EXPLODING_RATIO,
                "trend_ratio": rules.TREND_RATIO,
                "trend_r2": rules.TREND_R2,
                "trend_min_layers": rules.TREND_MIN_LAYERS,
                "loss_chance_ratio": rules.LOSS_CHANCE_RATIO,
                "loss_excess_nats": rules.LOSS_EXCESS_NATS,
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
        from jinit._src.analysis.diagnose.render import print_tables

        print_tables(self, console)

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
        from jinit._src.analysis.diagnose.render import plot

        return plot(self, path)
