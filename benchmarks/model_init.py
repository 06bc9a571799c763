"""Whole-model initialization: grouped ``jinit.init_params`` and ``jinit.ensemble_init``.

Two measurements, each side by side with its anchor in one process, end to end (a fresh jit
every time, so compile time is included, then the warm call):

1. A deep Dense model (default 96 layers of width 1024, Flax linen, Flax's default
   initializers: LeCun normal kernels, zero biases). Anchor: ``jax.jit(model.init)``.
   jinit: ``jax.eval_shape(model.init)`` + ``jinit.init_params`` with the same initializers as
   rules (one compiled draw per group of equal shapes). And what ``jinit.trace_axes`` adds:
   the same with factory rules (``jinit.lecun_normal``), layouts from names against layouts
   from ``axes=jinit.trace_axes(model.apply, abstract, x)``.
2. An ensemble of small MLPs (default 64 copies of 3 x 64). Anchors: a Python loop over keys of
   one jitted ``model.init``, and ``jax.jit(jax.vmap(model.init))``. jinit:
   ``jinit.ensemble_init`` (``lax.map``; and with ``batch_size`` = all copies).

Writes ``benchmarks/results/model_init_<device>.json`` and ``.md`` (``markdown`` of the parsed
JSON).

Run: ``python benchmarks/model_init.py [--depth 96 --width 1024 --copies 64 --repeats 5]``
"""

from __future__ import annotations

import argparse
import functools
import json
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp

import jinit

RESULTS = Path(__file__).parent / "results"


@functools.cache
def _mlp_class() -> type:
    """The Flax model class, defined on first use so that importing this module skips Flax."""
    import flax.linen as nn

    class MLP(nn.Module):
        depth: int
        width: int
        out: int

        @nn.compact
        def __call__(self, x: jax.Array) -> jax.Array:
            for _ in range(self.depth):
                x = nn.relu(nn.Dense(self.width)(x))
            return nn.Dense(self.out)(x)

    return MLP


def device_name() -> str:
    device = jax.devices()[0]
    if device.platform == "cpu":
        return f"cpu-{platform.machine()}"
    return f"{device.platform}-{device.device_kind}".lower().replace(" ", "-")


def timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    jax.block_until_ready(fn())
    return time.perf_counter() - start


def compare(makes: dict[str, Callable[[], Callable[[], Any]]], repeats: int) -> dict[str, Any]:
    """Median first-call and warm seconds of each method, the methods interleaved per round.

    Each round clears JAX's caches, builds every method afresh and times its first call
    (compile included), then three warm calls. Interleaving the methods round by round keeps a
    drift in machine speed from favouring one of them.
    """
    firsts: dict[str, list[float]] = {name: [] for name in makes}
    warms: dict[str, list[float]] = {name: [] for name in makes}
    for _ in range(repeats):
        for name, make in makes.items():
            jax.clear_caches()
            fn = make()
            firsts[name].append(timed(fn))
            warms[name].extend(timed(fn) for _ in range(3))
    return {
        name: {"first_s": statistics.median(firsts[name]), "warm_s": statistics.median(warms[name])}
        for name in makes
    }


def deep_model(depth: int, width: int, repeats: int) -> dict[str, Any]:
    model = _mlp_class()(depth, width, width)
    x = jnp.ones((1, width))
    key = jax.random.key(0)
    rules = {"*kernel": jinit.lecun_normal(), "*bias": jinit.zeros}

    def anchor() -> Callable[[], Any]:
        init = jax.jit(model.init)
        return lambda: init(key, x)

    def grouped() -> Callable[[], Any]:
        def run() -> Any:
            abstract = jax.eval_shape(model.init, key, x)
            return jinit.init_params(abstract, rules, jax.random.key(1))

        return run

    factories = {"*kernel": jinit.lecun_normal, "*bias": jinit.zeros}  # fans from the layouts

    def named() -> Callable[[], Any]:
        def run() -> Any:
            abstract = jax.eval_shape(model.init, key, x)
            return jinit.init_params(abstract, factories, jax.random.key(1))

        return run

    def traced() -> Callable[[], Any]:
        def run() -> Any:
            abstract = jax.eval_shape(model.init, key, x)
            axes = jinit.trace_axes(model.apply, abstract, x)
            return jinit.init_params(abstract, factories, jax.random.key(1), axes=axes)

        return run

    methods = {"anchor": anchor, "grouped": grouped, "named": named, "traced": traced}
    times = compare(methods, repeats)
    a, g = times["anchor"], times["grouped"]
    abstract = jax.eval_shape(model.init, key, x)
    trace_alone = []
    for _ in range(repeats):
        start = time.perf_counter()
        jinit.trace_axes(model.apply, abstract, x)
        trace_alone.append(time.perf_counter() - start)
    return {
        "work": f"{depth} x Dense({width}) model, f32, "
        f"{(depth + 1) * width * width * 4 / 2**30:.2f} GiB of parameters",
        "anchor": "jax.jit(model.init)",
        "anchor_first_s": a["first_s"],
        "anchor_warm_s": a["warm_s"],
        "jinit": "eval_shape + jinit.init_params",
        "jinit_first_s": g["first_s"],
        "jinit_warm_s": g["warm_s"],
        "speedup_first": a["first_s"] / g["first_s"],
        "speedup_warm": a["warm_s"] / g["warm_s"],
        "factories_named_first_s": times["named"]["first_s"],
        "factories_named_warm_s": times["named"]["warm_s"],
        "factories_traced_first_s": times["traced"]["first_s"],
        "factories_traced_warm_s": times["traced"]["warm_s"],
        "trace_axes_s": statistics.median(trace_alone),
        "trace_added_first_s": times["traced"]["first_s"] - times["named"]["first_s"],
        "trace_added_warm_s": times["traced"]["warm_s"] - times["named"]["warm_s"],
    }


