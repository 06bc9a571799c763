"""Statistical quality of the bit streams: dieharder on jinit.philox and threefry, side by side.

Not part of the test suite (it takes minutes to hours). Writes a stream of ``--gigabytes`` of
``jax.random.bits`` (uint32, one key, drawn in 64 MiB chunks of consecutive keys folded from it)
to a file per implementation, runs ``dieharder`` on each file (``-g 201``: raw binary file) with
the chosen tests in "resolve ambiguity" mode (``-Y 1``: a WEAK result is re-run with more
p-samples until it passes or fails clearly; every line is kept), and writes the p-values and
assessments to ``benchmarks/results/philox_quality.json`` and a Markdown summary (``markdown`` of
the parsed JSON).

Needs Debian's ``dieharder`` (``apt-get install dieharder``).

Run: ``python benchmarks/philox_quality.py [--gigabytes 1 --tests quick|all]``
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import jax
import numpy as np

import jinit

RESULTS = Path(__file__).parent / "results"
#: dieharder test numbers of the quick set: birthdays, OPERM5, 32x32 and 6x8 binary rank,
#: bitstream, count-the-1s, parking lot, 2-d sphere, squeeze, runs, craps, STS monobit/runs,
#: RGB bit distribution.
QUICK = (0, 1, 2, 3, 4, 8, 9, 10, 11, 13, 15, 16, 100, 101, 200)
CHUNK = 16 * 2**20  # words per chunk: 64 MiB
IMPLS = {"threefry2x32": "threefry2x32", "philox": jinit.philox}
LINE = re.compile(r"^\s*(\S+)\|\s*(\d+)\|\s*(\d+)\|\s*(\d+)\|([\d.]+)\|\s*(\w+)", re.M)


def write_stream(path: Path, impl: object, words: int) -> float:
    """Write ``words`` uint32 words of ``impl``'s stream to ``path``; return the seconds taken."""
    draw = jax.jit(lambda key: jax.random.bits(key, (CHUNK // 1024, 1024)))
    key = jax.random.key(2026, impl=impl)  # type: ignore[arg-type]
    start = time.perf_counter()
    with path.open("wb") as out:
        for chunk in range(-(-words // CHUNK)):
            out.write(np.asarray(draw(jax.random.fold_in(key, chunk))).tobytes())
    return time.perf_counter() - start


def run_dieharder(path: Path, tests: tuple[int, ...] | None) -> list[dict[str, object]]:
    """Run dieharder on the file; one record per (test, ntup) line of its table."""
    selections = [["-a"]] if tests is None else [["-d", str(t)] for t in tests]
    rows: list[dict[str, object]] = []
    for selection in selections:
        done = subprocess.run(
            ["dieharder", "-g", "201", "-f", str(path), "-Y", "1", *selection],
            capture_output=True,
            text=True,
            check=False,
        )
        for match in LINE.finditer(done.stdout):
            name, ntup, tsamples, psamples, p_value, assessment = match.groups()
            rows.append(
                {
                    "test": name,
                    "ntup": int(ntup),
                    "tsamples": int(tsamples),
                    "psamples": int(psamples),
                    "p_value": float(p_value),
                    "assessment": assessment,
                }
            )
    return rows


def _final(rows: list[dict[str, object]]) -> list[dict[str, object]]:
    """The rows that stand: a WEAK row is superseded when ``-Y 1`` re-ran its test with more
    p-samples (a later row of the same test and ntup with a larger ``psamples``)."""
    return [
        row
        for index, row in enumerate(rows)
        if row["assessment"] != "WEAK"
        or not any(
            later["test"] == row["test"]
            and later["ntup"] == row["ntup"]
            and int(later["psamples"]) > int(row["psamples"])  # type: ignore[call-overload]
            for later in rows[index + 1 :]
        )
    ]


def markdown(data: dict[str, Any]) -> str:
    """The summary of a parsed ``philox_quality.json``: final assessments per implementation."""
    if data["tests"] == "all":
        chosen = "-a"
    else:  # files written before ``test_numbers`` was recorded ran the quick set
        chosen = "tests " + ",".join(map(str, data.get("test_numbers", QUICK)))
    lines = [
        "# dieharder on jinit.philox and threefry",
        "",
        f"{data['gigabytes']:g} GB of uint32 words per implementation (64 MiB chunks of keys "
        f"folded from one key), dieharder {chosen} -Y 1 on the raw file. A correct generator "
        "shows a few WEAK results by chance (p < 0.005 or > 0.995, 1 in 100); -Y 1 re-runs "
        "each with more p-samples; the table counts the final assessment of every test.",
        "",
        "| implementation | PASSED | WEAK | FAILED |",
        "|---|---:|---:|---:|",
    ]
    for name, impl in data["impls"].items():
        c = impl["counts"]
        lines.append(f"| {name} | {c['PASSED']} | {c['WEAK']} | {c['FAILED']} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    """Write the streams, run dieharder, write the summary."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--gigabytes", type=float, default=1.0)
    parser.add_argument("--tests", choices=("quick", "all"), default="quick")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    if shutil.which("dieharder") is None:
        raise SystemExit("dieharder is not installed: apt-get install dieharder")
    words = int(args.gigabytes * 2**30) // 4
    tests = None if args.tests == "all" else QUICK
    report: dict[str, object] = {
        "gigabytes": args.gigabytes,
        "tests": args.tests,
        "test_numbers": None if tests is None else list(tests),
        "impls": {},
    }
    with tempfile.TemporaryDirectory() as folder:
        for name, impl in IMPLS.items():
            path = Path(folder) / f"{name}.bin"
            seconds = write_stream(path, impl, words)
            rows = run_dieharder(path, tests)
            path.unlink()
            final = _final(rows)
            counts = {
                kind: sum(r["assessment"] == kind for r in final)
                for kind in ("PASSED", "WEAK", "FAILED")
            }
            report["impls"][name] = {"write_s": seconds, "counts": counts, "rows": rows}  # type: ignore[index]
    args.out.mkdir(parents=True, exist_ok=True)
    text = json.dumps(report, indent=2)
    (args.out / "philox_quality.json").write_text(text, encoding="utf-8")
    table = markdown(json.loads(text))
    (args.out / "philox_quality.md").write_text(table, encoding="utf-8")
    print(table, end="")


if __name__ == "__main__":
    main()
