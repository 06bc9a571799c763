"""Batched study training (one jitted vmap over runs) vs a Python loop of the same jitted run.

Both sides train the same runs (initializers x seeds of one optimizer cell column, the study's
default model and steps) with the same compiled single-run code; the loop calls it once per run,
the batched path stacks the runs and makes one call. Compile (first call) and steady state
(median of repeats) are reported apart. Writes ``benchmarks/results/study_batched_<device>.json``
and ``.md`` (``markdown`` of the parsed JSON).

Run: ``python benchmarks/study_batched.py [--repeats 3] [--optimizers sgd,minibatch,bgd]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jax
import numpy as np

if TYPE_CHECKING:
    from jinit._src.study.data import Dataset
    from jinit._src.study.matrix import MatrixConfig

RESULTS = Path(__file__).parent / "results"


def measure(
    optimizer: str,
    config: MatrixConfig,
    data: Dataset,
    arrays: tuple[jax.Array, ...],
    repeats: int,
) -> dict[str, Any]:
    """Time the loop and the batched call for one optimizer's column of runs."""
    # the study imports Flax and Optax: only when measuring, not when this module is imported
    from jinit._src.study.inits import resolve_init
    from jinit._src.study.matrix import DEFAULT_INITS, _stack, _tile_keys
    from jinit._src.study.models import init_params
    from jinit._src.study.optimizers import OPTIMIZERS
    from jinit._src.study.training import _compiled_trainer

    spec = OPTIMIZERS[optimizer]
    keys = jax.random.split(jax.random.key(0), config.seeds)
    params = []
    for name in DEFAULT_INITS:
        module = config.model.build(resolve_init(name), data.n_classes, data.image_shape)
        params.append(jax.vmap(lambda k, m=module: init_params(m, k, data.n_features))(keys))
    stacked = jax.tree.map(np.asarray, _stack(params))
    runs = len(DEFAULT_INITS) * config.seeds
    batch_keys = _tile_keys(keys, len(DEFAULT_INITS))
    lrs = np.full(runs, spec.learning_rate, np.float32)
    apply_module = config.model.build(resolve_init("zeros"), data.n_classes, data.image_shape)
    n_train = len(data.x_train)
    trainer = _compiled_trainer(apply_module, spec, config.steps, config.eval_every, n_train)

    def batched() -> object:
        return jax.block_until_ready(trainer(stacked, lrs, batch_keys, *arrays))

    def loop() -> object:
        out = []
        for i in range(runs):
            one = jax.tree.map(lambda leaf, i=i: leaf[i : i + 1], stacked)
            out.append(trainer(one, lrs[i : i + 1], batch_keys[i : i + 1], *arrays))
        return jax.block_until_ready(out)

    timings: dict[str, dict[str, float]] = {}
    for name, fn in (("loop", loop), ("batched", batched)):
        start = time.perf_counter()
        fn()
        first = time.perf_counter() - start
        warm = []
        for _ in range(repeats):
            start = time.perf_counter()
            fn()
            warm.append(time.perf_counter() - start)
        timings[name] = {"first_call_s": first, "warm_median_s": statistics.median(warm)}
    # equal results: the batched path must give the loop's numbers
    a = np.asarray(batched()[0])
    b = np.concatenate([np.asarray(r[0]) for r in loop()])
    max_diff = float(np.max(np.abs(a - b)))

    return {
        "timings": timings,
        "speedup_warm": timings["loop"]["warm_median_s"] / timings["batched"]["warm_median_s"],
        "speedup_first_call": timings["loop"]["first_call_s"] / timings["batched"]["first_call_s"],
        "max_abs_difference_loss_curves": max_diff,
        "runs": runs,
    }


def _setup_sentence(data: dict[str, Any]) -> str:
    """What was trained, from what the file records (older files lack some settings)."""
    runs = f"{data['runs']} runs per optimizer"
    if "initializers" in data and "seeds" in data:
        runs += f" ({len(data['initializers'])} initializers x {data['seeds']} seeds)"
    dataset = f", {data['dataset']}" if "dataset" in data else ""
    if "repeats" in data:
        repeats = f"median of {data['repeats']} warm repeats"
    else:
        repeats = "median of the warm repeats"
    text = f"{runs}, {data['steps']} steps, {data['model']}{dataset}; {repeats}."
    missing = [
        label
        for label, keys in (
            ("the initializers and seeds", ("initializers", "seeds")),
            ("the data set", ("dataset",)),
            ("the number of repeats", ("repeats",)),
        )
        if not all(key in data for key in keys)
    ]
    if missing:
        text += " Not recorded in this result file: " + ", ".join(missing) + "."
    return text


def markdown(data: dict[str, Any]) -> str:
    """The table of a parsed ``study_batched_<device>.json``: one row per optimizer."""
    lines = [
        f"# Batched study training vs Python loop ({data['device']}, jax {data['jax']})",
        "",
        _setup_sentence(data),
        "",
        "| optimizer | loop first call s | batched first call s | loop warm s | batched warm s "
        "| speed-up warm | speed-up first call | max loss difference |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for optimizer, row in data["optimizers"].items():
        t = row["timings"]
        lines.append(
            f"| {optimizer} | {t['loop']['first_call_s']:.2f} | {t['batched']['first_call_s']:.2f} "
            f"| {t['loop']['warm_median_s']:.3f} | {t['batched']['warm_median_s']:.3f} "
            f"| {row['speedup_warm']:.2f}x | {row['speedup_first_call']:.2f}x "
            f"| {row['max_abs_difference_loss_curves']:.1e} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--optimizers", default="sgd,minibatch,bgd")
    args = parser.parse_args()
    from jinit._src.study.data import load_dataset
    from jinit._src.study.matrix import DEFAULT_INITS, MatrixConfig

    config = MatrixConfig()
    data = load_dataset(config.dataset)
    splits = (data.x_train, data.y_train, data.x_test, data.y_test)
    arrays = tuple(jax.numpy.asarray(a) for a in splits)
    rows = {}
    for optimizer in args.optimizers.split(","):
        rows[optimizer] = measure(optimizer, config, data, arrays, args.repeats)

    device = jax.devices()[0]
    name = f"{device.platform}-{platform.machine()}"
    runs = len(DEFAULT_INITS) * config.seeds
    result = {
        "device": str(device.device_kind),
        "platform": device.platform,
        "jax": jax.__version__,
        "cpu_count": os.cpu_count(),
        "runs": runs,
        "initializers": list(DEFAULT_INITS),
        "seeds": config.seeds,
        "steps": config.steps,
        "model": config.model.describe(),
        "dataset": config.dataset,
        "repeats": args.repeats,
        "optimizers": rows,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    text = json.dumps(result, indent=1) + "\n"
    (RESULTS / f"study_batched_{name}.json").write_text(text, encoding="utf-8")
    table = markdown(json.loads(text))
    (RESULTS / f"study_batched_{name}.md").write_text(table, encoding="utf-8")
    print(table, end="")


if __name__ == "__main__":
    main()