def ensemble(copies: int, depth: int, width: int, repeats: int) -> list[dict[str, Any]]:
    model = _mlp_class()(depth, width, 10)
    x = jnp.ones((1, 64))
    key = jax.random.key(0)

    def loop() -> Callable[[], Any]:
        init = jax.jit(model.init)
        return lambda: [init(k, x) for k in jax.random.split(key, copies)]

    def vmapped() -> Callable[[], Any]:
        init = jax.jit(jax.vmap(model.init, in_axes=(0, None)))
        return lambda: init(jax.random.split(key, copies), x)

    def mapped(batch_size: int | None) -> Callable[[], Callable[[], Any]]:
        def make() -> Callable[[], Any]:
            return lambda: jinit.ensemble_init(model.init, key, copies, x, batch_size=batch_size)

        return make

    methods = {
        "loop of jax.jit(model.init) (anchor)": loop,
        "jax.jit(jax.vmap(model.init))": vmapped,
        "jinit.ensemble_init (lax.map)": mapped(None),
        f"jinit.ensemble_init(batch_size={copies})": mapped(copies),
    }
    times = compare(methods, repeats)
    loop_t = times["loop of jax.jit(model.init) (anchor)"]
    rows = []
    for label, t in times.items():
        rows.append(
            {
                "work": f"{copies} MLPs {depth} x {width}",
                "method": label,
                "first_s": t["first_s"],
                "warm_s": t["warm_s"],
                "first_vs_loop": loop_t["first_s"] / t["first_s"],
                "warm_vs_loop": loop_t["warm_s"] / t["warm_s"],
            }
        )
    return rows


def markdown(data: dict[str, Any]) -> str:
    """The tables of a parsed ``model_init_<device>.json``: the deep model, then the ensemble."""
    meta, deep, ens = data["meta"], data["deep"], data["ensemble"]
    lines = [
        f"# Whole-model initialization on {meta['device']}",
        "",
        f"jax {meta['jax']}, flax {meta['flax']}, {meta['date']}; medians over {meta['repeats']} "
        "rounds, methods interleaved: the first call of a freshly built function (compile "
        "included, caches cleared) and warm calls (3 per round).",
        "",
        f"## {deep['work']}",
        "",
        "| method | first call s | warm s |",
        "|---|---:|---:|",
        f"| {deep['anchor']} | {deep['anchor_first_s']:.2f} | {deep['anchor_warm_s']:.3f} |",
        f"| {deep['jinit']} | {deep['jinit_first_s']:.2f} | {deep['jinit_warm_s']:.3f} |",
        "",
        f"End to end (first call): **{deep['speedup_first']:.1f}x** faster; warm: "
        f"{deep['speedup_warm']:.2f}x.",
        "",
        "### What the trace adds (factory rules: `jinit.lecun_normal`, not called)",
        "",
        "| method | first call s | warm s |",
        "|---|---:|---:|",
        f"| eval_shape + init_params, layouts from names | {deep['factories_named_first_s']:.2f} "
        f"| {deep['factories_named_warm_s']:.3f} |",
        f"| eval_shape + trace_axes + init_params(axes=) | "
        f"{deep['factories_traced_first_s']:.2f} | {deep['factories_traced_warm_s']:.3f} |",
        "",
        f"`jinit.trace_axes(model.apply, abstract, x)` alone: **{deep['trace_axes_s']:.3f} s** "
        f"(median); added to the first call {deep['trace_added_first_s']:+.3f} s, to a warm "
        f"call {deep['trace_added_warm_s']:+.3f} s.",
        "",
        f"## Ensemble: {ens[0]['work']}",
        "",
        "| method | first call s | warm s | first: loop / this | warm: loop / this |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in ens:
        lines.append(
            f"| {r['method']} | {r['first_s']:.2f} | {r['warm_s']:.3f} | "
            f"{r['first_vs_loop']:.2f} | {r['warm_vs_loop']:.2f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--depth", type=int, default=96)
    parser.add_argument("--width", type=int, default=1024)
    parser.add_argument("--copies", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    import flax

    meta = {
        "device": device_name(),
        "jax": jax.__version__,
        "flax": flax.__version__,
        "date": time.strftime("%Y-%m-%d"),
        "repeats": args.repeats,
    }
    deep = deep_model(args.depth, args.width, args.repeats)
    ens = ensemble(args.copies, 3, 64, args.repeats)
    args.out.mkdir(parents=True, exist_ok=True)
    stem = f"model_init_{meta['device']}"
    setup = {"depth": args.depth, "width": args.width, "copies": args.copies}
    text = json.dumps({"meta": meta, "setup": setup, "deep": deep, "ensemble": ens}, indent=2)
    (args.out / f"{stem}.json").write_text(text, encoding="utf-8")
    table = markdown(json.loads(text))
    (args.out / f"{stem}.md").write_text(table, encoding="utf-8")
    print(table)


if __name__ == "__main__":
    main()
