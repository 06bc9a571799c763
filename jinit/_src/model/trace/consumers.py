"""The consumers of a parameter in a traced program: where :func:`walk` records a :class:`Use`.

``dot_general`` with the data (dense), ``conv_general_dilated`` (conv), a lookup of many rows
(embedding), an addition or multiplication with the data (bias, scale); arithmetic with
data-free values is followed as a re-layout. See :mod:`jinit._src.model.trace.walk` for the table.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from jax.extend.core import JaxprEqn

from jinit._src.model.trace import axis_flow as flow
from jinit._src.model.trace.axis_flow import Track
from jinit._src.model.trace.facts import Fact, Site, Use, Walk, Where, shape
from jinit._src.model.trace.jaxpr_ops import ADDITIVE, MULTIPLICATIVE

__all__ = ["binary", "conv", "dot", "gather", "select", "weight_roles"]


def weight_roles(
    track: Track, value_roles: Sequence[str]
) -> tuple[tuple[tuple[int, str], ...], str]:
    """Parameter axis roles from the roles of the value's axes; and a problem, if any."""
    found: dict[int, set[str]] = {}
    for axes, role in zip(track.axes, value_roles, strict=True):
        for axis in axes:
            found.setdefault(axis, set()).add(role)
    for axis in track.indexed:
        found.setdefault(axis, set()).add("batch")
    problems = []
    split = sorted(a for a, r in found.items() if len(r) > 1)
    if split:
        problems.append(f"axis {split[0]} is split into parts with different roles")
    narrowed = sorted(a for a in track.narrowed if found.get(a, set()) & {"in", "out"})
    if narrowed:
        problems.append(
            f"axis {narrowed[0]} is sliced to a part of its length before the contraction, "
            "so the fans of the whole axis are not those of the part"
        )
    roles = tuple(sorted((a, min(r)) for a, r in found.items()))
    if not any(r == "in" for _, r in roles):
        problems.append("none of its axes is contracted")
    return roles, "; ".join(problems)


def dot(eqn: JaxprEqn, ins: list[Fact], where: Where, result: Walk) -> Fact:
    (contract, batch) = eqn.params["dimension_numbers"]
    site = where.site
    data = any(f.data for f in ins)
    kernels: set[int] = set()
    for side in (0, 1):
        fact, other = ins[side], ins[1 - side]
        if not fact.tracks:
            continue
        rank = len(shape(eqn.invars[side]))
        value_roles = [
            "in" if a in contract[side] else "batch" if a in batch[side] else "out"
            for a in range(rank)
        ]
        # where each output axis lands in the result: batch dims, lhs free dims, rhs free dims
        free = [a for a in range(rank) if value_roles[a] == "out"]
        offset = len(batch[0])
        if side == 1:
            offset += len(shape(eqn.invars[0])) - len(contract[0]) - len(batch[0])
        positions = [(a, offset + number) for number, a in enumerate(free)]
        for track in fact.tracks:
            if not other.data:
                result.add(
                    track.param,
                    Use(
                        "other",
                        site=site,
                        detail="dot_general with a value that does not depend on the data "
                        "(a product of parameters or constants)",
                    ),
                )
                continue
            # the uses are recorded after the walk, once it is known which output axes the
            # program takes apart (a stack of layers: Gemma's kv[0], kv[1]; output_axes.py)
            result.pending.append((track, list(value_roles), positions, where, eqn))
            kernels.add(track.param)
    return Fact(data=data, kernels=frozenset(kernels))


