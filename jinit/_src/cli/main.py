"""The ``jinit`` command line: ``list``, ``study``, ``diagnose`` and ``bench``.

``jinit list`` prints the catalogue, ``jinit study`` trains, ``jinit diagnose`` inspects a model
at initialization and ``jinit bench`` times every initializer against its anchors.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from jinit._src.cli.bench import add_bench_parser
from jinit._src.cli.diagnose import add_diagnose_parser
from jinit._src.cli.list import add_list_parser
from jinit._src.cli.study import add_study_parser

__all__ = ["main"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``jinit`` command: one module per subcommand."""
    parser = argparse.ArgumentParser(
        prog="jinit",
        description="Neural-network parameter initializers for JAX and Flax.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    add_list_parser(commands)
    add_study_parser(commands)
    add_diagnose_parser(commands)
    add_bench_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``jinit`` command line; returns the exit status."""
    args = build_parser().parse_args(argv)
    status: int = args.run(args)
    return status


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
