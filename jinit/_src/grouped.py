r"""Grouped initialization of a whole parameter tree: one compiled draw per group.

``init_params(target, rules, key)`` gives exactly the values of :func:`jinit.reinit` -- each
matched parameter is ``init(path_key(key, path), shape, dtype)`` -- but computes them
differently. Parameters that share rule, layer arguments, shape and dtype form a *group*, and
XLA compiles one draw per group, however many layers share it: a 96-layer MLP has three groups
of kernels (input, hidden, read-out) plus the biases, not 194 parameters. The compiled draws
are cached, so a second model with the same layers compiles nothing.

Each parameter is one asynchronous call of its group's compiled draw: no stacking, no copy, no
more memory than the parameters themselves (why not one batched call per group: see
:func:`_group_fn`). Each value is its initializer at its own path key, so it equals
leaf-by-leaf initialization bit for bit for every key implementation: the path keys are folded
in on device from the same two 32-bit words :func:`jinit.path_key` uses.

Measured (``benchmarks/model_init.py``, 2-core CPU): a 96 x Dense(1024) linen model is
initialized end to end -- ``jax.eval_shape`` plus ``init_params`` -- several times faster than
the first call of ``jax.jit(model.init)``, which compiles all 194 draws one by one.

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


@functools.lru_cache(maxsize=256)
def _group_fn(group: tuple[Any, ...]) -> Callable[[KeyArray, np.ndarray], jax.Array]:
    """The compiled draw of one group, ``fn(key, words[2]) -> parameter``, cached by signature.

    Called once per parameter of the group. Why not one batched call per group? Both ways of
    batching were measured slower end to end on a 96 x Dense(1024) model (2-core CPU):

    - ``jax.vmap`` of the draw over the group's keys makes it a draw of rank 3, which XLA's CPU
      compiler takes seconds over (:mod:`jinit._src.sampling`), and the stacked result must
      then be split into parameters: a copy of every byte and twice the peak memory. First
      call 6.6 s against 1.9 s for calls per parameter.
    - ``jax.lax.map`` compiles like one draw, but splitting its stacked output into 97
      parameters compiled for 1.1 s, while 97 calls of a compiled draw of zeros take 2 ms.

    A call costs ~20 us of dispatch and returns at once (JAX dispatches asynchronously), so the
    draws of a group run back to back on the device.
    """
    init, shape, dtype = _initializer(group), group[3], np.dtype(group[4])
    return jax.jit(functools.partial(_one, init, shape, dtype))


def _draw_group(group: tuple[Any, ...], key: KeyArray, words: np.ndarray) -> list[jax.Array]:
    """Every parameter of one group, in order, from its ``(n, 2)`` path words."""
    try:
        fn = _group_fn(group)
    except TypeError:  # an unhashable rule value: compile for this call only
        fn = _group_fn.__wrapped__(group)
    return [fn(key, w) for w in words]


def init_params(
    target: Any,
    rules: Mapping[Pattern, Initializer | Callable[..., Initializer]],
    key: KeyArray,
    *,
    strict: bool = True,
    stacked: Sequence[Pattern] = (),
    out_shardings: Any = None,
) -> Any:
    """Initialize every parameter the rules match, compiling one draw per group.

    Same rules, keys, fans and values as :func:`jinit.reinit`, bit for bit, but XLA compiles
    one draw per group of parameters that share rule, layer arguments, shape and dtype:
    compile time grows with the number of distinct groups, not of layers. Each parameter is
    one asynchronous call of its group's compiled draw (no stacking, no copy). Meant for
    ``jax.eval_shape`` trees, where nothing has been initialized yet.

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
    for members in _groups(plain):
        words = np.array([path_words(a.path) for a in members], np.uint32)
        for a, array in zip(members, _draw_group(members[0].group, key, words), strict=True):
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
