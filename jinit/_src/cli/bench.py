"""``jinit bench``: every initializer timed against its jax.nn.initializers and torch anchors."""

from __future__ import annotations

import argparse
import textwrap
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from jinit._src.bench import run as bench

__all__ = ["add_bench_parser"]


_BENCH_EPILOG = """\
Each row: the jinit initializer, its jax.nn.initializers counterpart and the torch.nn.init
function in the same role (when torch is installed), timed in one process; compile (first call of
a fresh jax.jit, caches cleared) apart from steady state (median of the repeats); elements/s and
GB/s of output; the time as a multiple of a jitted jnp.full of the same bytes; whether jinit's
and jax's outputs are bit-identical.

{names}
{groups}
key implementations: {impls}

examples:
  jinit bench --only normal,he_normal,orthogonal
  jinit bench --full --key-impl rbg --out benchmarks/results
"""


def _bench(args: argparse.Namespace) -> int:
    """Run ``jinit bench``: 0, or 2 for bad arguments."""
    console = Console(width=args.width)
    if args.width is None and not console.is_terminal:  # files and pipes: room for the table
        console = Console(width=max(console.width, 160))
    try:
        config = bench.bench_config(
            quick=not args.full,
            shape=None if args.shape is None else bench.parse_shape(args.shape),
            repeats=args.repeats,
            only=bench.parse_names(args.only),
            key_impl=args.key_impl,
            torch=not args.no_torch,
        )
        if args.out is not None and args.out.exists() and not args.out.is_dir():
            raise ValueError(f"--out {str(args.out)!r} exists and is not a directory")
    except (ValueError, TypeError) as error:
        console.print(f"[red]jinit bench: error:[/red] {escape(str(error))}")
        return 2
    meta = bench.benchmark_meta(config)
    status = Console(stderr=True)  # progress on stderr: stdout holds only the table
    results = bench.run_benchmark(
        config, progress=lambda line: status.print(f"[dim]timing {escape(line)}[/dim]")
    )
    if args.format == "markdown":
        print(bench.format_table(results, meta), end="")
    else:
        header, rows = bench.table_rows(results)
        table = Table(
            title=f"jinit vs jax.nn.initializers vs torch.nn.init: {meta['device']}, key "
            f"{meta['key_impl']}, medians of {meta['repeats']} runs"
        )
        for column in header:
            table.add_column(column, justify="left" if column == "name" else "right")
        for row in rows:
            table.add_row(*(escape(cell) for cell in row))
        console.print(table)
    if args.out is not None:
        paths = bench.write_results(results, meta, args.out)
        status.print(f"wrote {escape(str(paths[0]))} and {escape(str(paths[1]))}")
    return 0


def add_bench_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    epilog = _BENCH_EPILOG.format(
        names=textwrap.fill(
            "names: " + ", ".join(case.name for case in bench.CASES), 96, subsequent_indent="  "
        ),
        groups=textwrap.fill(
            "also registry names and aliases: " + ", ".join(bench.NAME_GROUPS),
            96,
            subsequent_indent="  ",
        ),
        impls=", ".join(bench.KEY_IMPLS),
    )
    parser = commands.add_parser(
        "bench",
        help="time every initializer against jax.nn.initializers and torch.nn.init",
        description="Benchmark the initializers side by side with jax.nn.initializers and\n"
        "torch.nn.init on this machine's default device. Quick sizes "
        f"({bench.QUICK_SHAPE[0]}x{bench.QUICK_SHAPE[1]}, orthogonal "
        f"{bench.QUICK_ORTHOGONAL_SHAPE[0]}x{bench.QUICK_ORTHOGONAL_SHAPE[1]}, "
        f"{bench.QUICK_REPEATS} repeats) unless --full.",
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--full",
        action="store_true",
        help=f"full sizes: {bench.FULL_SHAPE[0]}x{bench.FULL_SHAPE[1]} float32, orthogonal "
        f"{bench.FULL_ORTHOGONAL_SHAPE[0]}x{bench.FULL_ORTHOGONAL_SHAPE[1]}, "
        f"{bench.FULL_REPEATS} repeats",
    )
    parser.add_argument(
        "--shape",
        default=None,
        metavar="ROWS,COLS",
        help="one 2-D shape for every initializer, orthogonal included (kernels use "
        "(3, 3, m, m) of about as many elements)",
    )
    parser.add_argument(
        "--only",
        default="",
        metavar="NAME,...",
        help="comma-separated initializers to time (default: all; names below)",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=None,
        help=f"steady-state calls per side, median reported (default {bench.QUICK_REPEATS}, "
        f"{bench.FULL_REPEATS} with --full)",
    )
    parser.add_argument(
        "--key-impl",
        default="threefry2x32",
        metavar="IMPL",
        help="PRNG implementation of the typed key: "
        + ", ".join(bench.KEY_IMPLS)
        + " (default threefry2x32)",
    )
    parser.add_argument(
        "--no-torch", action="store_true", help="do not time torch.nn.init even if installed"
    )
    parser.add_argument(
        "--format",
        choices=("table", "markdown"),
        default="table",
        help="print a terminal table (default) or the Markdown table with its header",
    )
    parser.add_argument(
        "--width", type=int, default=None, help="terminal width for the table (default: detected)"
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="DIR",
        help="also write <device>.json and <device>.md to DIR (default: write nothing)",
    )
    parser.set_defaults(run=_bench)
