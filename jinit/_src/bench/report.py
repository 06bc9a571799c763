"""The benchmark's records and their presentation: result types, tables, files.

Holds the record types (:class:`BenchResult`, one per initializer; :class:`BenchMeta`, the
machine and settings of a run; :class:`BenchFile`, the parsed ``<device>.json``) and their
outputs: the table cells (:func:`table_rows`), the Markdown report (:func:`format_table`, and
:func:`markdown` for a parsed result file) and the ``<device>.json``/``<device>.md`` files
(:func:`write_results`, which renders the ``.md`` from the JSON it writes, so the two always
agree). The records are produced by :mod:`jinit._src.bench.run`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TypedDict

__all__ = [
    "BenchFile",
    "BenchMeta",
    "BenchResult",
    "format_table",
    "markdown",
    "table_rows",
    "write_results",
]


class BenchResult(TypedDict):
    """One benchmarked initializer (times in ms are steady-state medians).

    ``jinit_over_jax`` below 1 means jinit is faster. ``x_fill`` is jinit's time over the
    fill's; ``gb_per_s`` and ``elements_per_s`` are jinit's output throughput.
    ``bit_identical`` is ``None`` without a jax anchor, and for a case that draws the same
    distribution from other bits (``orthogonal_householder``).
    """

    name: str
    entry: str
    shape: list[int]
    dtype: str
    elements: int
    bytes: int
    repeats: int
    jax_call: str | None
    torch_call: str | None
    jinit_ms: float
    jax_ms: float | None
    torch_ms: float | None
    fill_ms: float
    torch_fill_ms: float | None
    jinit_compile_s: float
    jax_compile_s: float | None
    jinit_over_jax: float | None
    elements_per_s: float
    gb_per_s: float
    x_fill: float
    jax_x_fill: float | None
    torch_x_fill: float | None
    bit_identical: bool | None


class BenchMeta(TypedDict):
    """Where and how a benchmark ran."""

    device: str
    device_kind: str
    platform: str
    machine: str
    cpu_count: int | None
    python: str
    jax: str
    jaxlib: str
    flax: str
    numpy: str
    torch: str | None
    torch_device: str | None
    torch_threads: int | None
    date: str
    key_impl: str
    dtype: str
    repeats: int
    statistic: str
    shape: list[int]
    orthogonal_shape: list[int]
    compilation_cache: bool


class BenchFile(TypedDict):
    """The contents of a ``<device>.json`` result file."""

    meta: BenchMeta
    results: list[BenchResult]


_HEADER = (
    "name",
    "shape",
    "jinit ms",
    "jax ms",
    "torch ms",
    "jinit/jax",
    "elements/s",
    "GB/s",
    "× fill",
    "compile s jinit/jax",
    "bit-identical",
)


def _ms(value: float | None) -> str:
    if value is None:
        return "—"
    if value >= 100:
        return f"{value:.0f}"
    return f"{value:.2f}" if value >= 1 else f"{value:.3f}"


def _seconds_text(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def table_rows(results: Sequence[BenchResult]) -> tuple[tuple[str, ...], list[list[str]]]:
    """The table's header and one row of text cells per result (Markdown and terminal alike)."""
    rows = []
    for r in results:
        identical = {None: "—", True: "yes", False: "NO"}[r["bit_identical"]]
        rows.append(
            [
                r["name"],
                "×".join(map(str, r["shape"])),
                _ms(r["jinit_ms"]),
                _ms(r["jax_ms"]),
                _ms(r["torch_ms"]),
                "—" if r["jinit_over_jax"] is None else f"{r['jinit_over_jax']:.2f}",
                f"{r['elements_per_s']:.3g}",
                f"{r['gb_per_s']:.3g}",
                f"{r['x_fill']:.2f}",
                f"{_seconds_text(r['jinit_compile_s'])}/{_seconds_text(r['jax_compile_s'])}",
                identical,
            ]
        )
    return _HEADER, rows


def _runs(repeats: int) -> str:
    return f"{repeats} run" if repeats == 1 else f"{repeats} runs"


