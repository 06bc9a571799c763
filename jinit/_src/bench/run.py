r"""Benchmark every initializer against ``jax.nn.initializers`` and ``torch.nn.init``.

One process times, side by side and on the same device, jinit's initializer, its
``jax.nn.initializers`` counterpart where one exists (the anchor), the ``torch.nn.init``
function playing the same role when PyTorch is importable, and a plain fill of the same bytes:

* **compile**: the first call of a fresh ``jax.jit(init, static_argnums=(1, 2))``, tracing
  included, after :func:`jax.clear_caches` so that neither side reuses traces of the other;
* **steady state**: the median of ``repeats`` calls, each ended by ``block_until_ready()``,
  after one warm-up call; jinit, jax and the fill are interleaved call by call so that a
  change of machine load hits all three alike;
* **throughput**: elements/s and GB/s of output, and the time as a multiple of the fill
  (a jitted ``jnp.full``; ``torch.empty(shape).fill_`` for PyTorch), the physical floor of
  writing the same bytes;
* **sanity**: whether jinit's and jax's outputs are bit-identical for the same key.

All initializers take a typed key of the chosen implementation (``threefry2x32``, ``rbg`` or
``unsafe_rbg``). PyTorch has no truncated variance-scaling initializer, so the truncated-normal
presets (``glorot_normal``, ``he_normal``, ``lecun_normal``) are timed against its normal form
(``xavier_normal_``, ``kaiming_normal_``); every record names the exact anchor calls it timed.

This module holds the measurement (:func:`run_benchmark`) and the description of the run
(:func:`device_name`, :func:`benchmark_meta`). The cases, names and settings live in
:mod:`jinit._src.bench.cases`, the record types, tables and files in
:mod:`jinit._src.bench.report`; the names callers use are re-exported here, so
``from jinit._src.bench import run as bench`` is all a caller needs.

Example:
  >>> from jinit._src.bench import run as bench
  >>> config = bench.bench_config(shape=(8, 8), repeats=1, only=["zeros"], torch=False)
  >>> [record] = bench.run_benchmark(config)
  >>> record["name"], record["shape"], record["bit_identical"]
  ('zeros', [8, 8], True)
  >>> print(bench.format_table([record], bench.benchmark_meta(config)).splitlines()[8])
  | name | shape | jinit ms | jax ms | torch ms | jinit/jax | elements/s | GB/s | × fill | ...
"""

from __future__ import annotations

import datetime
import math
import os
import platform
import re
import statistics
import time
from collections.abc import Callable, Mapping
from types import ModuleType

import jax
import jax.numpy as jnp
import numpy as np

from jinit._src.bench.cases import (
    _CASE_BY_NAME,
    _DTYPE,
    _FILL_VALUE,
    CASES,
    FULL_ORTHOGONAL_SHAPE,
    FULL_REPEATS,
    FULL_SHAPE,
    KEY_IMPLS,
    NAME_GROUPS,
    QUICK_ORTHOGONAL_SHAPE,
    QUICK_REPEATS,
    QUICK_SHAPE,
    BenchConfig,
    Case,
    InitFn,
    bench_config,
    case_shape,
    parse_names,
    parse_shape,
    resolve_names,
)
from jinit._src.bench.report import (
    BenchMeta,
    BenchResult,
    _runs,
    format_table,
    table_rows,
    write_results,
)
from jinit._src.core.philox import key_impl
from jinit._src.core.types import KeyArray

__all__ = [
    "CASES",
    "FULL_ORTHOGONAL_SHAPE",
    "FULL_REPEATS",
    "FULL_SHAPE",
    "KEY_IMPLS",
    "NAME_GROUPS",
    "QUICK_ORTHOGONAL_SHAPE",
    "QUICK_REPEATS",
    "QUICK_SHAPE",
    "BenchConfig",
    "BenchMeta",
    "BenchResult",
    "Case",
    "bench_config",
    "benchmark_meta",
    "case_shape",
    "device_name",
    "format_table",
    "parse_names",
    "parse_shape",
    "resolve_names",
    "run_benchmark",
    "table_rows",
    "write_results",
]


def _torch_module(wanted: bool) -> ModuleType | None:
    if not wanted:
        return None
    try:
        import torch
    except ImportError:
        return None
    return torch


