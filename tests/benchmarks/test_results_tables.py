"""The committed benchmark tables and the docs' benchmark pages, checked against their JSON.

Every ``benchmarks/results/*.json`` has a table (``.md``) that must be exactly what its
script's ``markdown(data)`` renders from it, and a page in ``benchmarks/pages.py`` that MyST
must read without a warning (one H1, no skipped heading level, no broken link). Nothing is
timed or measured here: only the committed files are read.
"""

from __future__ import annotations

import importlib.util
import io
import itertools
import json
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from markdown_it import MarkdownIt

ROOT = Path(__file__).resolve().parents[2]
BENCHMARKS = ROOT / "benchmarks"
RESULTS = BENCHMARKS / "results"
JSONS = sorted(RESULTS.glob("*.json"))
SCRIPTS = sorted(p.name for p in BENCHMARKS.glob("*.py") if p.name != "pages.py")
#: packages a benchmark may use when it runs, never when it is imported (by the docs build)
HEAVY = ("flax", "optax", "torch", "equinox", "scipy", "matplotlib", "rich", "third_party_models")


def _load(path: Path) -> ModuleType:
    name = f"_test_benchmarks_{path.stem}"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


@pytest.fixture(scope="module")
def pages() -> ModuleType:
    return _load(BENCHMARKS / "pages.py")


def _headings(text: str) -> list[int]:
    """The levels of the headings a CommonMark parser (with tables) finds, in order."""
    tokens = MarkdownIt("commonmark").enable("table").parse(text)
    return [int(t.tag[1]) for t in tokens if t.type == "heading_open"]


def test_there_are_result_files() -> None:
    assert len(JSONS) >= 10, JSONS


@pytest.mark.parametrize("path", JSONS, ids=lambda p: p.name)
def test_committed_table_is_the_json_rendered(pages: ModuleType, path: Path) -> None:
    page = pages.page_for(path)
    table = path.with_suffix(".md")
    assert table.exists(), f"{path.name} has no table {table.name}"
    rendered = pages._script(page.script).markdown(json.loads(path.read_text(encoding="utf-8")))
    assert rendered == pages.table(path)
    assert table.read_text(encoding="utf-8") == rendered, (
        f"{table.name} is not what benchmarks/{page.script}'s markdown() renders from "
        f"{path.name}: regenerate it from the JSON, never edit it by hand"
    )


def test_every_table_has_its_json() -> None:
    assert {p.stem for p in RESULTS.glob("*.md")} == {p.stem for p in JSONS}


def test_every_script_renders_and_is_listed(pages: ModuleType) -> None:
    listed = {page.script for page in pages.PAGES}
    assert listed == set(SCRIPTS)
    for script in SCRIPTS:
        assert callable(pages._script(script).markdown), script


@pytest.mark.parametrize("path", JSONS, ids=lambda p: p.name)
def test_every_result_file_has_exactly_one_page(pages: ModuleType, path: Path) -> None:
    assert sum(page.matches(path.name) for page in pages.PAGES) == 1


def test_pages_raises_on_a_json_without_renderer(pages: ModuleType, tmp_path: Path) -> None:
    shutil.copy(RESULTS / "import_time.json", tmp_path)
    (tmp_path / "mystery_run.json").write_text("{}", encoding="utf-8")
    with pytest.raises(ValueError, match=r"no renderer for the result file 'mystery_run\.json'"):
        pages.pages(tmp_path)
    (tmp_path / "mystery_run.json").unlink()
    assert list(pages.pages(tmp_path)) == ["import_time"]


def test_write_tables_rewrites_a_stale_table(pages: ModuleType, tmp_path: Path) -> None:
    for name in ("import_time.json", "import_time.md", "fan_audit.json", "fan_audit.md"):
        shutil.copy(RESULTS / name, tmp_path)
    stale = tmp_path / "import_time.md"
    stale.write_text(stale.read_text(encoding="utf-8").replace("2157.1", "1.0"), encoding="utf-8")
    assert pages.write_tables(tmp_path) == [stale]
    assert stale.read_text(encoding="utf-8") == (RESULTS / "import_time.md").read_text("utf-8")
    assert pages.write_tables(tmp_path) == []


def test_pages_names_every_page_by_its_json_stem(pages: ModuleType) -> None:
    assert list(pages.pages(RESULTS)) == [p.stem for p in JSONS]


@pytest.mark.parametrize("path", JSONS, ids=lambda p: p.name)
def test_page_has_one_h1_and_no_skipped_level(pages: ModuleType, path: Path) -> None:
    text = pages.render(path)
    assert text.startswith("# ")
    levels = _headings(text)
    assert levels[0] == 1 and levels.count(1) == 1, levels
    for previous, level in itertools.pairwise(levels):
        assert level <= previous + 1, (path.name, levels)


