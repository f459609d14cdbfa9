"""Headless Chromium for the docs' browser tests (tests/project/test_story.py, tests/project/test_site.py).

Playwright drives Debian's ``/usr/bin/chromium``. Without either, the tests skip,
unless ``SIGREG_REQUIRE_BROWSER=1`` (``nox -s docs`` and CI), where that is a failure.
Pages are served from 127.0.0.1 by a local ``http.server``; :class:`PageLog` records
console errors and warnings, page errors, failed requests and requests to any other host.
"""

from __future__ import annotations

import contextlib
import functools
import os
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlparse

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # without these, chromium phones home and the closed network refuses it loudly
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# A phone, a tablet and a laptop (CSS pixels).
VIEWPORTS = {"phone": (390, 844), "tablet": (768, 1024), "desktop": (1400, 900)}


def unavailable(reason: str):
    if os.environ.get("SIGREG_REQUIRE_BROWSER") == "1":
        pytest.fail(f"SIGREG_REQUIRE_BROWSER=1 but {reason}")
    pytest.skip(reason)


def launch(playwright):
    if not CHROMIUM.exists():
        unavailable(f"{CHROMIUM} is missing")
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)


@contextlib.contextmanager
def chromium() -> Iterator[object]:
    """A headless Chromium, closed on exit."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("playwright is not installed")
    with sync_playwright() as p:
        launched = launch(p)
        try:
            yield launched
        finally:
            launched.close()


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # keep pytest's output clean
        pass


@contextlib.contextmanager
def serve(root: Path) -> Iterator[str]:
    """``root`` over http on 127.0.0.1; yields the base URL (ending in /)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


class PageLog:
    """Console errors and warnings, page errors, failed and off-host requests."""

    def __init__(self, page):
        self.problems: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        page.on("requestfailed", lambda r: self.problems.append(f"request failed: {r.url} {r.failure}"))
        page.on("request", self._request)
        page.on("response", lambda r: r.status >= 400 and self.problems.append(f"HTTP {r.status}: {r.url}"))

    def _console(self, message):
        if message.type in ("error", "warning"):
            self.problems.append(f"console {message.type}: {message.text}")

    def _request(self, request):
        url = urlparse(request.url)
        if url.scheme in ("data", "file", "blob"):  # file: only in the file:// test, data: the empty favicon
            return
        if url.hostname != "127.0.0.1":
            self.problems.append(f"request to another host: {request.url}")

    def assert_clean(self):
        assert not self.problems, "\n".join(self.problems)


# What overflows the viewport sideways: the document, and every canvas (with its position).
LAYOUT_JS = """() => ({
  width: window.innerWidth,
  documentWidth: document.documentElement.scrollWidth,
  canvases: [...document.querySelectorAll('canvas')].map((c) => {
    const r = c.getBoundingClientRect();
    return {id: c.id || c.getAttribute('aria-label') || c.className, left: r.left, right: r.right,
            width: r.width, height: r.height, outside: c.dataset.outside ?? null};
  }),
})"""
