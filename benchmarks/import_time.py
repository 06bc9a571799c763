"""Time ``import jinit`` against ``import jax`` (its anchor), in fresh interpreters, side by side.

Each sample is one new Python process that imports the module and reports the wall time of the
import alone (``time.perf_counter`` around it). The two commands alternate, so drift on a shared
machine hits both alike; medians and their ratio are reported. Also listed: which optional
packages each import loads (none, for ``import jinit``).

Run: ``python benchmarks/import_time.py [--repeats 15]``; writes
``benchmarks/results/import_time.json`` and ``.md`` (``markdown`` of the parsed JSON).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent / "results"
OPTIONAL = ("flax", "optax", "scipy", "rich", "matplotlib")
PROBE = """
import sys, time, json
start = time.perf_counter()
import {module}
elapsed = time.perf_counter() - start
print(json.dumps([elapsed, sorted({{m.split('.')[0] for m in sys.modules}} & set({optional!r}))]))
"""
COMMANDS = {
    "import jax": "jax",
    "import jinit": "jinit",
    "import flax.linen (for scale)": "flax.linen",
}


def _sample(module: str, path: str | None = None) -> tuple[float, list[str]]:
    code = PROBE.format(module=module, optional=OPTIONAL)
    env = {**os.environ, "PYTHONPATH": path} if path else None
    out = subprocess.run(  # from a neutral folder: the working directory shadows nothing
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        cwd=tempfile.gettempdir(),
    )
    elapsed, loaded = json.loads(out.stdout.strip().splitlines()[-1])
    return float(elapsed), list(loaded)


def markdown(data: dict[str, Any]) -> str:
    """The table of a parsed ``import_time.json``: one row per command."""
    meta = data["meta"]
    lines = [
        "# `import jinit` against `import jax`",
        "",
        f"{meta['repeats']} fresh interpreters per command, alternating; Python {meta['python']}.",
        "",
        "| command | median ms | min ms | × import jax | optional packages loaded |",
        "|---|---|---|---|---|",
    ]
    for row in data["rows"]:
        packages = ", ".join(row["optional_packages_loaded"]) or "none"
        lines.append(
            f"| `{row['command']}` | {row['median_ms']} | {row['min_ms']} | "
            f"{row['vs_import_jax']} | {packages} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    """Measure and write the results."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument(
        "--before",
        metavar="DIR",
        help="also time `import jinit` from an older checkout's folder (e.g. a `git archive` of "
        "the commit before the light import), run with PYTHONPATH=DIR",
    )
    args = parser.parse_args()
    commands = {name: (module, None) for name, module in COMMANDS.items()}
    if args.before:
        commands["import jinit (before)"] = ("jinit", args.before)
    for module, path in commands.values():  # warm the file-system cache once
        _sample(module, path)
    times: dict[str, list[float]] = {name: [] for name in commands}
    loaded: dict[str, list[str]] = {}
    for _ in range(args.repeats):
        for name, (module, path) in commands.items():
            elapsed, modules = _sample(module, path)
            times[name].append(elapsed)
            loaded[name] = modules
    medians = {name: statistics.median(values) for name, values in times.items()}
    jax_ms = medians["import jax"]
    rows = [
        {
            "command": name,
            "median_ms": round(1000 * medians[name], 1),
            "min_ms": round(1000 * min(times[name]), 1),
            "vs_import_jax": round(medians[name] / jax_ms, 3),
            "optional_packages_loaded": loaded[name],
        }
        for name in commands
    ]
    meta = {
        "repeats": args.repeats,
        "python": platform.python_version(),
        "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}",
        "before": args.before,
        "method": "fresh interpreter per sample, alternating commands, perf_counter around the "
        "import statement only",
    }
    OUT.mkdir(exist_ok=True)
    text = json.dumps({"meta": meta, "rows": rows}, indent=2)
    (OUT / "import_time.json").write_text(text, encoding="utf-8")
    table = markdown(json.loads(text))
    (OUT / "import_time.md").write_text(table, encoding="utf-8")
    print(table, end="")


if __name__ == "__main__":
    main()
