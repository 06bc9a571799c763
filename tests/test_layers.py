"""The library's layers, read from its imports: a lower layer never imports a higher one.

core <- initializers <- model <- analysis <- bench, study <- cli. Every import of a jinit module
counts, at the top of a module or inside a function (a lazy import is still a dependency).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "jinit" / "_src"
LAYERS = {"core": 0, "initializers": 1, "model": 2, "analysis": 3, "bench": 4, "study": 4, "cli": 5}


def _layer(module: str) -> str:
    parts = module.split(".")
    assert parts[:2] == ["jinit", "_src"] and len(parts) > 2, module
    return parts[2]


def _imports(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("jinit"):
            if node.module == "jinit._src":
                found += [(node.lineno, f"jinit._src.{alias.name}") for alias in node.names]
            else:
                found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.startswith("jinit")]
    return found


MODULES = sorted(p for p in SRC.rglob("*.py") if p.parent != SRC)


def test_every_module_is_in_a_layer() -> None:
    assert {p.relative_to(SRC).parts[0] for p in MODULES} == set(LAYERS)
    assert [p.name for p in SRC.glob("*.py")] == ["__init__.py"], "no module outside a layer"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(SRC)))
def test_no_module_imports_a_higher_layer(path: Path) -> None:
    own = path.relative_to(SRC).parts[0]
    upward = []
    for line, module in _imports(path):
        if module in ("jinit", "jinit.study") or not module.startswith("jinit._src."):
            upward.append(f"line {line}: {module} (the public package, above every layer)")
            continue
        other = _layer(module)
        if LAYERS[other] > LAYERS[own] or (LAYERS[other] == LAYERS[own] and other != own):
            upward.append(f"line {line}: {module} ({other} is above {own})")
    assert not upward, f"{path.relative_to(SRC)} imports upward: " + "; ".join(upward)


def test_the_check_fails_on_an_upward_import(tmp_path: Path) -> None:
    # the walk sees imports inside functions too
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from jinit._src.model.reinit import reinit\n")
    assert _imports(module) == [(2, "jinit._src.model.reinit")]
    assert LAYERS[_layer("jinit._src.model.reinit")] > LAYERS["initializers"]
