"""Walking a traced program to find how each parameter is consumed: the engine of ``trace_axes``.

:func:`walk` reads a ``jax.make_jaxpr`` program once, following every parameter forward through
re-layouts (:mod:`jinit._src.model.trace.axis_flow`) and into nested programs (``jit``, ``remat``,
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

from collections.abc import Sequence
from typing import Any

from jax.extend.core import ClosedJaxpr, Jaxpr, JaxprEqn, Literal, Var

from jinit._src.model.trace import axis_flow as flow
from jinit._src.model.trace import consumers
from jinit._src.model.trace.axis_flow import Track
from jinit._src.model.trace.facts import EMPTY, NOTHING, Fact, Site, Use, Walk, Where, shape
from jinit._src.model.trace.jaxpr_ops import IDENTITY, RELAYOUTS, TRANSFORMS, call_jaxpr
from jinit._src.model.trace.output_axes import Frames, is_stack, stack_outcome

__all__ = ["Fact", "Site", "Use", "Walk", "call_jaxpr", "walk"]


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
    _run(closed.jaxpr, [NOTHING] * len(closed.jaxpr.constvars), facts, (), result, ())

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
        roles, problem = consumers.weight_roles(track, value_roles)
        use = Use("dense", roles, problem, site=where.site, detail="dot_general")
        result.add(track.param, use)
    return result


# ----------------------------------------------------------------------------- the interpreter


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
            return NOTHING
        return env.get(atom, NOTHING)

    for index, eqn in enumerate(jaxpr.eqns):
        ins = [read(v) for v in eqn.invars]
        outs = _equation(eqn, ins, Where(jaxpr, index, frames, (*prefix, index)), result)
        for var, fact in zip(eqn.outvars, outs, strict=True):
            env[var] = fact
            result.facts[var] = result.facts[var].join(fact) if var in result.facts else fact
    return [read(v) for v in jaxpr.outvars]


def _closed(param: Any) -> tuple[Jaxpr, int]:
    if isinstance(param, ClosedJaxpr):
        return param.jaxpr, len(param.consts)
    return param, 0


def _equation(eqn: JaxprEqn, ins: list[Fact], where: Where, result: Walk) -> list[Fact]:
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
        return _run(inner, [NOTHING] * n_consts, ins, site, result, frames)
    if not any(f.tracks for f in ins):
        # only re-layouts keep a contraction's output "the output of that kernel"
        kernels = EMPTY
        if name in IDENTITY or name in RELAYOUTS:
            kernels = frozenset().union(*(f.kernels for f in ins))
        return [Fact(data=data, kernels=kernels)] * n_out
    if name == "dot_general":
        return [consumers.dot(eqn, ins, where, result)]
    if name == "conv_general_dilated":
        return [consumers.conv(eqn, ins, site, result)]
    if name == "gather":
        return [consumers.gather(eqn, ins, site, result)]
    if name in TRANSFORMS and len(ins) == 2:
        return [consumers.binary(eqn, ins, site, result)]
    if name == "select_n":
        return [consumers.select(eqn, ins, site, result)]
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
    if name in IDENTITY:
        if len(eqn.outvars) == len(ins):  # n operands -> n results (device_put, barrier)
            return [Fact(f.tracks, f.data, f.kernels) for f in ins]
        first = ins[0]
        return [Fact(first.tracks, data, kernels)] * len(eqn.outvars)
    if name == "concatenate":
        rank = len(shape(eqn.outvars[0]))
        tracks = frozenset(flow.elementwise(t, rank) for f in ins for t in f.tracks)
        return [Fact(tracks, data, kernels)]
    if len(ins) < 1:
        return None
    operand = ins[0]
    in_shape, out_shape = shape(eqn.invars[0]), shape(eqn.outvars[0])
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
                    frozenset(flow.sliced(t, in_shape, shape(out)) for t in operand.tracks),
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


# ----------------------------------------------------------------------------- loops, branches


def _body(frames: Frames) -> Frames:
    """The frames of a loop or branch body: not followed out of (its values repeat)."""
    return (*frames, (None, -1))


def _fixpoint(
    program: Any,
    ins: tuple[list[Fact], list[Fact], list[Fact]],
    site: Site,
    result: Walk,
    frames: Frames,
) -> list[Fact]:
    """Run a loop body on its carried facts once they stop changing; record the uses of that run.

    ``ins`` are the body's ``(consts, carry, xs)`` facts. The rounds before only settle the
    carry (an RNN's carry starts as zeros, independent of the data, and depends on it from the
    second step on); their uses are not recorded, or a recurrent kernel would seem to be applied
    to a constant as well.
    """
    body, n_consts = _closed(program)
    consts, carry, xs = ins
    for _ in range(8):
        outs = _run(body, [NOTHING] * n_consts, [*consts, *carry, *xs], site, Walk(), frames)
        joined = [c.join(o) for c, o in zip(carry, outs[: len(carry)], strict=True)]
        if joined == carry:
            break
        carry = joined
    outs = _run(body, [NOTHING] * n_consts, [*consts, *carry, *xs], site, result, frames)
    return [*carry, *outs[len(carry) :]]


def _scan(eqn: JaxprEqn, ins: list[Fact], site: Site, result: Walk, frames: Frames) -> list[Fact]:
    n_consts, n_carry = eqn.params["num_consts"], eqn.params["num_carry"]
    consts, carry = ins[:n_consts], ins[n_consts : n_consts + n_carry]
    xs = [
        Fact(frozenset(flow.scanned(t) for t in f.tracks), f.data, f.kernels)
        for f in ins[n_consts + n_carry :]
    ]
    parts = (list(consts), list(carry), xs)
    outs = _fixpoint(eqn.params["jaxpr"], parts, (*site, "scan"), result, _body(frames))
    ys = [
        Fact(frozenset(flow.stacked(t) for t in f.tracks), f.data, f.kernels)
        for f in outs[n_carry:]
    ]
    return [*outs[:n_carry], *ys]


def _while(eqn: JaxprEqn, ins: list[Fact], site: Site, result: Walk, frames: Frames) -> list[Fact]:
    nc, nb = eqn.params["cond_nconsts"], eqn.params["body_nconsts"]
    cond_consts, body_consts, carry = ins[:nc], ins[nc : nc + nb], ins[nc + nb :]
    parts: tuple[list[Fact], list[Fact], list[Fact]] = (list(body_consts), list(carry), [])
    outs = _fixpoint(eqn.params["body_jaxpr"], parts, (*site, "while"), result, _body(frames))
    cond, n_cond_consts = _closed(eqn.params["cond_jaxpr"])
    facts = [*cond_consts, *outs]
    _run(cond, [NOTHING] * n_cond_consts, facts, (*site, "while-cond"), result, _body(frames))
    return outs


def _cond(eqn: JaxprEqn, ins: list[Fact], site: Site, result: Walk, frames: Frames) -> list[Fact]:
    index, operands = ins[0], ins[1:]
    outs: list[Fact] | None = None
    for number, branch in enumerate(eqn.params["branches"]):
        jaxpr, n_consts = _closed(branch)
        found = _run(
            jaxpr,
            [NOTHING] * n_consts,
            operands,
            (*site, f"cond{number}"),
            result,
            _body(frames),
        )
        outs = found if outs is None else [a.join(b) for a, b in zip(outs, found, strict=True)]
    assert outs is not None
    if index.data:
        outs = [Fact(f.tracks, True, f.kernels) for f in outs]
    return outs
