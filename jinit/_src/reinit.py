"""Re-initialize a whole model by rules: path pattern -> initializer.

``reinit(target, rules, key)`` walks every leaf of ``target`` (a linen variables dict, an nnx
``Module`` or ``State``, or any pytree of arrays or ``jax.ShapeDtypeStruct``), finds the first
rule whose pattern matches the leaf's path (see :mod:`jinit._src.paths`), and replaces the leaf
with ``init(path_key(key, path), leaf.shape, leaf.dtype)``. Leaves no rule matches are kept.

Patterns: a ``str`` is a glob matched against the whole path with :func:`fnmatch.fnmatchcase`
(``*`` also crosses ``/``, so ``*/Dense_*/kernel`` matches at any depth); a compiled
``re.Pattern`` must match the whole path (``fullmatch``).

Initializers: an initializer (``jinit.he_normal()``) is used as it is. A *factory* that takes
``in_axis``/``out_axis``/``batch_axis`` (``jinit.he_normal``, not called) is called with the
axes of the layer the parameter belongs to, read from its path and shape by
:func:`layer_axes`, so one rule serves Dense, Conv, attention and embedding parameters alike.
A factory that takes ``fan_in`` (:func:`jinit.torch_bias`) is called with the fan-in of the
``kernel`` beside the parameter: a bias initialized from its layer's fan.
"""

from __future__ import annotations

import fnmatch
import inspect
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import jax

from jinit._src.base import Axes, Initializer, KeyArray
from jinit._src.fans import compute_fans
from jinit._src.paths import path_key, path_string

__all__ = [
    "Assignment",
    "Plan",
    "ReinitReport",
    "layer_axes",
    "plan",
    "reinit",
    "reinit_with_report",
]

Pattern = str | re.Pattern[str]
_ATTENTION_INPUTS = ("query", "key", "value", "qkv", "kv")


@dataclass(frozen=True)
class ReinitReport:
    """Which parameters each rule re-initialized.

    Attributes:
      touched: rule pattern (as written) -> paths it re-initialized, in tree order.
      untouched: paths of leaves no rule matched (kept as they were).
    """

    touched: dict[str, tuple[str, ...]]
    untouched: tuple[str, ...]

    def __str__(self) -> str:
        lines = []
        for pattern, paths in self.touched.items():
            lines.append(f"{pattern}: {len(paths)} parameter(s)")
            lines.extend(f"  {p}" for p in paths)
        lines.append(f"untouched: {len(self.untouched)} parameter(s)")
        lines.extend(f"  {p}" for p in self.untouched)
        return "\n".join(lines)


def layer_axes(
    path: str, shape: Sequence[int], *, bias_shape: Sequence[int] | None = None, stacked: int = 0
) -> dict[str, Axes]:
    """The ``in_axis``/``out_axis``/``batch_axis`` of a parameter, from its path and shape.

    ======================================  ======================  =============================
    parameter                               shape (after stacking)  axes
    ======================================  ======================  =============================
    ``.../embedding`` (Embed)               ``(vocab, features)``   in -2, out 0 (Flax's default)
    2-D kernel (Dense, Linear, LSTM/GRU)    ``(in, out)``           in -2, out -1
    attention ``query``/``key``/``value``   ``(in, heads, dim)``    in 0, out (1, 2)
    attention ``out``                       ``(heads, dim, out)``   in (0, 1), out 2
    ``*General*``/``Einsum`` with a bias    ``(*in, *out)``         out = the bias's axes
    anything else (Conv, ConvTranspose)     ``(*window, in, out)``  in -2, out -1
    ======================================  ======================  =============================

    ``stacked`` leading axes (scanned or vmapped layers) become ``batch_axis`` and are excluded
    from the fans.

    Example:
      >>> layer_axes("params/MultiHeadDotProductAttention_0/out/kernel", (4, 8, 32))
      {'in_axis': (0, 1), 'out_axis': 2, 'batch_axis': ()}
    """
    parts = path.split("/")
    name = parts[-1] if parts else ""
    parent = parts[-2] if len(parts) > 1 else ""
    core = tuple(shape[stacked:])
    batch: Axes = tuple(range(stacked))

    def shifted(axis: Axes) -> Axes:
        if isinstance(axis, int):
            return axis + stacked if axis >= 0 else axis
        return tuple(a + stacked if a >= 0 else a for a in axis)

    axes: tuple[Axes, Axes] = (-2, -1)
    if name == "embedding":
        axes = (-2, 0)
    elif len(core) == 3 and parent in _ATTENTION_INPUTS:
        axes = (0, (1, 2))
    elif len(core) == 3 and parent == "out":
        axes = ((0, 1), 2)
    elif len(core) > 2 and re.search(r"general|einsum", parent, re.IGNORECASE) and bias_shape:
        n_out = len(bias_shape)
        if 0 < n_out < len(core) and tuple(core[-n_out:]) == tuple(bias_shape):
            axes = (tuple(range(len(core) - n_out)), tuple(range(len(core) - n_out, len(core))))
    return {"in_axis": shifted(axes[0]), "out_axis": shifted(axes[1]), "batch_axis": batch}