def _torch_device(torch: ModuleType) -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


def device_name(key_impl: str = "threefry2x32", device: jax.Device | None = None) -> str:
    """The results' file stem: ``cpu-<machine>`` or ``<platform>-<device kind>`` (+ key impl).

    Lowercase, spaces as ``-``; the key implementation is appended unless it is the default
    ``threefry2x32``.

    Example:
      >>> device_name()  # doctest: +SKIP
      'cpu-x86_64'
      >>> device_name("rbg")  # doctest: +SKIP
      'gpu-nvidia-h100-80gb-hbm3-rbg'
    """
    device = jax.devices()[0] if device is None else device
    if device.platform == "cpu":
        stem = f"cpu-{platform.machine() or 'unknown'}"
    else:
        stem = f"{device.platform}-{device.device_kind}"
    stem = re.sub(r"[^a-z0-9._-]+", "-", stem.lower()).strip("-")
    return stem if key_impl == "threefry2x32" else f"{stem}-{key_impl}"


def _version(name: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def benchmark_meta(config: BenchConfig) -> BenchMeta:
    """Describe the machine, the library versions and the settings of a run of ``config``."""
    device = jax.devices()[0]
    torch = _torch_module(config.torch)
    cache = getattr(jax.config, "jax_compilation_cache_dir", None)
    return {
        "device": device_name(config.key_impl, device),
        "device_kind": str(device.device_kind),
        "platform": device.platform,
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "jax": jax.__version__,
        "jaxlib": _version("jaxlib"),
        "flax": _version("flax"),
        "numpy": np.__version__,
        "torch": None if torch is None else str(torch.__version__),
        "torch_device": None if torch is None else _torch_device(torch),
        "torch_threads": None if torch is None else int(torch.get_num_threads()),
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "key_impl": config.key_impl,
        "dtype": _DTYPE,
        "repeats": config.repeats,
        "statistic": f"median of {_runs(config.repeats)}",
        "shape": list(config.shape),
        "orthogonal_shape": list(config.orthogonal_shape),
        "compilation_cache": bool(cache),
    }


def _seconds(call: Callable[[], object], sync: Callable[[object], object]) -> float:
    start = time.perf_counter()
    sync(call())
    return time.perf_counter() - start


def _block(value: object) -> object:
    return jax.block_until_ready(value)  # type: ignore[no-untyped-call]


def _compiled(
    init: InitFn, key: KeyArray, shape: tuple[int, ...]
) -> tuple[Callable[[], jax.Array], float]:
    """A steady-state call of ``init`` and the seconds of its first (compiling) call."""
    # A cold start: no trace or executable of an earlier case (or the other side) is reused.
    jax.clear_caches()  # type: ignore[no-untyped-call]
    jitted = jax.jit(init, static_argnums=(1, 2))
    dtype = jnp.dtype(_DTYPE)

    def call() -> jax.Array:
        out: jax.Array = jitted(key, shape, dtype)
        return out

    return call, _seconds(call, _block)


def _fill(shape: tuple[int, ...]) -> Callable[[], jax.Array]:
    """A jitted ``jnp.full`` of ``shape`` (the value is traced, so nothing is folded)."""
    full = jax.jit(lambda value: jnp.full(shape, value, _DTYPE))
    value = jnp.asarray(_FILL_VALUE, _DTYPE)

    def call() -> jax.Array:
        out: jax.Array = full(value)
        return out

    return call


def _bit_identical(a: jax.Array, b: jax.Array) -> bool:
    x, y = np.ascontiguousarray(np.asarray(a)), np.ascontiguousarray(np.asarray(b))
    return (
        x.shape == y.shape
        and x.dtype == y.dtype
        and bool(np.array_equal(x.view(np.uint8), y.view(np.uint8)))
    )


def _medians_ms(
    calls: Mapping[str, Callable[[], object]], repeats: int, sync: Callable[[object], object]
) -> dict[str, float]:
    """One warm-up call each, then ``repeats`` interleaved timed calls; medians in ms."""
    for call in calls.values():
        sync(call())
    samples: dict[str, list[float]] = {label: [] for label in calls}
    for _ in range(repeats):
        for label, call in calls.items():
            samples[label].append(_seconds(call, sync))
    return {label: 1e3 * statistics.median(times) for label, times in samples.items()}


def _torch_ms(
    torch: ModuleType, case: Case, shape: tuple[int, ...], repeats: int
) -> dict[str, float]:
    """Median ms of the case's ``torch.nn.init`` call and of ``empty().fill_``, same bytes."""
    device = _torch_device(torch)
    dtype = getattr(torch, _DTYPE)
    init = getattr(torch.nn.init, str(case.torch_op))
    kwargs = dict(case.torch_kwargs)
    # PyTorch's layout: (out, in, *window) for kernels; 2-D shapes are timed as they are.
    layout = (*shape[-2:][::-1], *shape[:-2]) if len(shape) > 2 else shape

    def run() -> object:
        return init(torch.empty(layout, dtype=dtype, device=device), **kwargs)

    def fill() -> object:
        return torch.empty(layout, dtype=dtype, device=device).fill_(_FILL_VALUE)

    def sync(value: object) -> object:
        if device == "cuda":
            torch.cuda.synchronize()
        return value

    return _medians_ms({"torch": run, "fill": fill}, repeats, sync)


def _measure(case: Case, config: BenchConfig, torch: ModuleType | None) -> BenchResult:
    shape = case_shape(case, config)
    key = jax.random.key(config.seed, impl=key_impl(config.key_impl))
    elements = math.prod(shape)
    nbytes = elements * jnp.dtype(_DTYPE).itemsize

    jinit_call, jinit_compile = _compiled(case.jinit_init(), key, shape)
    calls: dict[str, Callable[[], object]] = {"jinit": jinit_call}
    jax_compile: float | None = None
    bit_identical: bool | None = None
    jax_init = case.jax_init()
    if jax_init is not None:
        jax_call, jax_compile = _compiled(jax_init, key, shape)
        calls["jax"] = jax_call
        if case.same_bits:
            bit_identical = _bit_identical(jinit_call(), jax_call())
    calls["fill"] = _fill(shape)
    ms = _medians_ms(calls, config.repeats, _block)

    torch_ms: dict[str, float] = {}
    if torch is not None and case.torch_op is not None:
        torch_ms = _torch_ms(torch, case, shape, config.repeats)

    jinit_ms, fill_ms, jax_ms = ms["jinit"], ms["fill"], ms.get("jax")
    return {
        "name": case.name,
        "entry": case.entry,
        "shape": list(shape),
        "dtype": _DTYPE,
        "elements": elements,
        "bytes": nbytes,
        "repeats": config.repeats,
        "jax_call": case.jax_call,
        "torch_call": case.torch_call if torch_ms else None,
        "jinit_ms": jinit_ms,
        "jax_ms": jax_ms,
        "torch_ms": torch_ms.get("torch"),
        "fill_ms": fill_ms,
        "torch_fill_ms": torch_ms.get("fill"),
        "jinit_compile_s": jinit_compile,
        "jax_compile_s": jax_compile,
        "jinit_over_jax": None if jax_ms is None else jinit_ms / jax_ms,
        "elements_per_s": elements / (jinit_ms / 1e3),
        "gb_per_s": nbytes / (jinit_ms / 1e3) / 1e9,
        "x_fill": jinit_ms / fill_ms,
        "jax_x_fill": None if jax_ms is None else jax_ms / fill_ms,
        "torch_x_fill": (
            torch_ms["torch"] / torch_ms["fill"] if torch_ms and torch_ms["fill"] > 0 else None
        ),
        "bit_identical": bit_identical,
    }


def run_benchmark(
    config: BenchConfig, *, progress: Callable[[str], None] | None = None
) -> list[BenchResult]:
    """Time every selected initializer against its anchors and the fill (see the module doc).

    Args:
      config: what to run (:func:`bench_config` builds one from command-line options).
      progress: called with a line before each initializer (e.g. to print progress).

    Returns:
      One :class:`BenchResult` per selected case, in :data:`CASES` order.
    """
    torch = _torch_module(config.torch)
    results = []
    for name in config.names:
        case = _CASE_BY_NAME[name]
        if progress is not None:
            progress(f"{name} {case_shape(case, config)}")
        results.append(_measure(case, config, torch))
    return results
