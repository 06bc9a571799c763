"""``jinit list``: the catalogue of initializers as a table, Markdown or JSON."""

from __future__ import annotations

import argparse
import json

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from jinit._src.initializers.catalogue import CATALOGUE, markdown_table

__all__ = ["add_list_parser"]


def _list(args: argparse.Namespace) -> int:
    if args.format == "markdown":
        print(markdown_table())
        return 0
    if args.format == "json":
        rows = [
            {
                "name": e.name,
                "aliases": list(e.aliases),
                "family": e.family,
                "distribution": e.distribution,
                "formula": e.formula,
                "reference": e.reference,
                "jax_parity": e.jax_parity,
            }
            for e in CATALOGUE
        ]
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return 0
    table = Table(title="jinit initializers", show_lines=False)
    for column in ("initializer", "family", "distribution", "variance / bound", "reference"):
        table.add_column(column, overflow="fold")
    for e in CATALOGUE:
        names = "\n".join((e.name, *(f"= {alias}" for alias in e.aliases)))
        table.add_row(
            *(escape(cell) for cell in (names, e.family, e.distribution, e.formula, e.reference))
        )
    Console(width=args.width).print(table)
    return 0


def add_list_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``jinit list`` to the command line's subcommands."""
    listing = commands.add_parser(
        "list",
        help="print every initializer with its variance formula and reference",
        description="Print the catalogue of initializers: formula, distribution, reference.",
    )
    listing.add_argument(
        "--format",
        choices=("table", "markdown", "json"),
        default="table",
        help="output format (default: a terminal table)",
    )
    listing.add_argument(
        "--width", type=int, default=None, help="terminal width for the table (default: detected)"
    )
    listing.set_defaults(run=_list)