@pytest.mark.parametrize("path", JSONS, ids=lambda p: p.name)
def test_page_holds_the_table_command_and_no_local_link(pages: ModuleType, path: Path) -> None:
    page = pages.page_for(path)
    text = pages.render(path)
    for line in pages.table(path).splitlines():  # every line of the table, headings only demoted
        assert line.lstrip("#") in text, line
    command = text.split("```bash\n", 1)[1].split("\n```", 1)[0]
    assert f"python benchmarks/{page.script}" in command and "\n" not in command
    assert page.description in text
    assert "](" not in text  # a relative link outside the docs would be a broken reference


def test_page_shows_the_device_and_versions_of_its_json(pages: ModuleType) -> None:
    text = pages.render(RESULTS / "cpu-x86_64-rbg.json")
    meta = json.loads((RESULTS / "cpu-x86_64-rbg.json").read_text(encoding="utf-8"))["meta"]
    assert text.splitlines()[0] == "# Initializer benchmark (cpu-x86_64-rbg)"
    assert f"- Versions: Python {meta['python']}, jax {meta['jax']}," in text
    assert f"- Date: {meta['date']}" in text
    assert "--key-impl rbg" in text and "--repeats 9" in text
    assert "## jinit initializer benchmark: cpu-x86_64-rbg" in text  # the table's H1, demoted
    quality = pages.render(RESULTS / "philox_quality.json")
    assert "records neither the device nor the library versions" in quality
    assert "## dieharder on jinit.philox and threefry\n" in quality
    audit = pages.render(RESULTS / "fan_audit.json")
    assert "- Versions: jinit 0.1.0\n" in audit
    assert "## Results\n\n| model | names:" in audit  # a table without a heading gets one


def test_headings_are_demoted_below_the_h1_without_gaps(pages: ModuleType) -> None:
    assert pages._under_h1("# A\n\ntext\n\n## B\n\n### C\n") == "## A\n\ntext\n\n### B\n\n#### C\n"
    assert pages._under_h1("### A\n\n#### B\n") == "## A\n\n### B\n"
    assert pages._under_h1("| a |\n|---|\n") == "## Results\n\n| a |\n|---|\n"
    fenced = "# A\n\n```\n# not a heading\n```\n"
    assert pages._under_h1(fenced) == "## A\n\n```\n# not a heading\n```\n"


#: MyST's defaults, and the extensions of docs/conf.py
@pytest.mark.parametrize("extensions", [[], ["dollarmath", "amsmath", "colon_fence", "deflist"]])
def test_pages_parse_in_myst_without_warnings(pages: ModuleType, extensions: list[str]) -> None:
    pytest.importorskip("myst_parser")
    from docutils.core import publish_doctree
    from myst_parser.parsers.docutils_ import Parser

    for name, text in pages.pages(RESULTS).items():
        stream = io.StringIO()
        publish_doctree(
            text,
            parser=Parser(),
            settings_overrides={
                "warning_stream": stream,
                "report_level": 2,  # warnings and errors
                "halt_level": 5,
                "myst_enable_extensions": extensions,
                "myst_heading_anchors": 3,
            },
        )
        assert stream.getvalue() == "", (name, stream.getvalue())


_PROBE = """
import importlib.util, json, sys
from pathlib import Path
path_before = list(sys.path)
for script in sys.argv[1:]:
    path = Path(script)
    spec = importlib.util.spec_from_file_location("_probe_" + path.stem, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
pages = sys.modules["_probe_pages"]
rendered = pages.pages(Path(sys.argv[1]).parent / "results")
from jax._src import xla_bridge
print(json.dumps({
    "heavy": sorted({m.split(".")[0] for m in sys.modules} & set(%r)),
    "backends": xla_bridge.backends_are_initialized(),
    "path_added": [p for p in sys.path if p not in path_before],
    "pages": len(rendered),
}))
"""


def test_importing_benchmarks_and_rendering_is_cheap() -> None:
    """No Flax, Torch, Equinox or tests/ import and no JAX backend, in a fresh interpreter."""
    scripts = [str(BENCHMARKS / "pages.py"), *(str(BENCHMARKS / s) for s in SCRIPTS)]
    done = subprocess.run(
        [sys.executable, "-c", _PROBE % (HEAVY,), *scripts],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        timeout=300,
    )
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report == {"heavy": [], "backends": False, "path_added": [], "pages": len(JSONS)}
