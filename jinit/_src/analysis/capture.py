"""Capturing the outputs of Flax modules, and the order in which a traced program computes them.

Both data-dependent tools -- :func:`jinit.lsuv` (which rescales each layer on its output) and
:func:`jinit.diagnose` (which measures each layer's activations) -- apply a model while
recording what its modules return: linen with ``Module.apply(..., capture_intermediates=True)``,
nnx with ``nnx.capture(module, ..., method_outputs=...)``. Either way the result is a tree of
*intermediates* in which a module's return values sit under a ``__call__`` key below the
module's path (``Dense_0/__call__/0``, nnx ``layers/0/__call__/value/0``) and the values the
model ``sow``-s sit under their own names (``h/0``). This module splits such a tree into the
two kinds (:func:`captured`, :func:`module_outputs`), with key paths turned into plain names
(:func:`key_parts`).

Names do not tell the order in which layers run (``Dense_10`` sorts before ``Dense_9``, and a
module's attributes may be declared in any order), so the order is read from the traced
program instead: :func:`outvar_positions` gives, for each output of a ``jax.make_jaxpr``
trace, the position of the equation that computes it. A position is a tuple: the index of the
top-level equation, refined by the position inside the nested jaxpr of that equation when it
has one (``jit``, ``remat``, ``custom_jvp``), so that layers computed inside one jitted or
rematerialized call are ordered among themselves too. Tuples compare lexicographically, so
outputs of different top-level equations keep the order of those equations.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Generic, Literal, NamedTuple, TypeVar

import jax
from jax.extend.core import ClosedJaxpr, Jaxpr, JaxprEqn, Var

from jinit._src.core.types import PyTree
from jinit._src.model.paths import key_name

if TYPE_CHECKING:
    from flax import nnx

__all__ = [
    "CALL",
    "Captured",
    "captured",
    "execution_order",
    "key_parts",
    "module_outputs",
    "output_type",
    "outvar_positions",
    "producer",
]

#: The key under which linen and nnx store a module's return values in the intermediates.
CALL = "__call__"

#: The payload of a :class:`Captured` entry: the array, or a stand-in such as its shape.
T = TypeVar("T")


class Captured(NamedTuple, Generic[T]):
    """One captured value.

    Attributes:
      kind: ``"module"`` for a module's return value, ``"sown"`` for a value the model sows.
      module: the path of the module that returned it (``Block_0/Dense_1``; ``""`` for the
        top-level module, and for every sown value).
      parts: for a module output, its place among the return values (call index, then the
        path inside the returned pytree: ``("0",)``); for a sown value, its full name
        (``("h", "0")``).
      value: the captured array (or a stand-in for it, such as its shape and dtype).
    """

    kind: Literal["module", "sown"]
    module: str
    parts: tuple[str, ...]
    value: T


def key_parts(path: Sequence[Any]) -> tuple[str, ...]:
    """A JAX key path as names, without nnx's ``.value`` attribute.

    Args:
      path: a key path from ``jax.tree_util.tree_flatten_with_path`` (``DictKey``,
        ``GetAttrKey``, ``SequenceKey``...).

    Returns:
      One string per entry; every ``GetAttrKey("value")`` (the payload of an
      ``nnx.Variable``) is left out.

    Example:
      >>> leaves = jax.tree_util.tree_flatten_with_path({"layers": [{"kernel": 1}]})[0]
      >>> key_parts(leaves[0][0])
      ('layers', '0', 'kernel')
    """
    return tuple(
        key_name(entry)
        for entry in path
        if not (isinstance(entry, jax.tree_util.GetAttrKey) and entry.name == "value")
    )


def captured(tree: PyTree, *, sown_only: bool = False) -> list[Captured[jax.Array]]:
    """Split an intermediates tree into module outputs (under ``__call__``) and sown values.

    Args:
      tree: the ``intermediates`` collection of a linen ``apply`` with
        ``capture_intermediates=True``, or a state returned by ``nnx.capture``.
      sown_only: leave out the module outputs (for a tree that should hold sown values only).

    Returns:
      One :class:`Captured` per leaf of ``tree``, in the tree's flattening order (by name, not
      by execution).

    Example:
      >>> import jax.numpy as jnp
      >>> tree = {"Dense_0": {"__call__": (jnp.zeros(2),)}, "h": (jnp.ones(3),)}
      >>> [(c.kind, c.module, c.parts, c.value.shape) for c in captured(tree)]
      [('module', 'Dense_0', ('0',), (2,)), ('sown', '', ('h', '0'), (3,))]
    """
    found: list[Captured[jax.Array]] = []
    for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
        parts = key_parts(path)
        if CALL in parts:
            if not sown_only:
                i = parts.index(CALL)
                found.append(Captured("module", "/".join(parts[:i]), parts[i + 1 :], leaf))
        else:
            found.append(Captured("sown", "", parts, leaf))
    return found


def module_outputs(tree: PyTree) -> dict[str, list[jax.Array]]:
    """The captured module outputs of ``tree``, grouped by module path.

    Args:
      tree: an intermediates tree, as for :func:`captured`.

    Returns:
      ``{module path: its output arrays}`` (``Dense_0``, ``layers/0``, ``""`` for the top-level
      module); sown values are left out.

    Example:
      >>> import jax.numpy as jnp
      >>> tree = {"Dense_0": {"__call__": (jnp.zeros(2),)}, "h": (jnp.ones(3),)}
      >>> {module: len(arrays) for module, arrays in module_outputs(tree).items()}
      {'Dense_0': 1}
    """
    grouped: dict[str, list[jax.Array]] = {}
    for entry in captured(tree):
        if entry.kind == "module":
            grouped.setdefault(entry.module, []).append(entry.value)
    return grouped


@functools.cache
def output_type() -> type[nnx.Variable[Any]]:
    """The ``nnx.Variable`` type to capture nnx module outputs as (``method_outputs=``).

    Not ``nnx.Intermediate``: ``nnx.capture``'s filters match subclasses, and the module
    outputs must stay apart from the values the model sows.
    """
    from flax import nnx

    class LayerOutput(nnx.Variable[Any]):
        """nnx module outputs captured by jinit (``jinit.diagnose``)."""

    return LayerOutput


def _nested(eqn: JaxprEqn) -> Jaxpr | None:
    """The jaxpr an equation calls (``jit``, ``remat``...) when its outputs are that jaxpr's."""
    for param in eqn.params.values():
        inner = param.jaxpr if isinstance(param, ClosedJaxpr) else param
        if isinstance(inner, Jaxpr) and len(inner.outvars) == len(eqn.outvars):
            return inner
    return None


