"""Walking a traced program to find how each parameter is consumed: the engine of ``trace_axes``.

:func:`walk` reads a ``jax.make_jaxpr`` program once, following every parameter forward through
re-layouts (:mod:`jinit._src.axis_flow`) and into nested programs (``jit``, ``remat``,
``custom_jvp``/``custom_vjp``, ``scan``, ``while``, ``cond``, ``shard_map``), and records a
:class:`Use` wherever the parameter is consumed:

==================================  ============  ===========================================
consumer                            kind          axes
==================================  ============  ===========================================
``dot_general`` with data           ``dense``     contracting -> in, batch -> batch, rest -> out
``conv_general_dilated`` (kernel)   ``conv``      in/out feature dims, spatial -> window
``gather`` of many rows (lookup)    ``embedding`` looked-up axes -> out, the rest -> in
``add``/``sub`` with data           ``bias``      (the kernels whose output it is added to)
``mul``/``div`` with data           ``scale``
anything else                       ``other``     (``exp(log_std)``, reductions, a product
                                                  of two parameters...)
==================================  ============  ===========================================

Arithmetic with values that do not depend on the data (a constant, a mask, another parameter:
``w * 0.5``, ``v / norm(v)``) is followed as a re-layout of the parameter, so the consumer is
found behind it. Every value also carries whether it depends on the data and which kernel's
contraction produced it (through re-layouts only, not arithmetic), which links a bias to the
kernel of its layer: ``dot(x, w) + b``, not ``(x - mean) * scale + b``.

Each use records its *site*: the equation's position, as indices into nested programs, with a
string entry where the path enters a loop or branch body (``scan``, ``while``, ``cond``), whose
values cannot be read out one call at a time.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from jax.extend.core import ClosedJaxpr, Jaxpr, JaxprEqn, Literal, Var

from jinit._src import axis_flow as flow
from jinit._src.axis_flow import Track
from jinit._src.jaxpr_ops import ADDITIVE as _ADDITIVE
from jinit._src.jaxpr_ops import IDENTITY as _IDENTITY
from jinit._src.jaxpr_ops import MULTIPLICATIVE as _MULTIPLICATIVE
from jinit._src.jaxpr_ops import RELAYOUTS as _RELAYOUTS
from jinit._src.jaxpr_ops import TRANSFORMS as _TRANSFORMS
from jinit._src.jaxpr_ops import call_jaxpr
from jinit._src.output_axes import Frames, is_stack, stack_outcome

__all__ = ["Fact", "Site", "Use", "Walk", "call_jaxpr", "walk"]

#: Position of an equation: indices into nested programs; a str entry marks a loop/branch body.
Site = tuple[int | str, ...]

_EMPTY: frozenset[int] = frozenset()


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
    kernels: frozenset[int] = _EMPTY

    def join(self, other: Fact) -> Fact:
        """The fact of a value that may be either (a loop carry, a branch output)."""
        return Fact(
            self.tracks | other.tracks, self.data or other.data, self.kernels | other.kernels
        )


_NOTHING = Fact()


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
    kernels: frozenset[int] = _EMPTY
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
    pending: list[tuple[Track, list[str], list[tuple[int, int]], _Where, JaxprEqn]] = field(
        default_factory=list
    )

    def add(self, param: int, use: Use) -> None:
        """Record one use."""
        self.uses.setdefault(param, set()).add(use)


def walk(closed: ClosedJaxpr, n_params: int) -> Walk:
    """Find the uses of the first ``n_params`` inputs of ``closed``; the others are the data.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> closed = jax.make_jaxpr(lambda w, x: x @ w.T)(jnp.ones((3, 4)), jnp.ones(4))
      >>> [(u.kind, u.roles) for u in walk(closed, 1).uses[0]]
      [('dense', ((0, 'out'), (1, 'in')))]
    """
    result = Walk()
    facts = []
    for i, var in enumerate(closed.jaxpr.invars):
        if i < n_params:
            facts.append(Fact(frozenset({Track.of(i, len(var.aval.shape))})))
        else:
            facts.append(Fact(data=True))
    _run(closed.jaxpr, [_NOTHING] * len(closed.jaxpr.constvars), facts, (), result, ())

    def is_weight(var: object) -> bool:
        fact = result.facts.get(var)  # type: ignore[call-overload]
        return fact is not None and bool(fact.tracks)

    for track, value_roles, free, where, eqn in result.pending:
        for axis, position in free:
            outcome = stack_outcome(
                where.jaxpr, where.index, eqn.outvars[0], position, where.frames, is_weight
            )
            if is_stack(outcome):
                value_roles[axis] = "batch"
        roles, problem = _weight_roles(track, value_roles)
        use = Use("dense", roles, problem, site=where.site, detail="dot_general")
        result.add(track.param, use)
    return result


# ----------------------------------------------------------------------------- the interpreter


def _shape(atom: Any) -> tuple[int, ...]:
    return tuple(getattr(atom.aval, "shape", ()))


@dataclass(frozen=True)
class _Where:
    """An equation's place: its program, its index there, the programs around it, its site."""

    jaxpr: Jaxpr
    index: int
    frames: Frames
    site: Site


