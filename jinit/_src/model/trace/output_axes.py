"""Whether an output axis of a contraction is a stack of separate layers: where it goes next.

A weight's axis that is neither contracted nor batched in its ``dot_general`` is an output axis
-- usually. Gemma's ``kv_einsum`` computes ``'BSD,CKDH->CBSKH'`` and then takes ``kv[0]`` (the
keys) and ``kv[1]`` (the values): the ``C`` axis of the weight indexes two separate
projections, not output units of one. A stacked layer applied by ``vmap`` to batched inputs is
the same: the next contraction has the stack axis as a batch dimension. :func:`stack_outcome`
follows one axis of a contraction's output forward through the program and says what happens
to it:

==============  =====================================================  ===================
outcome         what the program does with the axis                    the weight's axis
==============  =====================================================  ===================
``indexed``     takes single entries (``kv[0]``), dropping the axis    a stack (batch)
``batch``       a batch dimension of a later contraction with a        a stack (batch)
                weight (the next layer of a ``vmap``-ed stack)
``contracted``  contracted by a later contraction                      output units
``mixed``       reduced, reshaped into other axes, or anything else    output units
``returned``    returned by the program as it is                       output units
==============  =====================================================  ===================

Only when every path ends ``indexed`` or ``batch`` is the axis a stack. Elementwise operations
(activations, residual sums) and re-layouts are followed, as are calls into nested programs
(``jit``, ``remat``, ``custom_jvp``...) and back out of them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from jax.extend.core import Jaxpr, Literal, Var

from jinit._src.model.trace.jaxpr_ops import ELEMENTWISE, IDENTITY, call_jaxpr

__all__ = ["Frames", "is_stack", "stack_outcome"]

#: The chain of (enclosing program, index of the call equation) a program was entered through;
#: ``None`` as the program marks a loop or branch body, which cannot be followed out of.
Frames = tuple[tuple[Jaxpr | None, int], ...]

_STACK = {"indexed", "batch"}
_LIMIT = 2000  # equations looked at per axis, at most (then: mixed)
#: Operations that keep every axis of a one-operand-to-one-result value where it is.
_SAME_AXES = (IDENTITY - {"optimization_barrier", "device_put"}) | ELEMENTWISE


def _shape(atom: Any) -> tuple[int, ...]:
    return tuple(getattr(atom.aval, "shape", ()))


def _reshaped(axis: int, in_shape: Sequence[int], out_shape: Sequence[int]) -> int | None:
    """Where ``axis`` goes in a reshape, if it stays one axis of the same size."""
    before = 1
    for size in in_shape[:axis]:
        before *= size
    size, after = in_shape[axis], before * in_shape[axis]
    running = 1
    for position, out in enumerate(out_shape):
        if running == before and out == size:
            return position
        running *= out
        if running > after:
            return None
    return None


def stack_outcome(
    jaxpr: Jaxpr,
    index: int,
    var: Var,
    axis: int,
    frames: Frames,
    is_weight: Callable[[Any], bool],
) -> set[str]:
    """The outcomes (module docstring) of ``axis`` of ``var``, computed by equation ``index``.

    ``is_weight(var)`` says whether a value is a (re-layout of a) parameter: a batch dimension
    counts as a stack only in a contraction with a weight (the next layer of a vmapped stack),
    not in one between two activations (attention's heads).
    """
    outcomes: set[str] = set()
    context = _Context(outcomes, [_LIMIT], is_weight)
    _follow(jaxpr, index + 1, {(var, axis, False)}, frames, context)
    return outcomes


@dataclass
class _Context:
    outcomes: set[str]
    budget: list[int]
    is_weight: Callable[[Any], bool]


def is_stack(outcomes: set[str]) -> bool:
    """Whether every path of the axis ends indexed or as a batch dimension."""
    return bool(outcomes) and outcomes <= _STACK


def _follow(
    jaxpr: Jaxpr,
    start: int,
    tracked: set[tuple[Var, int, bool]],
    frames: Frames,
    context: _Context,
) -> None:
    """Follow the ``(var, axis, sliced to one entry)`` values from equation ``start`` on."""
    outcomes, budget = context.outcomes, context.budget
    live = set(tracked)
    for index in range(start, len(jaxpr.eqns)):
        eqn = jaxpr.eqns[index]
        if not live or outcomes - _STACK:
            return
        budget[0] -= 1
        if budget[0] < 0:
            outcomes.add("mixed")
            return
        found = call_jaxpr(eqn)
        inner = None if found is None else found[0]
        for position, atom in enumerate(eqn.invars):
            if isinstance(atom, Literal):
                continue
            for _, a, one in [t for t in live if t[0] is atom]:
                if inner is not None:  # into the called program, and back out after it
                    entry = {(inner.invars[position], a, one)}
                    _follow(inner, 0, entry, (*frames, (jaxpr, index)), context)
                else:
                    live |= _step(eqn, position, a, one, context)
    for v, a, _ in live:
        where = next((i for i, out in enumerate(jaxpr.outvars) if out is v), None)
        if where is None:
            continue
        parent, call_index = frames[-1] if frames else (None, -1)
        if parent is None:
            outcomes.add("returned")
            continue
        target = parent.eqns[call_index].outvars[where]
        _follow(parent, call_index + 1, {(target, a, False)}, frames[:-1], context)


def _step(
    eqn: Any, position: int, axis: int, one: bool, context: _Context
) -> set[tuple[Var, int, bool]]:
    """What one equation does with ``axis`` of its operand ``position``; the values to follow."""
    outcomes = context.outcomes
    name, params = eqn.primitive.name, eqn.params
    if not eqn.outvars:
        outcomes.add("mixed")
        return set()
    out: Var = eqn.outvars[0]
    in_shape = _shape(eqn.invars[position])
    if name == "dot_general":
        (contract, batch) = params["dimension_numbers"]
        side = 0 if position == 0 else 1
        if axis in contract[side]:
            outcomes.add("contracted")
            return set()
        if axis in batch[side]:
            other = eqn.invars[1 - side]
            weight = not isinstance(other, Literal) and context.is_weight(other)
            outcomes.add("batch" if weight else "mixed")
            return set()
        free = [a for a in range(len(in_shape)) if a not in contract[side] and a not in batch[side]]
        offset = len(batch[0])
        if side == 1:
            lhs_rank = len(_shape(eqn.invars[0]))
            offset += lhs_rank - len(contract[0]) - len(batch[0])
        return {(out, offset + free.index(axis), False)}
    if name in _SAME_AXES and len(_shape(out)) == len(in_shape):
        return {(o, axis, one) for o in eqn.outvars}
    if name == "transpose":
        return {(out, list(params["permutation"]).index(axis), one)}
    if name == "broadcast_in_dim":
        return {(out, params["broadcast_dimensions"][axis], one)}
    if name in ("slice", "dynamic_slice"):
        size = _shape(out)[axis]
        return {(out, axis, one or (size == 1 and size < in_shape[axis]))}
    if name == "squeeze":
        dims = [d % len(in_shape) for d in params["dimensions"]]
        if axis in dims:
            outcomes.add("indexed" if one or in_shape[axis] == 1 else "mixed")
            return set()
        return {(out, axis - sum(d < axis for d in dims), one)}
    if name == "reshape" and params.get("dimensions") is None:
        if in_shape[axis] == 1:
            outcomes.add("indexed" if one else "mixed")
            return set()
        moved = _reshaped(axis, in_shape, _shape(out))
        if moved is None:
            outcomes.add("mixed")
            return set()
        return {(out, moved, one)}
    outcomes.add("mixed")
    return set()
