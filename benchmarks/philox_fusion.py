"""Where a ``jinit.philox`` draw spends its time on XLA's CPU backend: the block arithmetic or
the fusion that writes it.

A Philox4x32-10 block gives four 32-bit words, so ``n`` words need ``n / 4`` blocks. This script
measures, side by side in one process (interleaved rounds, medians):

- ``draw``: ``jax.random.bits(jax.random.key(0, impl=jinit.philox), shape)``, the real draw;
- ``blocks, one word out``: the same ``n / 4`` blocks, each reduced to one word (the XOR of its
  four), i.e. the block arithmetic with a quarter of the writes -- not a stream jinit uses;
- ``n blocks, one word out``: ``n`` blocks reduced the same way, the arithmetic of one block per
  word (JAX's own ``philox4x32`` draws this way, by design);
- torch's ``random_`` on the same shape and a copy of the same bytes;
- the four words of the n/4 blocks written other ways: stacked (the draw's layout), as four
  outputs, stacked after an optimization barrier, selected by lane, concatenated by rows, packed
  in pairs into ``uint64``;

and reads the compiled HLO of the draw: the loop fusions that contain the rounds' multiplies and
how many output elements each evaluates them for (``block evaluations``).

Writes ``benchmarks/results/philox_fusion_<device>.json`` and ``.md`` (``markdown`` of the
parsed JSON).

Run: ``python benchmarks/philox_fusion.py [--shapes 2048,4096 --repeats 21]``
"""

from __future__ import annotations

import argparse
import json
import math
import re
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

import jinit
from jinit._src.bench.cases import bench_config
from jinit._src.bench.run import benchmark_meta
from jinit._src.core.philox import _rounds

RESULTS = Path(__file__).parent / "results"
#: the timings of the first table (``ms`` keys); every other key is a way of writing the words
MAIN = ("draw", "blocks, one word out", "n blocks, one word out", "copy", "torch random_")


def _xor_blocks(blocks: tuple[int, int]) -> Callable[[jax.Array], jax.Array]:
    """``blocks`` Philox blocks on a 2-D grid, each reduced to the XOR of its four words."""

    def run(key: jax.Array) -> jax.Array:
        index = lax.broadcasted_iota(jnp.uint32, blocks, 1) + lax.broadcasted_iota(
            jnp.uint32, blocks, 0
        ) * np.uint32(blocks[1])
        zero = jnp.zeros_like(index)
        c0, c1, c2, c3 = _rounds((index, zero, zero, zero), (key[0], key[1]))
        return c0 ^ c1 ^ c2 ^ c3

    return run


def _words(blocks: tuple[int, int], key: jax.Array) -> tuple[jax.Array, ...]:
    index = lax.broadcasted_iota(jnp.uint32, blocks, 1) + lax.broadcasted_iota(
        jnp.uint32, blocks, 0
    ) * np.uint32(blocks[1])
    zero = jnp.zeros_like(index)
    return _rounds((index, zero, zero, zero), (key[0], key[1]))


