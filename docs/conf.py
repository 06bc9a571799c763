"""Sphinx configuration for the jinit documentation site.

Build: ``sphinx-build -W -b html docs docs/_build/html``, or ``python docs/serve.py`` to build
and serve it on http://127.0.0.1:8000. Pages generated at build time (the catalogue table, the
benchmark pages, the notebooks copied from ``notebooks/``) come from ``docs/_ext/jinit_docs.py``;
they are written under ``docs/_generated``, ``docs/benchmarks`` and ``docs/notebooks`` and are
never committed.
"""

from __future__ import annotations

import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path[:0] = [str(ROOT), str(DOCS / "_ext")]

import jinit  # noqa: E402

project = "jinit"
author = "jinit developers"
copyright = "2026, jinit developers"
release = version = jinit.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "myst_nb",
    "jinit_docs",
]

# Pages: MyST markdown and notebooks (rendered from their committed outputs: the tests execute
# the notebooks, the docs only show them, so the build stays fast and needs no kernel).
source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "**.ipynb_checkpoints", "README.md"]
nb_execution_mode = "off"
nb_merge_streams = True
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3

# API: one page per public name (docs/api/index.md lists jinit.__all__; a test checks it).
autosummary_generate = True
autosummary_imported_members = True
autodoc_typehints = "signature"
autodoc_member_order = "bysource"
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False
napoleon_attr_annotations = True
add_module_names = False
python_display_short_literal_types = True

# Every reference inside jinit must resolve (sphinx-build -W makes a broken one an error). Names
# from other packages cannot resolve: the build runs offline, so there is no intersphinx inventory.
nitpicky = True
nitpick_ignore_regex = [
    (
        "py:.*",
        r"(jax|jaxlib|numpy|np|jnp|flax|nn|nnx|optax|equinox|eqx|torch|scipy|typing"
        r"|collections|enum|dataclasses|pathlib|re|matplotlib|rich)(\..*)?",
    ),
    # the values of a Literal annotation are strings, not references
    ("py:.*", r"'.*'"),
    # private aliases and types in signatures: the Loss callables' signature is in each
    # docstring, and RuleSet is the dict of rules (pattern -> initializer) the rule sets return
    # docstring; RuleSet is the dict of rules (pattern -> initializer) the rule sets return and
    # ByRole the rule by_role returns (both documented on those functions' pages)
    ("py:.*", r"(Loss|jinit\._src\.model\.rules\.(RuleSet|ByRole))"),
    # types named only under TYPE_CHECKING (matplotlib's Figure, rich's Console)
    ("py:.*", r"(Figure|Console)"),
    (
        "py:.*",
        r"(Any|Callable|Sequence|Mapping|Iterable|Iterator|Literal|Protocol|TypeVar"
        r"|NamedTuple|Self|ArrayLike|DTypeLike|PyTree|Path)",
    ),
    (
        "py:.*",
        r"(int|float|bool|str|bytes|complex|object|tuple|list|dict|set|frozenset|type"
        r"|None|Ellipsis|slice|range|BaseException|Exception|ValueError|TypeError)",
    ),
]

# HTML: the theme JAX and Flax use. MathJax is served from the site itself (the MathJax 2
# files that ship in the jupyter-server-mathjax package), so math renders offline.
html_theme = "sphinx_book_theme"
html_title = f"jinit {release}"
html_static_path = ["_static"]
html_favicon = "_static/favicon.svg"
html_theme_options = {
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "use_download_button": False,
}
mathjax_path = "mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full"
mathjax2_config = {
    "tex2jax": {
        "inlineMath": [["\\(", "\\)"]],
        "displayMath": [["\\[", "\\]"]],
        "processRefs": False,
        "processEnvironments": False,
        # myst-nb marks notebook text "tex2jax_ignore" and its math "math" (the MathJax
        # 3 names); MathJax 2 needs them in tex2jax's own options
        "ignoreClass": "tex2jax_ignore|mathjax_ignore",
        "processClass": "tex2jax_process|mathjax_process|math|output_area",
    },
    # The package ships the STIX-Web fonts only (Jupyter's configuration); the fast preview
    # would ask for MathJax's own TeX fonts, which it does not ship, ...
    "HTML-CSS": {
        "availableFonts": [],
        "preferredFont": None,
        "webFont": "STIX-Web",
        "imageFont": None,
    },
    "fast-preview": {"disabled": True},
    # nor would the hidden MathML copy for screen readers, which Chromium renders with them
    "AssistiveMML": {"disabled": True},
    "menuSettings": {"assistiveMML": False},
    "showMathMenu": False,
    "messageStyle": "none",
}
templates_path = ["_templates"]

# Signatures show jinit's type names, not what they expand to (the modules' annotations are
# strings, ``from __future__ import annotations``, so autodoc can substitute them).
autodoc_type_aliases = {
    "Draw": "jinit.Initializer",
}