def conv(eqn: JaxprEqn, ins: list[Fact], site: Site, result: Walk) -> Fact:
    numbers = eqn.params["dimension_numbers"]
    groups = int(eqn.params.get("feature_group_count", 1))
    data = any(f.data for f in ins)
    lhs, rhs = ins[0], ins[1]
    kernels: set[int] = set()
    for track in lhs.tracks:
        result.add(track.param, Use("other", site=site, detail="conv_general_dilated input"))
    rank = len(shape(eqn.invars[1]))
    out_dim, in_dim = numbers.rhs_spec[0], numbers.rhs_spec[1]
    value_roles = [
        "out" if a == out_dim else "in" if a == in_dim else "window" for a in range(rank)
    ]
    for track in rhs.tracks:
        if not lhs.data:
            result.add(track.param, Use("other", site=site, detail="convolution of a constant"))
            continue
        roles, problem = weight_roles(track, value_roles)
        if int(eqn.params.get("batch_group_count", 1)) != 1:
            problem = problem or "a convolution with batch_group_count > 1"
        result.add(
            track.param,
            Use("conv", roles, problem, site=site, detail="conv_general_dilated", groups=groups),
        )
        kernels.add(track.param)
    return Fact(data=data, kernels=frozenset(kernels))


def gather(eqn: JaxprEqn, ins: list[Fact], site: Site, result: Walk) -> Fact:
    operand, indices = ins[0], ins[1]
    numbers = eqn.params["dimension_numbers"]
    sizes = tuple(eqn.params["slice_sizes"])
    in_shape = shape(eqn.invars[0])
    out_shape = shape(eqn.outvars[0])
    index_shape = shape(eqn.invars[1])
    data = any(f.data for f in ins)
    for track in indices.tracks:
        result.add(track.param, Use("other", site=site, detail="gather indices"))
    collapsed = tuple(numbers.collapsed_slice_dims)
    if tuple(numbers.operand_batching_dims) or sorted(numbers.start_index_map) != sorted(collapsed):
        for track in operand.tracks:
            result.add(track.param, Use("other", site=site, detail="gather"))
        return Fact(data=data)
    lookups = math.prod(index_shape[:-1]) if index_shape else 1
    # a slice narrows the axes it takes part of; the indexed axes are dropped (or looked up)
    kept = [in_shape[a] if a in collapsed else s for a, s in enumerate(sizes)]
    if lookups == 1:  # w[i]: one index, a re-layout
        tracks = frozenset(
            flow.indexed_rows(
                flow.sliced(t, in_shape, kept), collapsed, numbers.offset_dims, len(out_shape)
            )
            for t in operand.tracks
        )
        return Fact(tracks, data)
    # a lookup of many rows: an embedding table. Looked-up axes are "out" (vocabulary), the
    # others "in" (features): the axes of the tied read-out x @ table.T, and Flax's Embed.
    value_roles = ["out" if a in collapsed else "in" for a in range(len(in_shape))]
    for track in operand.tracks:
        roles, problem = weight_roles(flow.sliced(track, in_shape, kept), value_roles)
        result.add(track.param, Use("embedding", roles, problem, site=site, detail="gather"))
    return Fact(data=True)


def binary(eqn: JaxprEqn, ins: list[Fact], site: Site, result: Walk) -> Fact:
    name = eqn.primitive.name
    out_rank = len(shape(eqn.outvars[0]))
    data = any(f.data for f in ins)
    tracks: set[Track] = set()
    for side in (0, 1):
        fact, other = ins[side], ins[1 - side]
        for track in fact.tracks:
            if not other.data:  # a weight transformed by constants or parameters: follow it
                tracks.add(flow.elementwise(track, out_rank))
            elif name in ADDITIVE:
                result.add(track.param, Use("bias", kernels=other.kernels, site=site, detail=name))
            elif name in MULTIPLICATIVE:
                result.add(track.param, Use("scale", site=site, detail=name))
            else:
                result.add(track.param, Use("other", site=site, detail=name))
    return Fact(frozenset(tracks), data)


def select(eqn: JaxprEqn, ins: list[Fact], site: Site, result: Walk) -> Fact:
    predicate, cases = ins[0], ins[1:]
    out_rank = len(shape(eqn.outvars[0]))
    data = any(f.data for f in ins)
    for track in predicate.tracks:
        result.add(track.param, Use("other", site=site, detail="select_n predicate"))
    tracks: set[Track] = set()
    for fact in cases:
        for track in fact.tracks:
            if predicate.data:
                result.add(track.param, Use("other", site=site, detail="select_n on data"))
            else:
                tracks.add(flow.elementwise(track, out_rank))
    return Fact(frozenset(tracks), data, frozenset().union(*(f.kernels for f in cases)))
