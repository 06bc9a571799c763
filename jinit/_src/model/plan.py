"""Matching rules to the leaves of a tree and resolving each match to an initializer.

:func:`plan` is what :func:`jinit.reinit` and :func:`jinit.init_params` share: for every leaf it
finds the first rule whose pattern matches the leaf's path, and turns the rule's value into the
initializer of that leaf (:mod:`jinit._src.model.rules`). Where that needs the parameter's
layout, the layout comes from ``axes`` (:func:`jinit.trace_axes`, or a mapping written by hand),
else from the layer's type or Flax's names (:func:`jinit._src.model.layouts.infer_layout`), which
refuse rather than guess. Every refusal is collected and raised as one error naming the
parameters and what to pass.

Patterns: a ``str`` is a glob matched against the whole path with :func:`fnmatch.fnmatchcase`
(``*`` also crosses ``/``); a compiled ``re.Pattern`` must match the whole path (``fullmatch``).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import jax

from jinit._src.core.types import Initializer, Pattern, PyTree
from jinit._src.model.draw import rebuild
from jinit._src.model.layout_source import SHOWN, Layouts, given_axes, listed, owners_of
from jinit._src.model.layouts import TRACE_HINT
from jinit._src.model.param_axes import UNRESOLVED_ROLES, ParamAxes
from jinit._src.model.paths import path_string
from jinit._src.model.rules import ByRole, RuleSet, accepts_no_fan_in, rule_kind, takes_kernel_role
from jinit._src.model.trace.program import is_array

__all__ = ["Assignment", "Pattern", "Plan", "ReinitReport", "matcher", "plan"]


def _label(pattern: Pattern) -> str:
    return f"re:{pattern.pattern}" if isinstance(pattern, re.Pattern) else pattern


@dataclass(frozen=True)
class ReinitReport:
    """Which parameters each rule re-initialized.

    Attributes:
      touched: rule pattern, as written (a ``str`` or a compiled ``re.Pattern``) -> the paths
        it re-initialized, in tree order.
      untouched: paths of the concrete leaves no rule matched (kept as they were). An abstract
        leaf (``jax.ShapeDtypeStruct``) is never left untouched: that is an error.
    """

    touched: dict[Pattern, tuple[str, ...]]
    untouched: tuple[str, ...]

    def __str__(self) -> str:
        lines = []
        for pattern, paths in self.touched.items():
            lines.append(f"{_label(pattern)}: {len(paths)} parameter(s)")
            lines.extend(f"  {p}" for p in paths)
        lines.append(f"untouched: {len(self.untouched)} parameter(s)")
        lines.extend(f"  {p}" for p in self.untouched)
        return "\n".join(lines)


@dataclass(frozen=True)
class Assignment:
    """One matched parameter: where it is, what initializes it, and what it can batch with.

    Attributes:
      index: the leaf's position in the flattened tree.
      path: the parameter's path string.
      pattern: the rule that matched, as written.
      initializer: the initializer (a factory rule already called with the layer's axes or fan).
      group: ``(rule value, kind, arguments, shape, dtype name)``, hashable; parameters with
        equal ``group`` share one initializer, shape and dtype, and one compiled draw.
      shape: the parameter's shape.
      dtype: the parameter's dtype.
    """

    index: int
    path: str
    pattern: Pattern
    initializer: Initializer
    group: tuple[Any, ...]
    shape: tuple[int, ...]
    dtype: Any


@dataclass(frozen=True)
class Plan:
    """What :func:`plan` resolved: the flattened tree and every matched parameter."""

    leaves: list[Any]
    treedef: Any
    assignments: list[Assignment]
    report: ReinitReport


def matcher(pattern: object, what: str = "jinit.reinit: rule pattern") -> Callable[[str], bool]:
    """A predicate on path strings: glob ``str`` (whole path) or ``re.Pattern`` (fullmatch)."""
    if isinstance(pattern, re.Pattern):
        return lambda path: pattern.fullmatch(path) is not None
    if isinstance(pattern, str):
        return lambda path: fnmatch.fnmatchcase(path, pattern)
    raise TypeError(
        f"{what} {pattern!r} must be a glob str or a compiled re.Pattern, "
        f"got {type(pattern).__name__}"
    )


class _RefusedError(Exception):
    """A parameter whose initializer cannot be resolved without more information."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(path, reason)
        self.path, self.reason = path, reason


def _resolve(
    value: Any, kind: str, path: str, layouts: Layouts, owner: str, pattern: Pattern
) -> tuple[Any, str, tuple[Any, ...]]:
    """``(rule value, kind, arguments)`` of the group that initializes ``path``."""
    if kind in ("initializer", "explicit"):
        return value, kind, ()
    layout = layouts(path)
    if kind == "by_role":
        if layout.role in UNRESOLVED_ROLES:
            raise _RefusedError(path, layout.reason)
        choice = value.for_role(layout.role)
        if choice is None:
            raise ValueError(
                f"{owner}: rule {_label(pattern)!r} ({value!r}) has no entry for {path!r}, "
                f"whose role is {layout.role!r}; give by_role a {layout.role}= entry, or match "
                "this parameter with an earlier rule"
            )
        return _resolve(choice, rule_kind(choice), path, layouts, owner, pattern)
    name = getattr(value, "__name__", repr(value))
    if kind == "axes":
        axes = layout.axes
        if axes is None:
            if layout.role in UNRESOLVED_ROLES:
                raise _RefusedError(path, layout.reason)
            raise ValueError(
                f"{owner}: rule {_label(pattern)!r} gives {path!r} (shape {layout.shape}) to the "
                f"factory {name}, which needs a weight's fans, but the parameter is a "
                f"{layout.role}{_kernels(layout)}; match it with a rule whose value is an "
                "initializer (jinit.zeros, jinit.ones, jinit.normal(0.02)...) or use jinit.by_role"
            )
        return value, "axes", tuple(sorted(axes.items()))
    # kind == "fan_in": the fan-in of the kernel the parameter is added to
    kernels = layout.kernels
    if not kernels:
        if layout.role in UNRESOLVED_ROLES:
            raise _RefusedError(path, layout.reason)
        if accepts_no_fan_in(value):
            return value, "fan_in", (None, None) if takes_kernel_role(value) else (None,)
        raise ValueError(
            f"{owner}: rule {_label(pattern)!r} gives {path!r} to {name}, which needs the "
            "fan-in of the kernel the parameter is added to, but there is none (no kernel or "
            "weight of rank >= 2 beside it, or, traced, it is not added to a contraction)"
        )
    fans = set()
    for kernel in kernels:
        kernel_layout = layouts(kernel) if kernel in layouts.shapes else None
        if kernel_layout is None or kernel_layout.fans is None:
            reason = kernel_layout.reason if kernel_layout is not None else "not in the tree"
            raise _RefusedError(path, f"its kernel {kernel!r} has no known fans: {reason}")
        fans.add((float(kernel_layout.fans.fan_in), kernel_layout.role))
    if len(fans) > 1:
        raise ValueError(
            f"{owner}: {path!r} is added to the outputs of {list(kernels)}, whose fan-ins "
            f"differ ({sorted(fans)}); give it an explicit initializer"
        )
    fan_in, kernel_role = fans.pop()
    return value, "fan_in", (fan_in, kernel_role) if takes_kernel_role(value) else (fan_in,)


def _kernels(layout: ParamAxes) -> str:
    return f" (added to the output of {', '.join(layout.kernels)})" if layout.kernels else ""


def plan(
    target: PyTree,
    rules: Mapping[Pattern, Any],
    *,
    strict: bool = True,
    stacked: Sequence[Pattern] = (),
    axes: Mapping[str, Any] | None = None,
    owners: Mapping[str, Any] | None = None,
    owner: str = "jinit.reinit",
) -> Plan:
    """Match ``rules`` to the leaves of ``target`` and resolve every match (module docstring).

    Args:
      target: a pytree (nnx Modules are split by the callers, who pass ``owners``).
      rules: ``{pattern: rule value}``, first match wins.
      strict: raise if a rule matches nothing.
      stacked: patterns of parameters with one leading stack axis (name-based layouts only).
      axes: layouts by path (:class:`jinit.TracedAxes` or a hand-written mapping).
      owners: ``{module path: module object}``; found by walking ``target`` when ``None``.
      owner: the public function, for messages.

    Raises:
      TypeError: bad rules or axes, or a matched leaf that is not an array.
      ValueError: a rule that matched nothing (strict), abstract leaves no rule matched,
        parameters whose layout cannot be known, a factory given a parameter without fans,
        axes for paths the tree does not have.
    """
    from jinit._src.model.trace.trace_axes import TracedAxes

    if not isinstance(rules, Mapping) or not rules:
        raise TypeError(
            f"{owner}: rules must be a non-empty mapping {{pattern: initializer}}, got {rules!r}"
        )
    compiled = []
    for pattern, value in rules.items():
        if not callable(value) and not isinstance(value, ByRole):
            raise TypeError(
                f"{owner}: rule {_label(pattern)!r} maps to {value!r}, which is not an "
                "initializer (key, shape, dtype) -> Array, a factory taking in_axis/out_axis "
                "or fan_in, or jinit.by_role(...)"
            )
        compiled.append((pattern, matcher(pattern), value, rule_kind(value)))
    stack_matchers = [matcher(p, f"{owner}: stacked pattern") for p in stacked]
    if axes is not None and not isinstance(axes, Mapping):
        raise TypeError(
            f"{owner}: axes must be jinit.trace_axes(...) or a mapping {{path: axes}}, got "
            f"{type(axes).__name__}"
        )

    flat, treedef = jax.tree_util.tree_flatten_with_path(target)
    paths = [path_string(p) for p, _ in flat]
    leaves = [leaf for _, leaf in flat]
    shapes = {p: tuple(leaf.shape) for p, leaf in zip(paths, leaves, strict=True) if is_array(leaf)}
    layout_axes = given_axes(axes, shapes, paths, owner)
    layouts = Layouts(
        layout_axes,
        isinstance(axes, TracedAxes),
        shapes,
        owners if owners is not None else owners_of(target, [p for p, _ in flat]),
        lambda path: int(any(m(path) for m in stack_matchers)),
    )

    touched: dict[Pattern, list[str]] = {pattern: [] for pattern, *_ in compiled}
    untouched: list[str] = []
    abstract: list[str] = []
    refused: list[_RefusedError] = []
    assignments = []
    for index, (path, leaf) in enumerate(zip(paths, leaves, strict=True)):
        rule = next((r for r in compiled if r[1](path)), None)
        if rule is None:
            (abstract if isinstance(leaf, jax.ShapeDtypeStruct) else untouched).append(path)
            continue
        pattern, _, value, kind = rule
        if not is_array(leaf):
            raise TypeError(
                f"{owner}: rule {_label(pattern)!r} matches {path!r}, which is a "
                f"{type(leaf).__name__}, not an array"
            )
        try:
            rule_value, resolved_kind, arguments = _resolve(
                value, kind, path, layouts, owner, pattern
            )
        except _RefusedError as refusal:
            refused.append(refusal)
            continue
        shape = tuple(leaf.shape)
        group = (rule_value, resolved_kind, arguments, shape, str(leaf.dtype))
        assignments.append(
            Assignment(index, path, pattern, rebuild(group), group, shape, leaf.dtype)
        )
        touched[pattern].append(path)
    if refused:
        reasons = "; ".join(f"{r.path!r}: {r.reason}" for r in refused[:SHOWN])
        raise ValueError(
            f"{owner}: cannot tell the layout of {len(refused)} parameter(s) the rules give to "
            f"factories, and will not guess: {reasons}"
            f"{f' (and {len(refused) - SHOWN} more)' if len(refused) > SHOWN else ''}. "
            f"{TRACE_HINT}"
        )
    if abstract:
        raise ValueError(
            f"{owner}: {len(abstract)} abstract parameter(s) (jax.ShapeDtypeStruct) matched no "
            f"rule and would stay abstract: {listed(abstract)}. "
            "Add rules for them (e.g. '*scale': jinit.ones, '*bias': jinit.zeros)"
        )
    unused = [p for p, hit in touched.items() if not hit]
    if isinstance(rules, RuleSet) and len(unused) < len(touched):
        unused = [p for p in unused if p not in rules.optional]  # alternatives may go unused
    unused = [_label(p) for p in unused]
    if strict and unused:
        raise ValueError(
            f"{owner}: rule(s) {unused} matched no parameter (strict=True). Paths look "
            f"like {paths[:3]}{' ...' if len(paths) > 3 else ''}; start a glob with '*' to match "
            "at any depth, or pass strict=False"
        )
    report = ReinitReport({k: tuple(v) for k, v in touched.items()}, tuple(untouched))
    return Plan(leaves, treedef, assignments, report)
