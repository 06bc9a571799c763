"""Audit: realized variance x true fan on models jinit's authors did not write.

For every model of ``tests/third_party_models.py`` (Equinox ``eqx.nn.MLP`` and ``Conv2d``, a
Gemma-layout einsum transformer, a ResNet-18-style CNN with BatchNorm, ``nn.scan`` and
``nnx.vmap`` stacks), every weight is initialized with the factory ``jinit.he_normal``
(variance 2 / fan_in) through ``jinit.reinit``, once with layouts read from names and types
and once with ``axes=jinit.trace_axes(...)``, and each weight's ratio

    Var(w) * true_fan_in / 2

is measured against the fan written by hand from the architecture. A right fan gives 1 up to
sampling error (the table gives 5 standard errors of the smallest weight); a refusal is
reported as such. Run against an older jinit (without ``trace_axes``) it measures the names
only: the "before" column of the model-level issue.

Writes ``benchmarks/results/fan_audit.json`` and ``.md`` (``markdown`` of the parsed JSON).

Run: ``python benchmarks/fan_audit.py [--out NAME]``
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import jax

import jinit

RESULTS = Path(__file__).parent / "results"
TESTS = Path(__file__).resolve().parent.parent / "tests"
#: relative standard error of a truncated normal's sample variance: sqrt((kurtosis - 1) / n)
KURTOSIS = 2.3655


def _models() -> ModuleType:
    """``tests/third_party_models.py`` (Equinox, Flax: imported only when the audit runs)."""
    if str(TESTS) not in sys.path:
        sys.path.insert(0, str(TESTS))
    import third_party_models

    return third_party_models


def run(mode: str, zoo: Any) -> dict[str, Any]:
    rules = {pattern: jinit.he_normal for pattern in zoo.weights}
    rules.update(zoo.others)
    kwargs: dict[str, Any] = {}
    if mode == "traced":
        kwargs["axes"] = jinit.trace_axes(zoo.apply, zoo.params, *zoo.data)
    try:
        new = jinit.reinit(zoo.params, rules, jax.random.key(0), strict=False, **kwargs)
    except Exception as error:  # a refusal (or, in old versions, a crash)
        return {"status": "refused", "error": f"{type(error).__name__}: {str(error)[:300]}"}
    models = _models()
    fan_ratios, leaves = models.fan_ratios, models.leaves
    ratios = fan_ratios(new, zoo.fans, scale=2.0)
    abstract = [p for p, leaf in leaves(new).items() if isinstance(leaf, jax.ShapeDtypeStruct)]
    flat = leaves(new)
    smallest = min(math.prod(flat[path].shape) for path in zoo.fans)
    return {
        "status": "ok",
        "ratios": ratios,
        "worst": max(abs(r - 1.0) for r in ratios.values()),
        "tolerance": 5 * math.sqrt((KURTOSIS - 1) / smallest),
        "left_abstract": abstract,
    }


def markdown(data: dict[str, Any]) -> str:
    """The table of a parsed ``fan_audit*.json``: one row per model, one column per mode."""
    models = data["models"]
    modes = list(dict.fromkeys(mode for by_mode in models.values() for mode in by_mode))
    lines = [
        "| model | " + " | ".join(f"{m}: max abs(Var·fan/target − 1)" for m in modes) + " |",
        "|---|" + "---|" * len(modes),
    ]
    for name, by_mode in models.items():
        cells = []
        for mode in modes:
            r = by_mode.get(mode)
            if r is None:
                cells.append("—")
            elif r["status"] == "ok":
                cells.append(f"{r['worst']:.3f} (tol {r['tolerance']:.3f})")
            else:
                cells.append("refused")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="fan_audit")
    args = parser.parse_args()
    modes = ["names", "traced"] if hasattr(jinit, "trace_axes") else ["names"]
    results: dict[str, Any] = {"jinit": getattr(jinit, "__version__", "?"), "models": {}}
    for name, make in _models().ZOO.items():
        zoo = make()
        results["models"][name] = {mode: run(mode, zoo) for mode in modes}
        print(name, {m: r.get("worst", r["status"]) for m, r in results["models"][name].items()})
    RESULTS.mkdir(exist_ok=True)
    text = json.dumps(results, indent=2)
    (RESULTS / f"{args.out}.json").write_text(text, encoding="utf-8")
    table = markdown(json.loads(text))
    (RESULTS / f"{args.out}.md").write_text(table, encoding="utf-8")
    print(table, end="")


if __name__ == "__main__":
    main()
