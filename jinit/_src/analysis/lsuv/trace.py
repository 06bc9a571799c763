"""LSUV's measurement from the traced program: each kernel's own consuming operation.

A module's output is the wrong thing to rescale a kernel on when the module owns several
kernels (a gated MLP: gate, up and down projections), is shared, or is called twice: pooling
such outputs reports one variance for kernels whose outputs differ (measured: "converged at
0.985" for a gate and a down projection whose outputs were 1.10 and 0.52 afterwards).
:class:`TracedForward` instead traces the model once per input shape, finds every kernel's
consuming ``dot_general``/``conv_general_dilated`` (:mod:`jinit._src.model.trace.walk`) and reads
out
*that* operation's output -- or, when the trace links a bias to the kernel, the output of the
bias addition, the layer's pre-activation -- with
:func:`jinit._src.model.trace.jaxpr_eval.run_recording`.
A kernel used by several operations (a layer called twice, a fused ``gating[0]``/``gating[1]``)
pools the outputs of all of them: one scale multiplies them all.

Kernels it cannot measure are refused, with the reason: not consumed by a contraction
(unused, or transformed first), used in ways that disagree, or consumed inside a ``scan``/
``while``/``cond`` body, whose values exist only one iteration at a time.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import jax

from jinit._src.core.types import PyTree
from jinit._src.model.trace.jaxpr_eval import recordable, run_recording
from jinit._src.model.trace.program import Program, is_array, trace_program
from jinit._src.model.trace.trace_axes import classify
from jinit._src.model.trace.walk import Site, Walk, walk

__all__ = ["Measured", "TracedForward"]


@dataclass(frozen=True)
class Measured:
    """Where each kernel's output is read, in the order the program computes them.

    Attributes:
      order: the kernel paths, earliest computed first.
      sites: kernel path -> the sites whose outputs are its layer's output.
      biases: kernel path -> the path of the bias the trace links to it (added to its output).
    """

    order: tuple[str, ...]
    sites: dict[str, tuple[Site, ...]]
    biases: dict[str, str]


def _signature(tree: PyTree) -> tuple[Any, ...]:
    return tuple(
        (tuple(leaf.shape), str(leaf.dtype)) for leaf in jax.tree.leaves(tree) if is_array(leaf)
    )


class TracedForward:
    """``(params, batch) -> {kernel path: [the outputs of its consuming operations]}``.

    Args:
      fn: ``fn(params, batch, **apply_kwargs)``, the model's forward pass.
      kernels: the kernel paths to measure.
      apply_kwargs: keyword arguments for every call.
    """

    def __init__(
        self,
        fn: Callable[..., Any],
        kernels: Sequence[str],
        apply_kwargs: Mapping[str, Any],
    ) -> None:
        self.fn, self.kernels, self.kwargs = fn, tuple(kernels), dict(apply_kwargs)
        self._cache: dict[tuple[Any, ...], tuple[Program, Measured]] = {}

    def measured(self, params: PyTree, batch: PyTree) -> Measured:
        """Trace (once per input shape) and find every kernel's sites; raise for the others."""
        return self._traced(params, batch)[1]

    def _traced(self, params: PyTree, batch: PyTree) -> tuple[Program, Measured]:
        key = (_signature(params), _signature(batch))
        if key not in self._cache:
            program = trace_program(self.fn, params, (batch,), self.kwargs, owner="jinit.lsuv")
            self._cache[key] = (
                program,
                self._measured(program, walk(program.closed, program.n_params)),
            )
        return self._cache[key]

    def _measured(self, program: Program, found: Walk) -> Measured:
        index = {path: i for i, path in enumerate(program.paths)}
        refused, sites, biases = [], {}, {}
        for kernel in self.kernels:
            i = index[kernel]
            uses = found.uses.get(i, set())
            layout = classify(kernel, program.shapes[i], uses, program.paths)
            if layout.role not in ("dense", "conv"):
                why = layout.reason or f"the model uses it as a {layout.role}"
                refused.append(
                    f"{kernel!r}: not consumed by a contraction LSUV can rescale ({why})"
                )
                continue
            own = sorted(u.site for u in uses if u.kind in ("dense", "conv"))
            linked = [
                (j, sorted(u.site for u in found.uses[j] if u.kind == "bias"))
                for j in found.uses
                if found.uses[j]
                and all(u.kind == "bias" and u.kernels == {i} for u in found.uses[j])
            ]
            if len(linked) == 1 and len(linked[0][1]) == len(own):
                biases[kernel] = program.paths[linked[0][0]]
                own = linked[0][1]  # the layer's output: its contraction plus its bias
            inside = [s for s in own if not recordable(s)]
            if inside:
                refused.append(
                    f"{kernel!r}: consumed inside a scan/while/cond body, whose values exist one "
                    "iteration at a time (a stacked layer)"
                )
                continue
            sites[kernel] = tuple(own)
        if refused:
            raise ValueError(
                f"jinit.lsuv: cannot measure {len(refused)} kernel(s), so they are refused, not "
                f"rescaled: {'; '.join(refused)}. Exclude them with kernel_pattern"
            )
        order = tuple(sorted(sites, key=lambda k: min(sites[k])))
        return Measured(order, sites, biases)

    def __call__(self, params: PyTree, batch: PyTree) -> dict[str, list[jax.Array]]:
        program, measured = self._traced(params, batch)
        args = [leaf for leaf in jax.tree.leaves(params) if is_array(leaf)]
        args += [leaf for leaf in jax.tree.leaves((batch,)) if is_array(leaf)]
        wanted = {site for kernel_sites in measured.sites.values() for site in kernel_sites}
        _, found = run_recording(program.closed, args, wanted)
        return {k: [found[s] for s in measured.sites[k]] for k in measured.order}
