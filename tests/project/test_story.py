"""The SIGReg visual story (docs/story) in a real browser.

Opens the page in headless Chromium through Playwright and checks that it works
offline, without console errors, and that every number it shows equals the
library's, recomputed here from the seeds documented in docs/story/make_data.py.

Skipped when Playwright or /usr/bin/chromium is missing, unless
``SIGREG_REQUIRE_BROWSER=1`` (``nox -s docs``, CI), where that is a failure
(tests/browser.py). ``SIGREG_DOCS_SITE`` points the test at a built Sphinx site
(``<site>/story/index.html``); otherwise the page is assembled in a temporary
folder. Screenshots go to ``SIGREG_SCREENSHOTS`` (default: a temporary folder),
among them the whole page at a phone's, a tablet's and a laptop's size.
"""

from __future__ import annotations

import importlib.util
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import sigreg

from ..browser import LAYOUT_JS, PageLog, chromium, serve

ROOT = Path(__file__).parents[2]
STORY = ROOT / "docs" / "story"
VIEWPORT = {"width": 1280, "height": 800}


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


make_data = _load("story_make_data", STORY / "make_data.py")


# ---- serving the page ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The URL of the story page, served from 127.0.0.1 by a local http.server."""
    built = os.environ.get("SIGREG_DOCS_SITE")
    if built:
        root, page = Path(built), "story/index.html"
        assert (root / page).is_file(), f"SIGREG_DOCS_SITE={built} has no {page}"
    else:  # the site's layout: story/ and MathJax in _static/mathjax
        root, page = tmp_path_factory.mktemp("site"), "story/index.html"
        (root / "story").mkdir()
        for name in ("index.html", "story.css", "story.js"):
            shutil.copy(STORY / name, root / "story" / name)
        subprocess.run(
            [sys.executable, str(STORY / "make_data.py"), str(root / "story")],
            check=True,
            capture_output=True,
        )
        _load("docs_generate", ROOT / "docs" / "generate.py").mathjax(root / "_static" / "mathjax")
    with serve(root) as base:
        yield {"url": base + page, "file": (root / page).resolve()}


@pytest.fixture(scope="module")
def browser():
    with chromium() as launched:
        yield launched


@pytest.fixture(scope="module")
def shots(tmp_path_factory):
    folder = os.environ.get("SIGREG_SCREENSHOTS")
    path = Path(folder) if folder else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


def _open(browser, url: str, viewport: dict = VIEWPORT):
    context = browser.new_context(viewport=viewport)
    tab = context.new_page()
    log = PageLog(tab)
    tab.goto(url, wait_until="load")
    tab.wait_for_function("document.querySelectorAll('.slice-card').length > 0")
    tab.wait_for_function("window.MathJax && MathJax.startup && MathJax.startup.promise")
    tab.evaluate("() => MathJax.startup.promise")  # the formulas are typeset
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


# ---- labels: no two overlap, none crosses its container's edge -----------------------------------

# Each typeset formula (MathJax's SVG) against the box of the block that holds it: a display
# formula must fit without a scrollbar, an inline one inside its paragraph.
FORMULAS_JS = """() => [...document.querySelectorAll('mjx-container')]
    .filter((m) => m.offsetParent).map((m) => {
  const r = m.getBoundingClientRect();
  let box = m.parentElement;
  while (getComputedStyle(box).display.startsWith('inline')) box = box.parentElement;
  const b = box.getBoundingClientRect();
  return {tex: (box.id || box.className) + ': ' + box.textContent.trim().slice(0, 40),
          left: r.left, right: r.right, boxLeft: b.left, boxRight: b.right,
          scrolls: m.scrollWidth > m.clientWidth + 1 || box.scrollWidth > box.clientWidth + 1,
          width: window.innerWidth};
})"""
SLACK = 0.5  # CSS pixels: antialiasing, not overlap


def _intersect(a, b) -> bool:
    return (
        min(a["right"], b["right"]) - max(a["left"], b["left"]) > SLACK
        and min(a["bottom"], b["bottom"]) - max(a["top"], b["top"]) > SLACK
    )


