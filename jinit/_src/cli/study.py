"""``jinit study``: argument parsing, validation (before anything is written), progress, tables."""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from jinit._src.core.philox import KEY_IMPLS
from jinit._src.study.data import DATASETS, load_dataset
from jinit._src.study.experiments import EXPERIMENTS, quick_config, run_experiment
from jinit._src.study.inits import INITIALIZERS, resolve_init
from jinit._src.study.matrix import DEFAULT_INITS, MatrixConfig
from jinit._src.study.models import MODELS, ModelSpec
from jinit._src.study.optimizers import OPTIMIZERS
from jinit._src.study.report import ExperimentResult

__all__ = ["add_study_parser"]

_EPILOG = """\
experiments:
  optimizers   initializer x optimizer matrix on --dataset (default)
  signal       Glorot & Bengio 2010: activation std per layer, 50-layer tanh MLP, at init
  deep-relu    He et al. 2015: 30-layer ReLU MLP, He vs Glorot, SGD+momentum and Adam
  deep-linear  Saxe et al. 2014: steps to the least-squares optimum vs depth, orthogonal vs Gaussian
  selu         Klambauer et al. 2017: 100 SELU layers, LeCun normal vs He
  edge-of-chaos  Schoenholz et al. 2017: gradient slope = ln chi_1 per layer; tanh depth 60/100
               train only near chi_1 = 1
  adaptive     GradInit (Zhu et al. 2021) and LSUV (Mishkin & Matas 2016) train a 30-layer
               Glorot ReLU MLP; MetaInit (Dauphin & Schoenholz 2019) halves the gradient
               quotient of a 20-layer 0.5 x LeCun tanh MLP and trains it
  all          all of them, each in its own sub-directory of --out

optimizers (default learning rate): {optimizers}
initializers: {inits}  (each also as NAME:ARGS, the factory's arguments, e.g. normal:0.02;
  names mean what jinit.get means: "normal" is the fixed N(0, 0.01^2), "uniform:s" is
  jinit.uniform's U[0, s), "symmetric_uniform:s" is U[-s, s), the study's old "uniform:s")
data sets: {datasets}, or a path to a .npz file with arrays X and y

Finished cells are stored in --out/cells as soon as they are done; running the same command
again resumes and recomputes nothing that is stored.
"""


def _names(text: str) -> list[str]:
    return [name.strip() for name in text.split(",") if name.strip()]


