"""The ``jinit`` console script: checks the command line's extra, then runs :func:`main`."""

from __future__ import annotations

from collections.abc import Sequence

from jinit._src.core.optional import require

__all__ = ["main"]

#: What the command line imports: rich for its tables, Flax and Optax for the study's models,
#: matplotlib for its plots (``pip install 'jinit[cli]'`` brings them all).
NEEDS = ("rich", "flax", "optax", "matplotlib")


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``jinit`` (see :mod:`jinit._src.cli.main`), or say which extra is missing."""
    try:
        for name in NEEDS:
            require(name, "cli")
    except ImportError as error:
        print(error)
        return 2
    from jinit._src.cli.main import main as run

    return run(argv)