def _label_problems(tab) -> list[str]:
    """Every canvas label that overlaps another, covers a point or an arrow of a 3-D view (its marks)
    or leaves its canvas; every formula that is cut off."""
    problems = []
    for canvas in tab.evaluate("window.storyLabels()"):
        labels = canvas["labels"]
        for a in labels:
            covered = next((m for m in canvas["marks"] if _intersect(a, m)), None)
            if covered is not None:
                problems.append(
                    f"{canvas['canvas']}: {a['text']!r} covers a point or an arrow: {a} {covered}"
                )
        for i, a in enumerate(labels):
            if (
                a["left"] < -SLACK
                or a["top"] < -SLACK
                or a["right"] > canvas["width"] + SLACK
                or (a["bottom"] > canvas["height"] + SLACK)
            ):
                problems.append(
                    f"{canvas['canvas']}: {a['text']!r} crosses the edge "
                    f"({canvas['width']} x {canvas['height']}): {a}"
                )
            for b in labels[i + 1 :]:
                if _intersect(a, b):
                    problems.append(f"{canvas['canvas']}: {a['text']!r} overlaps {b['text']!r}: {a} {b}")
    for f in tab.evaluate(FORMULAS_JS):
        if (
            f["scrolls"]
            or f["left"] < f["boxLeft"] - 1
            or f["right"] > f["boxRight"] + 1
            or f["right"] > f["width"]
        ):
            problems.append(f"formula {f['tex']!r} is cut off: {f}")
    return problems


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
    # the formulas are typeset by the site's own MathJax (SVG), none left as TeX source
    assert tab.locator("mjx-container svg").count() >= 10
    assert "\\(" not in tab.inner_text("main")
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
    # The label check itself finds two labels drawn on top of each other, and one past the edge.
    tab.evaluate(
        """() => { const c = document.querySelector('#toy-plot'); const ctx = c.getContext('2d');
                   ctx.font = '12px sans-serif'; ctx.fillText('AAAA', 50, 50); ctx.fillText('BBBB', 55, 52);
                   ctx.fillText('CCCC', c.clientWidth - 5, 80); }"""
    )
    problems = "\n".join(_label_problems(tab))
    assert "'AAAA' overlaps 'BBBB'" in problems and "'CCCC' crosses the edge" in problems, problems
    # And a label drawn over a 3-D view's points.
    tab.evaluate(
        """() => { const c = document.querySelector('#collapse-cloud'); const ctx = c.getContext('2d');
                   ctx.font = '12px sans-serif';
                   ctx.fillText('DDDD', c.clientWidth / 2, c.clientHeight / 2); }"""
    )
    assert "'DDDD' covers a point or an arrow" in "\n".join(_label_problems(tab))


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


# Two phones, a tablet, a small and a large laptop (CSS pixels): one page load, resized.
WIDTHS = (360, 390, 768, 1024, 1400)
# The 3-D views spin: their labels are checked with the views turned to each of these angles.
YAWS = tuple(2 * math.pi * i / 12 for i in range(12))


def test_layout_fits_the_screen(browser, site, shots):
    """At every width: no sideways scrolling; every canvas, cloud and histogram inside the screen and
    wide enough to read; section 04's panel square; no two canvas labels overlapping, none crossing
    its canvas's edge; every formula whole (no scrollbar, inside its block)."""
    context, tab, log = _open(browser, site["url"], {"width": WIDTHS[0], "height": 844})
    try:
        tab.click("#add-slice")
        for _ in range(20):
            tab.click("#toy-step")  # the unfolded cloud is the widest
        for width in WIDTHS:
            tab.set_viewport_size({"width": width, "height": 844 if width < 700 else 900})
            tab.wait_for_timeout(250)  # the resize handler redraws every canvas
            layout = tab.evaluate(LAYOUT_JS)
            assert layout["width"] == width
            assert layout["documentWidth"] <= width, (
                f"{width} px: the page is {layout['documentWidth']} px wide"
            )
            assert len(layout["canvases"]) >= 10
            for canvas in layout["canvases"]:
                assert canvas["left"] >= 0 and canvas["right"] <= width + 0.5, (width, canvas)
                assert canvas["width"] >= min(120, width / 3), (width, canvas)  # histograms stay readable
                assert canvas["outside"] in (None, "0"), (
                    width,
                    canvas,
                )  # every point drawn inside its canvas
            toy = next(c for c in layout["canvases"] if c["id"] == "toy-scene")
            # the round cloud's panel is square (at most 620 px tall), not a wide strip with empty sides
            assert 0.85 <= toy["width"] / toy["height"] <= 1.2, (width, toy)
            labels = tab.evaluate("window.storyLabels()")
            assert sum(len(c["labels"]) for c in labels) >= 40, labels  # the axes, ticks and markers
            # the 3-D views' points and arrows are marked, and their labels checked against them
            marked = {c["canvas"] for c in labels if c["marks"]}
            assert {"scene", "collapse-line", "collapse-cloud", "toy-scene"} <= marked, marked
            problems = _label_problems(tab)
            for yaw in YAWS:
                tab.evaluate(f"window.storyTurnViews({yaw})")
                problems += [f"yaw {yaw:.2f}: {p}" for p in _label_problems(tab)]
            assert not problems, f"{width} px:\n" + "\n".join(problems)
            # the pipeline stacks on phones and tablets: its boxes sit one above the other
            boxes = tab.locator("#lejepa > .stage").evaluate_all(
                "els => els.map(e => { const r = e.getBoundingClientRect(); "
                "return [r.left, r.top, r.right]; })"
            )
            assert all(0 <= left and right <= width for left, _, right in boxes), boxes
            along = [top for _, top, _ in boxes] if width <= 900 else [left for left, _, _ in boxes]
            assert along == sorted(along) and len(set(along)) == len(along), boxes  # a column, or a row
            tab.screenshot(path=str(shots / f"story-{width}.png"), full_page=True)
        log.assert_clean()
    finally:
        context.close()


