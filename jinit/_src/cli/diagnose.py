"""``jinit diagnose``: measure one of the study's models at initialization and print the verdict."""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path
from typing import Any

import jax
from rich.console import Console
from rich.markup import escape

from jinit._src.analysis.diagnose.flags import (
    EXPLODING_RATIO,
    LOSS_CHANCE_RATIO,
    LOSS_EXCESS_NATS,
    TREND_R2,
    TREND_RATIO,
    VANISHING_RATIO,
)
from jinit._src.analysis.diagnose.run import diagnose
from jinit._src.study.data import DATASETS, load_dataset
from jinit._src.study.inits import INITIALIZERS, resolve_init
from jinit._src.study.models import MODELS, ModelSpec
from jinit._src.study.optimizers import OPTIMIZERS

__all__ = ["add_diagnose_parser", "run_diagnose"]

_EPILOG = """\
Most verdicts compare the two ends of the network: activation std last/first layer, gradient norm
first/last layer per parameter name (kernel, bias). vanishing: ratio < {vanish:g}; exploding:
ratio > {explode:g} or overflow, or a peak inside: any layer's activation std > {explode:g} ×
the first's; shrinking/growing: beyond a factor {trend:g} with a steady geometric trend
(R² >= {r2:g}); loss_above_chance: the initial cross-entropy over C classes exceeds
max({chance:g}·ln C, ln C + {excess:g}).

models: {models}
initializers: {inits}  (each also as NAME:ARGS, e.g. normal:0.02; see jinit.get)
optimizers (default learning rate): {optimizers}
data sets: {datasets}, or a path to a .npz file with arrays X and y

example:
  jinit diagnose --depth 30 --width 128 --activation tanh --init normal:0.01 --plot signal.png
"""


def add_diagnose_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``diagnose`` sub-command to the ``jinit`` parser."""
    epilog = _EPILOG.format(
        vanish=VANISHING_RATIO,
        explode=EXPLODING_RATIO,
        trend=TREND_RATIO,
        r2=TREND_R2,
        chance=LOSS_CHANCE_RATIO,
        excess=LOSS_EXCESS_NATS,
        models=", ".join(MODELS),
        inits=", ".join(INITIALIZERS),
        optimizers=", ".join(f"{n} ({s.learning_rate:g})" for n, s in OPTIMIZERS.items()),
        datasets=", ".join(DATASETS),
    )
    parser = commands.add_parser(
        "diagnose",
        help="activations, gradients and first-step updates of a model at initialization",
        description="Apply one of the study's Flax models to a batch at initialization and "
        "print, per layer, the activation mean and std, the gradient norms and the size of one "
        "optimizer step relative to the weights, with vanishing/exploding verdicts.",
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--model", default="mlp", help="one of " + ", ".join(MODELS))
    parser.add_argument("--depth", type=int, default=4, help="hidden layers / blocks (default 4)")
    parser.add_argument("--width", type=int, default=64, help="hidden units (default 64)")
    parser.add_argument("--activation", default="relu", help="activation name (default relu)")
    parser.add_argument(
        "--init",
        default="lecun_normal",
        help="initializer of every kernel, NAME or NAME:ARGS (default lecun_normal, Flax's)",
    )
    parser.add_argument("--dataset", default="digits", help="data set name or .npz path")
    parser.add_argument(
        "--batch", type=int, default=256, help="training samples in the batch (default 256)"
    )
    parser.add_argument(
        "--optimizer", default="sgd", help="optimizer of the one step (default sgd, lr 0.01)"
    )
    parser.add_argument("--lr", type=float, default=None, help="learning rate override")
    parser.add_argument("--seed", type=int, default=0, help="initialization seed (default 0)")
    parser.add_argument("--plot", type=Path, default=None, help="write a PNG plot here")
    parser.add_argument("--json", type=Path, default=None, help="write the figures as JSON here")
    parser.add_argument(
        "--fail-on-flags", action="store_true", help="exit with status 1 when a flag is raised"
    )
    parser.set_defaults(run=run_diagnose)


def _check_output(flag: str, path: Path | None) -> None:
    if path is not None and not path.parent.is_dir():
        raise ValueError(f"{flag} {str(path)!r}: directory {str(path.parent)!r} does not exist")


def _setup(args: argparse.Namespace) -> dict[str, Any]:
    """Validate every argument and build the model and batch (raises ValueError)."""
    spec = ModelSpec(args.model, args.depth, args.width, args.activation)
    init = resolve_init(args.init)
    if args.optimizer not in OPTIMIZERS:
        raise ValueError(
            f"unknown --optimizer {args.optimizer!r}; expected one of {', '.join(OPTIMIZERS)}"
        )
    optimizer = OPTIMIZERS[args.optimizer]
    lr = optimizer.learning_rate if args.lr is None else args.lr
    if not (math.isfinite(lr) and lr > 0):
        raise ValueError(f"--lr must be a positive number, got {args.lr}")
    if args.batch < 1:
        raise ValueError(f"--batch must be >= 1, got {args.batch}")
    _check_output("--plot", args.plot)
    _check_output("--json", args.json)
    data = load_dataset(args.dataset)
    module = spec.build(init, data.n_classes, data.image_shape)
    return {
        "spec": spec,
        "module": module,
        "data": data,
        "optimizer": optimizer.make(lr),
        "lr": lr,
    }


def run_diagnose(args: argparse.Namespace) -> int:
    """Run ``jinit diagnose``: 0, 1 with ``--fail-on-flags`` and a flag, 2 for bad arguments."""
    console = Console()
    if not console.is_terminal:  # files and pipes: wide enough for the tables
        console = Console(width=max(console.width, 120))
    try:
        setup = _setup(args)
    except (ValueError, TypeError) as error:
        console.print(f"[red]jinit diagnose: error:[/red] {escape(str(error))}")
        return 2
    data, module = setup["data"], setup["module"]
    x, y = data.x_train[: args.batch], data.y_train[: args.batch]
    start = time.perf_counter()
    variables = module.init(jax.random.key(args.seed), x[:1])
    diagnosis = diagnose(module, variables, x, labels=y, optimizer=setup["optimizer"])
    seconds = time.perf_counter() - start
    console.rule(
        f"[bold]{escape(setup['spec'].describe())}, init {escape(args.init)}, "
        f"{escape(data.name)} batch {len(x)}"
    )
    diagnosis.table(console=console)
    console.print(
        f"({seconds:.1f} s; gradients of the {diagnosis.loss_name} {diagnosis.loss:.4g}, "
        f"one {args.optimizer} step with lr {setup['lr']:g})"
    )
    config = {
        "model": args.model,
        "depth": args.depth,
        "width": args.width,
        "activation": args.activation,
        "init": args.init,
        "dataset": args.dataset,
        "batch": len(x),
        "optimizer": args.optimizer,
        "learning_rate": setup["lr"],
        "seed": args.seed,
    }
    if args.json is not None:
        payload = {"config": config, **diagnosis.to_dict()}
        args.json.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
        console.print(f"wrote {escape(str(args.json))}")
    if args.plot is not None:
        diagnosis.plot(args.plot)
        console.print(f"wrote {escape(str(args.plot))}")
    return 1 if args.fail_on_flags and diagnosis.flags else 0
