"""PNG plots of study results (matplotlib, Agg backend: no screen needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["plot_curves", "plot_heatmap", "plot_layers", "plot_steps_vs_depth"]


def _figure(**kwargs: Any) -> Any:
    """A matplotlib ``Figure`` not attached to pyplot: no backend switch, nothing to close."""
    from matplotlib.figure import Figure

    return Figure(**kwargs)


def plot_curves(cells: list[dict[str, Any]], path: Path, title: str) -> None:
    """Training-loss curves: one panel per optimizer, one line per initializer.

    The line is the median over seeds, the band their minimum to maximum.
    """
    optimizers = list(dict.fromkeys(c["optimizer"] for c in cells))
    columns = min(3, len(optimizers))
    rows = -(-len(optimizers) // columns)
    fig = _figure(figsize=(4.2 * columns, 3.2 * rows))
    axes = fig.subplots(rows, columns, squeeze=False, sharey=True)
    for ax, optimizer in zip(axes.flat, optimizers, strict=False):
        for cell in (c for c in cells if c["optimizer"] == optimizer):
            loss = np.array(cell["train_loss"], dtype=float)
            loss = np.where(np.isfinite(loss), loss, np.nan)
            steps = np.array(cell["steps"])
            (line,) = ax.plot(steps, np.nanmedian(loss, axis=0), label=cell["init"])
            ax.fill_between(
                steps,
                np.nanmin(loss, axis=0),
                np.nanmax(loss, axis=0),
                color=line.get_color(),
                alpha=0.2,
            )
        ax.set_title(f"{optimizer} (lr {_lr(cells, optimizer)})")
        ax.set_yscale("log")
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    for ax in axes[:, 0]:
        ax.set_ylabel("training loss")
    for ax in list(axes.flat)[len(optimizers) :]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def _lr(cells: list[dict[str, Any]], optimizer: str) -> str:
    rates = {c["learning_rate"] for c in cells if c["optimizer"] == optimizer}
    return ", ".join(f"{r:.3g}" for r in sorted(rates))


def plot_heatmap(cells: list[dict[str, Any]], path: Path, title: str) -> None:
    """Heat maps initializer x optimizer: mean final training loss and mean test accuracy."""
    inits = list(dict.fromkeys(c["init"] for c in cells))
    optimizers = list(dict.fromkeys(c["optimizer"] for c in cells))
    by = {(c["init"], c["optimizer"]): c for c in cells}

    def grid(field: str) -> np.ndarray:
        return np.array(
            [
                [np.nanmean(np.array(by[i, o][field], dtype=float)) for o in optimizers]
                for i in inits
            ]
        )

    loss, accuracy = grid("final_train_loss"), grid("test_accuracy")
    fig = _figure(figsize=(min(0.7 * len(optimizers), 7.0) * 2 + 3, 0.45 * len(inits) + 2))
    axes = fig.subplots(1, 2)
    for ax, values, label, cmap, fmt in (
        (axes[0], loss, "final training loss", "viridis_r", "{:.2f}"),
        (axes[1], accuracy, "test accuracy", "viridis", "{:.2f}"),
    ):
        image = ax.imshow(np.where(np.isfinite(values), values, np.nan), cmap=cmap, aspect="auto")
        ax.set_xticks(range(len(optimizers)), optimizers, rotation=45, ha="right")
        ax.set_yticks(range(len(inits)), inits)
        ax.set_title(label)
        for (r, c), value in np.ndenumerate(values):
            shade = image.norm(value) if np.isfinite(value) else 0.0
            dark = shade > 0.5 if cmap.endswith("_r") else shade < 0.5
            ax.text(
                c,
                r,
                fmt.format(value) if np.isfinite(value) else "div",
                ha="center",
                va="center",
                fontsize=7,
                color="white" if dark else "black",
            )
        fig.colorbar(image, ax=ax, shrink=0.8)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def plot_layers(
    layers: dict[str, dict[str, list[float]]], path: Path, title: str, stat: str = "std"
) -> None:
    """Per-layer activation statistic (log scale) and kernel-gradient norm, per initializer."""
    fig = _figure(figsize=(10, 3.6))
    axes = fig.subplots(1, 2)
    for label, values in layers.items():
        activations = np.array(values[stat], dtype=float)
        axes[0].plot(np.arange(1, len(activations) + 1), activations, label=label)
        grads = np.array(values["grad_norm"], dtype=float)
        axes[1].plot(np.arange(1, len(grads) + 1), np.where(grads > 0, grads, np.nan), label=label)
    axes[0].set_ylabel(f"activation {stat}")
    axes[1].set_ylabel("kernel gradient norm")
    for ax in axes:
        ax.set_yscale("log")
        ax.set_xlabel("layer")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def plot_steps_vs_depth(
    medians: dict[str, dict[int, float]], max_steps: int, path: Path, title: str
) -> None:
    """Steps to the target loss against depth (runs that never reach it drawn at the cap)."""
    fig = _figure(figsize=(5.5, 3.6))
    ax = fig.subplots()
    for label, per_depth in medians.items():
        depths = sorted(per_depth)
        steps = [per_depth[d] if np.isfinite(per_depth[d]) else max_steps for d in depths]
        ax.plot(depths, steps, marker="o", label=label)
    ax.axhline(max_steps, color="grey", linestyle=":", label="cap (not reached)")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("hidden layers")
    ax.set_ylabel("steps to target loss")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
