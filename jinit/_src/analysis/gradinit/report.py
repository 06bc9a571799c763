"""What :func:`jinit.gradinit` reports: the learned scale of every block, and the trajectory.

:class:`GradInitReport` is the second value :func:`jinit.gradinit` returns. It prints as a
summary of the objective and gradient-norm trajectory followed by a table, one
:class:`GradInitBlock` per scaled parameter block, in the order of the parameter tree.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

__all__ = ["GradInitBlock", "GradInitReport"]


@dataclass(frozen=True)
class GradInitBlock:
    r"""The scale GradInit learned for one parameter block.

    Attributes:
      path: the block's path (``params/Dense_0/kernel``; ``0/w`` for a list of dicts).
      shape: its shape.
      scale: the learned factor :math:`\alpha_i` (the block is ``scale`` times its input value).
      norm: the block's Frobenius norm before GradInit.
    """

    path: str
    shape: tuple[int, ...]
    scale: float
    norm: float

    @property
    def zero(self) -> bool:
        """Whether the block is all zeros, so that no scale changes it (a zero bias)."""
        return self.norm == 0.0


@dataclass(frozen=True)
class GradInitReport:
    r"""Per-block scales and the per-step trajectory of :func:`jinit.gradinit`.

    Every trajectory has one entry per step, measured at the scales *before* that step's
    update. On a step where the gradient norm exceeds ``gamma`` the scales descend the
    gradient norm instead of the objective; ``loss_after`` is ``None`` there (it is not
    computed).

    Attributes:
      blocks: one :class:`GradInitBlock` per scaled block, in tree order.
      optimizer: the base optimizer the step is taken with, ``"sgd"`` or ``"adam"``.
      norm_order: the :math:`p` of the gradient-norm constraint (2 for SGD, 1 for Adam).
      lr: the base optimizer's learning rate :math:`\eta`.
      gamma: the bound :math:`\gamma` on the gradient norm.
      min_scale: the lower bound the scales were clamped to.
      loss: :math:`L(\theta; \tilde S_1)` at each step.
      grad_norm: :math:`\lVert g(\theta; \tilde S_1) \rVert_p` at each step.
      loss_after: :math:`L(\theta - \eta A(g); \tilde S_2)` at each step, ``None`` on
        constrained steps.
    """

    blocks: tuple[GradInitBlock, ...]
    optimizer: str
    norm_order: int
    lr: float
    gamma: float
    min_scale: float
    loss: tuple[float, ...]
    grad_norm: tuple[float, ...]
    loss_after: tuple[float | None, ...]

    @property
    def steps(self) -> int:
        """The number of GradInit steps taken."""
        return len(self.loss)

    @property
    def constrained_steps(self) -> int:
        """Steps on which the gradient norm exceeded ``gamma`` (the norm was descended)."""
        return sum(after is None for after in self.loss_after)

    @property
    def scales(self) -> dict[str, float]:
        """``{path: learned scale}`` of every block."""
        return {block.path: block.scale for block in self.blocks}

    def _summary(self, values: tuple[float | None, ...]) -> str:
        found = [v for v in values if v is not None]
        if not found:
            return "never measured (every step was constrained)"
        head = max(1, len(found) // 10)  # mean over the first and last tenth of the steps
        first, last = sum(found[:head]) / head, sum(found[-head:]) / head
        return f"{first:.4g} -> {last:.4g} (min {min(found):.4g}, over {len(found)} steps)"

    def __str__(self) -> str:
        scales = [block.scale for block in self.blocks if not block.zero] or [1.0]
        lines = [
            f"GradInit ({self.optimizer}, lr {self.lr:g}, ||g||_{self.norm_order} <= "
            f"{self.gamma:g}, min scale {self.min_scale:g}): {len(self.blocks)} block(s), "
            f"{self.steps} steps, {self.constrained_steps} constrained",
            f"  loss before the step  {self._summary(self.loss)}",
            f"  loss after the step   {self._summary(self.loss_after)}",
            f"  gradient norm         {self._summary(self.grad_norm)}",
            f"  scales of the nonzero blocks: median {statistics.median(scales):.4g}, "
            f"range {min(scales):.4g} .. {max(scales):.4g}",
        ]
        width = max([len("block"), *(len(block.path) for block in self.blocks)])
        lines.append(f"  {'block':<{width}}  {'shape':<14}  {'scale':>8}  {'norm':>9}")
        for block in self.blocks:
            flag = "  (zero: unchanged)" if block.zero else ""
            # the scales are float32: min_scale rounds to within 1e-7 of itself
            flag += "  (at min scale)" if block.scale <= self.min_scale * (1 + 1e-6) else ""
            lines.append(
                f"  {block.path:<{width}}  {block.shape!s:<14}  {block.scale:>8.4g}  "
                f"{block.norm:>9.4g}{flag}"
            )
        return "\n".join(lines)