def producer(jaxpr: Jaxpr, var: object) -> tuple[int, ...]:
    """Position of the equation computing ``var``, refined inside nested jaxprs (jit, remat).

    Args:
      jaxpr: the program.
      var: one of its variables (or a literal).

    Returns:
      ``(index of the equation that computes var, *its position inside that equation's nested
      jaxpr)``; ``(-1,)`` for a literal, or a variable no equation computes (an input).

    Example:
      >>> import jax.numpy as jnp
      >>> def f(x):
      ...     y = jnp.sin(x)
      ...     return jax.jit(lambda v: (jnp.cos(v), jnp.exp(v)))(y)
      >>> jaxpr = jax.make_jaxpr(f)(1.0).jaxpr
      >>> [producer(jaxpr, v) for v in jaxpr.outvars]
      [(1, 0), (1, 1)]
    """
    return _positions(jaxpr, [var])[0]


def outvar_positions(closed: ClosedJaxpr) -> list[tuple[int, ...]]:
    """The :func:`producer` position of each output of ``closed``, in the outputs' order.

    Each jaxpr involved is scanned once, however many outputs are asked for (calling
    :func:`producer` per output would scan the program once per output).

    Args:
      closed: a traced program, as returned by ``jax.make_jaxpr``.

    Returns:
      One position tuple per ``closed.jaxpr.outvars`` entry; sorting by them orders the outputs
      by when the program computes them.

    Example:
      >>> import jax.numpy as jnp
      >>> def f(x):
      ...     first = jnp.sin(x)
      ...     return {"a": jnp.cos(first), "b": first}  # "a" is computed second
      >>> outvar_positions(jax.make_jaxpr(f)(1.0))  # outputs flatten as a, b
      [(1,), (0,)]
    """
    return _positions(closed.jaxpr, closed.jaxpr.outvars)


def _positions(jaxpr: Jaxpr, targets: Sequence[object]) -> list[tuple[int, ...]]:
    """:func:`producer` for several variables, refining each nested jaxpr once for all."""
    where: dict[int, tuple[int, int]] = {}
    for index, eqn in enumerate(jaxpr.eqns):
        for slot, out in enumerate(eqn.outvars):
            where.setdefault(id(out), (index, slot))
    positions: list[tuple[int, ...]] = [(-1,)] * len(targets)
    asked: dict[int, list[tuple[int, int]]] = {}  # equation index -> [(target, output slot)]
    for number, target in enumerate(targets):
        hit = where.get(id(target)) if isinstance(target, Var) else None
        if hit is not None:
            asked.setdefault(hit[0], []).append((number, hit[1]))
    for index, wanted in asked.items():
        inner = _nested(jaxpr.eqns[index])
        if inner is None:
            for number, _ in wanted:
                positions[number] = (index,)
            continue
        refined = _positions(inner, [inner.outvars[slot] for _, slot in wanted])
        for (number, _), rest in zip(wanted, refined, strict=True):
            positions[number] = (index, *rest)
    return positions


def execution_order(fn: Callable[..., Mapping[str, Any]], *args: Any) -> list[str]:
    """The keys of the mapping ``fn(*args)`` returns, in the order ``fn`` computes their values.

    ``fn`` is traced once (``jax.make_jaxpr``, nothing is computed); a key whose value is a
    pytree of several arrays takes the place of its earliest one. Keys computed at the same
    position (outputs of one equation, inputs passed through) keep the mapping's flattening
    order.

    Args:
      fn: a jittable function returning a mapping ``{name: array or pytree of arrays}``.
      *args: its arguments (arrays or ``jax.ShapeDtypeStruct``).

    Returns:
      The keys, as strings, earliest computed first.

    Example:
      >>> import jax.numpy as jnp
      >>> def layers(x):
      ...     h = jnp.tanh(x)
      ...     return {"Dense_10": jnp.sin(h), "Dense_9": h}
      >>> execution_order(layers, jnp.ones(3))
      ['Dense_9', 'Dense_10']
    """
    closed, shapes = jax.make_jaxpr(fn, return_shape=True)(*args)
    first: dict[str, tuple[int, ...]] = {}
    out_paths = jax.tree_util.tree_flatten_with_path(shapes)[0]
    for (path, _), position in zip(out_paths, outvar_positions(closed), strict=True):
        name = str(path[0].key)  # a DictKey of the returned mapping
        first[name] = min(first.get(name, position), position)
    return sorted(first, key=lambda name: first[name])  # stable: ties keep flattening order