def alternatives(size: int) -> dict[str, Callable[[jax.Array], Any]]:
    """Other ways to write the four words of the ``size**2 / 4`` blocks (same values or layout)."""
    blocks = (size, size // 4)

    def select(key: jax.Array) -> jax.Array:
        w = _words(blocks, key)
        lane = lax.broadcasted_iota(jnp.uint32, (*blocks, 4), 2)
        out = jnp.where(lane == 0, w[0][..., None], w[3][..., None])
        out = jnp.where(lane == 1, w[1][..., None], out)
        return jnp.where(lane == 2, w[2][..., None], out).reshape(size, size)

    def packed(key: jax.Array) -> jax.Array:
        w = _words(blocks, key)
        with jax.enable_x64(True):
            pairs = [
                a.astype(jnp.uint64) | (b.astype(jnp.uint64) << np.uint64(32))
                for a, b in ((w[0], w[1]), (w[2], w[3]))
            ]
            return lax.bitcast_convert_type(jnp.stack(pairs, -1), jnp.uint32).reshape(size, size)

    return {
        "stack (the draw's layout)": lambda k: jnp.stack(_words(blocks, k), -1).reshape(size, size),
        "four outputs": lambda k: _words(blocks, k),
        "barrier, then stack": lambda k: jnp.stack(
            lax.optimization_barrier(_words(blocks, k)), -1
        ).reshape(size, size),
        "select by lane": select,
        "concatenate rows": lambda k: jnp.concatenate(_words(blocks, k), axis=0),
        "two uint64 pairs": packed,
    }


def block_evaluations(compiled_text: str) -> list[dict[str, Any]]:
    """The loop fusions of a compiled program whose body multiplies, with their output sizes."""
    bodies: dict[str, int] = {}
    current = None
    for line in compiled_text.splitlines():
        header = re.match(r"^%?(\S+) \(.*\) -> .* \{$", line.strip())
        if header:
            current = header.group(1)
            bodies[current] = 0
        elif current and " multiply(" in line:
            bodies[current] += 1
    fusions = []
    for line in compiled_text.splitlines():
        match = re.search(r"= \w+\[([\d,]*)\]\S* fusion\(.*kind=kLoop, calls=%?([\w.\-]+)", line)
        if match and bodies.get(match.group(2), 0):
            dims = [int(d) for d in match.group(1).split(",") if d]
            fusions.append({"elements": math.prod(dims), "multiplies": bodies[match.group(2)]})
    return fusions


def _median_ms(calls: dict[str, Callable[[], Any]], repeats: int) -> dict[str, float]:
    for call in calls.values():
        call()
    times: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(repeats):
        for name, call in calls.items():
            start = time.perf_counter()
            call()
            times[name].append(time.perf_counter() - start)
    return {name: 1e3 * statistics.median(t) for name, t in times.items()}


def measure(size: int, repeats: int) -> dict[str, Any]:
    shape = (size, size)
    words = size * size
    key = jax.random.key(0, impl=jinit.philox)
    raw = jax.random.key_data(key)
    draw = jax.jit(lambda k: jax.random.bits(k, shape))
    quarter = jax.jit(_xor_blocks((size, size // 4)))
    full = jax.jit(_xor_blocks(shape))
    copy = jax.jit(lambda x: x + np.uint32(1))
    data = jnp.zeros(shape, jnp.uint32)
    calls: dict[str, Callable[[], Any]] = {
        "draw": lambda: draw(key).block_until_ready(),
        "blocks, one word out": lambda: quarter(raw).block_until_ready(),
        "n blocks, one word out": lambda: full(raw).block_until_ready(),
        "copy": lambda: copy(data).block_until_ready(),
    }
    try:
        import torch

        torch.set_num_threads(2)
        tensor = torch.empty(shape, dtype=torch.int32)
        calls["torch random_"] = lambda: tensor.random_()
    except ImportError:
        pass
    for name, fn in alternatives(size).items():
        jitted = jax.jit(fn)
        calls[name] = lambda jitted=jitted: jax.block_until_ready(jitted(raw))
    ms = _median_ms(calls, repeats)
    fusions = block_evaluations(draw.lower(key).compile().as_text())
    return {
        "shape": list(shape),
        "words": words,
        "blocks_needed": words // 4,
        "block_evaluations": sum(f["elements"] for f in fusions),
        "fusions": fusions,
        "ms": ms,
    }


def markdown(data: dict[str, Any]) -> str:
    """The tables of a parsed ``philox_fusion_<device>.json``: the draw, then the other layouts."""
    meta, rows = data["meta"], data["rows"]
    lines = [
        f"# Philox draw on XLA's CPU backend: arithmetic against fusion ({meta['device']})",
        "",
        f"jax {meta['jax']}, {meta['date']}; uint32, median of interleaved runs. `blocks, one "
        "word out`: the n/4 blocks a draw needs, each reduced to one word (the arithmetic with "
        "a quarter of the writes); `n blocks, one word out`: one block per word. `block "
        "evaluations`: output elements of the compiled draw's loop fusions that contain the "
        "rounds (one full block each).",
        "",
        "| shape | draw ms | blocks, one word out ms | n blocks, one word out ms | torch "
        "`random_` ms | copy ms | blocks needed | block evaluations |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        ms = row["ms"]
        torch_ms = f"{ms['torch random_']:.1f}" if "torch random_" in ms else "—"
        lines.append(
            f"| {row['shape'][0]}² | {ms['draw']:.1f} | {ms['blocks, one word out']:.1f} | "
            f"{ms['n blocks, one word out']:.1f} | {torch_ms} | {ms['copy']:.1f} | "
            f"{row['blocks_needed']:,} | {row['block_evaluations']:,} |"
        )
    names = [name for name in rows[0]["ms"] if name not in MAIN] if rows else []
    lines += [
        "",
        "The same n/4 blocks' four words written other ways (ms):",
        "",
        "| shape | " + " | ".join(names) + " |",
        "|---|" + "---:|" * len(names),
    ]
    for row in rows:
        cells = " | ".join(f"{row['ms'][name]:.1f}" for name in names)
        lines.append(f"| {row['shape'][0]}² | {cells} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shapes", default="2048,4096", help="square sizes, comma-separated")
    parser.add_argument("--repeats", type=int, default=21)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    meta = dict(benchmark_meta(bench_config(repeats=args.repeats, torch=False)))
    rows = [measure(int(size), args.repeats) for size in args.shapes.split(",")]
    args.out.mkdir(parents=True, exist_ok=True)
    stem = f"philox_fusion_{meta['device']}"
    text = json.dumps({"meta": meta, "rows": rows}, indent=2)
    (args.out / f"{stem}.json").write_text(text, encoding="utf-8")
    table = markdown(json.loads(text))
    (args.out / f"{stem}.md").write_text(table, encoding="utf-8")
    print(table)


if __name__ == "__main__":
    main()
