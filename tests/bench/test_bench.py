"""The benchmark harness (``jinit._src.bench.run``, ``jinit bench``): records, table, files, errors.

Tiny shapes and two repeats: these tests check the harness, never speed (speed targets live in
``benchmarks/``). The timed values are only checked to be positive and finite.
"""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import pytest

from jinit._src.bench import run as bench
from jinit._src.bench.report import markdown
from jinit._src.cli.main import main
from jinit._src.initializers.catalogue import CATALOGUE

NAMES = ("normal", "orthogonal", "he_normal", "orthogonal_householder")
SHAPE = (64, 32)
HAS_TORCH = importlib.util.find_spec("torch") is not None
JAX_CALLS = {
    "normal": "jax.nn.initializers.normal(0.01)",
    "he_normal": "jax.nn.initializers.he_normal()",
    "orthogonal": "jax.nn.initializers.orthogonal()",
    "orthogonal_householder": "jax.nn.initializers.orthogonal()",
}

Run = tuple[bench.BenchConfig, list[bench.BenchResult], bench.BenchMeta]


@pytest.fixture(scope="module")
def run() -> Run:
    config = bench.bench_config(shape=SHAPE, repeats=2, only=NAMES)
    return config, bench.run_benchmark(config), bench.benchmark_meta(config)


def _positive(value: float | None) -> bool:
    return value is not None and math.isfinite(value) and value > 0


def test_records_have_every_field_and_positive_times(run: Run) -> None:
    _, results, _ = run
    assert [r["name"] for r in results] == [
        "normal",
        "he_normal",
        "orthogonal",
        "orthogonal_householder",
    ]  # CASES order
    for r in results:
        assert set(r) == bench.BenchResult.__required_keys__
        assert r["shape"] == list(SHAPE)
        assert (r["elements"], r["bytes"], r["dtype"], r["repeats"]) == (2048, 8192, "float32", 2)
        timed = ["jinit_ms", "jax_ms", "fill_ms", "jinit_compile_s", "jax_compile_s"]
        derived = ["jinit_over_jax", "elements_per_s", "gb_per_s", "x_fill", "jax_x_fill"]
        if HAS_TORCH:
            timed += ["torch_ms", "torch_fill_ms"]
            derived.append("torch_x_fill")
        for name in timed + derived:
            assert _positive(r[name]), (r["name"], name, r[name])
        assert r["jinit_over_jax"] == pytest.approx(r["jinit_ms"] / r["jax_ms"])
        assert r["gb_per_s"] == pytest.approx(r["bytes"] / r["jinit_ms"] / 1e6)
        assert r["jax_call"] == JAX_CALLS[r["name"]]
        assert (r["torch_call"] is not None) == HAS_TORCH


def test_shared_names_are_bit_identical(run: Run) -> None:
    _, results, _ = run
    identical = {r["name"]: r["bit_identical"] for r in results}
    # the Householder method draws Haar matrices from other bits, so it is not compared
    assert identical == {**dict.fromkeys(NAMES, True), "orthogonal_householder": None}


def test_markdown_table_has_one_row_per_initializer(run: Run) -> None:
    config, results, meta = run
    table = bench.format_table(results, meta)
    rows = [line for line in table.splitlines() if line.startswith("| ")]
    header, *body = rows
    assert header.startswith("| name | shape | jinit ms | jax ms | torch ms | jinit/jax |")
    assert "| × fill | compile s jinit/jax |" in header
    assert [row.split(" | ")[0].removeprefix("| ") for row in body] == [r["name"] for r in results]
    assert [row.rsplit("| ", 1)[1] for row in body] == ["yes |", "yes |", "yes |", "— |"]
    assert "medians of 2 runs" in table
    assert f"key impl: {config.key_impl}" in table
    assert f"jax {meta['jax']}" in table and f"flax {meta['flax']}" in table
    assert meta["date"] in table


