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
import sigreg.targets

from ..browser import LAYOUT_JS, PageLog, chromium, serve

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
    "deploying.html",
    "distributed.html",
    "examples.html",
    "world-models.html",
    "api.html",
    "numbers.html",
    "pvalues.html",
    "statistics.html",
    "regularisers.html",
    "large.html",
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
    names = [f"sigreg.{name}" for name in sigreg.__all__ if name not in ("stats", "targets")]
    names += [f"sigreg.stats.{name}" for name in sigreg.stats.__all__]
    names += [f"sigreg.targets.{name}" for name in sigreg.targets.__all__]
    names += ["sigreg.torch.SIGReg", "sigreg.torch.all_reduce", "sigreg.jax.all_reduce"]
    for name in names:
        assert f'id="{name}"' in html, f"{name} is missing from the API reference"


def test_maths_pages_load_mathjax_from_the_site():
    numbers = (_site() / "numbers.html").read_text()
    assert numbers.count('class="math') >= 5
    assert re.search(r'<script[^>]+src="_static/mathjax/tex-svg\.js', numbers)
    assert (_site() / "_static" / "mathjax" / "tex-svg.js").stat().st_size > 1_000_000


def test_generated_figures_and_tables_are_on_their_pages():
    numbers = (_site() / "numbers.html").read_text()
    assert "33.5" in numbers and "10.1" in numbers  # aliasing periods of the default and paper grids
    assert numbers.count("<table") >= 1
    examples = (_site() / "examples.html").read_text()
    rows = ("LeJEPA, lam = 0.05", "unbiased SIGReg", "VISReg, lam = 0.9", "RDMReg target")
    rows += ("lam = 0 (no SIGReg)",)
    for row in (*rows, "random encoder", "PCA of the pixels"):
        assert row in examples, f"the digits results table lacks the row {row!r}"
    world_models = (_site() / "world-models.html").read_text()
    rows = ("LeWM, lam = 0.1", "lam = 0 (no SIGReg)", "stop-gradient, lam = 0", "true state", "random")
    for row in rows:
        assert row in world_models, f"the world-model results table lacks the row {row!r}"
    figures = [("index.html", "descent"), ("numbers.html", "null"), ("benchmark.html", "benchmark")]
    figures += [("pvalues.html", "calibration"), ("regularisers.html", "collapse")]
    pvalues = (_site() / "pvalues.html").read_text()
    for row in ("Student-t(5)", "Shapiro-Wilk (scipy)", "| 256 |".replace("|", "").strip()):
        assert row in pvalues, f"the p-value page lacks {row!r}"
    for page, figure in figures:
        assert re.search(rf'<img[^>]+src="[^"]*{figure}\.png"', (_site() / page).read_text()), (page, figure)


def test_api_reference_has_one_entry_per_parameter():
    """Each parameter of each documented function has its own entry: none share one description."""
    html = (_site() / "api.html").read_text()
    entries = re.findall(r"<li><p><strong>(.*?)</strong>", html)
    assert len(entries) > 50
    for entry in entries:
        assert "," not in re.sub(r"<[^>]+>", "", entry), f"parameters share one entry: {entry}"


# Every figure of the site, by page (docs/generate.py draws them).
FIGURES = {
    "index.html": ["descent"],
    "numbers.html": ["null"],
    "benchmark.html": ["benchmark"],
    "pvalues.html": ["calibration"],
    "regularisers.html": ["collapse"],
}
PHONE = {"width": 390, "height": 844}
SMALLEST_TEXT_PX = 10  # on the screen, in CSS pixels
# docs/generate.py writes the height of a figure's smallest text, in the PNG's pixels, here.
SMALLEST_TEXT_KEY = b"sigreg-smallest-text-px"


