"""Atomic, resumable storage of study results.

Each finished cell is written to ``<out>/cells/<name>.json`` at once, through a temporary file in
the same directory and :func:`os.replace`, so an interrupted study never leaves a half-written
cell. A cell is reused on the next run only if its stored *fingerprint* (every setting that
changes its numbers) equals the current one.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["fingerprint", "load_cell", "write_cell", "write_csv", "write_json"]


def fingerprint(settings: Mapping[str, Any]) -> str:
    """A short stable hash of JSON-serializable ``settings``."""
    text = json.dumps(settings, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_json(path: Path, payload: Any) -> None:
    """Write ``payload`` as JSON to ``path`` atomically (NaN is written as ``null``)."""
    _atomic_write(path, json.dumps(_nan_to_none(payload), indent=1, allow_nan=False) + "\n")


def write_csv(path: Path, rows: Sequence[Mapping[str, Any]]) -> None:
    """Write ``rows`` (dicts with the same keys) as CSV to ``path`` atomically."""
    if not rows:
        _atomic_write(path, "")
        return
    import io

    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    _atomic_write(path, buffer.getvalue())


def cell_path(out: Path, name: str) -> Path:
    """Where the cell ``name`` is stored."""
    safe = "".join(c if c.isalnum() or c in "-_.+" else "_" for c in name)
    return out / "cells" / f"{safe}.json"


def write_cell(out: Path, name: str, key: str, payload: Mapping[str, Any]) -> None:
    """Store a finished cell with its fingerprint ``key``."""
    write_json(cell_path(out, name), {"fingerprint": key, **payload})


def load_cell(out: Path, name: str, key: str) -> dict[str, Any] | None:
    """The stored cell ``name`` if it exists, parses and has fingerprint ``key``; else None."""
    path = cell_path(out, name)
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(stored, dict) or stored.get("fingerprint") != key:
        return None
    return stored


def _nan_to_none(value: Any) -> Any:
    if isinstance(value, float) and value != value:  # NaN
        return None
    if isinstance(value, float) and value in (float("inf"), float("-inf")):
        return None
    if isinstance(value, dict):
        return {k: _nan_to_none(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_nan_to_none(v) for v in value]
    return value
