"""Sphinx configuration: ``python3 -m nox -s docs`` builds the site with warnings as errors.

Pages are Markdown (MyST). Before reading them, ``generate.py`` computes, with
the library itself, the figures, the grid-accuracy table and the data of the
visual story, into ``_generated/`` (not committed).
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

import generate  # noqa: E402  (docs/generate.py, next to this file)

import sigreg  # noqa: E402

project = "sigreg"
author = "the sigreg developers"
copyright = "2026, the sigreg developers"
release = version = getattr(sigreg, "__version__", "0.1.0")

extensions = ["myst_parser", "sphinx.ext.autodoc", "sphinx.ext.napoleon", "sphinx.ext.mathjax"]
myst_enable_extensions = ["dollarmath", "amsmath"]
source_suffix = {".md": "markdown"}
exclude_patterns = ["_build", "_generated", "_templates", "story", "data", "Thumbs.db", ".DS_Store"]
myst_heading_anchors = 3
suppress_warnings: list[str] = []

autodoc_typehints = "none"  # the signatures in the docstrings say it better
autodoc_member_order = "bysource"
napoleon_google_docstring = False
napoleon_numpy_docstring = True

html_theme = "pydata_sphinx_theme"
html_title = "sigreg"
html_theme_options = {
    "navigation_with_keys": False,
    # Three page titles and "More" fit one row beside the search box at 1024 px and up; four
    # wrapped the header onto two rows even at 1400 px.
    "header_links_before_dropdown": 3,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
}
# The theme reads its colour mode from here; left empty it logs "Got invalid theme mode".
html_context = {"default_mode": "auto"}
# A local favicon: without one the browser asks for /favicon.ico and logs a 404.
html_favicon = "favicon.svg"
html_static_path: list[str] = []
# Maths: MathJax served from the site itself (docs/generate.py copies it to _static/mathjax).
mathjax_path = "mathjax/tex-svg.js"
mathjax3_config = {"options": {"enableMenu": False}, "svg": {"fontCache": "global"}}
# The left sidebar lists every page (docs/_templates/sidebar-site-nav.html).
templates_path = ["_templates"]
html_sidebars = {"**": ["sidebar-site-nav"]}
# The story page and the figures are files, not documents: copied as they are.
generate.EXTRA.mkdir(parents=True, exist_ok=True)  # Sphinx checks it before generate runs
html_extra_path = [str(generate.EXTRA)]


def _generate(app) -> None:
    generate.main()


def setup(app) -> None:
    app.connect("builder-inited", _generate)
