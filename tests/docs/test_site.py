"""The documentation site: it builds warning-free, every public name has a page, and the pages
render in a real browser (headless Chromium: title, math, images, no failed request).

The build is the one ``docs/serve.py`` runs (``sphinx-build -W --keep-going``: any warning,
a broken cross-reference included, fails it), into the session's temporary folder. The tests
share one build: under xdist the workers take a file lock and the first one builds.
"""

from __future__ import annotations

import fcntl
import functools
import http.server
import importlib.util
import json
import os
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

import jinit

pytest.importorskip("sphinx", reason="the docs extra is not installed: pip install -e '.[docs]'")
pytest.importorskip("myst_nb", reason="the docs extra is not installed: pip install -e '.[docs]'")

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"


def _serve() -> ModuleType:
    """``docs/serve.py``, whose build command the test runs (so the two never differ)."""
    spec = importlib.util.spec_from_file_location("jinit_docs_serve", DOCS / "serve.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _api_names() -> list[str]:
    """The names the API index lists in its autosummary tables."""
    text = (DOCS / "api" / "index.md").read_text()
    names: list[str] = []
    for block in re.findall(r"\.\. autosummary::\n(.*?)```", text, flags=re.S):
        names += [line.strip() for line in block.splitlines() if re.fullmatch(r" {3}\w+", line)]
    return names


def test_the_api_index_lists_every_public_name_once() -> None:
    names = _api_names()
    duplicates = sorted({n for n in names if names.count(n) > 1})
    assert not duplicates, f"listed twice in docs/api/index.md: {duplicates}"
    missing = sorted(set(jinit.__all__) - set(names))
    assert not missing, f"public names with no API page (add them to docs/api/index.md): {missing}"
    extra = sorted(set(names) - set(jinit.__all__))
    assert not extra, f"docs/api/index.md lists names that are not public: {extra}"


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base  # one per run
    out, log = shared / "jinit-docs", shared / "jinit-docs.log"
    with open(shared / "jinit-docs.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not log.exists():
            command = _serve().build_command(out / "html")  # what docs/serve.py runs
            done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=900)
            log.write_text(f"{done.returncode}\n{done.stderr}")
    status, stderr = log.read_text().split("\n", 1)
    assert status == "0", f"sphinx-build -W failed:\n{stderr[-6000:]}"
    return out / "html"


def test_every_public_name_has_a_built_page(site: Path) -> None:
    for name in jinit.__all__:
        page = site / "_generated" / "api" / f"jinit.{name}.html"
        assert page.exists(), f"no page for jinit.{name}"
        assert f'id="jinit.{name}"' in page.read_text(), f"jinit.{name}'s page does not describe it"


def test_generated_pages_follow_their_sources(site: Path) -> None:
    from jinit._src.initializers.catalogue import catalogue

    catalogue_page = (site / "catalogue.html").read_text()
    for entry in catalogue():
        assert (
            f'<code class="docutils literal notranslate"><span class="pre">{entry.name}</span>'
            in (catalogue_page)
        ), f"{entry.name} missing from the catalogue page"
    for result in (ROOT / "benchmarks" / "results").glob("*.json"):
        assert (site / "benchmarks" / f"{result.stem}.html").exists(), f"no page for {result.name}"
    for notebook in (ROOT / "notebooks").glob("*.ipynb"):
        page = site / "notebooks" / f"{notebook.stem}.html"
        assert page.exists(), f"no page for {notebook.name}"
        outputs = sum(len(c.get("outputs", [])) for c in json.loads(notebook.read_text())["cells"])
        assert outputs > 0 and 'class="cell_output' in page.read_text(), notebook.name
    assert (site / "_static" / "mathjax" / "MathJax.js").exists()


def _chromium() -> str | None:
    for candidate in (
        os.environ.get("JINIT_CHROMIUM"),
        "chromium",
        "chromium-browser",
        "google-chrome",
    ):
        if candidate and (path := shutil.which(candidate)):
            return path
    return None


@pytest.fixture(scope="session")
def server(site: Path) -> Iterator[str]:
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(site))
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler) as httpd:
        thread = threading.Thread(target=httpd.serve_forever, daemon=True)
        thread.start()
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
        httpd.shutdown()


# (page, words its <title> holds, least number of typeset formulas, least number of images)
PAGES = [
    ("index.html", "jinit", 0, 0),
    ("_generated/api/jinit.variance_scaling.html", "jinit.variance_scaling", 2, 0),
    ("notebooks/01_quickstart.html", "", 1, 1),
]


def test_pages_render_in_chromium(server: str, tmp_path: Path) -> None:
    chromium = _chromium()
    if chromium is None:
        reason = "no Chromium on this machine (CI installs it: apt-get install chromium)"
        if os.environ.get("JINIT_REQUIRE_BROWSER"):  # set by .ci/run: there it must run
            pytest.fail(reason)
        pytest.skip(reason)
    api = pytest.importorskip("playwright.sync_api", reason="the docs extra is not installed")
    sync_playwright, playwright_timeout = api.sync_playwright, api.TimeoutError
    failures: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            for path, title, formulas, images in PAGES:
                page = browser.new_page(viewport={"width": 1280, "height": 900})
                page.on(
                    "response", lambda r: r.status >= 400 and failures.append(f"{r.status} {r.url}")
                )
                # MathJax 2 probes a blank font at about:blank, which Chromium refuses (CORS):
                # not a file of the site, so not a failure of it
                page.on(
                    "requestfailed",
                    lambda r: r.url != "about:blank" and failures.append(f"failed {r.url}"),
                )
                page.on("pageerror", lambda e: failures.append(f"page error {e}"))
                page.on(
                    "console", lambda m: "404" in m.text and failures.append(f"console: {m.text}")
                )
                page.goto(f"{server}/{path}", wait_until="load")
                assert page.title(), f"{path}: no title"
                assert title in page.title(), f"{path}: title {page.title()!r}"
                assert page.locator("h1").count() >= 1, f"{path}: no heading"
                if formulas:
                    try:
                        page.wait_for_function(
                            "() => window.MathJax && MathJax.Hub && MathJax.Hub.queue.pending === 0"
                            " && document.querySelectorAll('span.MathJax').length > 0",
                            timeout=30_000,
                        )
                    except playwright_timeout:
                        pytest.fail(
                            f"{path}: MathJax typeset nothing in 30 s; failed requests: {failures}"
                        )
                    typeset = page.locator("span.MathJax").count()
                    assert typeset >= formulas, f"{path}: {typeset} formulas typeset"
                    assert page.locator(".MathJax .merror, .MathJax_Error").count() == 0, path
                broken = page.evaluate(
                    "() => [...document.images].filter(i => !i.complete || i.naturalWidth === 0)"
                    ".map(i => i.src)"
                )
                assert not broken, f"{path}: images that did not load: {broken}"
                assert page.locator("img").count() >= images, f"{path}: fewer than {images} images"
                shot = tmp_path / (Path(path).stem + ".png")
                page.screenshot(path=str(shot), full_page=False)
                assert shot.stat().st_size > 10_000, f"{path}: blank screenshot?"
                page.close()
        finally:
            browser.close()
    assert not failures, "requests that failed while rendering:\n" + "\n".join(failures)
