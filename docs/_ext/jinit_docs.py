"""Sphinx extension for jinit's site: pages generated from the sources they describe.

At ``builder-inited`` it writes, under the docs folder (git-ignored, rewritten on every build):

- ``_generated/catalogue_table.md``: the catalogue table from the registry
  (``jinit._src.initializers.catalogue.markdown_table``, what ``jinit list --format markdown``
  prints), included by ``catalogue.md``;
- ``benchmarks/<stem>.md``: one page per ``benchmarks/results/*.json``, rendered from the JSON by
  ``benchmarks/pages.py`` (so a figure on the site is always the one in the measured file);
- ``notebooks/*.ipynb``: the notebooks from the repository's ``notebooks/`` folder, shown with their
  committed outputs (the tests execute them; the site does not).

At ``build-finished`` (HTML builders) it copies MathJax 2 from the ``jupyter-server-mathjax``
package into ``_static/mathjax`` so formulas render without a network.
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

DOCS = Path(__file__).resolve().parents[1]
ROOT = DOCS.parent
GENERATED = DOCS / "_generated"
BENCH_PAGES = DOCS / "benchmarks"
NOTEBOOKS = DOCS / "notebooks"
# Committed pages inside the generated folders; everything else there is rewritten per build.
KEEP = {BENCH_PAGES / "index.md", NOTEBOOKS / "index.md"}


def _load(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"jinit docs: cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def _clear(folder: Path, pattern: str) -> None:
    for path in folder.glob(pattern):
        if path not in KEEP:
            path.unlink()


def _write_if_changed(path: Path, text: str) -> None:
    """Write ``text`` unless the file already holds it (so Sphinx's incremental build keeps it)."""
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


def generate(app: Any) -> None:
    """Write the generated pages before Sphinx reads the sources."""
    from jinit._src.initializers.catalogue import markdown_table

    GENERATED.mkdir(exist_ok=True)
    _write_if_changed(GENERATED / "catalogue_table.md", markdown_table() + "\n")

    pages = _load(ROOT / "benchmarks" / "pages.py", "jinit_benchmark_pages")
    rendered = pages.pages(ROOT / "benchmarks" / "results")
    for stale in set(BENCH_PAGES.glob("*.md")) - KEEP:
        if stale.stem not in rendered:
            stale.unlink()
    for stem, text in rendered.items():
        _write_if_changed(BENCH_PAGES / f"{stem}.md", text)

    sources = {p.name: p for p in (ROOT / "notebooks").glob("*.ipynb")}
    for stale in NOTEBOOKS.glob("*.ipynb"):
        if stale.name not in sources:
            stale.unlink()
    for name, source in sources.items():
        target = NOTEBOOKS / name
        if not target.exists() or target.read_bytes() != source.read_bytes():
            shutil.copyfile(source, target)


def copy_mathjax(app: Any, exception: BaseException | None) -> None:
    """Copy MathJax into the built site (HTML builders only)."""
    if exception is not None or app.builder.format != "html":
        return
    import jupyter_server_mathjax

    source = Path(jupyter_server_mathjax.__file__).parent / "static"
    target = Path(app.outdir) / "_static" / "mathjax"
    if not (target / "MathJax.js").exists():
        shutil.copytree(
            source, target, dirs_exist_ok=True, ignore=shutil.ignore_patterns("localization")
        )


def data_docstring(
    app: Any, what: str, name: str, obj: Any, options: Any, lines: list[str]
) -> None:
    """A public constant (``jinit.ACTIVATIONS``) gets its ``#:`` comment, not its type's docstring.

    autodoc reads ``#:`` comments from the module a name is documented in (``jinit``), but the
    constants are defined in ``jinit._src``: look the comment up in the defining module.
    """
    if what != "data" or not name.startswith("jinit.") or not lines:
        return
    from sphinx.pycode import ModuleAnalyzer

    attr = name.rsplit(".", 1)[1]
    for modname, module in sorted(sys.modules.items()):
        if not modname.startswith("jinit._src.") or getattr(module, attr, None) is not obj:
            continue
        docs = ModuleAnalyzer.for_module(modname).find_attr_docs().get(("", attr))
        if docs:
            lines[:] = list(docs)
            return


def skip_namedtuple_fields(
    app: Any, what: str, name: str, obj: Any, skip: bool, options: Any
) -> bool | None:
    """A NamedTuple's fields are documented by its Attributes section, not again as members."""
    if (getattr(obj, "__doc__", None) or "").startswith("Alias for field number"):
        return True
    return None


def setup(app: Any) -> dict[str, Any]:
    """Register the generators and the autodoc hooks."""
    app.connect("autodoc-process-docstring", data_docstring)
    app.connect("autodoc-skip-member", skip_namedtuple_fields)
    app.connect("builder-inited", generate)
    app.connect("build-finished", copy_mathjax)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
