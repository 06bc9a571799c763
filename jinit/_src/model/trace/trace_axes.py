r"""Each parameter's layout, read from the computation that uses it: :func:`jinit.trace_axes`.

A parameter's fans depend on how the model uses it, which its name and shape do not say:
Equinox stores ``Linear`` weights as ``(out, in)``, a Gemma-style attention stores
``(heads, d, head_dim)`` and ``(2, kv_heads, d, head_dim)``, a scanned stack ``(L, d, d)``.
:func:`trace_axes` traces the model's forward pass abstractly once (``jax.make_jaxpr`` on
``ShapeDtypeStruct``\ s: no FLOPs) and classifies every parameter by the operation that
consumes it (see :mod:`jinit._src.model.trace.walk` for the rules):

==============  ==================================  =========================================
role            consumed by                         axes
==============  ==================================  =========================================
``dense``       ``dot_general`` with the data       contracting: in; batch and indexed: batch;
                                                    the rest: out
``conv``        ``conv_general_dilated``            input/output feature dims; spatial dims
                                                    form the receptive field
``embedding``   a lookup of rows (``gather``)       looked-up axis: out; the others: in (the
                                                    axes of a tied read-out ``x @ table.T``)
``bias``        added to the data                   none (``kernels``: the contraction whose
                                                    output it is added to)
``scale``       multiplied with the data            none (norm scales, gates)
``other``       anything else (``exp``, a norm)     none
``ambiguous``   uses that disagree, or axes that    none: the reason says why
                cannot give fans
``unused``      nothing                             none
==============  ==================================  =========================================

An axis indexed away before the contraction -- ``w[0]`` and ``w[1]`` of a fused gate, the
stack axis a ``scan`` iterates over, a ``vmap``-ed batch dimension -- is a batch axis: each
index is a separate layer. The fans are then those of :func:`jinit.compute_fans` with these
axes, so for Flax's own layers they equal what ``jinit.layer_axes`` reads from the names.

References:
  JAX's jaxpr language: https://docs.jax.dev/en/latest/jaxpr.html
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from jinit._src.core.types import Axes, PyTree
from jinit._src.model.param_axes import UNRESOLVED_ROLES, WEIGHT_ROLES, ParamAxes
from jinit._src.model.trace.program import trace_program
from jinit._src.model.trace.walk import Use, walk

__all__ = ["TracedAxes", "classify", "trace_axes"]


def _axes(values: list[int]) -> Axes:
    return values[0] if len(values) == 1 else tuple(values)


def _describe(use: Use, paths: tuple[str, ...]) -> str:
    if use.kind in WEIGHT_ROLES:
        return f"{use.kind} ({use.detail} with roles {dict(use.roles)})"
    if use.kind == "bias":
        return "bias" + (
            f" (added to {', '.join(paths[k] for k in sorted(use.kernels))})" if use.kernels else ""
        )
    return f"{use.kind} ({use.detail})" if use.detail else use.kind


def classify(
    path: str, shape: tuple[int, ...], uses: set[Use], paths: tuple[str, ...]
) -> ParamAxes:
    """The :class:`ParamAxes` of one parameter from its uses (see the module docstring)."""
    if not uses:
        return ParamAxes(path, shape, "unused", reason="no operation of the traced program uses it")
    kinds = {u.kind for u in uses}
    listed = "; ".join(sorted({_describe(u, paths) for u in uses}))
    problems = sorted({u.problem for u in uses if u.problem})
    if kinds <= set(WEIGHT_ROLES):
        roles = {u.roles for u in uses}
        if problems:
            return ParamAxes(path, shape, "ambiguous", uses=len(uses), reason=problems[0])
        if len(roles) > 1:
            return ParamAxes(
                path,
                shape,
                "ambiguous",
                uses=len(uses),
                reason=f"its uses give different axes: {listed}",
            )
        if kinds not in ({"dense"}, {"conv"}, {"embedding"}, {"dense", "embedding"}):
            return ParamAxes(path, shape, "ambiguous", uses=len(uses), reason=f"used as {listed}")
        role = "embedding" if "embedding" in kinds else kinds.pop()
        by_role: dict[str, list[int]] = {}
        for axis, axis_role in next(iter(roles)):
            by_role.setdefault(axis_role, []).append(axis)
        groups = max(u.groups for u in uses)
        return ParamAxes(
            path,
            shape,
            role,
            in_axis=_axes(by_role.get("in", [])),
            out_axis=_axes(by_role.get("out", [])),
            batch_axis=tuple(by_role.get("batch", [])),
            uses=len(uses),
            groups=groups,
        )
    if len(kinds) == 1:
        kind = kinds.pop()
        kernels: set[int] = set()
        for u in uses:
            kernels |= u.kernels
        return ParamAxes(
            path,
            shape,
            kind,
            kernels=tuple(paths[k] for k in sorted(kernels)),
            uses=len(uses),
            reason=listed if kind == "other" else "",
        )
    return ParamAxes(path, shape, "ambiguous", uses=len(uses), reason=f"used as {listed}")


class TracedAxes(Mapping[str, ParamAxes]):
    """What :func:`trace_axes` found: ``{path: ParamAxes}``, in the order of the leaves.

    Pass it to ``jinit.reinit(..., axes=...)`` or ``jinit.init_params(..., axes=...)``; print it
    for the table (path, shape, role, axes, fan_in, fan_out).
    """

    def __init__(self, entries: Mapping[str, ParamAxes]) -> None:
        self._entries = dict(entries)

    def __getitem__(self, path: str) -> ParamAxes:
        return self._entries[path]

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def unclassified(self) -> tuple[ParamAxes, ...]:
        """Parameters whose role could not be read (``ambiguous`` or ``unused``)."""
        return tuple(p for p in self._entries.values() if p.role in UNRESOLVED_ROLES)

    def table(self) -> str:
        """The table as text: one row per parameter."""
        header = ("path", "shape", "role", "in", "out", "batch", "fan_in", "fan_out", "note")
        rows = [header]
        for p in self._entries.values():
            fans = p.fans
            note = p.reason or (f"added to {', '.join(p.kernels)}" if p.kernels else "")
            if p.groups > 1:
                note = f"{p.groups} groups"
            rows.append(
                (
                    p.path,
                    str(p.shape),
                    p.role,
                    "" if p.in_axis is None else str(p.in_axis),
                    "" if p.out_axis is None else str(p.out_axis),
                    str(p.batch_axis) if p.batch_axis else "",
                    "" if fans is None else f"{fans.fan_in:g}",
                    "" if fans is None else f"{fans.fan_out:g}",
                    note,
                )
            )
        widths = [max(len(row[c]) for row in rows) for c in range(len(header) - 1)]
        lines = [
            "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)) + "  " + row[-1]
            for row in rows
        ]
        return "\n".join(line.rstrip() for line in lines)

    def __str__(self) -> str:
        return self.table()

    def __repr__(self) -> str:
        counts: dict[str, int] = {}
        for p in self._entries.values():
            counts[p.role] = counts.get(p.role, 0) + 1
        summary = ", ".join(f"{n} {role}" for role, n in counts.items())
        return f"TracedAxes({len(self)} parameters: {summary})"


def trace_axes(fn: Callable[..., Any], params: PyTree, *args: Any, **kwargs: Any) -> TracedAxes:
    r"""Read every parameter's role and axes from one abstract trace of ``fn(params, *args)``.

    ``fn(params, *args, **kwargs)`` is traced once with ``jax.make_jaxpr`` on
    ``ShapeDtypeStruct``\ s (nothing is computed) and each parameter is classified by the
    operation that consumes it, through re-layouts (reshape, transpose, broadcast, slicing of
    fused weights, dtype conversion) and nested programs (``jit``, ``remat``,
    ``custom_jvp``/``custom_vjp``, ``scan`` with the stacked axis as a batch axis, ``while``,
    ``cond``). See the module docstring for the roles.

    Args:
      fn: the forward pass: a linen ``Module`` or its ``apply`` (``params`` are then its
        variables), a function of an nnx Module or an Equinox module (``lambda m, x: m(x)``;
        an nnx Module is split and merged around the trace), or any ``apply(params, x)``.
      params: what ``fn`` takes first: linen variables, an nnx Module, an Equinox module, or
        any pytree; arrays or ``jax.ShapeDtypeStruct``\ s. Leaves that are not arrays are
        held fixed.
      *args: the data (arrays or ``jax.ShapeDtypeStruct``\ s; only shapes and dtypes count).
      **kwargs: passed to ``fn`` as they are (``train=False``).

    Returns:
      A :class:`TracedAxes`: ``{path: ParamAxes}`` keyed by the path strings
      :func:`jinit.reinit` matches, printable as a table; ``.unclassified`` lists the
      parameters whose role could not be read.

    Raises:
      TypeError: ``fn`` is not callable.
      Exception: whatever ``fn`` raises while being traced (with a note saying so).

    Example:
      >>> import jax, jax.numpy as jnp, jinit
      >>> def apply(params, x):  # PyTorch's layout: weight (out, in)
      ...     return x @ params["weight"].T + params["bias"]
      >>> params = {"weight": jnp.zeros((16, 8)), "bias": jnp.zeros(16)}
      >>> axes = jinit.trace_axes(apply, params, jnp.ones((4, 8)))
      >>> axes["weight"].axes, axes["weight"].fans.fan_in
      ({'in_axis': 1, 'out_axis': 0, 'batch_axis': ()}, 8.0)
      >>> axes["bias"].role, axes["bias"].kernels
      ('bias', ('weight',))
    """
    program = trace_program(fn, params, args, kwargs, owner="jinit.trace_axes")
    found = walk(program.closed, program.n_params)
    entries = {
        path: classify(path, shape, found.uses.get(i, set()), program.paths)
        for i, (path, shape) in enumerate(zip(program.paths, program.shapes, strict=True))
    }
    return TracedAxes(entries)
