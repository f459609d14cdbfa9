"""The package's layering, read from the import statements of ``sigreg/``.

Rules (docs/design.md):
- no import cycles between sigreg's modules;
- the array-API maths imports no framework (torch, jax, cupy, numpy, triton, numba);
- adapters and kernels never import the public layer;
- the namespace lookup names no adapter.
Lazy imports inside functions count like any other.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parents[1] / "sigreg"
FRAMEWORKS = {"torch", "jax", "jaxlib", "cupy", "numpy", "triton", "numba", "array_api_strict"}
PUBLIC = {"sigreg", "sigreg._api", "sigreg.stats", "sigreg.torch", "sigreg.jax", "sigreg.demo"}
MATHS = {
    "sigreg._ecf",
    "sigreg._exact",
    "sigreg._grid",
    "sigreg._directions",
    "sigreg._statistic",
    "sigreg._epps_pulley",
    "sigreg._registry",
    "sigreg._slicing",
    "sigreg._plan",
    "sigreg._validate",
}
LOOKUP = {"sigreg._xp", "sigreg._backends"}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> set[str]:
    return {_module_name(p) for p in PACKAGE.rglob("*.py")}


def _imports(path: Path) -> set[str]:
    """Every module that ``path`` imports, absolute; ``from X import Y`` is ``X.Y`` when Y is a module."""
    modules = _modules()
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                out.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base)
    return out


def _graph() -> dict[str, set[str]]:
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {name: {m for m in _imports(path) if m in modules and m != name} for name, path in modules.items()}


def _external(name: str) -> set[str]:
    path = PACKAGE.parent / (name.replace(".", "/") + ".py")
    if not path.exists():
        path = PACKAGE.parent / name.replace(".", "/") / "__init__.py"
    return {m.partition(".")[0] for m in _imports(path)}


def test_graph_is_read():
    graph = _graph()
    assert "sigreg._api" in graph and "sigreg._dispatch" in graph["sigreg._api"]
    assert "sigreg._adapters.torch_autograd" in graph


def test_no_import_cycles():
    graph = _graph()
    # Package __init__ files import their children; a child importing its package is a cycle too.
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycle = [*path[path.index(nxt) :], nxt]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt)
        path.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)


@pytest.mark.parametrize("module", sorted(MATHS | LOOKUP))
def test_maths_and_lookup_import_no_framework(module):
    assert not _external(module) & FRAMEWORKS, _external(module) & FRAMEWORKS


@pytest.mark.parametrize("module", sorted(MATHS | LOOKUP))
def test_maths_and_lookup_import_no_adapter_or_public_module(module):
    graph = _graph()
    forbidden = {
        m for m in graph[module] if m.startswith(("sigreg._adapters", "sigreg._kernels", "sigreg._dispatch"))
    }
    assert not forbidden | (graph[module] & PUBLIC), forbidden | (graph[module] & PUBLIC)


def test_adapters_and_kernels_never_import_the_public_layer():
    graph = _graph()
    lower = [m for m in graph if m.startswith(("sigreg._adapters", "sigreg._kernels"))]
    assert lower
    for module in lower:
        assert not graph[module] & PUBLIC, (module, graph[module] & PUBLIC)


def test_namespace_lookup_names_no_adapter():
    source = (PACKAGE / "_xp.py").read_text() + (PACKAGE / "_backends.py").read_text()
    for word in ("_adapters", "sigreg.torch", "sigreg.jax", "torch_autograd", "jax_vjp"):
        assert word not in source, word


def test_a_forbidden_edge_is_detected(tmp_path):
    """The checker itself: a maths module that imports the public layer is caught."""
    fake = tmp_path / "sigreg"
    fake.mkdir()
    (fake / "__init__.py").write_text("")
    (fake / "_ecf.py").write_text("from . import _api\n")
    (fake / "_api.py").write_text("from . import _ecf\n")
    global PACKAGE
    saved, PACKAGE = PACKAGE, fake
    try:
        assert _graph()["sigreg._ecf"] == {"sigreg._api"}
        with pytest.raises(pytest.fail.Exception, match="import cycle"):
            test_no_import_cycles()
    finally:
        PACKAGE = saved
