"""What every experiment returns: the claim, the measured figures and a verdict."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Check", "ExperimentResult"]


@dataclass(frozen=True)
class Check:
    """One measured expectation: ``passed`` is computed from ``measured`` against ``expected``."""

    description: str
    measured: str
    expected: str
    passed: bool


@dataclass
class ExperimentResult:
    """The outcome of one experiment.

    Attributes:
      name: the experiment's name (``--experiment``).
      claim: the published claim being reproduced, with its reference.
      checks: the measured expectations; the verdict holds when all pass.
      data: everything measured, JSON-serializable (written to ``results.json``).
      files: files written (plots, tables), relative to the output directory.
    """

    name: str
    claim: str
    checks: list[Check] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)

    @property
    def verdict(self) -> bool | None:
        """Whether every check passed.

        ``None`` when no check applies, e.g. a custom matrix without the initializers or
        optimizers a claim is about.
        """
        if not self.checks:
            return None
        return all(check.passed for check in self.checks)

    @property
    def verdict_text(self) -> str:
        """``reproduced``, ``not reproduced`` or ``no claim applies``."""
        if self.verdict is None:
            return "no claim applies"
        return "reproduced" if self.verdict else "not reproduced"

    def check(self, description: str, measured: str, expected: str, passed: bool) -> None:
        """Record one measured expectation."""
        self.checks.append(Check(description, measured, expected, bool(passed)))

    def to_json(self) -> dict[str, Any]:
        """A JSON-serializable summary."""
        return {
            "experiment": self.name,
            "claim": self.claim,
            "verdict": self.verdict_text,
            "checks": [check.__dict__ for check in self.checks],
            "files": self.files,
            "data": self.data,
        }
