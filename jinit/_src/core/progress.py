"""A progress bar for long library calls (adaptive initialization, coordinate checks).

``progress=True`` in a jinit function shows a rich bar on stderr while it runs (rich comes with
the ``cli`` extra; without it the call says which extra to install); ``False`` shows nothing.
The bar is transient: it disappears when the work is done, leaving the report to speak.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from jinit._src.core.optional import require

__all__ = ["Advance", "progress_bar"]

#: ``advance(steps=1, note="")``: record ``steps`` more units of work, with an optional note.
Advance = Callable[..., None]


def _silent(steps: int = 1, note: str = "") -> None:
    del steps, note


@contextmanager
def progress_bar(owner: str, total: int, description: str, enabled: bool) -> Iterator[Advance]:
    """Show a bar of ``total`` steps while the ``with`` block runs; yield its ``advance``.

    Args:
      owner: the public function's name (for the missing-extra message).
      total: the units of work (>= 0).
      description: the bar's label.
      enabled: whether to show it; ``False`` yields a no-op ``advance`` and imports nothing.

    Raises:
      ImportError: ``enabled`` and rich is not installed (names the extra).
    """
    if not enabled:
        yield _silent
        return
    progress = require("rich.progress", owner)
    with progress.Progress(
        progress.TextColumn("[bold]{task.description}"),
        progress.BarColumn(),
        progress.MofNCompleteColumn(),
        progress.TextColumn("{task.fields[note]}"),
        progress.TimeElapsedColumn(),
        transient=True,
    ) as bar:
        task = bar.add_task(description, total=total, note="")

        def advance(steps: int = 1, note: str = "") -> None:
            bar.update(task, advance=steps, note=note)

        yield advance