def _run(
    jaxpr: Jaxpr,
    consts: Sequence[Fact],
    args: Sequence[Fact],
    prefix: Site,
    result: Walk,
    frames: Frames,
) -> list[Fact]:
    env: dict[Var, Fact] = {}
    for var, fact in zip((*jaxpr.constvars, *jaxpr.invars), (*consts, *args), strict=True):
        env[var] = fact
        result.facts[var] = result.facts[var].join(fact) if var in result.facts else fact

    def read(atom: Any) -> Fact:
        if isinstance(atom, Literal):
            return _NOTHING
        return env.get(atom, _NOTHING)

    for index, eqn in enumerate(jaxpr.eqns):
        ins = [read(v) for v in eqn.invars]
        outs = _equation(eqn, ins, _Where(jaxpr, index, frames, (*prefix, index)), result)
        for var, fact in zip(eqn.outvars, outs, strict=True):
            env[var] = fact
            result.facts[var] = result.facts[var].join(fact) if var in result.facts else fact
    return [read(v) for v in jaxpr.outvars]


def _closed(param: Any) -> tuple[Jaxpr, int]:
    if isinstance(param, ClosedJaxpr):
        return param.jaxpr, len(param.consts)
    return param, 0


def _equation(eqn: JaxprEqn, ins: list[Fact], where: _Where, result: Walk) -> list[Fact]:
    name, site = eqn.primitive.name, where.site
    data = any(f.data for f in ins)
    n_out = len(eqn.outvars)
    if name == "scan":
        return _scan(eqn, ins, site, result, where.frames)
    if name == "while":
        return _while(eqn, ins, site, result, where.frames)
    if name == "cond":
        return _cond(eqn, ins, site, result, where.frames)
    call = call_jaxpr(eqn)
    if call is not None:
        inner, n_consts = call
        frames = (*where.frames, (where.jaxpr, where.index))
        return _run(inner, [_NOTHING] * n_consts, ins, site, result, frames)
    if not any(f.tracks for f in ins):
        # only re-layouts keep a contraction's output "the output of that kernel"
        kernels = _EMPTY
        if name in _IDENTITY or name in _RELAYOUTS:
            kernels = frozenset().union(*(f.kernels for f in ins))
        return [Fact(data=data, kernels=kernels)] * n_out
    if name == "dot_general":
        return [_dot(eqn, ins, where, result)]
    if name == "conv_general_dilated":
        return [_conv(eqn, ins, site, result)]
    if name == "gather":
        return [_gather(eqn, ins, site, result)]
    if name in _TRANSFORMS and len(ins) == 2:
        return [_binary(eqn, ins, site, result)]
    if name == "select_n":
        return [_select(eqn, ins, site, result)]
    relaid = _relayout(eqn, ins)
    if relaid is not None:
        return relaid
    # consumed by an operation that is not a re-layout: the parameter's value is transformed
    for fact in ins:
        for track in fact.tracks:
            result.add(track.param, Use("other", site=site, detail=name))
    return [Fact(data=data)] * n_out