def _factory_kind(value: Callable[..., Any]) -> str | None:
    """``"axes"`` for a factory taking in_axis, ``"fan_in"`` for one taking fan_in, else None."""
    try:
        parameters = inspect.signature(value).parameters
    except (TypeError, ValueError):
        return None
    if "key" in parameters:
        return None
    if "in_axis" in parameters:
        return "axes"
    if "fan_in" in parameters:
        return "fan_in"
    return None


def _matcher(pattern: object, what: str = "jinit.reinit: rule pattern") -> Callable[[str], bool]:
    """A predicate on path strings: glob ``str`` (whole path) or ``re.Pattern`` (fullmatch)."""
    if isinstance(pattern, re.Pattern):
        return lambda path: pattern.fullmatch(path) is not None
    if isinstance(pattern, str):
        return lambda path: fnmatch.fnmatchcase(path, pattern)
    raise TypeError(
        f"{what} {pattern!r} must be a glob str or a compiled re.Pattern, "
        f"got {type(pattern).__name__}"
    )


def _label(pattern: Pattern) -> str:
    return f"re:{pattern.pattern}" if isinstance(pattern, re.Pattern) else pattern


@dataclass(frozen=True)
class Assignment:
    """One matched parameter: where it is, what initializes it, and what it can batch with.

    Attributes:
      index: the leaf's position in the flattened tree.
      path: the parameter's path string.
      label: the rule that matched, as :class:`ReinitReport` names it.
      initializer: the initializer (a factory rule already called with the layer's axes or fan).
      group: ``(rule value, factory kind, factory arguments, shape, dtype name)``, hashable;
        parameters with equal ``group`` share one initializer, shape and dtype, so one batched
        call over their keys initializes them all, and it can key a compilation cache.
      shape: the parameter's shape.
      dtype: the parameter's dtype.
    """

    index: int
    path: str
    label: str
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


def plan(
    target: Any,
    rules: Mapping[Pattern, Initializer | Callable[..., Initializer]],
    *,
    strict: bool = True,
    stacked: Sequence[Pattern] = (),
    owner: str = "jinit.reinit",
) -> Plan:
    """Match ``rules`` to the leaves of ``target`` (a pytree; nnx Modules are split by callers)."""
    if not isinstance(rules, Mapping) or not rules:
        raise TypeError(
            f"{owner}: rules must be a non-empty mapping {{pattern: initializer}}, got {rules!r}"
        )
    compiled = []
    for number, (pattern, init) in enumerate(rules.items()):
        if not callable(init):
            raise TypeError(
                f"{owner}: rule {_label(pattern)!r} maps to {init!r}, which is not an "
                "initializer (key, shape, dtype) -> Array or a factory taking in_axis/out_axis"
            )
        compiled.append((number, pattern, _matcher(pattern), init, _factory_kind(init)))
    stack_matchers = [_matcher(p) for p in stacked]

    leaves_with_paths, treedef = jax.tree_util.tree_flatten_with_path(target)
    paths = [path_string(p) for p, _ in leaves_with_paths]
    leaves = [leaf for _, leaf in leaves_with_paths]
    shapes = {path: getattr(leaf, "shape", None) for path, leaf in zip(paths, leaves, strict=True)}
    touched: dict[str, list[str]] = {_label(r[1]): [] for r in compiled}
    untouched = []
    assignments = []
    for index, (path, leaf) in enumerate(zip(paths, leaves, strict=True)):
        rule = next((r for r in compiled if r[2](path)), None)
        if rule is None:
            untouched.append(path)
            continue
        number, pattern, _, rule_value, kind = rule
        if not (hasattr(leaf, "shape") and hasattr(leaf, "dtype")):
            raise TypeError(
                f"{owner}: rule {_label(pattern)!r} matches {path!r}, which is a "
                f"{type(leaf).__name__}, not an array"
            )
        shape = tuple(leaf.shape)
        parent = path.rsplit("/", 1)[0] + "/" if "/" in path else ""
        n_stacked = int(any(m(path) for m in stack_matchers))
        arguments: tuple[Any, ...] = ()
        if kind == "axes":
            bias = shapes.get(f"{parent}bias")
            axes = layer_axes(path, shape, bias_shape=bias, stacked=n_stacked)
            initializer = cast(Callable[..., Initializer], rule_value)(**axes)
            arguments = tuple(sorted(axes.items()))
        elif kind == "fan_in":
            kernel = shapes.get(f"{parent}kernel")
            if kernel is None:
                raise ValueError(
                    f"{owner}: rule {_label(pattern)!r} needs the fan-in of a kernel beside "
                    f"{path!r}, but there is no {parent}kernel"
                )
            axes = layer_axes(f"{parent}kernel", kernel, bias_shape=shape, stacked=n_stacked)
            fan_in = float(
                compute_fans(kernel, axes["in_axis"], axes["out_axis"], axes["batch_axis"]).fan_in
            )
            initializer = cast(Callable[..., Initializer], rule_value)(fan_in=fan_in)
            arguments = (fan_in,)
        else:
            initializer = cast(Initializer, rule_value)
        group = (rule_value, kind, arguments, shape, str(leaf.dtype))
        label = _label(pattern)
        assignments.append(Assignment(index, path, label, initializer, group, shape, leaf.dtype))
        touched[label].append(path)
    unused = [label for label, hit in touched.items() if not hit]
    if strict and unused:
        raise ValueError(
            f"{owner}: rule(s) {unused} matched no parameter (strict=True). Paths look "
            f"like {paths[:3]}{' ...' if len(paths) > 3 else ''}; start a glob with '*' to match "
            "at any depth, or pass strict=False"
        )
    report = ReinitReport({k: tuple(v) for k, v in touched.items()}, tuple(untouched))
    return Plan(leaves, treedef, assignments, report)


