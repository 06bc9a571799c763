"""Build the documentation site and serve it locally.

Run from the repository root, with the docs extra installed (``pip install -e ".[docs]"``)::

    python docs/serve.py              # build (warnings are errors), serve http://127.0.0.1:8000
    python docs/serve.py --port 8765  # another port
    python docs/serve.py --no-build   # serve the last build

The build is ``sphinx-build -W --keep-going -b html docs docs/_build/html``, the command the test
suite runs (tests/docs/test_site.py calls ``build_command``), so a page that builds here builds in
CI.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import http.server
import subprocess
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
OUT = DOCS / "_build" / "html"


def build_command(out: Path = OUT) -> list[str]:
    """The sphinx-build call: warnings are errors, doctrees beside ``out``."""
    return [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-b", "html", "-q",
            "-d", str(out.parent / "doctrees"), str(DOCS), str(out)]  # fmt: skip


def build(out: Path = OUT) -> int:
    """Run :func:`build_command` on docs/ into ``out``; return its exit status."""
    return subprocess.call(build_command(out))


def main(argv: list[str] | None = None) -> int:
    """Build (unless ``--no-build``) and serve until interrupted."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--no-build", action="store_true", help="serve the last build")
    args = parser.parse_args(argv)
    if not args.no_build and (status := build()) != 0:
        print(f"docs/serve.py: sphinx-build failed (exit {status})", file=sys.stderr)
        return status
    if not (OUT / "index.html").exists():
        print(f"docs/serve.py: no build in {OUT}; run without --no-build", file=sys.stderr)
        return 1
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(OUT))
    with http.server.ThreadingHTTPServer((args.host, args.port), handler) as server:
        print(f"serving {OUT} on http://{args.host}:{args.port} (Ctrl-C stops)")
        with contextlib.suppress(KeyboardInterrupt):
            server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
