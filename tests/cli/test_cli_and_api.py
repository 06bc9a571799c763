"""The public API surface, the catalogue, ``jinit list``, and the documentation's catalogue page."""

from __future__ import annotations

import inspect
import json
import pathlib
import subprocess
import sys

import jax
import pytest

import jinit
from jinit._src.cli.main import main
from jinit._src.initializers.catalogue import markdown_table

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_all_names_exist_and_are_documented() -> None:
    for name in jinit.__all__:
        obj = getattr(jinit, name)
        if callable(obj) and not isinstance(obj, dict):
            assert inspect.getdoc(obj), name


def test_every_catalogue_entry_is_public_and_builds_an_initializer() -> None:
    key = jax.random.key(0)
    for entry in jinit.catalogue():
        assert getattr(jinit, entry.name) is entry.factory
        for alias in entry.aliases:
            assert alias.removesuffix("()") in jinit.__all__
        args = {"constant": (1.0,), "variance_scaling": (1.0, "fan_in", "normal")}
        init = (
            entry.factory
            if entry.name in ("zeros", "ones")
            else (entry.factory(*args.get(entry.name, ())))
        )
        shape = (3, 3, 4, 4) if entry.name in ("dirac", "delta_orthogonal") else (4, 4)
        assert init(key, shape).shape == shape  # type: ignore[operator]


def test_every_factory_docstring_has_formula_example_and_reference() -> None:
    for entry in jinit.catalogue():
        doc = inspect.getdoc(entry.factory) or ""
        assert "Example" in doc, entry.name
        if entry.family != "constant":
            assert any(word in doc for word in ("math", "Var", "σ", "U[", "N(")), entry.name


def test_jinit_list_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "--width", "200"]) == 0
    out = capsys.readouterr().out
    for entry in jinit.catalogue():
        assert entry.name in out
    assert "Var = 2/fan_in" in out
    assert "N(mean, σ²) on [a, b]" in out  # square brackets survive rich markup


def test_jinit_list_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [row["name"] for row in rows] == [e.name for e in jinit.catalogue()]


def test_console_script_runs() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "jinit", "list", "--format", "markdown"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert done.stdout.strip() == markdown_table()


def test_unknown_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["lsit"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'lsit'" in capsys.readouterr().err


def test_catalogue_page_includes_the_generated_table() -> None:
    """The site's catalogue is the registry's table, included at build time, never a stale copy."""
    page = (ROOT / "docs" / "catalogue.md").read_text(encoding="utf-8")
    assert "```{include} _generated/catalogue_table.md\n```" in page
    first_row = markdown_table().splitlines()[2]
    assert first_row not in page, "docs/catalogue.md must include the generated table, not paste it"
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "(docs/catalogue.md)" in readme, "the README links the catalogue page"
