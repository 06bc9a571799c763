"""Every jinit initializer vs ``jax.nn.initializers`` and ``torch.nn.init``, in one process.

For each initializer: compile time (first call of a fresh ``jax.jit``, caches cleared) apart
from steady state (median of the repeats, each ``block_until_ready()``), elements/s and GB/s of
output, the time as a multiple of a plain fill of the same bytes on the same device, the ratio
jinit/jax, and whether jinit's and jax's outputs are bit-identical. The core is
``jinit._src.bench.run`` (also behind ``jinit bench``); this script runs it and writes
``benchmarks/results/<device>.json`` and ``.md`` (``<device>`` e.g. ``cpu-x86_64``,
``gpu-nvidia-h100-80gb-hbm3``, with ``-rbg``/``-unsafe_rbg`` appended for those key impls).
The ``.md`` is ``markdown(data)`` of the parsed JSON (``jinit._src.bench.report.markdown``).

Run: ``python benchmarks/bench_init.py [--quick] [--repeats N] [--shape ROWS,COLS]
[--only NAME,...] [--key-impl threefry2x32|rbg|unsafe_rbg] [--out DIR]``
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from jinit._src.bench import run as bench
from jinit._src.bench.report import markdown

__all__ = ["main", "markdown", "parse_args"]

RESULTS = Path(__file__).parent / "results"


def parse_args(argv: Sequence[str] | None = None) -> tuple[bench.BenchConfig, Path]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"{bench.QUICK_SHAPE} (orthogonal {bench.QUICK_ORTHOGONAL_SHAPE}), "
        f"{bench.QUICK_REPEATS} repeats instead of {bench.FULL_SHAPE} "
        f"(orthogonal {bench.FULL_ORTHOGONAL_SHAPE}), {bench.FULL_REPEATS} repeats",
    )
    parser.add_argument("--repeats", type=int, default=None, help="steady-state calls per side")
    parser.add_argument(
        "--shape", default=None, metavar="ROWS,COLS", help="one 2-D shape for every initializer"
    )
    parser.add_argument(
        "--only",
        default="",
        metavar="NAME,...",
        help="initializers to time (default all): " + ", ".join(c.name for c in bench.CASES),
    )
    parser.add_argument("--key-impl", default="threefry2x32", choices=bench.KEY_IMPLS)
    parser.add_argument("--no-torch", action="store_true", help="skip torch.nn.init")
    parser.add_argument("--out", type=Path, default=RESULTS, help=f"default {RESULTS}")
    args = parser.parse_args(argv)
    try:
        config = bench.bench_config(
            quick=args.quick,
            shape=None if args.shape is None else bench.parse_shape(args.shape),
            repeats=args.repeats,
            only=bench.parse_names(args.only),
            key_impl=args.key_impl,
            torch=not args.no_torch,
        )
    except (ValueError, TypeError) as error:
        parser.error(str(error))
    return config, args.out


def main(argv: Sequence[str] | None = None) -> int:
    config, out = parse_args(argv)
    meta = bench.benchmark_meta(config)
    results = bench.run_benchmark(config, progress=lambda line: print(line, file=sys.stderr))
    json_path, md_path = bench.write_results(results, meta, out)
    print(bench.format_table(results, meta), end="")
    print(f"wrote {json_path} and {md_path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
