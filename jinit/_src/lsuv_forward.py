"""How :func:`jinit.lsuv` applies each kind of model and captures its layers' outputs.

A *forward* is ``(params, batch) -> {kernel path: the output of the layer owning it}``. For a
linen Module it applies the model with ``capture_intermediates``, for an nnx Module (or
GraphDef and State) it merges and runs ``nnx.capture``, and for a plain function it checks the
mapping the function returns. :func:`setup` picks the right one for ``lsuv``'s ``model``
argument and says how to turn the rescaled parameters back into what ``lsuv`` returns.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax

from jinit._src.capture import module_outputs

__all__ = ["Forward", "setup"]

#: ``(params, batch) -> {kernel path: the layer's output(s)}``.
Forward = Callable[[Any, Any], Mapping[str, Any]]


# ----------------------------------------------------------------------------- forward passes


def _select(
    outputs: dict[str, list[jax.Array]], modules: Mapping[str, str]
) -> dict[str, list[jax.Array]]:
    """``{kernel path: outputs of the module owning it}``; raise naming kernels without one."""
    missing = [kernel for kernel, module in modules.items() if module not in outputs]
    if missing:
        raise ValueError(
            f"jinit.lsuv: no output was captured for the module(s) owning {missing}. LSUV needs "
            "the output of the module whose parameter the kernel is (a Dense/Conv layer called "
            "directly, not inside nn.scan/vmap); exclude such kernels with kernel_pattern"
        )
    return {kernel: outputs[module] for kernel, module in modules.items()}


def _linen_forward(model: Any, kernels: Sequence[str], apply_kwargs: Mapping[str, Any]) -> Forward:
    # a kernel at "params/Block_0/Dense_1/kernel" belongs to the module "Block_0/Dense_1"
    modules = {kernel: "/".join(kernel.split("/")[1:-1]) for kernel in kernels}

    def forward(variables: Any, batch: Any) -> Mapping[str, Any]:
        inputs = {name: tree for name, tree in variables.items() if name != "intermediates"}
        _, state = model.apply(
            inputs, batch, capture_intermediates=True, mutable=["intermediates"], **apply_kwargs
        )
        return _select(module_outputs(state["intermediates"]), modules)

    return forward


def _nnx_forward(graphdef: Any, kernels: Sequence[str], apply_kwargs: Mapping[str, Any]) -> Forward:
    from flax import nnx

    modules = {kernel: kernel.rsplit("/", 1)[0] if "/" in kernel else "" for kernel in kernels}

    def forward(state: Any, batch: Any) -> Mapping[str, Any]:
        module = nnx.merge(graphdef, state)
        capture = nnx.capture(module, nnx.Intermediate, method_outputs=nnx.Intermediate)
        _, intermediates = capture(batch, **apply_kwargs)  # type: ignore[no-untyped-call]
        return _select(module_outputs(intermediates), modules)

    return forward


def _user_forward(
    fn: Callable[..., Any], kernels: Sequence[str], apply_kwargs: Mapping[str, Any]
) -> Forward:
    def forward(params: Any, batch: Any) -> Mapping[str, Any]:
        outputs = fn(params, batch, **apply_kwargs)
        if not isinstance(outputs, Mapping):
            raise TypeError(
                "jinit.lsuv: a function model must return a mapping {kernel path: that layer's "
                f"output}}, got {type(outputs).__name__}"
            )
        unknown = [path for path in outputs if path not in kernels]
        if unknown:
            raise ValueError(
                f"jinit.lsuv: the function returned outputs for {unknown}, which are not kernel "
                f"paths matched by kernel_pattern; the kernels are {list(kernels)[:4]}"
                f"{' ...' if len(kernels) > 4 else ''}"
            )
        missing = [path for path in kernels if path not in outputs]
        if missing:
            raise ValueError(
                f"jinit.lsuv: the function returned no output for the kernel(s) {missing}; "
                "return every kernel kernel_pattern matches, or narrow kernel_pattern"
            )
        return {path: outputs[path] for path in kernels}

    return forward


def setup(
    model: Any, variables: Any, apply_kwargs: Mapping[str, Any]
) -> tuple[Any, Callable[[list[str]], Forward], Callable[[Any], Any]]:
    """``(params tree, kernels -> forward, params tree -> what lsuv returns)`` for ``model``."""
    import flax.linen as nn
    from flax import nnx

    if isinstance(model, nn.Module):
        if variables is None or not isinstance(variables, Mapping):
            raise TypeError(
                "jinit.lsuv: a linen Module needs its variables, e.g. "
                f"lsuv(model, model.init(key, x), ...); got {type(variables).__name__}"
            )
        return (
            variables,
            lambda kernels: _linen_forward(model, kernels, apply_kwargs),
            lambda tree: tree,
        )
    if isinstance(model, nnx.Module):
        if variables is not None:
            raise TypeError(
                "jinit.lsuv: an nnx Module holds its own variables; pass variables=None "
                "(a new module is returned), or pass nnx.split(model) as (graphdef, state)"
            )
        graphdef, state = nnx.split(model)
        return (
            state,
            lambda kernels: _nnx_forward(graphdef, kernels, apply_kwargs),
            lambda tree: nnx.merge(graphdef, tree),
        )
    if isinstance(model, nnx.GraphDef):
        if not isinstance(variables, nnx.State):
            raise TypeError(
                "jinit.lsuv: an nnx GraphDef needs its nnx.State (graphdef, state = "
                f"nnx.split(model)); got {type(variables).__name__}"
            )
        return (
            variables,
            lambda kernels: _nnx_forward(model, kernels, apply_kwargs),
            lambda tree: tree,
        )
    if callable(model):
        if variables is None:
            raise TypeError("jinit.lsuv: a function model needs the params it is applied to")
        return (
            variables,
            lambda kernels: _user_forward(model, kernels, apply_kwargs),
            lambda tree: tree,
        )
    raise TypeError(
        "jinit.lsuv: model must be a flax.linen Module, an nnx Module or GraphDef, or a "
        f"function (params, batch) -> {{kernel path: output}}; got {type(model).__name__}"
    )
