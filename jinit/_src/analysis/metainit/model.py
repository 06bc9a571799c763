"""How :func:`jinit.metainit` applies each kind of model and which of its arrays it differentiates.

:func:`setup` reads ``metainit``'s ``model`` and ``variables`` into a :class:`Setup`: the flat
leaves of the tree that is returned (the linen variables, or the params of a function), their
path strings (:func:`jinit.path_string`, as :func:`jinit.reinit` and :func:`jinit.lsuv` name
them), which leaves are *trainable* (they enter the gradient quotient: every real floating
array of a linen ``params`` collection, or of a function's params), and the model call
``apply(tree, inputs)``. Other leaves (``batch_stats``, integer arrays, an Equinox module's
functions and flags) are held fixed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp

from jinit._src.core.errors import JinitTypeError, JinitValueError
from jinit._src.core.optional import loaded
from jinit._src.core.types import PyTree
from jinit._src.model.paths import path_string
from jinit._src.model.trace.program import is_array

__all__ = ["Setup", "setup"]


@dataclass(frozen=True)
class Setup:
    """What :func:`setup` makes of ``metainit``'s model.

    Attributes:
      leaves: the leaves of the tree that is tuned and returned, in flattening order.
      treedef: its structure.
      paths: each leaf's path string.
      trainable: indices of the leaves that enter the gradient quotient.
      apply: ``apply(tree, inputs) -> outputs``.
    """

    leaves: list[Any]
    treedef: Any
    paths: list[str]
    trainable: tuple[int, ...]
    apply: Callable[[PyTree, PyTree], Any]

    @property
    def arrays(self) -> tuple[int, ...]:
        """Indices of the array leaves (passed to the compiled step; the rest are constants)."""
        return tuple(i for i, leaf in enumerate(self.leaves) if is_array(leaf))

    def rebuild(self, values: Mapping[int, Any]) -> PyTree:
        """The tree with the leaves at the indices of ``values`` replaced."""
        leaves = [values.get(i, leaf) for i, leaf in enumerate(self.leaves)]
        return jax.tree_util.tree_unflatten(self.treedef, leaves)


def _real(leaf: object) -> bool:
    dtype = getattr(leaf, "dtype", None)
    return is_array(leaf) and dtype is not None and bool(jnp.issubdtype(dtype, jnp.floating))


def setup(model: object, variables: PyTree, apply_kwargs: Mapping[str, Any]) -> Setup:
    """The :class:`Setup` of ``model`` and ``variables``.

    Raises:
      JinitTypeError: an nnx Module (pass a function, see the message), a linen Module without
        its variables, a function without params, or something else as ``model``.
      JinitValueError: linen variables without a ``params`` collection, or no trainable array.
    """
    nn, nnx = loaded("flax.linen"), loaded("flax.nnx")  # Flax models mean Flax is imported
    kwargs = dict(apply_kwargs)
    if nnx is not None and isinstance(model, nnx.Module | nnx.GraphDef):
        raise JinitTypeError(
            "model is an nnx Module or GraphDef, which metainit does not take directly; pass it "
            "as a function of its state: graphdef, state = nnx.split(module); "
            "metainit(lambda s, x: nnx.merge(graphdef, s)(x), state, ...), then "
            "nnx.merge(graphdef, new_state)"
        )
    linen = nn is not None and isinstance(model, nn.Module)
    if linen:
        if not isinstance(variables, Mapping):
            raise JinitTypeError(
                "a linen Module needs its variables, e.g. metainit(model, model.init(key, x), "
                f"...); got {type(variables).__name__}"
            )
        if "params" not in variables:
            raise JinitValueError(
                f"the linen variables have no 'params' collection (collections: "
                f"{list(variables)}); pass model.init(...)'s variables"
            )
        module: Any = model

        def apply(tree: PyTree, inputs: PyTree) -> Any:
            return module.apply(tree, inputs, **kwargs)

    elif callable(model):
        if variables is None:
            raise JinitTypeError("a function model apply(params, inputs) needs its params")
        function = model

        def apply(tree: PyTree, inputs: PyTree) -> Any:
            return function(tree, inputs, **kwargs)

    else:
        raise JinitTypeError(
            "model must be a flax.linen Module or a function apply(params, inputs); got "
            f"{type(model).__name__}"
        )
    flat, treedef = jax.tree_util.tree_flatten_with_path(variables)
    paths = [path_string(path) for path, _ in flat]
    leaves = [leaf for _, leaf in flat]
    trainable = tuple(
        i
        for i, (path, leaf) in enumerate(zip(paths, leaves, strict=True))
        if _real(leaf) and (not linen or path.split("/", 1)[0] == "params")
    )
    if not trainable:
        raise JinitValueError(
            "the model has no trainable real floating array (linen: in 'params'), so there is "
            "no gradient quotient to measure"
        )
    return Setup(leaves, treedef, paths, trainable, apply)
