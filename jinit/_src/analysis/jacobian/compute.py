r"""The compiled parts of :func:`jinit.jacobian_spectrum`: exact SVD and Rademacher probes."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from jinit._src.core.types import KeyArray

__all__ = ["compiled", "exact", "exact_cached", "flat", "randomized", "randomized_cached"]


# ----------------------------------------------------------------------------- the jitted parts


def flat(f: Callable[..., Any], params: Any, shape: tuple[int, ...], batched: bool) -> Any:
    """One example's map, flattened: ``R^n -> R^m`` (a batch of one when ``batched``)."""

    def g(z: jax.Array) -> jax.Array:
        example = z.reshape(shape)
        return jnp.ravel(f(params, example[None] if batched else example)).astype(z.dtype)

    return g


def exact(f: Any, batched: bool, params: Any, x: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Per example the singular values of J, descending, and whether J is finite."""

    def one(example: jax.Array) -> tuple[jax.Array, jax.Array]:
        g = flat(f, params, example.shape, batched)
        z = example.ravel()
        m = jax.eval_shape(g, z).size
        jac = (jax.jacfwd if z.size <= m else jax.jacrev)(g)(z)
        return jnp.linalg.svd(jac, compute_uv=False), jnp.isfinite(jac).all()

    return jax.vmap(one)(x) if batched else jax.tree.map(lambda a: a[None], one(x))


def randomized(
    f: Any, batched: bool, probes: int, params: Any, x: jax.Array, key: KeyArray
) -> jax.Array:
    """``(examples, probes, 4)``: peak and scaled square sum of :math:`Jv` and :math:`J^TJv`."""

    def norm2(u: jax.Array) -> jax.Array:  # ‖u‖² as (peak, sum((u/peak)²)): no overflow
        peak = jnp.max(jnp.abs(u), initial=0.0)
        safe = jnp.where(peak > 0, peak, 1.0)
        return jnp.stack([peak, jnp.sum((u / safe) ** 2)])

    def one(example: jax.Array, k: KeyArray) -> jax.Array:
        z = example.ravel()
        _, lin = jax.linearize(flat(f, params, example.shape, batched), z)
        transpose = jax.linear_transpose(lin, z)
        v = jax.random.rademacher(k, (probes, z.size), z.dtype)
        jv = jax.vmap(lin)(v)
        (jtjv,) = jax.vmap(transpose)(jv)
        return jnp.concatenate([jax.vmap(norm2)(jv), jax.vmap(norm2)(jtjv)], axis=1)

    if batched:
        return jax.vmap(one)(x, jax.random.split(key, x.shape[0]))
    return one(x, key)[None]


exact_cached = jax.jit(exact, static_argnums=(0, 1))
randomized_cached = jax.jit(randomized, static_argnums=(0, 1, 2))


def compiled(cached: Any, plain: Callable[..., Any], *static: Any) -> Callable[..., Any]:
    """The cached jit keyed on ``static`` (the function included), or a one-off jit."""
    try:
        hash(static)
    except TypeError:  # an unhashable function: compile for this call only
        return jax.jit(functools.partial(plain, *static))
    return functools.partial(cached, *static)
