"""The SIGReg visual story (docs/story) in a real browser.

Opens the page in headless Chromium through Playwright and checks that it works
offline, without console errors, and that every number it shows equals the
library's, recomputed here from the seeds documented in docs/story/make_data.py.

Skipped when Playwright or /usr/bin/chromium is missing, unless
``SIGREG_REQUIRE_BROWSER=1`` (CI), where that is a failure. ``SIGREG_DOCS_SITE``
points the test at a built Sphinx site (``<site>/story/index.html``); otherwise
the page is assembled in a temporary folder. Screenshots go to
``SIGREG_SCREENSHOTS`` (default: a temporary folder).
"""

from __future__ import annotations

import functools
import importlib.util
import math
import os
import shutil
import subprocess
import sys
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pytest

import sigreg

ROOT = Path(__file__).parents[1]
STORY = ROOT / "docs" / "story"
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
VIEWPORT = {"width": 1280, "height": 800}


def _load_make_data():
    spec = importlib.util.spec_from_file_location("story_make_data", STORY / "make_data.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


make_data = _load_make_data()


def _unavailable(reason: str):
    if os.environ.get("SIGREG_REQUIRE_BROWSER") == "1":
        pytest.fail(f"SIGREG_REQUIRE_BROWSER=1 but {reason}")
    pytest.skip(reason)


# ---- serving the page ----------------------------------------------------------------------


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # keep pytest's output clean
        pass


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The URL of the story page, served from 127.0.0.1 by a local http.server."""
    built = os.environ.get("SIGREG_DOCS_SITE")
    if built:
        root, page = Path(built), "story/index.html"
        assert (root / page).is_file(), f"SIGREG_DOCS_SITE={built} has no {page}"
    else:
        root, page = tmp_path_factory.mktemp("story"), "index.html"
        for name in ("index.html", "story.css", "story.js"):
            shutil.copy(STORY / name, root / name)
        subprocess.run(
            [sys.executable, str(STORY / "make_data.py"), str(root)], check=True, capture_output=True
        )
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield {"url": f"http://127.0.0.1:{server.server_address[1]}/{page}", "file": (root / page).resolve()}
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed")
    if not CHROMIUM.exists():
        _unavailable(f"{CHROMIUM} is missing")
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory):
    folder = os.environ.get("SIGREG_SCREENSHOTS")
    path = Path(folder) if folder else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


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
        if url.scheme in ("data", "file"):  # file: only in the file:// test, data: the empty favicon
            return
        if url.hostname != "127.0.0.1":
            self.problems.append(f"request to another host: {request.url}")

    def assert_clean(self):
        assert self.problems == []


def _open(browser, url: str):
    context = browser.new_context(viewport=VIEWPORT)
    tab = context.new_page()
    log = PageLog(tab)
    tab.goto(url, wait_until="load")
    tab.wait_for_function("document.querySelectorAll('.slice-card').length > 0")
    return context, tab, log


@pytest.fixture
def story(browser, site):
    """A fresh tab on the story page (over http) and the log of its problems."""
    context, tab, log = _open(browser, site["url"])
    yield tab, log
    context.close()


def _value(tab, selector: str, attribute: str = "data-value") -> float:
    return float(tab.get_attribute(selector, attribute))


def _screenshot(tab, shots: Path, selector: str, name: str):
    tab.locator(selector).scroll_into_view_if_needed()
    tab.evaluate("s => document.querySelector(s).scrollIntoView({block: 'start'})", selector)
    tab.wait_for_timeout(150)
    tab.screenshot(path=str(shots / name))


# ---- the library's numbers, recomputed here ----------------------------------------------------


def _hero_sigreg(k: int) -> float:
    return float(sigreg.sigreg(make_data.hero_points(), directions=make_data.pool()[:, :k]))


def _toy_values(steps: int) -> list[float]:
    """The first values of section 04's descent, by plain gradient steps like sigreg.demo.unfold."""
    from sigreg import demo

    z = demo.collapsed_cloud(make_data.TOY_SEED)[: make_data.TOY_POINTS]
    values = []
    for step in range(steps + 1):
        value, grad = sigreg.value_and_grad(z, num_slices=demo.NUM_SLICES, seed=step)
        values.append(float(value))
        z = z - demo.LEARNING_RATE * grad
    return values


# ---- the checks ----------------------------------------------------------------------------------


def test_page_loads_offline_and_clean(story, shots):
    tab, log = story
    for selector in (
        "#scene",
        "#collapse-line",
        "#collapse-cloud",
        "#why-gaussian",
        "#unit-circle",
        "#toy-scene",
    ):
        assert tab.locator(selector).is_visible(), selector
    assert tab.locator("#lejepa").is_visible()
    headings = tab.locator("h1, h2").all_inner_texts()
    for expected in (
        "SIGReg checks shadows",
        "Why collapse needs a target",
        "Why Gaussian is the target",
        "Epps-Pulley tests one shadow",
        "As a loss, SIGReg unfolds the cloud",
        "Where it sits in LeJEPA",
    ):
        assert any(expected in h for h in headings), expected
    _screenshot(tab, shots, "#collapse", "section-01-collapse.png")
    _screenshot(tab, shots, "#gaussian", "section-02-gaussian.png")
    _screenshot(tab, shots, "#lejepa-section", "section-lejepa.png")
    tab.screenshot(path=str(shots / "full-page.png"), full_page=True)
    log.assert_clean()


def test_slices_add_and_average(story, shots):
    tab, log = story
    cards = tab.locator(".slice-card")
    start = cards.count()
    before = _value(tab, "#sigreg-value")
    for _ in range(3):
        count = cards.count()
        tab.click("#add-slice")
        assert cards.count() == count + 1
    tab.click("#scene")  # a click without drag adds a slice too
    k = cards.count()
    assert k == start + 4

    shown = _value(tab, "#sigreg-value")
    assert shown != before
    scores = [
        float(s) for s in tab.locator(".slice-score").evaluate_all("els => els.map(e => e.dataset.score)")
    ]
    assert len(scores) == k
    assert shown == pytest.approx(sum(scores) / k, rel=1e-12)
    assert shown == pytest.approx(_hero_sigreg(k), rel=1e-9)
    assert tab.inner_text("#sigreg-value") == f"{shown:.4f}"

    expected = sigreg.epps_pulley(make_data.hero_points() @ make_data.pool()[:, :k], axis=0)
    np.testing.assert_allclose(scores, expected, rtol=1e-9)
    texts = tab.locator(".slice-score").all_inner_texts()
    assert texts == [f"{s:.4f}" for s in scores]
    _screenshot(tab, shots, "#one-idea", "section-hero.png")
    log.assert_clean()


def test_pool_runs_out(story):
    tab, log = story
    while tab.locator(".slice-card").count() < make_data.POOL_SIZE:
        tab.click("#add-slice")
    assert tab.locator("#add-slice").is_disabled()
    assert _value(tab, "#sigreg-value") == pytest.approx(_hero_sigreg(make_data.POOL_SIZE), rel=1e-9)
    log.assert_clean()


@pytest.mark.parametrize("t", [0.8, -2.35, 1.5, 0.0, 5.0, -5.0])
def test_t_slider_readouts(story, shots, t):
    tab, log = story
    slider = tab.locator("#t-slider")
    slider.fill(str(t))
    u = make_data.slice_values()
    assert _value(tab, "#t-value") == pytest.approx(t, abs=1e-12)
    cos, sin = _value(tab, "#mean-cos"), _value(tab, "#mean-sin")
    # an independent check, then the library's ECF at the slider's knot
    assert cos == pytest.approx(np.mean(np.cos(t * u)), abs=1e-9)
    assert sin == pytest.approx(np.mean(np.sin(t * u)), abs=1e-9)
    knots = make_data.slider_knots()
    j = round(abs(t) / knots[0])
    if j:
        cos_mean, sin_mean = sigreg.stats.ecf(u, [knots[j - 1]])
        assert cos == pytest.approx(cos_mean[0], abs=1e-12)
        assert sin == pytest.approx(math.copysign(1, t) * sin_mean[0], abs=1e-12)
    assert _value(tab, "#target-real") == pytest.approx(math.exp(-(t**2) / 2), abs=1e-12)
    assert _value(tab, "#target-imag") == 0.0
    assert tab.inner_text("#mean-cos") == f"{cos:.4f}"
    if t == -2.35:
        _screenshot(tab, shots, "#epps-pulley", "section-03-epps-pulley.png")
    log.assert_clean()


def test_ep_readouts(story):
    tab, log = story
    u = make_data.slice_values()
    assert _value(tab, "#ep-value") == pytest.approx(
        float(sigreg.epps_pulley(u, t_max=5.0, num_points=9)), rel=1e-9
    )
    assert _value(tab, "#ep-default") == pytest.approx(float(sigreg.epps_pulley(u)), rel=1e-9)
    assert _value(tab, "#ep-exact") == pytest.approx(
        float(sigreg.epps_pulley(u, integration="exact")), rel=1e-9
    )
    log.assert_clean()


def test_toy_descent_steps(story, shots):
    tab, log = story
    expected = _toy_values(5)
    assert tab.get_attribute("#toy-label", "data-step") == "0"
    assert _value(tab, "#toy-label") == pytest.approx(expected[0], rel=1e-9)
    for k in range(1, 6):
        tab.click("#toy-step")
        assert tab.get_attribute("#toy-label", "data-step") == str(k)
        value = _value(tab, "#toy-label")
        assert value == pytest.approx(expected[k], rel=1e-9)
        assert value < expected[0]
        assert tab.inner_text("#toy-label") == f"Step {k} · SIGReg {value:.4f}"
    for _ in range(15):
        tab.click("#toy-step")
    assert tab.get_attribute("#toy-label", "data-step") == "20"
    _screenshot(tab, shots, "#unfold", "section-04-unfold.png")
    tab.click("#toy-reset")
    assert tab.get_attribute("#toy-label", "data-step") == "0"
    tab.click("#toy-play")
    tab.wait_for_function("Number(document.querySelector('#toy-label').dataset.step) >= 3")
    tab.click("#toy-play")  # pause
    paused = tab.get_attribute("#toy-label", "data-step")
    tab.wait_for_timeout(300)
    assert tab.get_attribute("#toy-label", "data-step") == paused
    log.assert_clean()


def test_works_from_file_url(browser, site):
    """Opened straight from disk (file://): data.js is a script, not a fetch, so this works too."""
    context, tab, log = _open(browser, site["file"].as_uri())
    try:
        tab.click("#add-slice")
        tab.locator("#t-slider").fill("0.8")
        tab.click("#toy-step")
        assert tab.get_attribute("#toy-label", "data-step") == "1"
        expected = np.mean(np.cos(0.8 * make_data.slice_values()))
        assert _value(tab, "#mean-cos") == pytest.approx(expected, abs=1e-9)
        log.assert_clean()
    finally:
        context.close()