def test_write_results_round_trips(run: Run, tmp_path: Path) -> None:
    _, results, meta = run
    json_path, md_path = bench.write_results(results, meta, tmp_path / "out")
    assert json_path.name == f"{meta['device']}.json" and md_path.name == f"{meta['device']}.md"
    payload = json.loads(json_path.read_text())
    assert payload == {"meta": dict(meta), "results": [dict(r) for r in results]}
    assert md_path.read_text() == bench.format_table(results, meta)
    assert md_path.read_text() == markdown(payload)  # the table is rendered from the JSON alone


def test_key_impl_reaches_every_initializer_and_the_file_name() -> None:
    config = bench.bench_config(shape=(16, 8), repeats=1, only=["uniform"], key_impl="rbg")
    [record] = bench.run_benchmark(config)
    assert record["bit_identical"] is True
    meta = bench.benchmark_meta(config)
    assert meta["key_impl"] == "rbg"
    assert meta["device"] == bench.device_name("rbg") == f"{bench.device_name()}-rbg"


def test_every_catalogue_entry_is_benchmarked_with_its_jax_parity() -> None:
    parity = {entry.name: entry.jax_parity for entry in CATALOGUE}
    assert {case.entry for case in bench.CASES} == set(parity)
    for case in bench.CASES:
        assert case.anchored == parity[case.entry], case.name


def test_names_and_shapes() -> None:
    assert bench.resolve_names(["xavier_normal", "eye", "normal"]) == (
        "normal",
        "glorot_normal",
        "identity",
    )
    assert bench.resolve_names([]) == tuple(case.name for case in bench.CASES)
    assert bench.parse_shape("64,32") == (64, 32)
    for text in ("64", "64,0", "a,b", "1,2,3"):
        with pytest.raises(ValueError, match="two positive integers"):
            bench.parse_shape(text)
    with pytest.raises(ValueError, match="repeats must be >= 1, got 0"):
        bench.bench_config(repeats=0)
    config = bench.bench_config(quick=True)
    assert (config.shape, config.orthogonal_shape) == (bench.QUICK_SHAPE, (512, 512))
    assert bench.bench_config().shape == (4096, 4096)


def test_cli_writes_json_and_markdown(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "tmp"
    argv = ["bench", "--only", "normal", "--repeats", "1", "--shape", "64,32", "--out", str(out)]
    assert main(argv) == 0
    stem = bench.device_name()
    payload = json.loads((out / f"{stem}.json").read_text())
    assert [r["name"] for r in payload["results"]] == ["normal"]
    assert payload["meta"]["repeats"] == 1
    assert "| normal | 64×32 |" in (out / f"{stem}.md").read_text()
    captured = capsys.readouterr()
    assert "normal" in captured.out and "wrote" in captured.err


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--only", "normal,bogus"], ["'bogus'", "normal", "orthogonal", "he_normal", "eye"]),
        (["--only", "he_normall"], ["Did you mean 'he_normal'?"]),
        (["--key-impl", "philox2"], ["'philox2'", "threefry2x32", "rbg", "unsafe_rbg", "philox"]),
        (["--shape", "64"], ["ROWS,COLS"]),
        (["--repeats", "0"], ["repeats must be >= 1"]),
    ],
)
def test_cli_bad_arguments_exit_2_naming_the_valid_ones(
    argv: list[str], expected: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["bench", *argv, "--out", str(tmp_path / "never")]) == 2
    message = " ".join(capsys.readouterr().out.split())  # undo the console's line wrapping
    assert "jinit bench: error:" in message
    for text in expected:
        assert text in message
    assert not (tmp_path / "never").exists()


def test_cli_help_documents_every_option(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["bench", "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for option in ("--full", "--shape", "--only", "--repeats", "--key-impl", "--out", "--format"):
        assert option in text
    assert all(name in text for name in ("delta_orthogonal", "dirac", "unsafe_rbg"))
