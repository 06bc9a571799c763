"""Which PRNG implementation draws initial weights fastest: threefry, rbg, philox or torch.

One process; the implementations interleaved round by round (so a drift in machine speed favours
none); each draw jitted once per implementation; steady-state medians with
``block_until_ready()``; compile time (``lower().compile()`` of a fresh jit) apart. Draws:
``jax.random.bits``/``uniform``/``normal``/``truncated_normal`` (``philox`` is ``jinit.philox``;
``philox4x32``, where JAX has it, is JAX's own Philox key implementation) and jinit's
``he_normal`` and
``glorot_uniform``, at 2048² and 4096² float32; torch's CPU generator (``random_``, ``uniform_``,
``normal_``, ``trunc_normal_``, ``kaiming_normal_``, ``xavier_uniform_``) beside them when
installed. As the physical reference, a copy of the same bytes (``x + 0``): ``of copy`` is the
copy's time over the draw's. Last, the 96-layer Dense model's ``jinit.init_params`` and a
16-copy ``jinit.ensemble_init`` with each key implementation.

Writes ``benchmarks/results/key_impls_<device>.json`` and ``.md`` (``markdown`` of the parsed
JSON; the JSON's ``setup`` records the model sizes).

Run: ``python benchmarks/key_impls.py [--shapes 2048,4096 --repeats 15 --depth 96]``
"""

from __future__ import annotations

import argparse
import functools
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp

import jinit
from jinit._src.bench.cases import bench_config
from jinit._src.bench.run import benchmark_meta
from jinit._src.core.philox import KEY_IMPLS, key_impl

RESULTS = Path(__file__).parent / "results"
#: the small model of the ensemble: depth and width of its Dense stack
ENSEMBLE_DEPTH, ENSEMBLE_WIDTH = 4, 256


@functools.cache
def impls() -> tuple[str, ...]:
    """jinit's key implementations, and JAX's own Philox4x32 where this JAX has one (0.10 does).

    A function, not a constant: probing for ``philox4x32`` makes a key, which starts JAX's
    backend, and importing this module must not.
    """
    try:
        jax.random.key(0, impl="philox4x32")
    except (ValueError, TypeError, KeyError):
        return KEY_IMPLS
    return (*KEY_IMPLS, "philox4x32")


DRAWS: dict[str, Callable[[jax.Array, tuple[int, int]], jax.Array]] = {
    "bits": lambda k, s: jax.random.bits(k, s),
    "uniform": lambda k, s: jax.random.uniform(k, s),
    "normal": lambda k, s: jax.random.normal(k, s),
    "truncated_normal": lambda k, s: jax.random.truncated_normal(k, -2.0, 2.0, s),
    "he_normal": lambda k, s: jinit.he_normal()(k, s),
    "glorot_uniform": lambda k, s: jinit.glorot_uniform()(k, s),
}
TORCH = {
    "bits": "random_",
    "uniform": "uniform_",
    "normal": "normal_",
    "truncated_normal": "trunc_normal_",
    "he_normal": "kaiming_normal_",
    "glorot_uniform": "xavier_uniform_",
}


def _torch_calls(shape: tuple[int, int]) -> dict[str, Callable[[], Any]]:
    try:
        import torch
    except ImportError:
        return {}
    torch.manual_seed(0)
    calls: dict[str, Callable[[], Any]] = {}
    for name, op in TORCH.items():
        if name == "bits":
            buffer = torch.empty(shape, dtype=torch.int32)
            calls[name] = lambda b=buffer: b.random_()
        elif name in ("uniform", "normal"):
            buffer = torch.empty(shape)
            calls[name] = lambda b=buffer, op=op: getattr(b, op)()
        else:
            buffer = torch.empty(shape)
            calls[name] = lambda b=buffer, op=op: getattr(torch.nn.init, op)(b)
    return calls


def _median_ms(calls: dict[str, Callable[[], Any]], repeats: int) -> dict[str, float]:
    for call in calls.values():  # warm up
        jax.block_until_ready(call())
    samples: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(repeats):
        for name, call in calls.items():
            start = time.perf_counter()
            jax.block_until_ready(call())
            samples[name].append((time.perf_counter() - start) * 1e3)
    return {name: statistics.median(times) for name, times in samples.items()}


def measure(shape: tuple[int, int], repeats: int) -> list[dict[str, Any]]:
    """One row per (draw, implementation) at ``shape``."""
    source = jnp.ones(shape, jnp.float32)
    copy = jax.jit(lambda x: x + 0)
    torch_calls = _torch_calls(shape)
    rows = []
    for name, draw in DRAWS.items():
        calls: dict[str, Callable[[], Any]] = {"copy": lambda: copy(source)}
        compile_s: dict[str, float] = {}
        for impl in impls():
            key = jax.random.key(0, impl=key_impl(impl))
            fn = jax.jit(lambda k, draw=draw: draw(k, shape))
            start = time.perf_counter()
            fn.lower(key).compile()
            compile_s[impl] = time.perf_counter() - start
            calls[impl] = lambda fn=fn, key=key: fn(key)
        if name in torch_calls:
            calls["torch"] = torch_calls[name]
        ms = _median_ms(calls, repeats)
        for impl in (*impls(), *(["torch"] if "torch" in calls else [])):
            rows.append(
                {
                    "draw": name,
                    "shape": list(shape),
                    "key_impl": impl,
                    "ms": ms[impl],
                    "copy_ms": ms["copy"],
                    "of_copy": ms["copy"] / ms[impl],
                    "vs_threefry": ms["threefry2x32"] / ms[impl],
                    "vs_torch": ms["torch"] / ms[impl] if "torch" in ms else None,
                    "compile_s": compile_s.get(impl),
                    "torch_op": TORCH[name] if impl == "torch" else None,
                }
            )
    return rows


