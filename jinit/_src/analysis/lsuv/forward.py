"""How :func:`jinit.lsuv` applies each kind of model and reads its layers' outputs.

A *forward* is ``(params, batch) -> {kernel path: the output(s) of that kernel's layer}``. For a
linen Module, an nnx Module (or GraphDef and State) and a function ``apply(params, batch)``
it is a :class:`~jinit._src.analysis.lsuv.trace.TracedForward`: each kernel's own consuming
operation,
read from the traced program. A function that returns a mapping ``{kernel path: output}``
names the outputs itself, and the mapping is checked. :func:`setup` picks the right one for
``lsuv``'s ``model`` argument and says how to turn the rescaled parameters back into what
``lsuv`` returns.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from jinit._src.analysis.lsuv.trace import TracedForward
from jinit._src.core.optional import loaded
from jinit._src.core.types import PyTree
from jinit._src.model.trace.program import trace_program

__all__ = ["Forward", "Setup", "setup"]

#: ``(params, batch) -> {kernel path: the layer's output(s)}``.
Forward = Callable[[Any, Any], Mapping[str, Any]]


# ----------------------------------------------------------------------------- forward passes


def _user_forward(
    fn: Callable[..., Any], kernels: Sequence[str], apply_kwargs: Mapping[str, Any]
) -> Forward:
    def forward(params: PyTree, batch: PyTree) -> Mapping[str, Any]:
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


@dataclass(frozen=True)
class Setup:
    """What :func:`setup` makes of ``lsuv``'s model.

    Attributes:
      params: the parameter tree LSUV rescales.
      traced: the function to trace (``fn(params, batch, **kwargs)``), or ``None`` for a function
        that returns its layers' outputs itself.
      mapping: that function, or ``None``.
      finish: turns the rescaled tree into what ``lsuv`` returns.
    """

    params: PyTree
    traced: Callable[..., Any] | None
    mapping: Callable[..., Any] | None
    finish: Callable[[Any], Any]

    def forward(self, kernels: Sequence[str], apply_kwargs: Mapping[str, Any]) -> Forward:
        """The forward for ``kernels``."""
        if self.traced is not None:
            return TracedForward(self.traced, kernels, apply_kwargs)
        assert self.mapping is not None
        return _user_forward(self.mapping, kernels, apply_kwargs)


def setup(model: Any, variables: PyTree, apply_kwargs: Mapping[str, Any], first: PyTree) -> Setup:
    """The :class:`Setup` of ``model`` and ``variables``; ``first`` is a batch (for functions)."""
    nn, nnx = loaded("flax.linen"), loaded("flax.nnx")  # Flax models mean Flax is imported
    if nn is not None and isinstance(model, nn.Module):
        if variables is None or not isinstance(variables, Mapping):
            raise TypeError(
                "jinit.lsuv: a linen Module needs its variables, e.g. "
                f"lsuv(model, model.init(key, x), ...); got {type(variables).__name__}"
            )
        return Setup(variables, model.apply, None, lambda tree: tree)
    graphdef: Any = None
    if nnx is not None and isinstance(model, nnx.Module):
        if variables is not None:
            raise TypeError(
                "jinit.lsuv: an nnx Module holds its own variables; pass variables=None "
                "(a new module is returned), or pass nnx.split(model) as (graphdef, state)"
            )
        graphdef, state = nnx.split(model)
        finish: Callable[[Any], Any] = lambda tree: nnx.merge(graphdef, tree)  # noqa: E731
    elif nnx is not None and isinstance(model, nnx.GraphDef):
        if not isinstance(variables, nnx.State):
            raise TypeError(
                "jinit.lsuv: an nnx GraphDef needs its nnx.State (graphdef, state = "
                f"nnx.split(model)); got {type(variables).__name__}"
            )
        graphdef, state, finish = model, variables, lambda tree: tree
    if graphdef is not None:
        assert nnx is not None  # a GraphDef came from nnx
        merged = graphdef

        def call(state: PyTree, batch: PyTree, **kwargs: Any) -> Any:
            return nnx.merge(merged, state)(batch, **kwargs)

        return Setup(state, call, None, finish)
    if callable(model):
        if variables is None:
            raise TypeError("jinit.lsuv: a function model needs the params it is applied to")
        traced = trace_program(model, variables, (first,), apply_kwargs, owner="jinit.lsuv")
        if isinstance(traced.output, Mapping):
            return Setup(variables, None, model, lambda tree: tree)
        return Setup(variables, model, None, lambda tree: tree)
    raise TypeError(
        "jinit.lsuv: model must be a flax.linen Module, an nnx Module or GraphDef, or a "
        f"function apply(params, batch) (returning the output, or {{kernel path: output}}); "
        f"got {type(model).__name__}"
    )