def _relayout(eqn: JaxprEqn, ins: list[Fact]) -> list[Fact] | None:
    """Results of a pure re-layout of its operands, or None when ``eqn`` is not one."""
    name, params = eqn.primitive.name, eqn.params
    data = any(f.data for f in ins)
    kernels = frozenset().union(*(f.kernels for f in ins))
    if name in _IDENTITY:
        if len(eqn.outvars) == len(ins):  # n operands -> n results (device_put, barrier)
            return [Fact(f.tracks, f.data, f.kernels) for f in ins]
        first = ins[0]
        return [Fact(first.tracks, data, kernels)] * len(eqn.outvars)
    if name == "concatenate":
        rank = len(_shape(eqn.outvars[0]))
        tracks = frozenset(flow.elementwise(t, rank) for f in ins for t in f.tracks)
        return [Fact(tracks, data, kernels)]
    if len(ins) < 1:
        return None
    operand = ins[0]
    in_shape, out_shape = _shape(eqn.invars[0]), _shape(eqn.outvars[0])
    new: list[Track] = []
    for track in operand.tracks:
        moved: Track | None
        if name == "transpose":
            moved = flow.transposed(track, params["permutation"])
        elif name == "broadcast_in_dim":
            moved = flow.broadcast(track, len(out_shape), params["broadcast_dimensions"])
        elif name == "squeeze":
            moved = flow.squeezed(track, params["dimensions"])
        elif name == "reshape":
            if params.get("dimensions") is not None:
                return None
            moved = flow.reshaped(track, in_shape, out_shape)
        elif name in ("slice", "dynamic_slice"):
            moved = flow.sliced(track, in_shape, out_shape)
        elif name == "split":
            return [
                Fact(
                    frozenset(flow.sliced(t, in_shape, _shape(out)) for t in operand.tracks),
                    data,
                    kernels,
                )
                for out in eqn.outvars
            ]
        else:
            return None
        if moved is None:
            return None
        new.append(moved)
    if any(f.tracks for f in ins[1:]):  # a parameter used as an index or a slice position
        return None
    return [Fact(frozenset(new), data, kernels)]


# ----------------------------------------------------------------------------- consumers


