"""The package's layering, read from the import statements of ``sigreg/`` (lazy ones included).

The rules are stated by folder in ``tests/layers.py`` (docs/design.md draws them):
- no import cycles between sigreg's modules;
- no module imports a floor above its own (``_core`` < ``_statistics`` < ``_backend`` < ``_api``
  < ``_pvalues`` < ``_cli`` < the public modules);
- ``_core`` and ``_statistics`` import no framework (torch, jax, cupy, numpy, triton, numba);
- the namespace lookup names no adapter;
- no module reaches into another module's underscored names.
"""

from __future__ import annotations

import ast
import fnmatch
import functools
import importlib
import importlib.util
import inspect
from pathlib import Path

import pytest

from .. import layers

PACKAGE = Path(__file__).parents[2] / "sigreg"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _sources() -> dict[str, Path]:
    return dict(_sources_of(PACKAGE))


@functools.cache
def _sources_of(package: Path) -> tuple[tuple[str, Path], ...]:
    # Parsing every module once per test run, not once per test: the tests are parametrised by module.
    return tuple((_module_name(p), p) for p in sorted(package.rglob("*.py")))


@functools.cache
def _bindings(path: Path) -> list[tuple[str, str | None, str]]:
    """Every import of ``path`` as (module, name or None, bound name), relative ones made absolute."""
    modules = _sources()
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: list[tuple[str, str | None, str]] = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out.extend(
                (alias.name, None, alias.asname or alias.name.partition(".")[0]) for alias in node.names
            )
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                full = f"{base}.{alias.name}"
                bound = alias.asname or alias.name
                out.append((full, None, bound) if full in modules else (base, alias.name, bound))
    return out


def _imports(path: Path) -> set[str]:
    return {module for module, _, _ in _bindings(path)}


def _graph() -> dict[str, set[str]]:
    return _graph_of(PACKAGE)


@functools.cache
def _graph_of(package: Path) -> dict[str, set[str]]:
    modules = _sources()
    return {name: {m for m in _imports(path) if m in modules and m != name} for name, path in modules.items()}


MODULES = sorted(_sources())


def test_graph_is_read():
    graph = _graph()
    assert "sigreg._backend.dispatch" in graph["sigreg._api.regulariser"]
    assert {layers.FLOORS[layers.floor_of(m)][0] for m in MODULES} == {prefix for prefix, _ in layers.FLOORS}


def test_no_import_cycles():
    graph = _graph()
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


@pytest.mark.parametrize("module", MODULES)
def test_no_import_reaches_a_higher_floor(module):
    floor = layers.floor_of(module)
    above = {m for m in _graph()[module] if layers.floor_of(m) > floor}
    assert not above, f"{module} ({layers.FLOORS[floor][0]}) imports from above: {sorted(above)}"


@pytest.mark.parametrize("module", [m for m in MODULES if layers.is_under(m, layers.FRAMEWORK_FREE)])
def test_framework_free_floors_import_no_framework(module):
    external = {m.partition(".")[0] for m in _imports(_sources()[module])}
    assert not external & layers.FRAMEWORKS, external & layers.FRAMEWORKS


def test_namespace_lookup_names_no_adapter():
    for module in layers.LOOKUP:
        source = _sources()[module].read_text()
        for word in ("adapters", "sigreg.torch", "sigreg.jax", "torch_autograd", "jax_vjp"):
            assert word not in source, (module, word)


@pytest.mark.parametrize("module", MODULES)
def test_no_module_uses_another_modules_private_names(module):
    path, modules = _sources()[module], _sources()
    bindings = _bindings(path)
    private = [f"{m}.{n}" for m, n, _ in bindings if n and n.startswith("_") and m in modules and m != module]
    bound_modules = {bound for m, n, bound in bindings if n is None and m in modules}
    for node in ast.walk(ast.parse(path.read_text())):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in bound_modules
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
        ):
            private.append(f"{node.value.id}.{node.attr}")
    assert not private, private


PUBLIC_MODULES = [
    ("sigreg", None),
    ("sigreg.stats", None),
    ("sigreg.demo", None),
    ("sigreg.targets", None),
    ("sigreg.torch", "torch"),
    ("sigreg.jax", "jax"),
]


def _top_level_definitions(tree: ast.Module) -> set[str]:
    return {n.name for n in tree.body if isinstance(n, (ast.ClassDef, ast.FunctionDef))}


