"""The README's Python example runs, its claims about set-up stay true, and it points at the docs.

The README is the short front page; the reference content lives in ``docs/`` (checked by
``tests/test_docs_pages_code.py``). These tests keep the two in step: the same set-up commands,
the same headline table, links that resolve.
"""

from __future__ import annotations

import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
DOCS = ROOT / "docs"
STUDY_PAGE = DOCS / "guide" / "study.md"

#: The most lines the README may have: the details belong on the documentation pages.
MAX_README_LINES = 230
#: The documentation pages the README must link, as the paths GitHub renders.
LINKED_PAGES = (
    "docs/getting_started.md",
    "docs/catalogue.md",
    "docs/guide/index.md",
    "docs/guide/model_init.md",
    "docs/guide/diagnose.md",
    "docs/guide/theory.md",
    "docs/guide/study.md",
    "docs/guide/keys.md",
    "docs/guide/speed.md",
    "docs/guide/verification.md",
    "docs/mistakes.md",
    "docs/references.md",
    "docs/development.md",
)
#: The second set-up command, exactly (CI runs it as written).
TEST_COMMAND = (
    '. .venv/bin/activate && pip install -e ".[test,docs]" "torch==2.13.0" && pytest -n 2'
)


def setup_commands(text: str) -> list[str]:
    """The commands of the first bash block under "## Set up and run", comments skipped."""
    section = text.split("## Set up and run", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    return [line for line in section.splitlines() if line.strip() and not line.startswith("#")]


def table_after(text: str, header: str) -> list[str]:
    """The rows of the Markdown table whose header line starts with ``header``."""
    start = text.index(header)
    rows = []
    for line in text[start:].splitlines():
        if not line.startswith("|"):
            break
        rows.append(line)
    return rows


def test_readme_python_example_runs() -> None:
    blocks = re.findall(r"```python\n(.*?)```", README, flags=re.DOTALL)
    assert blocks, "the README has a Python example"
    for block in blocks:
        namespace: dict[str, object] = {}
        exec(compile(block, "README.md", "exec"), namespace)
    assert namespace["stack"].shape == (8, 256, 256)  # type: ignore[attr-defined]


def test_readme_has_the_two_commands_ci_runs() -> None:
    commands = setup_commands(README)
    assert len(commands) == 2
    assert commands[0].endswith("jinit study")  # the main job, on the embedded digits
    assert commands[1] == TEST_COMMAND


def test_getting_started_shows_the_same_two_commands() -> None:
    page = (DOCS / "getting_started.md").read_text(encoding="utf-8")
    assert setup_commands(page) == setup_commands(README)


def test_study_page_table_matches_the_optimizer_table() -> None:
    from jinit.study import OPTIMIZERS

    page = STUDY_PAGE.read_text(encoding="utf-8")
    for name, spec in OPTIMIZERS.items():
        row = re.search(rf"^ *\|[^|\n]*`{name}`[^\n]*", page, flags=re.MULTILINE)
        assert row is not None, f"optimizer {name} missing from the table in {STUDY_PAGE.name}"
        assert row.group(0).rstrip(" |").endswith(f"{spec.learning_rate:g}"), row.group(0)


def test_readme_headline_table_is_the_study_page_table() -> None:
    header = "| init \\ optimizer |"
    readme_rows = table_after(README, header)
    assert len(readme_rows) == 8  # header, rule, six initializers
    assert readme_rows == table_after(STUDY_PAGE.read_text(encoding="utf-8"), header)


def test_readme_is_short() -> None:
    lines = len(README.splitlines())
    assert lines <= MAX_README_LINES, f"README.md has {lines} lines; move details to docs/"


def test_readme_links_every_page_and_every_link_resolves() -> None:
    targets = re.findall(r"\]\(([^)\s]+)\)", README)
    local = {t.split("#", 1)[0] for t in targets if not re.match(r"[a-z]+:", t) and t[0] != "#"}
    for page in LINKED_PAGES:
        assert page in local, f"the README does not link {page}"
    missing = sorted(t for t in local if not (ROOT / t).exists())
    assert not missing, f"README links to missing files: {missing}"


def test_readme_says_how_to_build_and_serve_the_docs() -> None:
    section = README.split("## Documentation", 1)[1]
    assert "```bash\npython docs/serve.py\n```" in section
    assert "http://127.0.0.1:8000" in section
