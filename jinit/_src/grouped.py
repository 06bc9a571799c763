r"""Grouped initialization of a whole parameter tree: one compiled call, one vmap per group.

``init_params(target, rules, key)`` gives exactly the values of :func:`jinit.reinit` -- each
matched parameter is ``init(path_key(key, path), shape, dtype)`` -- but computes them
differently. Parameters that share rule, layer arguments, shape and dtype form a *group*; each
group is one ``jax.vmap`` of its initializer over the group's path-derived keys, and all groups
are traced into a single ``jax.jit``. XLA therefore compiles one computation per distinct
(initializer, shape, dtype), however many layers share it: a 96-layer MLP has three groups
(input, hidden and read-out kernels) plus the biases, not 192 parameters.

The values equal leaf-by-leaf initialization bit for bit, because under ``vmap`` a threefry
draw equals the loop of draws (the contract every jinit initializer is tested for), and the path
keys are folded in on device from the same two 32-bit words :func:`jinit.path_key` uses.
``rbg``/``unsafe_rbg`` keys are the exception JAX makes for every vmapped draw: correctly
distributed, not loop-identical.

Typical use, building a Flax model's parameters from shapes alone (nothing is materialized
twice)::

    abstract = jax.eval_shape(model.init, jax.random.key(0), x)
    variables = jinit.init_params(abstract, {"*kernel": jinit.he_normal, "*bias": jinit.zeros},
                                  jax.random.key(1))

Leaves no rule matches are returned as they are (a ``jax.ShapeDtypeStruct`` stays one), so
``strict`` coverage is worth keeping on.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast

import jax
import jax.numpy as jnp
import numpy as np

from jinit._src.base import Initializer, KeyArray
from jinit._src.paths import path_words
from jinit._src.reinit import Assignment, plan

__all__ = ["init_params"]

Pattern = str | re.Pattern[str]


def _fold(key: KeyArray, words: jax.Array) -> KeyArray:
    """``path_key`` on device: fold in the path's two digest words."""
    return jax.random.fold_in(jax.random.fold_in(key, words[0]), words[1])


def _one(
    init: Initializer, shape: tuple[int, ...], dtype: np.dtype, key: KeyArray, words: jax.Array
) -> jax.Array:
    return init(_fold(key, words), shape, dtype)


def _groups(assignments: Sequence[Assignment]) -> list[list[Assignment]]:
    grouped: dict[tuple[Any, ...], list[Assignment]] = {}
    for a in assignments:
        grouped.setdefault(a.group, []).append(a)
    return list(grouped.values())


def _initializer(group: tuple[Any, ...]) -> Initializer:
    """The initializer a group stands for, rebuilt from the rule value and its arguments."""
    rule_value, kind, arguments, _, _ = group
    if kind == "axes":
        return cast(Initializer, rule_value(**dict(arguments)))
    if kind == "fan_in":
        return cast(Initializer, rule_value(fan_in=arguments[0]))
    return cast(Initializer, rule_value)


@functools.lru_cache(maxsize=64)
def _builder(signature: tuple[tuple[Any, ...], ...]) -> Callable[..., list[list[jax.Array]]]:
    """One jitted function for a tree's groups, cached by the groups' signature.

    Each group's values come from one vmapped draw, stacked on a new leading axis; a second jit
    splits them into the parameters (a copy, kept out of the draw so XLA does not fuse the RNG
    computation into every slice, which multiplies compile time).
    """
    draws = []
    for group in signature:
        init, shape, dtype = _initializer(group), group[3], np.dtype(group[4])

        draws.append(jax.vmap(functools.partial(_one, init, shape, dtype), in_axes=(None, 0)))

    @jax.jit
    def draw(key: KeyArray, words: list[jax.Array]) -> list[jax.Array]:
        return [d(key, w) for d, w in zip(draws, words, strict=True)]

    @jax.jit
    def split(stacked: list[jax.Array]) -> list[list[jax.Array]]:
        return [[s[i] for i in range(s.shape[0])] for s in stacked]

    return lambda key, words: split(draw(key, words))


