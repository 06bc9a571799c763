"""The experiments of ``jinit study`` and what each writes.

=============  ==============================================================================
optimizers     initializer x optimizer matrix on a data set (the default experiment)
signal         Glorot & Bengio 2010: activation std per layer, 50-layer tanh MLP, at init
deep-relu      He et al. 2015: 30-layer ReLU MLP trains from He init, not from Glorot's
deep-linear    Saxe et al. 2014: steps to the least-squares optimum vs depth, orthogonal vs
               Gaussian
selu           Klambauer et al. 2017: 100 SELU layers self-normalize with LeCun normal
edge-of-chaos  Schoenholz et al. 2017: gradients scale by chi_1 per layer; deep tanh nets
               train only near chi_1 = 1
adaptive       Zhu et al. 2021, Mishkin & Matas 2016, Dauphin & Schoenholz 2019: GradInit and
               LSUV train a 30-layer Glorot ReLU MLP (kernel scales near √2), MetaInit halves
               the gradient quotient of a 20-layer 0.5 x LeCun tanh MLP and trains it
=============  ==============================================================================

Every experiment returns an :class:`ExperimentResult` (claim, measured checks, verdict) and
writes ``results.json`` plus its plots to the output directory.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np

from jinit._src.study import plots
from jinit._src.study.adaptive import plot_adaptive, run_adaptive
from jinit._src.study.data import load_dataset
from jinit._src.study.depth import run_deep_linear, run_deep_relu
from jinit._src.study.edge_of_chaos import plot_edge_of_chaos, run_edge_of_chaos
from jinit._src.study.matrix import MatrixConfig, run_matrix
from jinit._src.study.report import ExperimentResult
from jinit._src.study.signal import run_selu, run_signal
from jinit._src.study.store import write_csv, write_json

__all__ = ["EXPERIMENTS", "quick_config", "run_experiment", "run_optimizers"]

EXPERIMENTS = (
    "optimizers",
    "signal",
    "deep-relu",
    "deep-linear",
    "selu",
    "edge-of-chaos",
    "adaptive",
)
_LN10 = math.log(10.0)
_SGD_FAMILY = ("bgd", "sgd", "minibatch", "momentum", "nesterov", "adagrad")
_SCALED = (
    "lecun_normal",
    "lecun_uniform",
    "glorot_normal",
    "glorot_uniform",
    "he_normal",
    "he_uniform",
    "xavier_normal",
    "xavier_uniform",
    "kaiming_normal",
    "kaiming_uniform",
)


def quick_config(config: MatrixConfig) -> MatrixConfig:
    """The ``--quick`` variant: fewer steps, seeds, initializers and optimizers."""
    return replace(
        config,
        steps=min(config.steps, 150),
        eval_every=min(config.eval_every, 15),
        seeds=min(config.seeds, 2),
        inits=tuple(i for i in config.inits if i in ("zeros", "normal", "he_normal"))
        or config.inits[:3],
        optimizers=tuple(o for o in config.optimizers if o in ("bgd", "momentum", "adam"))
        or config.optimizers[:3],
    )


def _summary_rows(cells: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for cell in cells:
        final = np.array(cell["final_train_loss"], dtype=float)
        accuracy = np.array(cell["test_accuracy"], dtype=float)
        reach = np.array(cell["steps_to_target"], dtype=float)
        rows.append(
            {
                "init": cell["init"],
                "optimizer": cell["optimizer"],
                "learning_rate": cell["learning_rate"],
                "final_train_loss_mean": float(np.mean(final)),
                "final_train_loss_std": float(np.std(final)),
                "test_accuracy_mean": float(np.mean(accuracy)),
                "test_accuracy_std": float(np.std(accuracy)),
                "steps_to_target_median": float(np.median(reach))
                if np.all(np.isfinite(reach))
                else math.nan,
                "runs_reaching_target": int(np.sum(np.isfinite(reach))),
                "runs": len(final),
            }
        )
    return rows


def run_optimizers(
    config: MatrixConfig,
    out: Path,
    *,
    on_cells: Callable[[int, str], None] | None = None,
) -> ExperimentResult:
    """The initializer x optimizer matrix with its checks."""
    data = load_dataset(config.dataset)
    cells = run_matrix(config, out, data=data, on_cells=on_cells)
    rows = _summary_rows(cells)
    result = ExperimentResult(
        "optimizers",
        "Initialization decides whether plain gradient methods train at all: all-zero weights "
        "never break symmetry (loss stays at ln C for every optimizer); a fixed N(0, 0.01²) "
        "shrinks the signal layer by layer and stalls the SGD family; Adam rescues it (RMSprop "
        "and Adagrad do not: Optax's eps and Adagrad's initial accumulator of 0.1 floor their "
        "denominators far above gradients of ~1e-7); variance-scaled initializers (LeCun, "
        "Glorot, He) train under every optimizer (Glorot & Bengio 2010; He et al. 2015).",
        data={
            "dataset": data.summary(),
            "config": {**asdict(config), "model": asdict(config.model)},
            "summary": rows,
            "cells": cells,
        },
    )
    final = {(r["init"], r["optimizer"]): r["final_train_loss_mean"] for r in rows}
    chance = math.log(data.n_classes)
    optimizers = config.optimizers
    if "zeros" in config.inits:
        worst = min(final["zeros", o] for o in optimizers)
        result.check(
            "zeros: lowest final training loss over all optimizers",
            f"{worst:.3f}",
            f"> {chance - 0.1:.2f} (stuck at ln {data.n_classes} = {chance:.2f}: symmetry)",
            worst > chance - 0.1,
        )
    scaled = [i for i in config.inits if i in _SCALED]
    sgd_family = [o for o in optimizers if o in _SGD_FAMILY]
    if "normal" in config.inits and scaled and sgd_family:
        stalled = min(final["normal", o] for o in sgd_family)
        # worst variance-scaled cell relative to N(0, 0.01²) in the same optimizer column
        ratio = max(final[i, o] / final["normal", o] for i in scaled for o in sgd_family)
        result.check(
            f"N(0, 0.01²) vs {', '.join(scaled)} under {', '.join(sgd_family)}",
            f"N(0, 0.01²) ≥ {stalled:.3f}; scaled / N(0, 0.01²) ≤ {ratio:.3f}",
            "N(0, 0.01²) > 2.0 (stalled) and every variance-scaled cell < 0.7 × it",
            stalled > 2.0 and ratio < 0.7,
        )
    if "normal" in config.inits and "adam" in optimizers:
        rescued = final["normal", "adam"]
        result.check(
            "N(0, 0.01²) + Adam: final training loss",
            f"{rescued:.3f}",
            f"< {chance - 0.5:.2f} (Adam's per-parameter step sizes move it off the plateau)",
            rescued < chance - 0.5,
        )
    write_csv(out / "results.csv", rows)
    title = f"{data.summary()} · {config.model.describe()}"
    plots.plot_curves(cells, out / "loss_curves.png", title)
    plots.plot_heatmap(cells, out / "heatmap.png", title)
    result.files += ["results.csv", "loss_curves.png", "heatmap.png"]
    return result


def run_experiment(
    name: str,
    out: Path,
    *,
    config: MatrixConfig,
    quick: bool = False,
    on_progress: Callable[[int, str], None] | None = None,
) -> ExperimentResult:
    """Run experiment ``name``, write ``results.json`` and plots to ``out``, return the result."""
    if name not in EXPERIMENTS:  # before anything is written
        raise ValueError(
            f"jinit.study: unknown experiment {name!r}; expected one of {', '.join(EXPERIMENTS)}"
        )
    out.mkdir(parents=True, exist_ok=True)
    if name == "optimizers":
        result = run_optimizers(
            quick_config(config) if quick else config, out, on_cells=on_progress
        )
    elif name == "signal":
        result = run_signal(quick=quick, seed=config.seed)
        plots.plot_layers(
            result.data["layers"],
            out / "signal.png",
            "Glorot & Bengio 2010: 50-layer tanh MLP at initialization",
        )
        result.files.append("signal.png")
    elif name == "selu":
        result = run_selu(quick=quick, seed=config.seed)
        plots.plot_layers(
            result.data["layers"],
            out / "selu.png",
            "Klambauer et al. 2017: 100 SELU layers at initialization",
            "var",
        )
        result.files.append("selu.png")
    elif name == "deep-relu":
        result = run_deep_relu(quick=quick, seed=config.seed, out=out, on_cells=on_progress)
        cells = result.data["cells"]
        plots.plot_curves(cells, out / "loss_curves.png", "30-layer ReLU MLP on digits")
        result.files.append("loss_curves.png")
    elif name == "deep-linear":
        result = run_deep_linear(
            quick=quick,
            seed=config.seed,
            on_depth=None if on_progress is None else lambda d: on_progress(1, f"depth {d}"),
        )
        plots.plot_steps_vs_depth(
            result.data["median_steps"],
            result.data["max_steps"],
            out / "deep_linear.png",
            "deep linear nets: steps to near the least-squares optimum",
        )
        result.files.append("deep_linear.png")
    elif name == "edge-of-chaos":
        result = run_edge_of_chaos(quick=quick, seed=config.seed, on_progress=on_progress)
        plot_edge_of_chaos(result.data, out / "edge_of_chaos.png")
        result.files.append("edge_of_chaos.png")
    elif name == "adaptive":
        result = run_adaptive(quick=quick, seed=config.seed, on_progress=on_progress)
        plot_adaptive(result.data, out / "adaptive.png")
        result.files.append("adaptive.png")
    else:  # pragma: no cover - every name in EXPERIMENTS has a branch above
        raise AssertionError(name)
    write_json(out / "results.json", result.to_json())
    result.files.insert(0, "results.json")
    return result