def _describe(meta: BenchMeta) -> list[str]:
    torch = (
        "torch not timed"
        if meta["torch"] is None
        else f"torch {meta['torch']} on {meta['torch_device']} ({meta['torch_threads']} threads)"
    )
    cache = ", persistent compilation cache ON" if meta["compilation_cache"] else ""
    same = {"cpu": "cpu", "gpu": "cuda"}.get(meta["platform"]) == meta["torch_device"]
    if meta["torch"] is not None and not same:
        torch += f" (not jax's device: {meta['platform']})"
    return [
        f"device: {meta['device_kind']} ({meta['platform']}, {meta['machine']}, "
        f"{meta['cpu_count']} CPUs) — results `{meta['device']}`",
        f"versions: jax {meta['jax']}, jaxlib {meta['jaxlib']}, flax {meta['flax']}, "
        f"numpy {meta['numpy']}, {torch}, Python {meta['python']}",
        f"date: {meta['date']}; key impl: {meta['key_impl']}; dtype: {meta['dtype']}; "
        f"repeats: {meta['repeats']}",
        f"Steady-state times are medians of {_runs(meta['repeats'])}, each ended by "
        "`block_until_ready()`, after one warm-up call; jinit, jax and the fill run "
        "interleaved. Compile is the first call of a fresh `jax.jit(init, "
        f"static_argnums=(1, 2))` after `jax.clear_caches()`, tracing included{cache}.",
        "× fill: jinit's time over a jitted `jnp.full` of the same bytes on the same device. "
        "elements/s and GB/s: jinit's output. jinit/jax < 1: jinit is faster. "
        "bit-identical: jinit's and jax's bytes are equal for the same key (— where jinit "
        "draws the same distribution from other bits by design: `orthogonal_householder`).",
    ]


def format_table(results: Sequence[BenchResult], meta: BenchMeta) -> str:
    """The results as Markdown: header (device, versions, settings), table, anchors timed."""
    header, rows = table_rows(results)
    lines = [f"# jinit initializer benchmark: {meta['device']}", ""]
    lines += [f"- {line}" for line in _describe(meta)]
    lines += ["", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    lines += ["", "Anchors timed:", ""]
    for r in results:
        anchors = [call for call in (r["jax_call"], r["torch_call"]) if call is not None]
        lines.append(f"- {r['name']}: {'; '.join(anchors) if anchors else 'none'}")
    return "\n".join(lines) + "\n"


def markdown(data: BenchFile) -> str:
    """The Markdown of a parsed ``<device>.json``: what :func:`write_results` writes to ``.md``.

    Args:
      data: the parsed JSON, ``{"meta": ..., "results": [...]}``.

    Returns:
      :func:`format_table` of its records and meta.

    Example:
      >>> from jinit._src.bench import run as bench
      >>> meta = bench.benchmark_meta(bench.bench_config(repeats=1, torch=False))
      >>> markdown({"meta": meta, "results": []}).splitlines()[0]
      '# jinit initializer benchmark: ...'
    """
    return format_table(data["results"], data["meta"])


def write_results(
    results: Sequence[BenchResult], meta: BenchMeta, out_dir: str | os.PathLike[str]
) -> tuple[Path, Path]:
    """Write ``<device>.json`` (meta and records) and ``<device>.md`` (:func:`markdown` of it).

    The Markdown is rendered from the JSON text as written (parsed back), so a table always
    matches its result file.

    Args:
      results: what :func:`run_benchmark` returned.
      meta: what :func:`benchmark_meta` returned.
      out_dir: the directory (created if missing).

    Returns:
      The paths of the JSON and the Markdown file.
    """
    directory = Path(out_dir)
    directory.mkdir(parents=True, exist_ok=True)
    json_path = directory / f"{meta['device']}.json"
    md_path = directory / f"{meta['device']}.md"
    payload: BenchFile = {"meta": meta, "results": list(results)}
    text = json.dumps(payload, indent=1, ensure_ascii=False) + "\n"
    json_path.write_text(text, encoding="utf-8")
    md_path.write_text(markdown(json.loads(text)), encoding="utf-8")
    return json_path, md_path
