"""The documentation pages' Python runs, and the pages cite the references they list.

Every ```python block of every page under ``docs/`` runs: the blocks of one page in order, in one
namespace, in a fresh interpreter per page (warnings are errors there too), so a page reads as one
program and no page can depend on another. A traceback names the page and its line. Snippets that
are not meant to run are written as ```text or ```bash blocks.

Run one page by hand with ``python tests/test_docs_pages_code.py docs/getting_started.md``.
"""

from __future__ import annotations

import pathlib
import re
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
#: Pages the docs build writes (git-ignored, rewritten per build): not sources, nothing to run.
GENERATED = ("_build/**/*.md", "_generated/**/*.md", "benchmarks/*.md")
GENERATED_KEPT = {DOCS / "benchmarks" / "index.md"}
#: Pages that must keep runnable examples (a page whose blocks all became ```text fails here).
PAGES_WITH_CODE = (
    "getting_started.md",
    "catalogue.md",
    "mistakes.md",
    "guide/model_init.md",
    "guide/diagnose.md",
    "guide/theory.md",
    "guide/keys.md",
    "guide/speed.md",
)
BLOCK = re.compile(r"^```python[^\n]*\n(.*?)^```[ \t]*$", flags=re.MULTILINE | re.DOTALL)
LABEL = re.compile(r"^\((ref-[\w-]+)\)=$", flags=re.MULTILINE)
CITATION = re.compile(r"\{ref\}`[^`<]*<(ref-[\w-]+)>`")


def source_pages() -> list[pathlib.Path]:
    """Every Markdown page of the site that is written by hand."""
    generated = {p for pattern in GENERATED for p in DOCS.glob(pattern)} - GENERATED_KEPT
    return sorted(p for p in DOCS.rglob("*.md") if p not in generated)


def python_blocks(text: str) -> list[tuple[int, str]]:
    """The ```python blocks of a page, each with the 0-based line its code starts on."""
    return [(text.count("\n", 0, m.start(1)), m.group(1)) for m in BLOCK.finditer(text)]


def run_page(path: pathlib.Path) -> dict[str, object]:
    """Run a page's blocks in order in one namespace; tracebacks point at the page's lines."""
    namespace: dict[str, object] = {"__name__": "__docs_page__"}
    for line, code in python_blocks(path.read_text(encoding="utf-8")):
        exec(compile("\n" * line + code, str(path), "exec"), namespace)
    return namespace


PAGES = [p for p in source_pages() if python_blocks(p.read_text(encoding="utf-8"))]


def test_the_pages_that_teach_by_example_keep_their_examples() -> None:
    with_code = {p.relative_to(DOCS).as_posix() for p in PAGES}
    missing = sorted(set(PAGES_WITH_CODE) - with_code)
    assert not missing, f"no ```python block left on {missing}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(DOCS).as_posix())
def test_page_code_runs(page: pathlib.Path) -> None:
    done = subprocess.run(
        [sys.executable, "-W", "error", str(pathlib.Path(__file__)), str(page)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, f"{page.relative_to(ROOT)} failed:\n{done.stderr[-4000:]}"


def test_python_blocks_are_found_with_their_lines() -> None:
    text = "# T\n\n```python\nx = 1\n```\n\n```text\nnot = run\n```\n\n```python\ny = x + 1\n```\n"
    blocks = python_blocks(text)
    assert [code for _, code in blocks] == ["x = 1\n", "y = x + 1\n"]
    assert [text.splitlines()[line] for line, _ in blocks] == ["x = 1", "y = x + 1"]


def test_a_failing_block_names_its_page_and_line(tmp_path: pathlib.Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("# T\n\n```python\nx = 1\n```\n\n```python\nassert x == 2\n```\n")
    with pytest.raises(AssertionError) as info:
        run_page(page)
    frame = info.traceback[-1]
    assert pathlib.Path(str(frame.path)) == page and frame.lineno + 1 == 8


def test_every_reference_is_cited_and_every_citation_is_listed() -> None:
    listed = set(LABEL.findall((DOCS / "references.md").read_text(encoding="utf-8")))
    assert len(listed) >= 20
    cited = {label for p in source_pages() for label in CITATION.findall(p.read_text("utf-8"))}
    assert not listed - cited, f"on references.md, cited nowhere: {sorted(listed - cited)}"
    assert not cited - listed, f"cited, not on references.md: {sorted(cited - listed)}"


if __name__ == "__main__":
    run_page(pathlib.Path(sys.argv[1]))
