"""How layout operations move a parameter's axes: the axis bookkeeping of :func:`jinit.trace_axes`.

A parameter rarely reaches the operation that consumes it untouched: Equinox transposes nothing
but contracts axis 1, ``jnp.einsum`` may transpose, fused weights are sliced (``w[0]``,
``w[1]``), scanned stacks lose their leading axis, ``nn.DenseGeneral`` reshapes. A
:class:`Track` follows one parameter through such operations: for every axis of the current
value it records which axes of the parameter it is made of, and which parameter axes were
indexed away (a stack axis) or sliced to a part on the way.

Each function here takes the track of an operand and the operation's static parameters and
returns the track of the result, or ``None`` when the operation is not a pure re-layout.

Example:
  >>> t = Track.of(0, 3)  # a parameter of rank 3, as it enters the program
  >>> t = squeezed(sliced(t, (2, 4, 5), (1, 4, 5)), (0,))  # w[0]
  >>> t.axes, sorted(t.indexed)
  ((frozenset({1}), frozenset({2})), [0])
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

__all__ = [
    "Track",
    "broadcast",
    "elementwise",
    "indexed_rows",
    "reshaped",
    "scanned",
    "sliced",
    "squeezed",
    "stacked",
    "transposed",
]

_NONE: frozenset[int] = frozenset()


@dataclass(frozen=True)
class Track:
    """A value that is a re-layout of one parameter.

    Attributes:
      param: the parameter's index among the traced leaves.
      axes: for each axis of the value, the parameter axes it holds (several after a reshape
        merges axes, the same one on several value axes after a reshape splits it, none for an
        axis a broadcast added).
      indexed: parameter axes indexed away on the way (``w[i]``, a scan over a stack):
        each index selects a separate layer, so they are batch axes.
      narrowed: parameter axes sliced to a part of their length (``w[:, :64]``): a fan
        computed from the whole axis would not be the fan of the part.
    """

    param: int
    axes: tuple[frozenset[int], ...]
    indexed: frozenset[int] = _NONE
    narrowed: frozenset[int] = _NONE

    @staticmethod
    def of(param: int, rank: int) -> Track:
        """The track of parameter ``param`` (of rank ``rank``) as it enters the program."""
        return Track(param, tuple(frozenset({axis}) for axis in range(rank)))

    def dropping(self, dropped: Sequence[int], kept: tuple[frozenset[int], ...]) -> Track:
        """This track with value axes ``dropped`` removed (indexed away) and ``kept`` left."""
        gone = frozenset().union(*(self.axes[a] for a in dropped)) if dropped else _NONE
        still = frozenset().union(*kept) if kept else _NONE
        lost = gone - still
        return replace(self, axes=kept, indexed=self.indexed | lost, narrowed=self.narrowed - lost)


def transposed(track: Track, permutation: Sequence[int]) -> Track:
    """``lax.transpose``: value axis ``k`` of the result is operand axis ``permutation[k]``."""
    return replace(track, axes=tuple(track.axes[p] for p in permutation))


def broadcast(track: Track, out_rank: int, dimensions: Sequence[int]) -> Track:
    """``lax.broadcast_in_dim``: operand axis ``k`` becomes result axis ``dimensions[k]``."""
    axes = [_NONE] * out_rank
    for k, d in enumerate(dimensions):
        axes[d] = track.axes[k]
    return replace(track, axes=tuple(axes))


def elementwise(track: Track, out_rank: int) -> Track:
    """An elementwise operation: same axes (rank-0 operands are broadcast to new axes)."""
    if len(track.axes) == out_rank:
        return track
    return replace(track, axes=(_NONE,) * out_rank)


def squeezed(track: Track, dimensions: Sequence[int]) -> Track:
    """``lax.squeeze``: the size-1 ``dimensions`` are removed (indexed away)."""
    rank = len(track.axes)
    drop = sorted(d % rank for d in dimensions)
    kept = tuple(axes for a, axes in enumerate(track.axes) if a not in drop)
    return track.dropping(drop, kept)


def sliced(track: Track, in_shape: Sequence[int], out_shape: Sequence[int]) -> Track:
    """A static or dynamic slice: axes whose length shrank are marked ``narrowed``."""
    shrunk = [a for a, (i, o) in enumerate(zip(in_shape, out_shape, strict=True)) if o < i]
    if not shrunk:
        return track
    return replace(track, narrowed=track.narrowed.union(*(track.axes[a] for a in shrunk)))


def indexed_rows(
    track: Track, collapsed: Sequence[int], out_axes: Sequence[int], out_rank: int
) -> Track:
    """A single-index gather: ``collapsed`` axes removed, the others placed at ``out_axes``."""
    kept_axes = [a for a in range(len(track.axes)) if a not in collapsed]
    axes = [_NONE] * out_rank
    for a, position in zip(kept_axes, out_axes, strict=True):
        axes[position] = track.axes[a]
    return track.dropping(list(collapsed), tuple(axes))


def scanned(track: Track) -> Track:
    """A scan over the leading axis (``xs``): the body sees one slice, the axis is indexed."""
    return track.dropping([0], track.axes[1:])


def stacked(track: Track) -> Track:
    """A value stacked along a new leading axis (a scan's ``ys``)."""
    return replace(track, axes=(_NONE, *track.axes))


def _groups(
    in_shape: Sequence[int], out_shape: Sequence[int]
) -> list[tuple[list[int], list[int]]] | None:
    """Blocks of input and output axes of a reshape whose sizes multiply to the same number.

    Size-1 axes belong to no block. ``None`` when the sizes do not pair up (a zero size).
    """
    ins = [a for a, s in enumerate(in_shape) if s != 1]
    outs = [a for a, s in enumerate(out_shape) if s != 1]
    if 0 in in_shape or 0 in out_shape:
        return None
    blocks = []
    i = j = 0
    while i < len(ins) and j < len(outs):
        a, b = [ins[i]], [outs[j]]
        pa, pb = in_shape[ins[i]], out_shape[outs[j]]
        i, j = i + 1, j + 1
        while pa != pb:
            if pa < pb and i < len(ins):
                a.append(ins[i])
                pa *= in_shape[ins[i]]
                i += 1
            elif pb < pa and j < len(outs):
                b.append(outs[j])
                pb *= out_shape[outs[j]]
                j += 1
            else:
                return None
        blocks.append((a, b))
    if i != len(ins) or j != len(outs):
        return None
    return blocks


def reshaped(track: Track, in_shape: Sequence[int], out_shape: Sequence[int]) -> Track | None:
    """``lax.reshape``: axes merged or split by blocks of equal size; dropped size-1 axes indexed.

    Returns ``None`` when the reshape cannot be followed (zero sizes).

    Example:
      >>> reshaped(Track.of(0, 2), (8, 6), (8, 2, 3)).axes
      (frozenset({0}), frozenset({1}), frozenset({1}))
    """
    if math.prod(in_shape) != math.prod(out_shape):
        return None
    blocks = _groups(in_shape, out_shape)
    if blocks is None:
        return None
    axes = [_NONE] * len(out_shape)
    used: set[int] = set()
    for ins, outs in blocks:
        held = frozenset().union(*(track.axes[a] for a in ins))
        used.update(ins)
        for b in outs:
            axes[b] = held
    dropped = [a for a in range(len(in_shape)) if a not in used]
    return track.dropping(dropped, tuple(axes))
