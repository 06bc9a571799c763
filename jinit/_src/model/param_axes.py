"""The role and axes of one parameter: what :func:`jinit.trace_axes` and ``jinit.reinit`` read.

Both the traced layouts (:mod:`jinit._src.model.trace.trace_axes`) and the ones read from a layer's
type or
Flax's names (:mod:`jinit._src.model.layouts`) are :class:`ParamAxes`: a role, and for weights the
``in_axis``/``out_axis``/``batch_axis`` a factory such as ``jinit.he_normal`` takes.
"""

from __future__ import annotations

from dataclasses import dataclass

from jinit._src.core.fans import Fans, compute_fans
from jinit._src.core.types import Axes

__all__ = ["UNRESOLVED_ROLES", "WEIGHT_ROLES", "ParamAxes"]

#: Roles whose parameters have fans (and axes for a factory).
WEIGHT_ROLES = ("dense", "conv", "embedding")
#: Roles of parameters whose layout could not be read (``unknown``: not without a trace).
UNRESOLVED_ROLES = ("ambiguous", "unused", "unknown")


@dataclass(frozen=True)
class ParamAxes:
    """The role and axes of one parameter.

    Attributes:
      path: the parameter's path string (as :func:`jinit.reinit` matches it).
      shape: its shape.
      role: ``dense``, ``conv``, ``embedding`` (weights, with axes), ``bias``, ``scale``,
        ``other`` (no axes), or unresolved: ``ambiguous``, ``unused``, ``unknown``.
      in_axis: input (contracted) axes, for the weight roles; else ``None``.
      out_axis: output axes, for the weight roles; else ``None``.
      batch_axis: batch axes (stacked or indexed layers).
      kernels: for a bias, the paths of the kernels whose output it is added to.
      uses: how many distinct consuming operations were found.
      reason: why the layout is unresolved (and what to do), or a note.
      groups: ``feature_group_count`` of a grouped convolution (1 otherwise).
    """

    path: str
    shape: tuple[int, ...]
    role: str
    in_axis: Axes | None = None
    out_axis: Axes | None = None
    batch_axis: tuple[int, ...] = ()
    kernels: tuple[str, ...] = ()
    uses: int = 0
    reason: str = ""
    groups: int = 1

    @property
    def axes(self) -> dict[str, Axes] | None:
        """``{"in_axis", "out_axis", "batch_axis"}`` for a weight role (a factory's arguments)."""
        if self.role not in WEIGHT_ROLES:
            return None
        assert self.in_axis is not None and self.out_axis is not None
        return {"in_axis": self.in_axis, "out_axis": self.out_axis, "batch_axis": self.batch_axis}

    @property
    def fans(self) -> Fans | None:
        """The fans these axes give (:func:`jinit.compute_fans`), for a weight role."""
        axes = self.axes
        if axes is None:
            return None
        return compute_fans(self.shape, owner="trace_axes", **axes)