def _weight_roles(
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


def _dot(eqn: JaxprEqn, ins: list[Fact], where: _Where, result: Walk) -> Fact:
    (contract, batch) = eqn.params["dimension_numbers"]
    site = where.site
    data = any(f.data for f in ins)
    kernels: set[int] = set()
    for side in (0, 1):
        fact, other = ins[side], ins[1 - side]
        if not fact.tracks:
            continue
        rank = len(_shape(eqn.invars[side]))
        value_roles = [
            "in" if a in contract[side] else "batch" if a in batch[side] else "out"
            for a in range(rank)
        ]
        # where each output axis lands in the result: batch dims, lhs free dims, rhs free dims
        free = [a for a in range(rank) if value_roles[a] == "out"]
        offset = len(batch[0])
        if side == 1:
            offset += len(_shape(eqn.invars[0])) - len(contract[0]) - len(batch[0])
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


def _conv(eqn: JaxprEqn, ins: list[Fact], site: Site, result: Walk) -> Fact:
    numbers = eqn.params["dimension_numbers"]
    groups = int(eqn.params.get("feature_group_count", 1))
    data = any(f.data for f in ins)
    lhs, rhs = ins[0], ins[1]
    kernels: set[int] = set()
    for track in lhs.tracks:
        result.add(track.param, Use("other", site=site, detail="conv_general_dilated input"))
    rank = len(_shape(eqn.invars[1]))
    out_dim, in_dim = numbers.rhs_spec[0], numbers.rhs_spec[1]
    value_roles = [
        "out" if a == out_dim else "in" if a == in_dim else "window" for a in range(rank)
    ]
    for track in rhs.tracks:
        if not lhs.data:
            result.add(track.param, Use("other", site=site, detail="convolution of a constant"))
            continue
        roles, problem = _weight_roles(track, value_roles)
        if int(eqn.params.get("batch_group_count", 1)) != 1:
            problem = problem or "a convolution with batch_group_count > 1"
        result.add(
            track.param,
            Use("conv", roles, problem, site=site, detail="conv_general_dilated", groups=groups),
        )
        kernels.add(track.param)
    return Fact(data=data, kernels=frozenset(kernels))


def _gather(eqn: JaxprEqn, ins: list[Fact], site: Site, result: Walk) -> Fact:
    operand, indices = ins[0], ins[1]
    numbers = eqn.params["dimension_numbers"]
    sizes = tuple(eqn.params["slice_sizes"])
    in_shape = _shape(eqn.invars[0])
    out_shape = _shape(eqn.outvars[0])
    index_shape = _shape(eqn.invars[1])
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
        roles, problem = _weight_roles(flow.sliced(track, in_shape, kept), value_roles)
        result.add(track.param, Use("embedding", roles, problem, site=site, detail="gather"))
    return Fact(data=True)


def _binary(eqn: JaxprEqn, ins: list[Fact], site: Site, result: Walk) -> Fact:
    name = eqn.primitive.name
    out_rank = len(_shape(eqn.outvars[0]))
    data = any(f.data for f in ins)
    tracks: set[Track] = set()
    for side in (0, 1):
        fact, other = ins[side], ins[1 - side]
        for track in fact.tracks:
            if not other.data:  # a weight transformed by constants or parameters: follow it
                tracks.add(flow.elementwise(track, out_rank))
            elif name in _ADDITIVE:
                result.add(track.param, Use("bias", kernels=other.kernels, site=site, detail=name))
            elif name in _MULTIPLICATIVE:
                result.add(track.param, Use("scale", site=site, detail=name))
            else:
                result.add(track.param, Use("other", site=site, detail=name))
    return Fact(frozenset(tracks), data)


def _select(eqn: JaxprEqn, ins: list[Fact], site: Site, result: Walk) -> Fact:
    predicate, cases = ins[0], ins[1:]
    out_rank = len(_shape(eqn.outvars[0]))
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


# ----------------------------------------------------------------------------- loops, branches


def _fixpoint(
    body: Jaxpr,
    n_consts: int,
    consts: list[Fact],
    carry: list[Fact],
    xs: list[Fact],
    site: Site,
    result: Walk,
    frames: Frames,
) -> list[Fact]:
    """Run a loop body on its carried facts once they stop changing; record the uses of that run.

    The rounds before only settle the carry (an RNN's carry starts as zeros, independent of the
    data, and depends on it from the second step on); their uses are not recorded, or a
    recurrent kernel would seem to be applied to a constant as well.
    """
    for _ in range(8):
        outs = _run(body, [_NOTHING] * n_consts, [*consts, *carry, *xs], site, Walk(), frames)
        joined = [c.join(o) for c, o in zip(carry, outs[: len(carry)], strict=True)]
        if joined == carry:
            break
        carry = joined
    outs = _run(body, [_NOTHING] * n_consts, [*consts, *carry, *xs], site, result, frames)
    return [*carry, *outs[len(carry) :]]


def _scan(eqn: JaxprEqn, ins: list[Fact], site: Site, result: Walk, frames: Frames) -> list[Fact]:
    body, n_body_consts = _closed(eqn.params["jaxpr"])
    n_consts, n_carry = eqn.params["num_consts"], eqn.params["num_carry"]
    consts, carry, xs = (
        ins[:n_consts],
        ins[n_consts : n_consts + n_carry],
        ins[n_consts + n_carry :],
    )
    sliced = [Fact(frozenset(flow.scanned(t) for t in f.tracks), f.data, f.kernels) for f in xs]
    body_frames: Frames = (*frames, (None, -1))  # a loop body: not followed out of
    outs = _fixpoint(
        body,
        n_body_consts,
        list(consts),
        list(carry),
        sliced,
        (*site, "scan"),
        result,
        body_frames,
    )
    ys = [
        Fact(frozenset(flow.stacked(t) for t in f.tracks), f.data, f.kernels)
        for f in outs[n_carry:]
    ]
    return [*outs[:n_carry], *ys]


def _while(eqn: JaxprEqn, ins: list[Fact], site: Site, result: Walk, frames: Frames) -> list[Fact]:
    cond, n_cond_consts = _closed(eqn.params["cond_jaxpr"])
    body, n_body_consts = _closed(eqn.params["body_jaxpr"])
    nc, nb = eqn.params["cond_nconsts"], eqn.params["body_nconsts"]
    cond_consts, body_consts, carry = ins[:nc], ins[nc : nc + nb], ins[nc + nb :]
    body_frames: Frames = (*frames, (None, -1))  # a loop body: not followed out of
    outs = _fixpoint(
        body,
        n_body_consts,
        list(body_consts),
        list(carry),
        [],
        (*site, "while"),
        result,
        body_frames,
    )
    _run(
        cond,
        [_NOTHING] * n_cond_consts,
        [*cond_consts, *outs],
        (*site, "while-cond"),
        result,
        body_frames,
    )
    return outs


def _cond(eqn: JaxprEqn, ins: list[Fact], site: Site, result: Walk, frames: Frames) -> list[Fact]:
    index, operands = ins[0], ins[1:]
    outs: list[Fact] | None = None
    for number, branch in enumerate(eqn.params["branches"]):
        jaxpr, n_consts = _closed(branch)
        found = _run(
            jaxpr,
            [_NOTHING] * n_consts,
            operands,
            (*site, f"cond{number}"),
            result,
            (*frames, (None, -1)),
        )
        outs = found if outs is None else [a.join(b) for a, b in zip(outs, found, strict=True)]
    assert outs is not None
    if index.data:
        outs = [Fact(f.tracks, True, f.kernels) for f in outs]
    return outs
