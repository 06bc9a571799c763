"""What :func:`jinit.lsuv` reports: per layer, the rescalings made and the output statistics.

:class:`LSUVReport` is the second value :func:`jinit.lsuv` returns; it prints as a table, one
:class:`LSUVLayer` per kernel in forward order, and says whether every layer converged.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["LSUVLayer", "LSUVReport"]


@dataclass(frozen=True)
class LSUVLayer:
    """What LSUV did to one layer.

    Attributes:
      path: the kernel's path (``params/Dense_0/kernel``, ``layers/0/kernel`` for nnx).
      iterations: rescalings made (0 when the orthogonal kernel was already within ``tol``).
      variance: variance of the layer's output on the last batch measured (after the last
        rescaling).
      mean: mean of the layer's output on that batch.
      scale: the factor the kernel was multiplied by in all.
      converged: whether ``|variance - 1| < tol``.
    """

    path: str
    iterations: int
    variance: float
    mean: float
    scale: float
    converged: bool


@dataclass(frozen=True)
class LSUVReport:
    """Per-layer outcome of :func:`lsuv`, in forward order.

    Attributes:
      layers: one :class:`LSUVLayer` per kernel, in the order they were processed.
      tol: the variance tolerance used.
      max_iters: the iteration limit used.
      passes: forward passes run (one per measurement).
    """

    layers: tuple[LSUVLayer, ...]
    tol: float
    max_iters: int
    passes: int

    @property
    def converged(self) -> bool:
        """Whether every layer reached ``|Var - 1| < tol``."""
        return all(layer.converged for layer in self.layers)

    def __str__(self) -> str:
        failed = [layer.path for layer in self.layers if not layer.converged]
        verdict = (
            f"all within |Var - 1| < {self.tol:g}"
            if not failed
            else f"{len(failed)} NOT within |Var - 1| < {self.tol:g} after {self.max_iters} "
            "iterations"
        )
        width = max([len("layer"), *(len(layer.path) for layer in self.layers)])
        lines = [
            f"LSUV: {len(self.layers)} layer(s), {self.passes} forward passes, {verdict}",
            f"  {'layer':<{width}}  iters  variance     mean     scale",
        ]
        for layer in self.layers:
            flag = "" if layer.converged else "  <- not converged"
            lines.append(
                f"  {layer.path:<{width}}  {layer.iterations:>5}  {layer.variance:>8.4f}  "
                f"{layer.mean:>7.4f}  {layer.scale:>8.4g}{flag}"
            )
        return "\n".join(lines)