def _png_text(path: Path) -> dict[bytes, bytes]:
    """The tEXt chunks of a PNG: keyword to text."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", path
    chunks, at = {}, 8
    while at < len(data):
        length, kind = int.from_bytes(data[at : at + 4], "big"), data[at + 4 : at + 8]
        if kind == b"tEXt":
            key, _, text = data[at + 8 : at + 8 + length].partition(b"\0")
            chunks[key] = text
        at += 12 + length
    return chunks


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_figures_are_legible_on_a_phone(pages, name):
    """At 390 px the smallest text of every figure is at least 10 px on the screen: its height in the
    PNG (written by docs/generate.py) times the scale the page shows the PNG at."""
    browser, base = pages
    context = browser.new_context(viewport=PHONE)
    try:
        tab = context.new_page()
        tab.goto(base + name, wait_until="load")
        tab.wait_for_timeout(100)
        images = tab.evaluate(
            """() => [...document.querySelectorAll('article img')].map((i) => ({src: i.getAttribute('src'),
                shown: i.getBoundingClientRect().width, natural: i.naturalWidth}))"""
        )
        shown = {Path(i["src"]).stem for i in images}
        assert set(FIGURES[name]) <= shown, (name, images)
        for image in images:
            smallest = _png_text((_site() / name).parent / image["src"]).get(SMALLEST_TEXT_KEY)
            assert smallest is not None, f"{name}: {image['src']} does not say its smallest text"
            on_screen = float(smallest) * image["shown"] / image["natural"]
            assert on_screen >= SMALLEST_TEXT_PX, (
                f"{name} at {PHONE['width']} px: {image['src']} shows text {on_screen:.1f} px high"
            )
        if os.environ.get("SIGREG_SCREENSHOTS"):
            shot = Path(os.environ["SIGREG_SCREENSHOTS"]) / f"docs-{Path(name).stem}-390.png"
            tab.screenshot(path=str(shot), full_page=True)
    finally:
        context.close()


# The header's links and its search box: their tops (one row: within a few pixels), and its height.
HEADER_JS = """() => ({
  height: document.querySelector('.bd-header').getBoundingClientRect().height,
  items: [...document.querySelectorAll('.bd-header .navbar-nav > li, .bd-header .search-button-field')]
    .filter((e) => e.offsetParent)
    .map((e) => [e.textContent.trim().slice(0, 30), e.getBoundingClientRect().top]),
})"""


@pytest.fixture(scope="module")
def pages():
    """A desktop-sized tab factory on the site served from 127.0.0.1."""
    with chromium() as browser, serve(_site()) as base:
        yield browser, base


@pytest.mark.parametrize("name", [page for page in PAGES if page != "story/index.html"])
def test_every_page_is_clean_in_a_browser(pages, name):
    """No console error or warning, no request off 127.0.0.1, no sideways overflow, a sidebar with content."""
    browser, base = pages
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    try:
        tab = context.new_page()
        log = PageLog(tab)
        tab.goto(base + name, wait_until="load")
        tab.wait_for_timeout(100)  # the theme's scripts run after load
        formulas = tab.locator(".math").count()
        if formulas:  # typeset by the site's own MathJax, none left as TeX source
            tab.wait_for_function("window.MathJax && MathJax.startup && MathJax.startup.promise")
            tab.evaluate("() => MathJax.startup.promise")
            assert tab.locator(".math mjx-container svg").count() == formulas, name
        layout = tab.evaluate(LAYOUT_JS)
        assert layout["documentWidth"] <= layout["width"], name
        sidebar = tab.locator("#pst-primary-sidebar")
        if sidebar.count() and sidebar.is_visible():
            assert sidebar.inner_text().strip(), f"{name}: the primary sidebar is shown empty"
        if name == "api.html":  # the top navigation on one row, beside the search box
            header = tab.evaluate(HEADER_JS)
            tops = [top for _, top in header["items"]]
            assert len(tops) >= 4 and max(tops) - min(tops) < 12, header  # wrapped: search 45 px lower
        if name == "api.html" and os.environ.get("SIGREG_SCREENSHOTS"):
            tab.screenshot(path=str(Path(os.environ["SIGREG_SCREENSHOTS"]) / "docs-api-1400x900.png"))
        log.assert_clean()
    finally:
        context.close()
