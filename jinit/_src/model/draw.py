r"""Drawing the parameters of a plan: one cached, compiled draw per group, one call per parameter.

:func:`jinit.reinit` and :func:`jinit.init_params` both draw through :func:`draw`, so they give
the same values bit for bit for every initializer (the values of ``jax.jit(init)(path_key(key,
path), shape, dtype)``; XLA may reassociate a scaling inside a jitted draw, so an eager call of
a normal-family initializer can differ from it in the last bit).

Parameters that share rule, layer arguments, shape, dtype and placement form a *group*, and
XLA compiles one draw per group, however many layers share it: a 96-layer MLP has three groups
of kernels (input, hidden, read-out) plus the biases, not 194 parameters. The compiled draws are
cached, so a second model with the same layers compiles nothing. Each parameter is one
asynchronous call of its group's draw: no stacking, no copy, no more memory than the parameters
themselves (why not one batched call per group: see :func:`_group_fn`). The path keys are folded
in on device from the same two 32-bit words :func:`jinit.path_key` uses, so the values equal
leaf-by-leaf initialization for every key implementation.

A parameter with a ``NamedSharding`` is drawn with ``out_sharding`` inside the jit, inside its
mesh: with ``jax_threefry_partitionable`` (JAX's default) each device computes only its own
shard, and the values equal the unsharded ones bit for bit.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Sequence
from typing import Any, cast

import jax
import numpy as np

from jinit._src.core.types import Initializer, KeyArray
from jinit._src.model.paths import path_words

__all__ = ["draw", "leaf_sharding", "rebuild"]


def _fold(key: KeyArray, words: jax.Array) -> KeyArray:
    """``path_key`` on device: fold in the path's two digest words."""
    return jax.random.fold_in(jax.random.fold_in(key, words[0]), words[1])


def _one(
    init: Initializer,
    shape: tuple[int, ...],
    dtype: np.dtype,
    sharding: jax.sharding.NamedSharding | None,
    key: KeyArray,
    words: jax.Array,
) -> jax.Array:
    if sharding is None:
        return init(_fold(key, words), shape, dtype)
    return init(_fold(key, words), shape, dtype, out_sharding=sharding)


def rebuild(group: tuple[Any, ...]) -> Initializer:
    """The initializer a group stands for, rebuilt from the rule value and its arguments."""
    rule_value, kind, arguments = group[0], group[1], group[2]
    if kind == "axes":
        return cast(Initializer, rule_value(**dict(arguments)))
    if kind == "fan_in" and len(arguments) == 2:
        return cast(Initializer, rule_value(fan_in=arguments[0], kernel_role=arguments[1]))
    if kind == "fan_in":
        return cast(Initializer, rule_value(fan_in=arguments[0]))
    if kind == "explicit":
        return cast(Initializer, rule_value())
    return cast(Initializer, rule_value)


@functools.lru_cache(maxsize=512)
def _group_fn(
    group: tuple[Any, ...], sharding: jax.sharding.NamedSharding | None
) -> Callable[[KeyArray, np.ndarray], jax.Array]:
    """The compiled draw of one group, ``fn(key, words[2]) -> parameter``, cached by signature.

    Called once per parameter of the group. Why not one batched call per group? Both ways of
    batching were measured slower end to end on a 96 x Dense(1024) model (2-core CPU):

    - ``jax.vmap`` of the draw over the group's keys makes it a draw of rank 3, which XLA's CPU
      compiler takes seconds over (:mod:`jinit._src.core.sampling`), and the stacked result must
      then be split into parameters: a copy of every byte and twice the peak memory. First
      call 6.6 s against 1.9 s for calls per parameter.
    - ``jax.lax.map`` compiles like one draw, but splitting its stacked output into 97
      parameters compiled for 1.1 s, while 97 calls of a compiled draw of zeros take 2 ms.

    A call costs ~20 us of dispatch and returns at once (JAX dispatches asynchronously), so the
    draws of a group run back to back on the device.
    """
    init, shape, dtype = rebuild(group), group[3], np.dtype(group[4])
    return jax.jit(functools.partial(_one, init, shape, dtype, sharding))


def leaf_sharding(leaf: Any) -> jax.sharding.NamedSharding | None:
    """The ``NamedSharding`` of an array or ``ShapeDtypeStruct`` leaf, or None."""
    try:
        sharding = getattr(leaf, "sharding", None)
    except Exception:  # a tracer without a concrete sharding
        return None
    return sharding if isinstance(sharding, jax.sharding.NamedSharding) else None


def draw(
    groups: Sequence[tuple[Any, ...]],
    paths: Sequence[str],
    shardings: Sequence[jax.sharding.NamedSharding | None],
    key: KeyArray,
) -> list[jax.Array]:
    """Each parameter ``i``: group ``groups[i]`` drawn at ``path_key(key, paths[i])``.

    Args:
      groups: per parameter, its hashable group (rule value, kind, arguments, shape, dtype).
      paths: per parameter, its path string.
      shardings: per parameter, the ``NamedSharding`` to draw it with, or None.
      key: the base key.

    Returns:
      The parameters, in the order given.
    """
    out = []
    for group, path, sharding in zip(groups, paths, shardings, strict=True):
        try:
            fn = _group_fn(group, sharding)
        except TypeError:  # an unhashable rule value: compile for this call only
            fn = _group_fn.__wrapped__(group, sharding)
        words = np.array(path_words(path), np.uint32)
        mesh = getattr(sharding, "mesh", None) if sharding is not None else None
        context: Any = (
            jax.set_mesh(mesh) if isinstance(mesh, jax.sharding.Mesh) else contextlib.nullcontext()
        )
        with context:  # explicit out_sharding needs its mesh in context
            out.append(fn(key, words))
    return out
