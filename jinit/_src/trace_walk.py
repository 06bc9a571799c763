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

__all__ = ["Fact", "Site", "Use", "Walk", "walk"]

#: Position of an equation: indices into nested programs; a str entry marks a loop/branch body.
Site = tuple[int | str, ...]

_EMPTY: frozenset[int] = frozenset()

#: Primitives that are the identity on values (possibly n operands to n results).
_IDENTITY = {
    "convert_element_type",
    "copy",
    "copy_p",
    "neg",
    "reduce_precision",
    "real",
    "conj",
    "optimization_barrier",
    "sharding_constraint",
    "reshard",
    "mesh_cast",
    "device_put",
    "pvary",
    "stop_gradient",
    "rev",
    "pad",
}
_ADDITIVE = {"add", "sub", "add_any"}
_MULTIPLICATIVE = {"mul", "div"}
#: Binary operations that keep a weight a weight when the other operand is data-free.
_TRANSFORMS = _ADDITIVE | _MULTIPLICATIVE | {"max", "min"}
#: Re-layouts of one operand (besides the identities): they keep a kernel's output its output.
_RELAYOUTS = {"reshape", "transpose", "broadcast_in_dim", "squeeze", "slice", "dynamic_slice"}


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
    _run(closed.jaxpr, [_NOTHING] * len(closed.jaxpr.constvars), facts, (), result)
    return result


# ----------------------------------------------------------------------------- the interpreter


def _shape(atom: Any) -> tuple[int, ...]:
    return tuple(getattr(atom.aval, "shape", ()))


def _run(
    jaxpr: Jaxpr, consts: Sequence[Fact], args: Sequence[Fact], prefix: Site, result: Walk
) -> list[Fact]:
    env: dict[Var, Fact] = {}
    for var, fact in zip(jaxpr.constvars, consts, strict=True):
        env[var] = fact
    for var, fact in zip(jaxpr.invars, args, strict=True):
        env[var] = fact

    def read(atom: Any) -> Fact:
        if isinstance(atom, Literal):
            return _NOTHING
        return env.get(atom, _NOTHING)

    for index, eqn in enumerate(jaxpr.eqns):
        ins = [read(v) for v in eqn.invars]
        outs = _equation(eqn, ins, (*prefix, index), result)
        for var, fact in zip(eqn.outvars, outs, strict=True):
            env[var] = fact
    return [read(v) for v in jaxpr.outvars]


def _call_jaxpr(eqn: JaxprEqn) -> tuple[Jaxpr, int] | None:
    """The program a call-like equation runs on its operands (jit, remat, custom_jvp...)."""
    for param in eqn.params.values():
        inner = param.jaxpr if isinstance(param, ClosedJaxpr) else param
        if (
            isinstance(inner, Jaxpr)
            and len(inner.invars) == len(eqn.invars)
            and len(inner.outvars) == len(eqn.outvars)
        ):
            n_consts = len(param.consts) if isinstance(param, ClosedJaxpr) else 0
            return inner, n_consts
    return None


def _closed(param: Any) -> tuple[Jaxpr, int]:
    if isinstance(param, ClosedJaxpr):
        return param.jaxpr, len(param.consts)
    return param, 0


def _equation(eqn: JaxprEqn, ins: list[Fact], site: Site, result: Walk) -> list[Fact]:
    name = eqn.primitive.name
    data = any(f.data for f in ins)
    n_out = len(eqn.outvars)
    if name == "scan":
        return _scan(eqn, ins, site, result)
    if name == "while":
        return _while(eqn, ins, site, result)
    if name == "cond":
        return _cond(eqn, ins, site, result)
    call = _call_jaxpr(eqn)
    if call is not None:
        inner, n_consts = call
        return _run(inner, [_NOTHING] * n_consts, ins, site, result)
    if not any(f.tracks for f in ins):
        # only re-layouts keep a contraction's output "the output of that kernel"
        kernels = _EMPTY
        if name in _IDENTITY or name in _RELAYOUTS:
            kernels = frozenset().union(*(f.kernels for f in ins))
        return [Fact(data=data, kernels=kernels)] * n_out
    if name == "dot_general":
        return [_dot(eqn, ins, site, result)]
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


def _dot(eqn: JaxprEqn, ins: list[Fact], site: Site, result: Walk) -> Fact:
    (contract, batch) = eqn.params["dimension_numbers"]
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
            roles, problem = _weight_roles(track, value_roles)
            result.add(track.param, Use("dense", roles, problem, site=site, detail="dot_general"))
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
) -> list[Fact]:
    """Run a loop body until its carried facts stop changing (at most a few rounds)."""
    outs: list[Fact] = []
    for _ in range(4):
        outs = _run(body, [_NOTHING] * n_consts, [*consts, *carry, *xs], site, result)
        joined = [c.join(o) for c, o in zip(carry, outs[: len(carry)], strict=True)]
        if joined == carry:
            break
        carry = joined
    return [*carry, *outs[len(carry) :]]


def _scan(eqn: JaxprEqn, ins: list[Fact], site: Site, result: Walk) -> list[Fact]:
    body, n_body_consts = _closed(eqn.params["jaxpr"])
    n_consts, n_carry = eqn.params["num_consts"], eqn.params["num_carry"]
    consts, carry, xs = (
        ins[:n_consts],
        ins[n_consts : n_consts + n_carry],
        ins[n_consts + n_carry :],
    )
    sliced = [Fact(frozenset(flow.scanned(t) for t in f.tracks), f.data, f.kernels) for f in xs]
    outs = _fixpoint(
        body, n_body_consts, list(consts), list(carry), sliced, (*site, "scan"), result
    )
    ys = [
        Fact(frozenset(flow.stacked(t) for t in f.tracks), f.data, f.kernels)
        for f in outs[n_carry:]
    ]
    return [*outs[:n_carry], *ys]


def _while(eqn: JaxprEqn, ins: list[Fact], site: Site, result: Walk) -> list[Fact]:
    cond, n_cond_consts = _closed(eqn.params["cond_jaxpr"])
    body, n_body_consts = _closed(eqn.params["body_jaxpr"])
    nc, nb = eqn.params["cond_nconsts"], eqn.params["body_nconsts"]
    cond_consts, body_consts, carry = ins[:nc], ins[nc : nc + nb], ins[nc + nb :]
    outs = _fixpoint(
        body, n_body_consts, list(body_consts), list(carry), [], (*site, "while"), result
    )
    _run(cond, [_NOTHING] * n_cond_consts, [*cond_consts, *outs], (*site, "while-cond"), result)
    return outs


def _cond(eqn: JaxprEqn, ins: list[Fact], site: Site, result: Walk) -> list[Fact]:
    index, operands = ins[0], ins[1:]
    outs: list[Fact] | None = None
    for number, branch in enumerate(eqn.params["branches"]):
        jaxpr, n_consts = _closed(branch)
        found = _run(jaxpr, [_NOTHING] * n_consts, operands, (*site, f"cond{number}"), result)
        outs = found if outs is None else [a.join(b) for a, b in zip(outs, found, strict=True)]
    assert outs is not None
    if index.data:
        outs = [Fact(f.tracks, True, f.kernels) for f in outs]
    return outs
