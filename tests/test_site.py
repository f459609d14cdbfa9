"""The built documentation site: complete, and usable offline.

``nox -s docs`` builds the site and sets ``SIGREG_DOCS_SITE`` to it.
"""

from __future__ import annotations

import os
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

import sigreg

SITE = os.environ.get("SIGREG_DOCS_SITE")
pytestmark = pytest.mark.skipif(
    SITE is None, reason="SIGREG_DOCS_SITE is not set: `nox -s docs` builds the site and runs these tests"
)
PAGES = [
    "index.html",
    "getting-started.html",
    "guides/torch.html",
    "guides/jax.html",
    "guides/numpy-cupy.html",
    "guides/validating.html",
    "distributed.html",
    "examples.html",
    "api.html",
    "numbers.html",
    "pvalues.html",
    "benchmark.html",
    "design.html",
    "story/index.html",
]


class _Resources(HTMLParser):
    """What a page loads by itself: scripts, stylesheets, images, frames."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in ("script", "img", "iframe", "source") and attrs.get("src"):
            self.urls.append(attrs["src"])
        if tag == "link" and attrs.get("href") and attrs.get("rel") in ("stylesheet", "preload", "icon"):
            self.urls.append(attrs["href"])


def _site() -> Path:
    return Path(SITE)


def _resources(page: Path) -> list[str]:
    parser = _Resources()
    parser.feed(page.read_text())
    return parser.urls


@pytest.mark.parametrize("name", PAGES)
def test_every_page_is_built_and_loads_only_local_files(name):
    page = _site() / name
    assert page.is_file(), f"{name} was not built"
    for url in _resources(page):
        if url.startswith("data:"):  # inline, nothing to load
            continue
        assert not re.match(r"^([a-z]+:)?//", url), f"{name} loads {url} from the network"
        local = (page.parent / url.split("?")[0].split("#")[0]).resolve()
        assert local.is_file(), f"{name} loads {url}, which is not in the site"


def test_api_reference_documents_every_public_name():
    html = (_site() / "api.html").read_text()
    names = [f"sigreg.{name}" for name in sigreg.__all__ if name != "stats"]
    names += [f"sigreg.stats.{name}" for name in sigreg.stats.__all__]
    names += ["sigreg.torch.SIGReg", "sigreg.torch.all_reduce", "sigreg.jax.all_reduce"]
    for name in names:
        assert f'id="{name}"' in html, f"{name} is missing from the API reference"


def test_generated_figures_and_tables_are_on_their_pages():
    numbers = (_site() / "numbers.html").read_text()
    assert "33.5" in numbers and "10.1" in numbers  # aliasing periods of the default and paper grids
    assert numbers.count("<table") >= 1
    examples = (_site() / "examples.html").read_text()
    for row in ("LeJEPA, lam = 0.05", "lam = 0 (no SIGReg)", "random encoder", "PCA of the pixels"):
        assert row in examples, f"the digits results table lacks the row {row!r}"
    figures = [("index.html", "descent"), ("numbers.html", "null"), ("benchmark.html", "benchmark")]
    figures += [("pvalues.html", "calibration")]
    pvalues = (_site() / "pvalues.html").read_text()
    for row in ("Student-t(5)", "Shapiro-Wilk (scipy)", "| 256 |".replace("|", "").strip()):
        assert row in pvalues, f"the p-value page lacks {row!r}"
    for page, figure in figures:
        assert re.search(rf'<img[^>]+src="[^"]*{figure}\.png"', (_site() / page).read_text()), (page, figure)
