"""The facts :func:`jinit._src.model.trace.walk.walk` keeps about a traced program's values.

A :class:`Fact` says of one value which parameters it is a re-layout of, whether it depends on
the data and which kernel's contraction produced it; a :class:`Use` is one place where a
parameter is consumed; :class:`Walk` collects the uses of a whole program. :class:`Where` is an
equation's place in the program, for the consumers that look past it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from jax.extend.core import Jaxpr, JaxprEqn, Var

from jinit._src.model.trace.axis_flow import Track
from jinit._src.model.trace.output_axes import Frames

__all__ = ["EMPTY", "NOTHING", "Fact", "Site", "Use", "Walk", "Where", "shape"]

#: Position of an equation: indices into nested programs; a str entry marks a loop/branch body.
Site = tuple[int | str, ...]

EMPTY: frozenset[int] = frozenset()


@dataclass(frozen=True)
class Fact:
    """What is known about one value of the program.

    Attributes:
      tracks: the parameters this value is a re-layout of.
      data: whether it depends on the data arguments.
      kernels: parameters whose contraction (dense/conv) produced it, through re-layouts only
        sums (so a bias added to it belongs to that layer).
    """

    tracks: frozenset[Track] = frozenset()
    data: bool = False
    kernels: frozenset[int] = EMPTY

    def join(self, other: Fact) -> Fact:
        """The fact of a value that may be either (a loop carry, a branch output)."""
        return Fact(
            self.tracks | other.tracks, self.data or other.data, self.kernels | other.kernels
        )


NOTHING = Fact()


@dataclass(frozen=True)
class Use:
    """One place where a parameter is consumed.

    Attributes:
      kind: ``dense``, ``conv``, ``embedding``, ``bias``, ``scale`` or ``other``.
      roles: for weights, ``(parameter axis, "in" | "out" | "batch" | "window")`` pairs, sorted.
      problem: why these axes cannot give the fans (an axis sliced to a part, split between
        roles, no contracted axis); empty when they can.
      kernels: for a bias, the parameters whose contraction produced what it is added to.
      site: where the consuming equation is (see the module docstring).
      detail: what the consumer was, for messages (``dot_general``, ``exp``...).
      groups: ``feature_group_count`` of a convolution.
    """

    kind: str
    roles: tuple[tuple[int, str], ...] = ()
    problem: str = ""
    kernels: frozenset[int] = EMPTY
    site: Site = ()
    detail: str = ""
    groups: int = 1


@dataclass
class Walk:
    """The result of :func:`walk`: every use of every parameter, by parameter index."""

    uses: dict[int, set[Use]] = field(default_factory=dict)
    #: every value's fact (joined over calls of a shared program), for the stack follow-up
    facts: dict[Var, Fact] = field(default_factory=dict)
    #: contractions whose output axes are checked for stacks once every fact is known
    pending: list[tuple[Track, list[str], list[tuple[int, int]], Where, JaxprEqn]] = field(
        default_factory=list
    )

    def add(self, param: int, use: Use) -> None:
        """Record one use."""
        self.uses.setdefault(param, set()).add(use)


@dataclass(frozen=True)
class Where:
    """An equation's place: its program, its index there, the programs around it, its site."""

    jaxpr: Jaxpr
    index: int
    frames: Frames
    site: Site


def shape(atom: Any) -> tuple[int, ...]:
    """The shape of a jaxpr variable or literal."""
    return tuple(getattr(atom.aval, "shape", ()))
