"""How :func:`jinit.diagnose` applies each kind of model and captures what it measures.

:func:`adapt` turns ``diagnose``'s ``model`` and ``params`` into a hashable :class:`Setup` (a
linen ``apply``, an nnx ``GraphDef``, or a plain function), the parameters to differentiate and
the rest of the model's state; :func:`forward` applies it and returns the output with every
captured array (linen ``capture_intermediates``, nnx ``nnx.capture``; see
:mod:`jinit._src.analysis.capture`).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple, cast

import jax

from jinit._src.analysis.capture import Captured, captured, output_type
from jinit._src.analysis.diagnose.math import Loss
from jinit._src.core.optional import loaded
from jinit._src.core.types import PyTree

__all__ = ["Setup", "Spec", "adapt", "arrays", "forward", "linen_module"]


class Spec(NamedTuple):
    """The shape and dtype of a captured array (what the plan needs of it)."""

    shape: tuple[int, ...]
    dtype: Any


@dataclass(frozen=True)
class Setup:
    """The static part of a measurement; hashable, so it keys the compilation cache."""

    kind: str  # "linen", "nnx" or "function"
    model: Any  # the linen apply, the nnx GraphDef, or the function
    mutable: tuple[str, ...] = ()
    selected: tuple[int, ...] = ()
    loss: Loss | None = None
    optimizer: Any = None


def arrays(tree: PyTree, *, sown_only: bool = False) -> list[Captured[jax.Array]]:
    """The captured arrays of an intermediates tree (leaves that are not arrays are left out)."""
    return [c for c in captured(tree, sown_only=sown_only) if hasattr(c.value, "dtype")]


def forward(
    setup: Setup, params: PyTree, context: Any, batch: PyTree
) -> tuple[Any, list[Captured[jax.Array]]]:
    """Apply the model; return its output and every captured array (in no particular order)."""
    if setup.kind == "linen":
        variables = {**context, "params": params}
        out, state = setup.model(
            variables, batch, capture_intermediates=True, mutable=list(setup.mutable)
        )
        return out, arrays(state.get("intermediates", {}))
    if setup.kind == "nnx":
        from flax import nnx

        module = nnx.merge(setup.model, params, context)
        kind = output_type()
        capture = cast(Any, nnx.capture)(module, nnx.Intermediate, kind, method_outputs=kind)
        out, sown, outputs = capture(batch)
        return out, arrays(sown, sown_only=True) + arrays(outputs)
    return setup.model(params, batch), []


def linen_module(model: Any) -> Any:
    """The linen Module behind ``model`` (a Module, ``Module.apply``, a partial), or None."""
    nn = loaded("flax.linen")  # a linen Module means Flax is imported
    if nn is None:
        return None
    target = model
    while isinstance(target, functools.partial):
        target = target.func
    if isinstance(target, nn.Module):
        return target
    owner = getattr(target, "__self__", None)
    return owner if isinstance(owner, nn.Module) else None


def adapt(model: Any, params: PyTree) -> tuple[Setup, Any, Any]:
    """(setup, the parameters to differentiate, the rest of the model's state)."""
    nnx = loaded("flax.nnx")  # an nnx Module means Flax is imported
    if nnx is not None and isinstance(model, nnx.Module):
        if params is not None:
            raise TypeError(
                "jinit.diagnose: an nnx Module holds its own parameters; pass params=None, got "
                f"a {type(params).__name__}"
            )
        graphdef, state, rest = cast(tuple[Any, Any, Any], nnx.split(model, nnx.Param, ...))
        return Setup("nnx", graphdef), state, rest
    if not callable(model):
        raise TypeError(
            "jinit.diagnose: model must be a linen Module (or its .apply), an nnx Module, or a "
            f"function apply_fn(params, batch) -> output; got a {type(model).__name__}"
        )
    module = linen_module(model)
    if module is None:
        return Setup("function", model), params, None
    if not isinstance(params, Mapping) or not params:
        raise TypeError(
            "jinit.diagnose: a linen model needs its variables ({'params': ...} from "
            f"Module.init) or their 'params' collection; got {params!r:.80}"
        )
    variables = params if "params" in params else {"params": params}
    others = {k: v for k, v in variables.items() if k not in ("params", "intermediates")}
    apply = model.apply if module is model else model
    return Setup("linen", apply, ("intermediates", *others)), variables["params"], others
