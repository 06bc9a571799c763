"""How :func:`jinit.gradinit` applies each kind of model, and its default loss.

A linen Module is applied to ``{"params": ...}`` plus its other collections, unchanged; a
function ``apply(params, inputs)`` to its params. :func:`check_default_loss` checks, before any
work, that the outputs and targets suit the default softmax cross-entropy.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jinit._src.core.errors import JinitTypeError, JinitValueError
from jinit._src.core.optional import loaded, require
from jinit._src.core.types import PyTree
from jinit._src.model.trace.program import is_array

__all__ = ["check_default_loss", "cross_entropy", "model_functions"]


def model_functions(
    model: Any, variables: PyTree, kwargs: Mapping[str, Any]
) -> tuple[PyTree, Callable[[PyTree, PyTree], Any], Callable[[PyTree], Any]]:
    """``(params, apply(params, inputs), finish(new params))`` for ``gradinit``'s ``model``.

    ``params`` is the tree GradInit scales (``{"params": ...}`` for linen, so its paths read
    ``params/Dense_0/kernel``); ``finish`` turns the scaled tree into what is returned.
    """
    nn, nnx = loaded("flax.linen"), loaded("flax.nnx")
    if nn is not None and isinstance(model, nn.Module):
        if not isinstance(variables, Mapping) or "params" not in variables:
            raise JinitTypeError(
                "variables: a linen Module needs its variables with a 'params' collection, "
                f"e.g. gradinit(model, model.init(key, x), ...); got {type(variables).__name__}"
            )
        rest = {name: value for name, value in variables.items() if name != "params"}

        def apply_linen(params: PyTree, inputs: PyTree) -> Any:
            return model.apply({**rest, **params}, inputs, **kwargs)

        def finish(params: PyTree) -> Any:
            new = {**variables, **params}
            if isinstance(variables, dict):
                return new
            kind: Callable[[dict[str, Any]], Any] = type(variables)  # a FrozenDict stays one
            return kind(new)

        return {"params": variables["params"]}, apply_linen, finish
    if nnx is not None and isinstance(model, nnx.Module | nnx.GraphDef):
        raise JinitTypeError(
            f"model: an nnx {type(model).__name__} is not supported; pass a function, e.g. "
            "graphdef, params, rest = nnx.split(m, nnx.Param, ...); "
            "gradinit(lambda p, x: nnx.merge(graphdef, p, rest)(x), params, ...)"
        )
    if callable(model):
        if variables is None:
            raise JinitTypeError("variables: a function model needs the params it is applied to")

        def apply_function(params: PyTree, inputs: PyTree) -> Any:
            return model(params, inputs, **kwargs)

        return variables, apply_function, lambda params: params
    raise JinitTypeError(
        "model: must be a flax.linen Module or a function apply(params, inputs); got "
        f"{type(model).__name__}"
    )


def cross_entropy(outputs: Any, targets: Any) -> jax.Array:
    """The default loss: mean softmax cross-entropy of logits against integer labels."""
    optax = require("optax", "gradinit")
    value: jax.Array = optax.softmax_cross_entropy_with_integer_labels(outputs, targets).mean()
    return value


def check_default_loss(outputs: Any, targets: Any, labels: Callable[[], np.ndarray]) -> None:
    """The default loss needs logits ``(..., classes)`` and integer labels in range."""
    if not (is_array(outputs) and is_array(targets)):
        raise JinitTypeError(
            "loss: the default softmax cross-entropy needs the model to return one array of "
            f"logits and integer targets; got {type(outputs).__name__} outputs and "
            f"{type(targets).__name__} targets. Pass loss=fn(outputs, targets) -> scalar"
        )
    if not jnp.issubdtype(targets.dtype, jnp.integer):
        raise JinitTypeError(
            f"loss: the default softmax cross-entropy needs integer class labels, got targets "
            f"of dtype {targets.dtype}; pass integer labels or loss=fn(outputs, targets)"
        )
    if outputs.ndim < 1 or tuple(outputs.shape[:-1]) != tuple(targets.shape):
        raise JinitValueError(
            f"loss: the default softmax cross-entropy needs logits of shape targets.shape + "
            f"(classes,); got outputs {tuple(outputs.shape)} for targets "
            f"{tuple(targets.shape)}. Pass loss=fn(outputs, targets) -> scalar"
        )
    classes = int(outputs.shape[-1])
    found = labels()
    if found.size and (found.min() < 0 or found.max() >= classes):
        raise JinitValueError(
            f"batches: labels must lie in 0..{classes - 1} (the model has {classes} outputs), "
            f"got labels from {found.min()} to {found.max()}"
        )
