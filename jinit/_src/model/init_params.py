r"""Grouped initialization of a whole parameter tree: one compiled draw per group.

``init_params(target, rules, key)`` gives exactly the values of :func:`jinit.reinit` -- each
matched parameter is ``init(path_key(key, path), shape, dtype)`` -- but computes them
differently. Parameters that share rule, layer arguments, shape and dtype form a *group*, and
XLA compiles one draw per group, however many layers share it: a 96-layer MLP has three groups
of kernels (input, hidden, read-out) plus the biases, not 194 parameters. The compiled draws
are cached, so a second model with the same layers compiles nothing.

Each parameter is one asynchronous call of its group's compiled draw: no stacking, no copy, no
more memory than the parameters themselves (:mod:`jinit._src.model.draw`). :func:`jinit.reinit`
draws
through the same compiled draws, so the two agree bit for bit for every initializer and key
implementation.

Measured (``benchmarks/model_init.py``, 2-core CPU): a 96 x Dense(1024) linen model is
initialized end to end -- ``jax.eval_shape`` plus ``init_params`` -- several times faster than
the first call of ``jax.jit(model.init)``, which compiles all 194 draws one by one.

Typical use, building a Flax model's parameters from shapes alone (nothing is materialized
twice)::

    abstract = jax.eval_shape(model.init, jax.random.key(0), x)
    variables = jinit.init_params(abstract, {"*kernel": jinit.he_normal, "*bias": jinit.zeros},
                                  jax.random.key(1))

Concrete leaves no rule matches are returned as they are; an abstract one
(``jax.ShapeDtypeStruct``) that no rule matches is an error, so nothing is left abstract.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import jax

from jinit._src.core.types import KeyArray, PyTree
from jinit._src.model.draw import draw, leaf_sharding
from jinit._src.model.plan import Assignment, Pattern
from jinit._src.model.reinit import planned

__all__ = ["init_params"]


def init_params(
    target: PyTree,
    rules: Mapping[Pattern, Any],
    key: KeyArray,
    *,
    strict: bool = True,
    stacked: Sequence[Pattern] = (),
    axes: Mapping[str, Any] | None = None,
    out_shardings: PyTree = None,
) -> Any:
    """Initialize every parameter the rules match, compiling one draw per group.

    Same rules, keys, layouts and values as :func:`jinit.reinit`, bit for bit: XLA compiles
    one draw per group of parameters that share rule, layer arguments, shape and dtype, so
    compile time grows with the number of distinct groups, not of layers. Each parameter is
    one asynchronous call of its group's compiled draw (no stacking, no copy). Meant for
    ``jax.eval_shape`` trees, where nothing has been initialized yet.

    Args:
      target: a pytree whose leaves have ``shape`` and ``dtype`` (``jax.ShapeDtypeStruct`` from
        ``jax.eval_shape(model.init, ...)``, arrays, linen variables, an nnx ``State``, an
        Equinox module); an nnx ``Module`` is split, initialized and merged into a new module.
      rules: ``{pattern: rule value}``, as for :func:`jinit.reinit`.
      key: the base key; each parameter's key is ``jinit.path_key(key, path)``.
      strict: raise if a rule matches no parameter.
      stacked: patterns of parameters with a leading stack axis (see :func:`jinit.reinit`).
      axes: layouts for factory rules, as for :func:`jinit.reinit` (``jinit.trace_axes``).
      out_shardings: where each parameter lives: a tree of the structure of ``target`` (for an
        nnx Module: of its ``nnx.split`` state) whose leaves are
        ``jax.sharding.NamedSharding`` or ``None`` (e.g. ``NamedSharding(mesh, spec)`` over the
        specs of ``nn.get_partition_spec(abstract)``), or a function
        ``(path, shape) -> NamedSharding | None``. Without it (or where it says ``None``), a
        leaf that already has a ``NamedSharding`` keeps it. A sharded parameter is drawn with
        ``out_sharding`` inside the jit, so with ``jax_threefry_partitionable`` (JAX's default)
        each device computes only its own shard, and the values equal the unsharded ones bit
        for bit whatever the mesh. ``orthogonal``/``identity``/``dirac`` build the whole
        matrix, then place it: each device keeps only its shard, but computes it all.

    Returns:
      A tree of the same structure with every matched leaf a ``jax.Array``.

    Raises:
      TypeError, ValueError: as :func:`jinit.reinit`; and ``out_shardings`` of the wrong
        structure or with entries that are not ``NamedSharding``.

    Example:
      >>> import jax, jax.numpy as jnp, flax.linen as nn, jinit
      >>> model = nn.Sequential([nn.Dense(8), nn.relu, nn.Dense(8), nn.relu, nn.Dense(2)])
      >>> abstract = jax.eval_shape(model.init, jax.random.key(0), jnp.ones((1, 8)))
      >>> params = jinit.init_params(
      ...     abstract, {"*kernel": jinit.he_normal, "*bias": jinit.zeros}, jax.random.key(1))
      >>> params["params"]["layers_2"]["kernel"].shape
      (8, 8)
      >>> same = jinit.reinit(abstract, {"*kernel": jinit.he_normal, "*bias": jinit.zeros},
      ...                     jax.random.key(1))
      >>> bool(jnp.array_equal(params["params"]["layers_2"]["kernel"],
      ...                      same["params"]["layers_2"]["kernel"]))
      True
    """
    resolved, finish = planned(
        target, rules, strict=strict, stacked=stacked, axes=axes, owner="jinit.init_params"
    )
    leaves = list(resolved.leaves)
    matched = resolved.assignments
    given = _shardings(out_shardings, leaves, matched)
    shardings = [given.get(a.index) or leaf_sharding(leaves[a.index]) for a in matched]
    values = draw([a.group for a in matched], [a.path for a in matched], shardings, key)
    for a, value in zip(matched, values, strict=True):
        leaves[a.index] = value
    return finish(jax.tree_util.tree_unflatten(resolved.treedef, leaves))


def _shardings(
    out_shardings: PyTree, leaves: Sequence[Any], assignments: Sequence[Assignment]
) -> dict[int, jax.sharding.NamedSharding]:
    """``{leaf index: sharding}`` for the matched leaves that ``out_shardings`` places."""
    if out_shardings is None:
        return {}
    if callable(out_shardings):
        found = {a.index: out_shardings(a.path, a.shape) for a in assignments}
    else:
        entries = jax.tree_util.tree_leaves(
            out_shardings,
            is_leaf=lambda x: x is None or isinstance(x, jax.sharding.Sharding),
        )
        if len(entries) != len(leaves):
            raise ValueError(
                "jinit.init_params: out_shardings must have one entry (a Sharding or None) per "
                f"leaf of target: target has {len(leaves)} leaves, out_shardings {len(entries)}"
            )
        found = {a.index: entries[a.index] for a in assignments}
    for index, sharding in found.items():
        if sharding is not None and not isinstance(sharding, jax.sharding.NamedSharding):
            raise TypeError(
                "jinit.init_params: out_shardings entries must be jax.sharding.NamedSharding or "
                f"None, got {type(sharding).__name__} for leaf {index}"
            )
    return {i: s for i, s in found.items() if s is not None}