def add_study_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``study`` sub-command to the ``jinit`` parser."""
    epilog = _EPILOG.format(
        optimizers=", ".join(f"{n} ({s.learning_rate:g})" for n, s in OPTIMIZERS.items()),
        inits=", ".join(INITIALIZERS),
        datasets=", ".join(DATASETS),
    )
    study = commands.add_parser(
        "study",
        help="train Flax models with Optax to show how initialization changes convergence",
        description="Verify initializers by training: reproduce published results at small "
        "scale and print the claim, the measured figures and a verdict.",
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    study.add_argument(
        "--experiment",
        default="optimizers",
        metavar="NAME",
        help=f"one of {', '.join(EXPERIMENTS)}, all (default: optimizers)",
    )
    study.add_argument("--dataset", default="digits", help="data set name or .npz path")
    study.add_argument("--model", default="mlp", help=f"one of {', '.join(MODELS)} (default mlp)")
    study.add_argument("--depth", type=int, default=4, help="hidden layers / blocks (default 4)")
    study.add_argument("--width", type=int, default=64, help="hidden units (default 64)")
    study.add_argument("--activation", default="relu", help="activation name (default relu)")
    study.add_argument(
        "--init",
        default=",".join(DEFAULT_INITS),
        help=f"comma-separated initializers (default {','.join(DEFAULT_INITS)})",
    )
    study.add_argument(
        "--optimizer",
        default=",".join(OPTIMIZERS),
        help="comma-separated optimizers (default: all nine)",
    )
    study.add_argument(
        "--lr",
        action="append",
        default=[],
        metavar="OPTIMIZER=LR",
        help="override a learning rate, e.g. --lr adam=3e-4 (repeatable)",
    )
    study.add_argument(
        "--lr-sweep",
        action="store_true",
        help="also try each learning rate x1/3 and x3, keep the best per cell",
    )
    study.add_argument("--steps", type=int, default=400, help="steps per run (default 400)")
    study.add_argument(
        "--eval-every", type=int, default=20, help="steps between loss evaluations (default 20)"
    )
    study.add_argument("--seeds", type=int, default=3, help="runs per cell (default 3)")
    study.add_argument("--seed", type=int, default=0, help="base random seed (default 0)")
    study.add_argument(
        "--key-impl",
        choices=KEY_IMPLS,
        default="threefry2x32",
        help="PRNG implementation of the matrix experiment's keys (default threefry2x32; "
        "philox: jinit.philox, Philox4x32-10)",
    )
    study.add_argument(
        "--target-loss",
        type=float,
        default=0.1,
        help="training loss for the steps-to-target column (default 0.1)",
    )
    study.add_argument(
        "--quick",
        action="store_true",
        help="small variant of the experiment (seconds; used by the tests)",
    )
    study.add_argument(
        "--out",
        type=Path,
        default=Path("jinit-study"),
        help="output directory (default ./jinit-study)",
    )
    study.add_argument("--no-progress", action="store_true", help="no progress bar")
    study.set_defaults(run=run_study)


def _config(args: argparse.Namespace) -> MatrixConfig:
    """Validate every argument and build the study settings (raises ValueError)."""
    experiments = (*EXPERIMENTS, "all")
    if args.experiment not in experiments:
        raise ValueError(
            f"unknown --experiment {args.experiment!r}; expected one of {', '.join(experiments)}"
        )
    inits = _names(args.init)
    for name in inits:
        resolve_init(name)
    optimizers = _names(args.optimizer)
    for name in optimizers:
        if name not in OPTIMIZERS:
            raise ValueError(
                f"unknown --optimizer {name!r}; expected one of {', '.join(OPTIMIZERS)}"
            )
    if not inits or not optimizers:
        raise ValueError("--init and --optimizer need at least one name each")
    rates = []
    for item in args.lr:
        name, _, value = item.partition("=")
        if name not in OPTIMIZERS:
            raise ValueError(
                f"--lr {item!r}: unknown optimizer {name!r}; expected OPTIMIZER=LR with "
                f"OPTIMIZER one of {', '.join(OPTIMIZERS)}"
            )
        try:
            lr = float(value)
        except ValueError:
            lr = math.nan
        if not (math.isfinite(lr) and lr > 0):
            raise ValueError(f"--lr {item!r}: the learning rate must be a positive number")
        rates.append((name, lr))
    for flag, value in (
        ("--steps", args.steps),
        ("--eval-every", args.eval_every),
        ("--seeds", args.seeds),
    ):
        if value < 1:
            raise ValueError(f"{flag} must be >= 1, got {value}")
    if args.steps % args.eval_every:
        raise ValueError(
            f"--steps ({args.steps}) must be a multiple of --eval-every ({args.eval_every})"
        )
    if not (math.isfinite(args.target_loss) and args.target_loss > 0):
        raise ValueError(f"--target-loss must be a positive number, got {args.target_loss}")
    model = ModelSpec(args.model, args.depth, args.width, args.activation)
    data = load_dataset(args.dataset)  # raises for an unknown name or a bad file
    model.build(resolve_init("zeros"), data.n_classes, data.image_shape)  # cnn needs images
    return MatrixConfig(
        dataset=args.dataset,
        model=model,
        inits=tuple(inits),
        optimizers=tuple(optimizers),
        steps=args.steps,
        eval_every=args.eval_every,
        seeds=args.seeds,
        seed=args.seed,
        learning_rates=tuple(rates),
        lr_sweep=args.lr_sweep,
        target_loss=args.target_loss,
        key_impl=args.key_impl,
    )


def _matrix_table(result: ExperimentResult, target: float) -> Table:
    table = Table(title=escape(result.data["dataset"]), title_justify="left")
    for column in (
        "init",
        "optimizer",
        "lr",
        "final train loss",
        "test accuracy",
        f"steps to loss ≤ {target:g}",
    ):
        table.add_column(column, justify="left" if column in ("init", "optimizer") else "right")
    for row in result.data["summary"]:
        reach = row["steps_to_target_median"]
        reached = (
            f"{reach:.0f}"
            if math.isfinite(reach)
            else f"{row['runs_reaching_target']}/{row['runs']} reached"
        )
        loss = row["final_train_loss_mean"]
        table.add_row(
            escape(row["init"]),
            row["optimizer"],
            f"{row['learning_rate']:.3g}",
            f"{loss:.3f} ± {row['final_train_loss_std']:.3f}"
            if math.isfinite(loss)
            else "diverged",
            f"{row['test_accuracy_mean']:.3f} ± {row['test_accuracy_std']:.3f}",
            reached,
        )
    return table


def _print_result(console: Console, result: ExperimentResult, out: Path, seconds: float) -> None:
    console.rule(f"[bold]{result.name}")
    console.print(escape(result.claim))
    if result.name == "optimizers":
        config = result.data["config"]
        console.print(_matrix_table(result, config["target_loss"]))
    checks = Table(show_header=True)
    for column in ("check", "measured", "expected", ""):
        checks.add_column(column)
    for check in result.checks:
        checks.add_row(
            escape(check.description),
            escape(check.measured),
            escape(check.expected),
            "[green]ok" if check.passed else "[red]FAIL",
        )
    console.print(checks)
    colour = {True: "green", False: "red", None: "yellow"}[result.verdict]
    verdict = f"[{colour}]{result.verdict_text}"
    console.print(
        f"verdict: {verdict}   ({seconds:.1f} s; wrote {', '.join(result.files)} "
        f"in {escape(str(out))})"
    )


def run_study(args: argparse.Namespace) -> int:
    """Run the ``study`` sub-command; returns 0, or 2 for invalid arguments."""
    console = Console()
    if not console.is_terminal:  # files and pipes: wide enough for the tables
        console = Console(width=max(console.width, 120))
    try:
        config = _config(args)
    except (ValueError, TypeError) as error:
        console.print(f"[red]jinit study: error:[/red] {escape(str(error))}")
        return 2
    names = EXPERIMENTS if args.experiment == "all" else (args.experiment,)
    for name in names:
        out = args.out / name if args.experiment == "all" else args.out
        total = _progress_total(name, config, args.quick)
        start = time.perf_counter()
        with Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[note]}"),
            TimeElapsedColumn(),
            console=console,
            disable=args.no_progress,
            transient=True,
        ) as progress:
            task = progress.add_task(name, total=total, note="")

            def advance(
                count: int, note: str, task: TaskID = task, progress: Progress = progress
            ) -> None:
                progress.update(task, advance=count, note=note)

            result = run_experiment(name, out, config=config, quick=args.quick, on_progress=advance)
        _print_result(console, result, out, time.perf_counter() - start)
    return 0


def _progress_total(name: str, config: MatrixConfig, quick: bool) -> int | None:
    if name == "optimizers":
        matrix = quick_config(config) if quick else config
        return len(matrix.inits) * len(matrix.optimizers)
    if name == "deep-relu":
        return 4
    if name == "deep-linear":
        return 3 if quick else 6
    if name == "edge-of-chaos":
        return 2 if quick else 3
    if name == "adaptive":
        return 5  # the PHASES of jinit._src.study.adaptive
    return None