def test_story_says_what_a_good_value_is(story):
    """The null mean beside every SIGReg value; the toy's Gaussian band, and the descent below it."""
    from sigreg import demo

    tab, log = story
    expected = {
        "default": demo.null_mean(),
        "paper": demo.null_mean(t_max=5.0, num_points=9),
        "exact": demo.null_mean(integration="exact"),
    }
    cells = tab.locator("[data-null]").evaluate_all(
        "els => els.map(e => [e.dataset.null, Number(e.dataset.value), e.textContent])"
    )
    assert {kind for kind, _, _ in cells} == set(expected)
    for kind, value, text in cells:
        assert value == pytest.approx(expected[kind], rel=1e-12)
        # the docs' one way: about 1.05 on the default grid, 1.0594 for the whole line's statistic
        assert text == f"{expected[kind]:.{2 if kind == 'default' else 4}f}"
    rng = np.random.default_rng(make_data.REFERENCE_SEED)
    draws = [
        float(sigreg.sigreg(rng.standard_normal((make_data.TOY_POINTS, 3)), num_slices=64, seed=7 + i))
        for i in range(make_data.REFERENCE_DRAWS)
    ]
    low, high = np.quantile(draws, [0.05, 0.95])
    assert _value(tab, "#toy-low") == pytest.approx(low, rel=1e-9)
    assert _value(tab, "#toy-high") == pytest.approx(high, rel=1e-9)
    assert low < expected["default"] < high
    # the descent's last value, as the page's data has it (its first steps are recomputed above)
    final = _value(tab, "#toy-final")
    assert final == tab.evaluate("STORY_DATA.toy.values[STORY_DATA.toy.values.length - 1]")
    assert final < low  # the optimised cloud goes below the Gaussian band, and the page says why
    assert "optimised against the test itself" in tab.inner_text("#toy-reference")
    # Sections 01 and 02: the band of N(0, I_3) samples of 300 points (1024 slices), and each
    # "inside" / "far above" claim read against the values the page shows.
    low, high = demo.null_range(
        make_data.CLOUD_POINTS,
        3,
        draws=make_data.REFERENCE_DRAWS,
        seed=make_data.REFERENCE_SEED,
        num_slices=1024,
    )
    bands = tab.locator("[data-band]").evaluate_all(
        "els => els.map(e => [e.dataset.band, Number(e.dataset.value)])"
    )
    assert len(bands) == 4
    for kind, value in bands:
        assert value == pytest.approx(low if kind == "low" else high, rel=1e-9)
    shown = {
        "line": _value(tab, '.metric[data-metric="line"]'),
        "cloud": _value(tab, '.metric[data-metric="cloud"]'),
        "good": _value(tab, '.why[data-cloud="good"] .metric'),
        "bad": _value(tab, '.why[data-cloud="bad"] .metric'),
    }
    assert "full cloud, such a sample, scores inside that band" in tab.inner_text("#collapse-reference")
    assert "collapsed line scores far above it" in tab.inner_text("#collapse-reference")
    assert "good cloud above scores inside that band" in tab.inner_text("#why-reference")
    assert "thin sheet scores far above it" in tab.inner_text("#why-reference")
    assert low <= shown["cloud"] <= high and low <= shown["good"] <= high
    assert shown["line"] > 5 * high and shown["bad"] > 5 * high
    log.assert_clean()
