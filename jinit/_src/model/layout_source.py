"""Where each leaf's layout comes from: axes given (traced or by hand), else names and types.

:func:`jinit.reinit`'s plan asks :class:`Layouts` for a parameter's layout only when a rule
needs it (a factory, a ``fan_in`` factory, ``by_role``). Axes the caller gives --
:func:`jinit.trace_axes` or ``{path: {"in_axis": ..., "out_axis": ...}}`` -- are checked
against the tree (:func:`given_axes`); a traced mapping must cover every parameter asked about.
Otherwise the layout is inferred from the owning module's type (:func:`owners_of` finds
Equinox modules along the pytree) or Flax's names (:func:`jinit._src.model.layouts.infer_layout`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax

from jinit._src.core.types import PyTree
from jinit._src.model.layouts import infer_layout
from jinit._src.model.param_axes import ParamAxes
from jinit._src.model.paths import path_string

__all__ = ["SHOWN", "Layouts", "as_param_axes", "given_axes", "listed", "owners_of"]

#: How many paths an error lists.
SHOWN = 5


def listed(paths: Sequence[str]) -> str:
    """The first :data:`SHOWN` paths, and how many more there are, for a message."""
    shown = repr(list(paths[:SHOWN]))
    return shown + (f" and {len(paths) - SHOWN} more" if len(paths) > SHOWN else "")


def _step(obj: Any, entry: Any) -> Any:
    if isinstance(entry, jax.tree_util.GetAttrKey):
        return getattr(obj, entry.name)
    if isinstance(entry, jax.tree_util.SequenceKey):
        return obj[entry.idx]
    if isinstance(entry, jax.tree_util.DictKey):
        return obj[entry.key]
    raise LookupError(entry)


def owners_of(target: PyTree, key_paths: Sequence[Sequence[Any]]) -> dict[str, Any]:
    """``{module path: module object}`` for the objects that hold the leaves (Equinox modules).

    The pytree is walked along each leaf's key path; a leaf whose path cannot be walked (a
    flattened index) has no owner.
    """
    owners: dict[str, Any] = {}
    for entries in key_paths:
        prefix = path_string(entries[:-1])
        if prefix in owners:
            continue
        obj = target
        try:
            for entry in entries[:-1]:
                obj = _step(obj, entry)
        except (LookupError, AttributeError, TypeError):
            continue
        owners[prefix] = obj
    return owners


class Layouts:
    """The layout of each leaf, from ``axes`` or inferred, computed once when first asked for."""

    def __init__(
        self,
        axes: Mapping[str, ParamAxes] | None,
        traced: bool,
        shapes: Mapping[str, tuple[int, ...]],
        owners: Mapping[str, Any],
        stacked: Callable[[str], int],
    ) -> None:
        self.axes, self.traced, self.shapes = axes, traced, shapes
        self.owners, self.stacked = owners, stacked
        self.cache: dict[str, ParamAxes] = {}

    def __call__(self, path: str) -> ParamAxes:
        if path in self.cache:
            return self.cache[path]
        shape = self.shapes[path]
        prefix = path.rsplit("/", 1)[0] if "/" in path else ""
        if self.axes is not None and path in self.axes:
            found = self.axes[path]
        elif self.traced:
            found = ParamAxes(
                path,
                shape,
                "unknown",
                reason="the traced axes have no entry for it: trace the same model "
                "(jinit.trace_axes(apply_fn, params, x) with these params)",
            )
        else:
            siblings = {
                p.rsplit("/", 1)[-1]: s
                for p, s in self.shapes.items()
                if (p.rsplit("/", 1)[0] if "/" in p else "") == prefix and p != path
            }
            found = infer_layout(
                path,
                shape,
                owner=self.owners.get(prefix),
                siblings=siblings,
                stacked=self.stacked(path),
            )
        self.cache[path] = found
        return found


def as_param_axes(path: str, shape: tuple[int, ...], value: object, owner: str) -> ParamAxes:
    if isinstance(value, ParamAxes):
        return value
    if isinstance(value, Mapping) and {"in_axis", "out_axis"} <= set(value):
        return ParamAxes(
            path,
            shape,
            str(value.get("role", "dense")),
            in_axis=value["in_axis"],
            out_axis=value["out_axis"],
            batch_axis=tuple(value.get("batch_axis", ())),
        )
    raise TypeError(
        f"{owner}: axes[{path!r}] must be a jinit.ParamAxes (from jinit.trace_axes) or a dict "
        f"with 'in_axis' and 'out_axis' (and 'batch_axis'), got {value!r}"
    )


def given_axes(
    axes: Mapping[str, Any] | None,
    shapes: Mapping[str, tuple[int, ...]],
    paths: Sequence[str],
    owner: str,
) -> dict[str, ParamAxes] | None:
    """``axes`` as :class:`ParamAxes` by path, checked against the tree's ``shapes``.

    Raises:
      TypeError: an entry that is neither a ``ParamAxes`` nor a dict of axes.
      ValueError: entries for paths the tree does not have, or for other shapes.
    """
    if axes is None:
        return None
    found = {
        path: as_param_axes(path, shapes.get(path, ()), value, owner)
        for path, value in axes.items()
    }
    foreign = [p for p in found if p not in shapes]
    if foreign:
        raise ValueError(
            f"{owner}: axes has entries for {len(foreign)} path(s) the tree does not have "
            f"({listed(foreign)}); were the axes traced from another model? Paths "
            f"here look like {list(paths[:3])}"
        )
    wrong = [p for p, a in found.items() if tuple(a.shape) != shapes[p]]
    if wrong:
        p = wrong[0]
        raise ValueError(
            f"{owner}: axes[{p!r}] is for shape {found[p].shape}, but the parameter "
            f"has shape {shapes[p]}; trace the model with these parameters"
        )
    return found
