"""The core stays easy to live in: no module over 600 lines, no import cycles between modules.

Both read the source with ``ast`` (nothing is imported), so a cycle hidden behind
``if TYPE_CHECKING:`` or inside a function counts as much as one at the top of a module: either
way the two modules cannot be understood, moved or tested one without the other.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parents[2] / "core" / "src"
PACKAGE = CORE / "paymux"
MAX_LINES = 600


def _modules() -> dict[str, Path]:
    """Every module of the core by dotted name (a package by its own name, for ``__init__``)."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(CORE).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _imported(module: str, path: Path) -> Iterator[str]:
    """Every name ``module`` imports, anywhere in it, as absolute dotted names.

    ``from pkg import x`` yields ``pkg.x``: a submodule, or a name defined in ``pkg`` (the caller
    resolves it to the longest dotted prefix that is a module); relative imports are resolved
    against the module's package.
    """
    is_package = path.name == "__init__.py"
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            yield from (f"{prefix}.{alias.name}" for alias in node.names)


def _edges(module: str) -> set[str]:
    """The core modules ``module`` depends on.

    The rule for packages: a package's ``__init__`` re-exports its submodules, so its imports of
    its own submodules are not edges (``paymux.ledger`` importing ``paymux.ledger.ledger`` says
    nothing about how the modules depend on each other); any other import of a package is an edge
    to the package. An import of ``a.b.c`` also runs ``a`` and ``a.b``, but those package
    ``__init__``s are not dependencies of the importer's design, so only the named module counts.
    """
    found = set()
    for name in _imported(module, MODULES[module]):
        target = name
        while target and target not in MODULES:
            target = target.rpartition(".")[0]
        if not target or target == module:
            continue
        if MODULES[module].name == "__init__.py" and target.startswith(module + "."):
            continue
        found.add(target)
    return found


GRAPH = {module: _edges(module) for module in MODULES}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected component of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components


def test_the_import_graph_sees_the_modules() -> None:
    # The checks below are only as good as the graph: it must know the core's modules and
    # resolve relative, function-level and TYPE_CHECKING imports.
    assert "paymux.gateway" in MODULES and "paymux.ledger.ledger" in MODULES
    assert "paymux.gateway" in GRAPH["paymux.ledger.ledger"]  # from ..gateway import ...
    assert "paymux.gateway" in GRAPH["paymux.cli_gateway"]  # inside a function
    assert "paymux.sandbox.hub" in GRAPH["paymux.sandbox.emulator"]  # under TYPE_CHECKING
    assert "paymux.ledger.ledger" not in GRAPH["paymux.ledger"]  # a package re-exporting


def test_no_import_cycles_in_the_core() -> None:
    cycles = _cycles(GRAPH)
    assert not cycles, "modules that import each other (directly or round a loop): " + "; ".join(
        " <-> ".join(cycle) for cycle in cycles
    )


def test_the_cycle_finder_finds_cycles() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert _cycles(graph) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_core_module_is_over_600_lines(module: str) -> None:
    lines = len(MODULES[module].read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{MODULES[module].relative_to(CORE)} has {lines} lines"
