r"""How a :class:`~jinit._src.analysis.diagnose.result.Diagnosis` is shown: rich tables, a plot.

Apart from the result itself, so that measuring needs neither rich nor matplotlib; both are
imported when a table is printed or a plot drawn.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from jinit._src.analysis.diagnose.flags import groups

if TYPE_CHECKING:
    from matplotlib.figure import Figure
    from rich.console import Console

    from jinit._src.analysis.diagnose.result import Diagnosis

__all__ = ["plot", "print_tables"]


def _g(value: float) -> str:
    return "—" if math.isnan(value) else f"{value:.3g}"


def print_tables(result: Diagnosis, console: Console | None = None) -> None:
    """Print ``result``'s activation and parameter tables and its verdicts with ``rich``."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = console or Console()
    if result.activations:
        first = result.activations[0].std
        acts = Table(title=f"activations ({result.activation_source})", title_justify="left")
        for column in ("layer", "shape", "mean", "std", "std / first"):
            acts.add_column(column, justify="left" if column in ("layer", "shape") else "right")
        for a in result.activations:
            relative = a.std / first if first > 0 else math.nan
            acts.add_row(escape(a.name), str(a.shape), _g(a.mean), _g(a.std), _g(relative))
        console.print(acts)
    params = Table(title=f"parameters (gradient of the {result.loss_name})", title_justify="left")
    for column in ("parameter", "shape", "‖w‖", "‖∇w‖", "‖Δw‖ / ‖w‖"):
        params.add_column(column, justify="left" if column in ("parameter", "shape") else "right")
    for p in result.parameters:
        params.add_row(
            escape(p.path),
            str(p.shape),
            _g(p.weight_norm),
            _g(p.grad_norm),
            _g(p.update_ratio),
        )
    console.print(params)
    console.print(escape(result.jacobian_line()))
    for f in result.flags:
        colour = "yellow" if f.kind in ("shrinking", "growing") else "red"
        console.print(f"[bold {colour}]{escape(f.message)}[/]")
    if not result.flags:
        console.print(
            "[bold green]no flags[/]: activations, gradients and loss within the thresholds"
        )


def plot(result: Diagnosis, path: str | Path | None = None) -> Figure:
    """Draw activation std, gradient norms and update ratios per layer, on log scales.

    Uses the matplotlib ``Figure`` API, not pyplot, so a notebook's backend is left alone
    and nothing needs closing.

    Args:
      result: the diagnosis to draw.
      path: where to save the figure (the format follows the suffix, e.g. ``.png``), or
        ``None`` to only return it.

    Returns:
      The :class:`matplotlib.figure.Figure`.
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=(13.5, 4.0))
    axes = fig.subplots(1, 3)
    _log_line(axes[0], [a.std for a in result.activations], "std", marker="o", markersize=3)
    _log_line(axes[0], [abs(a.mean) for a in result.activations], "|mean|", linestyle="--")
    axes[0].set_title(f"activations ({result.activation_source})")
    axes[0].set_xlabel("layer (execution order)")
    for k, (name, group) in enumerate(groups(result.parameters).items()):
        style = {"marker": "o", "markersize": 3, "color": f"C{k % 10}"}
        _log_line(axes[1], [p.grad_norm for p in group], name, **style)
        _log_line(axes[2], [p.update_ratio for p in group], name, **style)
    axes[1].set_title(f"gradient norm ({result.loss_name})")
    axes[2].set_title("‖update‖ / ‖weight‖ after one step")
    for ax in axes[1:]:
        ax.set_xlabel("layer (per parameter name)")
    for ax in axes:
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    title = "; ".join(f"{f.kind} {f.quantity}" for f in result.flags) or "no flags"
    fig.suptitle(title, color="tab:red" if result.flags else "tab:green")
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=110)
    return fig


def _log_line(ax: Any, values: Sequence[float], label: str, **style: Any) -> None:
    """Plot the positive finite values on a log axis (the others are gaps)."""
    y = np.array(values, dtype=float)
    y[~(np.isfinite(y) & (y > 0))] = np.nan
    if np.isnan(y).all():
        return
    ax.plot(np.arange(len(y)), y, label=label, **style)
    ax.set_yscale("log")