@functools.cache
def _mlp_class() -> type:
    """The Flax model class, defined on first use so that importing this module skips Flax."""
    import flax.linen as nn

    class MLP(nn.Module):
        """A deep Dense stack (Flax's default initializers), as in ``benchmarks/model_init.py``."""

        depth: int
        width: int

        @nn.compact
        def __call__(self, x: jax.Array) -> jax.Array:
            for _ in range(self.depth):
                x = nn.relu(nn.Dense(self.width)(x))
            return x

    return MLP


def models(depth: int, width: int, copies: int, repeats: int) -> list[dict[str, Any]]:
    """``init_params`` of the deep model and ``ensemble_init`` of a small one, per key impl."""
    mlp = _mlp_class()
    model = mlp(depth, width)
    x = jnp.ones((1, width))
    abstract = jax.eval_shape(model.init, jax.random.key(0), x)
    rules = {"*kernel": jinit.lecun_normal, "*bias": jinit.zeros}
    small = mlp(ENSEMBLE_DEPTH, ENSEMBLE_WIDTH)
    xs = jnp.ones((1, ENSEMBLE_WIDTH))
    calls: dict[str, Callable[[], Any]] = {}
    for impl in impls():
        key = jax.random.key(1, impl=key_impl(impl))
        calls[f"init_params {impl}"] = lambda key=key: jinit.init_params(abstract, rules, key)
        calls[f"ensemble_init {impl}"] = lambda key=key: jinit.ensemble_init(
            small.init, key, copies, xs, batch_size=copies
        )
    first: dict[str, float] = {}
    for name, call in calls.items():
        start = time.perf_counter()
        jax.block_until_ready(call())
        first[name] = time.perf_counter() - start
    ms = _median_ms(calls, repeats)
    return [
        {
            "work": name.split()[0],
            "key_impl": name.split()[1],
            "first_s": first[name],
            "warm_ms": ms[name],
            "vs_threefry": ms[f"{name.split()[0]} threefry2x32"] / ms[name],
        }
        for name in calls
    ]


def _models_sentence(setup: dict[str, Any] | None) -> str:
    if setup is None:  # result files written before the sizes were recorded
        return (
            "Whole models: `init_params` of a deep Dense model (LeCun kernels) and "
            "`ensemble_init` of copies of a small Dense model; this result file does not record "
            "their depth, width or number of copies."
        )
    return (
        f"Whole models: `init_params` of a {setup['depth']} × Dense({setup['width']}) model "
        f"(LeCun kernels) and `ensemble_init` of {setup['copies']} copies of a "
        f"{setup['ensemble_depth']} × Dense({setup['ensemble_width']}) model."
    )


def markdown(data: dict[str, Any]) -> str:
    """The tables of a parsed ``key_impls_<device>.json``: the draws, then the whole models."""
    meta = data["meta"]
    lines = [
        f"# Key implementations on {meta['device']}",
        "",
        f"jax {meta['jax']}, {meta['date']}; float32, median of {meta['repeats']} interleaved "
        "runs. `of copy`: a copy of the same bytes' time over the draw's. `× threefry`, "
        "`× torch`: their time over this one's (> 1: faster). Compile: `lower().compile()` of "
        "a fresh jit.",
        "",
        "| draw | shape | key impl | ms | of copy | × threefry | × torch | compile s |",
        "|---|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in data["results"]:
        torch_ratio = "—" if r["vs_torch"] is None else f"{r['vs_torch']:.2f}"
        compile_s = "—" if r["compile_s"] is None else f"{r['compile_s']:.3f}"
        impl = f"torch `{r['torch_op']}`" if r["key_impl"] == "torch" else r["key_impl"]
        lines.append(
            f"| {r['draw']} | {r['shape'][0]}² | {impl} | {r['ms']:.1f} | {r['of_copy']:.3f} | "
            f"{r['vs_threefry']:.2f} | {torch_ratio} | {compile_s} |"
        )
    lines += [
        "",
        _models_sentence(data.get("setup")),
        "",
        "| work | key impl | first call s | warm ms | × threefry |",
        "|---|---|---:|---:|---:|",
    ]
    for r in data["models"]:
        lines.append(
            f"| {r['work']} | {r['key_impl']} | {r['first_s']:.2f} | {r['warm_ms']:.1f} | "
            f"{r['vs_threefry']:.2f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shapes", default="2048,4096", help="square sizes, comma-separated")
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--depth", type=int, default=96)
    parser.add_argument("--width", type=int, default=1024)
    parser.add_argument("--copies", type=int, default=16)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    meta = dict(benchmark_meta(bench_config(repeats=args.repeats, torch=False)))
    rows = []
    for size in (int(v) for v in args.shapes.split(",")):
        rows += measure((size, size), args.repeats)
    model_repeats = max(3, args.repeats // 3)
    model_rows = models(args.depth, args.width, args.copies, model_repeats)
    setup = {
        "depth": args.depth,
        "width": args.width,
        "copies": args.copies,
        "ensemble_depth": ENSEMBLE_DEPTH,
        "ensemble_width": ENSEMBLE_WIDTH,
        "model_repeats": model_repeats,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    stem = f"key_impls_{meta['device']}"
    data = {"meta": meta, "setup": setup, "results": rows, "models": model_rows}
    text = json.dumps(data, indent=2)
    (args.out / f"{stem}.json").write_text(text, encoding="utf-8")
    table = markdown(json.loads(text))
    (args.out / f"{stem}.md").write_text(table, encoding="utf-8")
    print(table)


if __name__ == "__main__":
    main()
