"""A model's forward pass as one abstract program over its parameter leaves.

:func:`trace_program` turns ``fn(params, *args, **kwargs)`` -- a linen ``apply`` with its
variables, an nnx Module (split into graph and state), an Equinox module, or any function of a
parameter pytree -- into a ``jax.make_jaxpr`` program whose first inputs are the parameter
leaves, in the order and with the path strings :func:`jinit.reinit` uses, followed by the data.
Only shapes and dtypes are used (every array becomes a ``jax.ShapeDtypeStruct``): tracing runs
no computation. Leaves that are not arrays (an Equinox module's activation function, a Python
float) are held fixed, as ``equinox.filter_jit`` does.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import jax
from jax.extend.core import ClosedJaxpr

from jinit._src.core.optional import loaded
from jinit._src.core.types import PyTree
from jinit._src.model.paths import path_string

__all__ = ["Program", "is_array", "trace_program"]


def is_array(leaf: object) -> bool:
    """Whether a pytree leaf is an array (or an abstract one) rather than a fixed value."""
    if isinstance(leaf, numbers.Number | bool | str | bytes) or leaf is None:
        return False
    return hasattr(leaf, "shape") and hasattr(leaf, "dtype")


@dataclass(frozen=True)
class Program:
    """The traced program and what its inputs are.

    Attributes:
      closed: the program; its inputs are the parameter leaves, then the data leaves.
      paths: path string of each parameter leaf (as :func:`jinit.reinit` names it).
      shapes: shape of each parameter leaf.
      n_params: the number of parameter inputs.
      output: ``ShapeDtypeStruct`` tree of what ``fn`` returns.
    """

    closed: ClosedJaxpr
    paths: tuple[str, ...]
    shapes: tuple[tuple[int, ...], ...]
    n_params: int
    output: Any


def _abstract(leaf: Any) -> jax.ShapeDtypeStruct:
    return jax.ShapeDtypeStruct(tuple(leaf.shape), leaf.dtype)  # type: ignore[no-untyped-call]


def split_model(fn: Callable[..., Any], params: PyTree) -> tuple[Callable[..., Any], Any]:
    """``(function of a parameter pytree, that pytree)``: nnx Modules are split, linen unwrapped."""
    linen, nnx = loaded("flax.linen"), loaded("flax.nnx")  # Flax objects mean Flax is imported
    if linen is not None and isinstance(fn, linen.Module):
        fn = fn.apply
    if nnx is not None and isinstance(params, nnx.Module):
        graphdef: Any
        graphdef, state = nnx.split(params)
        call = fn

        def merged(state: PyTree, *args: Any, **kwargs: Any) -> Any:
            return call(nnx.merge(graphdef, state), *args, **kwargs)

        return merged, state
    return fn, params


def trace_program(
    fn: Callable[..., Any],
    params: PyTree,
    args: tuple[Any, ...],
    kwargs: Mapping[str, Any],
    *,
    owner: str,
) -> Program:
    """Trace ``fn(params, *args, **kwargs)`` abstractly; see the module docstring.

    Args:
      fn: the function (or a linen Module, whose ``apply`` is used).
      params: the parameters: linen variables, an nnx Module, an Equinox module, any pytree.
      args: the data arguments (arrays or ``ShapeDtypeStruct``s; other leaves are fixed).
      kwargs: keyword arguments, passed as they are (``train=False``).
      owner: the public function asking, for messages.

    Raises:
      TypeError: ``fn`` is not callable.
    """
    if not callable(fn):
        raise TypeError(f"{owner}: fn must be callable, got {type(fn).__name__}")
    call, tree = split_model(fn, params)
    flat, treedef = jax.tree_util.tree_flatten_with_path(tree)
    leaves = [leaf for _, leaf in flat]
    dynamic = [i for i, leaf in enumerate(leaves) if is_array(leaf)]
    arg_leaves, arg_def = jax.tree_util.tree_flatten(args)
    arg_dynamic = [i for i, leaf in enumerate(arg_leaves) if is_array(leaf)]

    def program(param_values: list[Any], data_values: list[Any]) -> Any:
        full = list(leaves)
        for i, value in zip(dynamic, param_values, strict=True):
            full[i] = value
        data = list(arg_leaves)
        for i, value in zip(arg_dynamic, data_values, strict=True):
            data[i] = value
        return call(
            jax.tree_util.tree_unflatten(treedef, full),
            *jax.tree_util.tree_unflatten(arg_def, data),
            **kwargs,
        )

    abstract_params = [_abstract(leaves[i]) for i in dynamic]
    abstract_data = [_abstract(arg_leaves[i]) for i in arg_dynamic]
    try:
        closed, output = jax.make_jaxpr(program, return_shape=True)(abstract_params, abstract_data)
    except Exception as error:
        error.add_note(f"{owner}: raised while tracing fn(params, *args) abstractly")
        raise
    return Program(
        closed=closed,
        paths=tuple(path_string(flat[i][0]) for i in dynamic),
        shapes=tuple(tuple(leaves[i].shape) for i in dynamic),
        n_params=len(dynamic),
        output=output,
    )
