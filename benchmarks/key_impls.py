"""Which PRNG implementation draws initial weights fastest: threefry vs rbg vs unsafe_rbg.

One process, the implementations interleaved round by round (so a drift in machine speed
favours none), each initializer jitted once per implementation, steady-state medians with
``block_until_ready()``. As the physical reference, a device-to-device copy of the same bytes
(``x + 0`` over a resident array: one read and one write); ``of copy`` is the copy's time over
the draw's, i.e. the draw's throughput as a fraction of the device's copy bandwidth.

Writes ``benchmarks/results/key_impls_<device>.json`` and ``.md``.

Run: ``python benchmarks/key_impls.py [--shape 4096,4096 --repeats 15]``
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp

import jinit
from jinit._src.bench.cases import KEY_IMPLS, bench_config
from jinit._src.bench.run import benchmark_meta

RESULTS = Path(__file__).parent / "results"
INITIALIZERS: dict[str, Callable[[], jinit.Initializer]] = {
    "uniform": lambda: jinit.uniform(1.0),
    "normal": lambda: jinit.normal(1.0),
    "truncated_normal": lambda: jinit.truncated_normal(1.0),
    "he_normal": jinit.he_normal,
    "glorot_uniform": jinit.glorot_uniform,
}


def _median_ms(calls: dict[str, Callable[[], Any]], repeats: int) -> dict[str, float]:
    for call in calls.values():  # compile and warm up
        jax.block_until_ready(call())
    samples: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(repeats):
        for name, call in calls.items():
            start = time.perf_counter()
            jax.block_until_ready(call())
            samples[name].append((time.perf_counter() - start) * 1e3)
    return {name: statistics.median(times) for name, times in samples.items()}


def measure(shape: tuple[int, int], repeats: int) -> list[dict[str, Any]]:
    source = jnp.ones(shape, jnp.float32)
    copy = jax.jit(lambda x: x + 0)
    rows = []
    for name, factory in INITIALIZERS.items():
        init = factory()
        calls: dict[str, Callable[[], Any]] = {"copy": lambda: copy(source)}
        for impl in KEY_IMPLS:
            key = jax.random.key(0, impl=impl)
            fn = jax.jit(lambda k, init=init: init(k, shape, jnp.float32))
            calls[impl] = lambda fn=fn, key=key: fn(key)
        ms = _median_ms(calls, repeats)
        fastest = min(KEY_IMPLS, key=lambda impl: ms[impl])
        for impl in KEY_IMPLS:
            rows.append(
                {
                    "initializer": name,
                    "key_impl": impl,
                    "ms": ms[impl],
                    "copy_ms": ms["copy"],
                    "of_copy": ms["copy"] / ms[impl],
                    "vs_threefry": ms["threefry2x32"] / ms[impl],
                    "fastest": impl == fastest,
                }
            )
    return rows


def markdown(meta: dict[str, Any], shape: tuple[int, int], rows: list[dict[str, Any]]) -> str:
    lines = [
        f"# Key implementations on {meta['device']}",
        "",
        f"jax {meta['jax']}, {meta['date']}; {shape[0]}×{shape[1]} float32, median of "
        f"{meta['repeats']} interleaved runs. `of copy`: a copy of the same bytes' time over the "
        "draw's (the draw's throughput as a fraction of copy bandwidth). `speed-up`: threefry's "
        "time over this one's.",
        "",
        "| initializer | key impl | ms | of copy | speed-up vs threefry |",
        "|---|---|---:|---:|---:|",
    ]
    for r in rows:
        impl = f"**{r['key_impl']}**" if r["fastest"] else r["key_impl"]
        lines.append(
            f"| {r['initializer']} | {impl} | {r['ms']:.1f} | {r['of_copy']:.3f} | "
            f"{r['vs_threefry']:.2f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shape", default="4096,4096")
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    rows_, cols_ = (int(v) for v in args.shape.split(","))
    shape = (rows_, cols_)
    meta = dict(benchmark_meta(bench_config(repeats=args.repeats, torch=False)))
    rows = measure(shape, args.repeats)
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / f"key_impls_{meta['device']}"
    stem.with_suffix(".json").write_text(
        json.dumps({"meta": meta, "shape": list(shape), "results": rows}, indent=2)
    )
    text = markdown(meta, shape, rows)
    stem.with_suffix(".md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
