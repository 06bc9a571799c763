"""The README's Python example runs, and its claims about set-up stay true."""

from __future__ import annotations

import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_readme_python_example_runs() -> None:
    blocks = re.findall(r"```python\n(.*?)```", README, flags=re.DOTALL)
    assert blocks, "the README has a Python example"
    for block in blocks:
        namespace: dict[str, object] = {}
        exec(compile(block, "README.md", "exec"), namespace)
    assert namespace["stack"].shape == (8, 256, 256)  # type: ignore[attr-defined]


def test_readme_has_the_two_commands_ci_runs() -> None:
    section = README.split("## Set up and run", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    commands = [line for line in section.splitlines() if line.strip() and not line.startswith("#")]
    assert len(commands) == 2
    assert commands[0].endswith("jinit study")  # the main job, on the embedded digits
    assert "pytest" in commands[1]


def test_readme_study_table_matches_the_optimizer_table() -> None:
    from jinit.study import OPTIMIZERS

    for name, spec in OPTIMIZERS.items():
        row = re.search(rf"^ *\|[^|\n]*`{name}`[^\n]*", README, flags=re.MULTILINE)
        assert row is not None, f"optimizer {name} missing from the README table"
        assert row.group(0).rstrip(" |").endswith(f"{spec.learning_rate:g}"), row.group(0)