def init_params(
    target: Any,
    rules: Mapping[Pattern, Initializer | Callable[..., Initializer]],
    key: KeyArray,
    *,
    strict: bool = True,
    stacked: Sequence[Pattern] = (),
    out_shardings: Any = None,
) -> Any:
    """Initialize every parameter the rules match, grouped into one compiled call.

    Same rules, keys, fans and values as :func:`jinit.reinit` (bit for bit with threefry keys),
    but one ``jax.jit`` for the whole tree with one ``vmap`` per group of parameters that share
    rule, layer arguments, shape and dtype: compile time grows with the number of distinct
    groups, not of layers. Meant for ``jax.eval_shape`` trees, where nothing has been
    initialized yet.

    Args:
      target: a pytree whose leaves have ``shape`` and ``dtype`` (``jax.ShapeDtypeStruct`` from
        ``jax.eval_shape(model.init, ...)``, arrays, linen variables, an nnx ``State``); an nnx
        ``Module`` is split, initialized and merged into a new module.
      rules: ``{pattern: initializer or factory}``, as for :func:`jinit.reinit`.
      key: the base key; each parameter's key is ``jinit.path_key(key, path)``.
      strict: raise if a rule matches no parameter.
      stacked: patterns of parameters with a leading stack axis (see :func:`jinit.reinit`).
      out_shardings: where each parameter lives: a tree of the structure of ``target`` whose
        leaves are ``jax.sharding.NamedSharding`` or ``None`` (e.g. ``NamedSharding(mesh, spec)``
        over the specs of ``nn.get_partition_spec(abstract)``), or a function
        ``(path, shape) -> NamedSharding | None``. A sharded parameter is drawn with
        ``out_sharding`` inside the jit, so with ``jax_threefry_partitionable`` (JAX's default)
        each device computes only its own shard, and the values equal the unsharded ones bit
        for bit whatever the mesh. Sharded parameters are drawn one by one (not vmapped) so the
        sharding reaches the random-bit generator. ``orthogonal``/``identity``/``dirac`` build
        the whole matrix, then place it: each device keeps only its shard, but computes it all.

    Returns:
      A tree of the same structure with every matched leaf a ``jax.Array``.

    Raises:
      TypeError, ValueError: as :func:`jinit.reinit`.

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
    from flax import nnx  # a dependency; imported here to keep `import jinit` light

    if isinstance(target, nnx.Module):
        graphdef, state = nnx.split(target)
        new_state = init_params(state, rules, key, strict=strict, stacked=stacked)
        return nnx.merge(graphdef, new_state)

    resolved = plan(target, rules, strict=strict, stacked=stacked, owner="jinit.init_params")
    shardings = _shardings(out_shardings, target, resolved.assignments)
    new_leaves = list(resolved.leaves)
    plain = [a for a in resolved.assignments if shardings.get(a.index) is None]
    placed = [a for a in resolved.assignments if shardings.get(a.index) is not None]
    if plain:
        groups = _groups(plain)
        words = [
            jnp.asarray(np.array([path_words(a.path) for a in members], np.uint32))
            for members in groups
        ]
        signature = tuple(members[0].group for members in groups)
        try:
            build = _builder(signature)
        except TypeError:  # an unhashable rule value: build for this call only
            build = _builder.__wrapped__(signature)
        for members, arrays in zip(groups, build(key, words), strict=True):
            for a, array in zip(members, arrays, strict=True):
                new_leaves[a.index] = array
    if placed:
        for a, array in zip(placed, _draw_sharded(placed, shardings, key), strict=True):
            new_leaves[a.index] = array
    return jax.tree_util.tree_unflatten(resolved.treedef, new_leaves)


def _shardings(
    out_shardings: Any, target: Any, assignments: Sequence[Assignment]
) -> dict[int, jax.sharding.NamedSharding]:
    """``{leaf index: sharding}`` for the matched leaves that have one."""
    if out_shardings is None:
        return {}
    if callable(out_shardings):
        found = {a.index: out_shardings(a.path, a.shape) for a in assignments}
    else:
        leaves = jax.tree_util.tree_leaves(
            out_shardings,
            is_leaf=lambda x: x is None or isinstance(x, jax.sharding.Sharding),
        )
        n_target = len(jax.tree_util.tree_leaves(target))
        if len(leaves) != n_target:
            raise ValueError(
                "jinit.init_params: out_shardings must have one entry (a Sharding or None) per "
                f"leaf of target: target has {n_target} leaves, out_shardings {len(leaves)}"
            )
        found = {a.index: leaves[a.index] for a in assignments}
    for index, sharding in found.items():
        if sharding is not None and not isinstance(sharding, jax.sharding.NamedSharding):
            raise TypeError(
                "jinit.init_params: out_shardings entries must be jax.sharding.NamedSharding or "
                f"None, got {type(sharding).__name__} for leaf {index}"
            )
    return {i: s for i, s in found.items() if s is not None}


def _draw_sharded(
    placed: Sequence[Assignment],
    shardings: Mapping[int, jax.sharding.NamedSharding],
    key: KeyArray,
) -> list[jax.Array]:
    """Draw each sharded parameter with ``out_sharding`` in one jit (inside its mesh)."""
    words = jnp.asarray(np.array([path_words(a.path) for a in placed], np.uint32))
    targets = [shardings[a.index] for a in placed]

    @jax.jit
    def draw(key: KeyArray, words: jax.Array) -> list[jax.Array]:
        return [
            a.initializer(_fold(key, words[i]), a.shape, a.dtype, out_sharding=sharding)
            for i, (a, sharding) in enumerate(zip(placed, targets, strict=True))
        ]

    meshes = {
        s.mesh
        for s in targets
        if isinstance(s, jax.sharding.NamedSharding) and isinstance(s.mesh, jax.sharding.Mesh)
    }
    if len(meshes) == 1:
        with jax.set_mesh(meshes.pop()):  # explicit out_sharding needs its mesh in context
            return list(draw(key, words))
    return list(draw(key, words))
