"""Re-initialize a whole model by rules: path pattern -> initializer.

``reinit(target, rules, key)`` walks every leaf of ``target`` (a linen variables dict, an nnx
``Module`` or ``State``, an Equinox module, or any pytree of arrays or ``jax.ShapeDtypeStruct``),
finds the first rule whose pattern matches the leaf's path, and replaces the leaf with
``init(path_key(key, path), leaf.shape, leaf.dtype)``. How patterns match and what a rule can
map to: :mod:`jinit._src.model.plan` and :mod:`jinit._src.model.rules`.

Fans: a *factory* rule (``jinit.he_normal``, not called) is called with the parameter's axes.
With ``axes=jinit.trace_axes(apply_fn, params, x)`` they are read from the computation that
uses the parameter; without, from the layer's type (Equinox, nnx) or Flax's names, where those
are certain -- and where they are not, ``reinit`` refuses with an error that names the
parameter and says what to pass (:mod:`jinit._src.model.layouts`). Axes given in the rule itself
(``functools.partial(jinit.he_normal, in_axis=1, out_axis=0)``) are never overridden.

Nothing is left abstract: a ``jax.ShapeDtypeStruct`` leaf that no rule matches is an error.
A leaf with a ``NamedSharding`` is re-initialized with that sharding.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import jax

from jinit._src.core.optional import loaded
from jinit._src.core.types import KeyArray, PyTree
from jinit._src.model.draw import draw, leaf_sharding
from jinit._src.model.layouts import layer_axes
from jinit._src.model.plan import Pattern, Plan, ReinitReport, plan

__all__ = ["ReinitReport", "layer_axes", "nnx_owners", "reinit", "reinit_with_report"]


def nnx_owners(module: Any) -> dict[str, Any]:
    """``{module path: submodule}`` of an nnx Module (the paths of its ``nnx.split`` state)."""
    from flax import nnx

    return {
        "/".join(str(p) for p in path): node
        for path, node in nnx.iter_graph(module)
        if isinstance(node, nnx.Module)
    }


def planned(
    target: PyTree,
    rules: Mapping[Pattern, Any],
    *,
    strict: bool,
    stacked: Sequence[Pattern],
    axes: Mapping[str, Any] | None,
    owner: str,
) -> tuple[Plan, Any]:
    """The plan of ``target`` and how to turn a new tree back into its kind (nnx: merge)."""
    nnx = loaded("flax.nnx")  # an nnx Module means Flax is imported; a pytree needs no Flax
    if nnx is not None and isinstance(target, nnx.Module):
        owners = nnx_owners(target)
        graphdef, state = nnx.split(target)
        resolved = plan(
            state, rules, strict=strict, stacked=stacked, axes=axes, owners=owners, owner=owner
        )
        return resolved, lambda tree: nnx.merge(graphdef, tree)
    resolved = plan(target, rules, strict=strict, stacked=stacked, axes=axes, owner=owner)
    return resolved, lambda tree: tree


def reinit_with_report(
    target: PyTree,
    rules: Mapping[Pattern, Any],
    key: KeyArray,
    *,
    strict: bool = True,
    stacked: Sequence[Pattern] = (),
    axes: Mapping[str, Any] | None = None,
) -> tuple[Any, ReinitReport]:
    """Like :func:`reinit`, and also return the :class:`ReinitReport`."""
    resolved, finish = planned(
        target, rules, strict=strict, stacked=stacked, axes=axes, owner="jinit.reinit"
    )
    leaves = list(resolved.leaves)
    matched = resolved.assignments
    shardings = [leaf_sharding(leaves[a.index]) for a in matched]
    values = draw([a.group for a in matched], [a.path for a in matched], shardings, key)
    for a, value in zip(matched, values, strict=True):
        leaves[a.index] = value
    return finish(jax.tree_util.tree_unflatten(resolved.treedef, leaves)), resolved.report


def reinit(
    target: PyTree,
    rules: Mapping[Pattern, Any],
    key: KeyArray,
    *,
    strict: bool = True,
    stacked: Sequence[Pattern] = (),
    axes: Mapping[str, Any] | None = None,
) -> Any:
    """Return a copy of ``target`` with the parameters the ``rules`` match re-initialized.

    Each matched parameter gets ``init(path_key(key, path), shape, dtype)``, drawn by a cached
    compiled draw (bit for bit what :func:`jinit.init_params` gives): its key depends only on
    ``key`` and its own path, so the values are reproducible and do not change when unrelated
    parameters are added or removed. ``target`` is never modified; for an nnx ``Module`` a new
    module is returned (``nnx.split``, re-init, ``nnx.merge``).

    Args:
      target: linen variables (``{"params": ...}``), an nnx ``Module`` or ``State``, an Equinox
        module, or any pytree whose array leaves have ``shape`` and ``dtype`` (arrays,
        ``jax.ShapeDtypeStruct``).
      rules: ``{pattern: rule value}``, first match wins, in insertion order. A value is an
        initializer, a factory taking ``in_axis``/``out_axis``/``batch_axis`` (called with the
        parameter's layout), a factory taking ``fan_in`` (called with the fan-in of the kernel
        the parameter is added to: :func:`jinit.torch_bias`), or :func:`jinit.by_role`.
      key: the base key.
      strict: raise if a rule matches no parameter (a typo would otherwise do nothing).
      stacked: patterns of parameters with one leading stack axis (``nn.scan``/``vmap``
        layers), for layouts read from names; traced ``axes`` find stack axes themselves.
      axes: the layouts to give factories: :func:`jinit.trace_axes` of the model, or a mapping
        ``{path: {"in_axis": ..., "out_axis": ..., "batch_axis": ...}}``. Without it, layouts
        come from the layer's type or Flax's names where those are certain.

    Returns:
      The new tree, of the same structure as ``target``.

    Raises:
      TypeError: bad rules (not a mapping, a pattern that is neither str nor re.Pattern, a
        value that is not callable) or a matched leaf that is not an array.
      ValueError: with ``strict``, a rule that matched nothing; abstract leaves no rule
        matched; a factory rule for parameters whose layout cannot be known without a trace
        (the message names them and says what to pass), or for a parameter without fans (a
        bias, a norm's scale); ``axes`` for paths or shapes the tree does not have.

    Example:
      >>> import jax, jax.numpy as jnp, flax.linen as nn, jinit
      >>> variables = nn.Dense(3).init(jax.random.key(0), jnp.ones((1, 4)))
      >>> new = jinit.reinit(variables, {"*/kernel": jinit.he_normal, "*/bias": jinit.zeros},
      ...                    jax.random.key(1))
      >>> new["params"]["kernel"].shape
      (4, 3)
    """
    new, _ = reinit_with_report(target, rules, key, strict=strict, stacked=stacked, axes=axes)
    return new