def reinit_with_report(
    target: Any,
    rules: Mapping[Pattern, Initializer | Callable[..., Initializer]],
    key: KeyArray,
    *,
    strict: bool = True,
    stacked: Sequence[Pattern] = (),
) -> tuple[Any, ReinitReport]:
    """Like :func:`reinit`, and also return the :class:`ReinitReport`."""
    from flax import nnx  # a dependency; imported here to keep `import jinit` light

    if isinstance(target, nnx.Module):
        graphdef, state = nnx.split(target)
        new_state, report = reinit_with_report(state, rules, key, strict=strict, stacked=stacked)
        return nnx.merge(graphdef, new_state), report

    resolved = plan(target, rules, strict=strict, stacked=stacked)
    new_leaves = list(resolved.leaves)
    for a in resolved.assignments:
        new_leaves[a.index] = a.initializer(path_key(key, a.path), a.shape, a.dtype)
    return jax.tree_util.tree_unflatten(resolved.treedef, new_leaves), resolved.report


def reinit(
    target: Any,
    rules: Mapping[Pattern, Initializer | Callable[..., Initializer]],
    key: KeyArray,
    *,
    strict: bool = True,
    stacked: Sequence[Pattern] = (),
) -> Any:
    """Return a copy of ``target`` with the parameters the ``rules`` match re-initialized.

    Each matched parameter gets ``init(path_key(key, path), shape, dtype)``: its key depends
    only on ``key`` and its own path, so the values are reproducible and do not change when
    unrelated parameters are added or removed. ``target`` is never modified; for an nnx
    ``Module`` a new module is returned (``nnx.split``, re-init, ``nnx.merge``).

    Args:
      target: linen variables (``{"params": ...}``), an nnx ``Module`` or ``State``, or any
        pytree whose leaves have ``shape`` and ``dtype`` (arrays, ``jax.ShapeDtypeStruct``).
      rules: ``{pattern: initializer or factory}``, first match wins, in insertion order.
      key: the base key.
      strict: raise if a rule matches no parameter (a typo would otherwise do nothing).
      stacked: patterns of parameters with one leading stack axis (``nn.scan``/``vmap``
        layers); factories then exclude it from the fans (``batch_axis=0``).

    Returns:
      The new tree, of the same structure as ``target``.

    Raises:
      TypeError: bad rules (not a mapping, a pattern that is neither str nor re.Pattern, an
        initializer that is not callable) or a matched leaf that is not an array.
      ValueError: with ``strict``, a rule that matched nothing (the message shows example paths).

    Example:
      >>> import jax, jax.numpy as jnp, flax.linen as nn, jinit
      >>> variables = nn.Dense(3).init(jax.random.key(0), jnp.ones((1, 4)))
      >>> new = jinit.reinit(variables, {"*/kernel": jinit.he_normal, "*/bias": jinit.zeros},
      ...                    jax.random.key(1))
      >>> new["params"]["kernel"].shape
      (4, 3)
    """
    new, _ = reinit_with_report(target, rules, key, strict=strict, stacked=stacked)
    return new