def test_every_public_name_is_defined_where_numpydoc_looks():
    root = PACKAGE.parent
    trees = {p.relative_to(root).as_posix(): ast.parse(p.read_text()) for p in PACKAGE.rglob("*.py")}
    for public, framework in PUBLIC_MODULES:
        if framework and importlib.util.find_spec(framework) is None:
            continue  # sigreg.torch needs torch: its names are checked in the sessions that have it
        module = importlib.import_module(public)
        names = getattr(module, "__all__", [n for n in vars(module) if not n.startswith("_")])
        for name in names:
            obj = getattr(module, name)
            if not (inspect.isclass(obj) or inspect.isfunction(obj)):
                continue
            if not obj.__module__.startswith("sigreg"):
                continue  # a typing name such as Iterator, not one of sigreg's
            # A function made from a statistic class (function_of) has its docstring from the class:
            # the class must be where numpydoc looks (tests/api/test_along_axis.py renders the function's).
            name = getattr(obj, "statistic_class", obj).__name__
            # Where the def or class statement is (inspect reads a class's file from __module__,
            # which names the public module).
            sources = [p for p, tree in trees.items() if name in _top_level_definitions(tree)]
            documented = [p for p in sources if any(fnmatch.fnmatch(p, g) for g in layers.DOCUMENTED)]
            assert documented, (public, name, sources)


def test_a_forbidden_edge_is_detected(tmp_path):
    """The checker itself: a _core module that imports the public layer, and a cycle, are caught."""
    fake = tmp_path / "sigreg"
    (fake / "_core").mkdir(parents=True)
    (fake / "__init__.py").write_text("")
    (fake / "_core" / "__init__.py").write_text("")
    (fake / "_core" / "ecf.py").write_text("from .. import stats\n")
    (fake / "stats.py").write_text("from ._core import ecf\n")
    global PACKAGE
    saved, PACKAGE = PACKAGE, fake
    try:
        assert _graph()["sigreg._core.ecf"] == {"sigreg.stats"}
        with pytest.raises(pytest.fail.Exception, match="import cycle"):
            test_no_import_cycles()
        with pytest.raises(AssertionError, match="imports from above"):
            test_no_import_reaches_a_higher_floor("sigreg._core.ecf")
    finally:
        PACKAGE = saved


def test_the_design_map_names_every_module():
    """docs/design.md opens with the tree of the package: a new module must appear in it."""
    design = (PACKAGE.parent / "docs" / "design.md").read_text()
    tree = design.split("```")[1]
    for path in PACKAGE.rglob("*.py"):
        relative = path.relative_to(PACKAGE)
        if path.name == "__init__.py" and relative.parent != Path("."):
            assert f"{relative.parent.name}/" in tree, relative.parent
            continue
        assert path.name in tree, relative


def _modules_and_packages() -> list[str]:
    """Every module of sigreg, and each subpackage whose ``__init__.py`` holds code (the kernel loaders)."""
    named = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            if len(parts) == 2 or not any(
                isinstance(n, ast.FunctionDef) for n in ast.parse(path.read_text()).body
            ):
                continue
            parts = parts[:-1]
        named.append(".".join(parts))
    return named


@pytest.mark.parametrize("module", _modules_and_packages())
def test_every_module_has_its_test_file(module):
    """A newcomer finds a module's tests by its name (tests/layers.py says where; CONTRIBUTING too)."""
    root = PACKAGE.parent
    named = sorted(root.glob(layers.tests_named_after(module)))
    declared = layers.TESTED_WITH.get(module)
    assert named or declared, (
        f"{module}: no {layers.tests_named_after(module)}, and not in layers.TESTED_WITH"
    )
    assert not (named and declared), f"{module} has {named[0].name}: remove it from layers.TESTED_WITH"
    if declared:
        assert (root / declared).is_file(), (
            f"layers.TESTED_WITH names a missing file for {module}: {declared}"
        )


def _probes(path: Path) -> list[str]:
    """``getattr``/``hasattr`` calls on a statistic or an all-reduce (by the name of the object)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ("getattr", "hasattr")
        ):
            target = node.args[0] if node.args else None
            name = ast.unparse(target) if target is not None else ""
            if any(word in name for word in ("stat", "reduce")):
                found.append(f"{path.name}:{node.lineno}: {ast.unparse(node)}")
    return found


def test_no_layer_probes_a_statistic_or_an_all_reduce():
    """Every hook is declared (sigreg/_core/statistic.py, sigreg/_core/all_reduce.py, with defaults):
    no module asks a statistic or an all-reduce whether it has one."""
    probes = [probe for path in sorted(PACKAGE.rglob("*.py")) for probe in _probes(path)]
    assert probes == []
