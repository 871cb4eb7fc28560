"""The package's shape: stages import downwards only, and no module imports itself back.

The layer contract lives in ``pyproject.toml`` (``[tool.importlinter]``) and is checked by
import-linter; the circles are found here from the source, with networkx.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import networkx as nx

PACKAGE = Path(__file__).resolve().parents[1] / "clustering"


def _module_of(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, module: str) -> set[str]:
    """The clustering modules a file imports at module level (not inside functions).

    Imports under a top-level ``if`` (``if TYPE_CHECKING:``) count too: a circle of
    type hints is still a circle a reader has to untangle.
    """
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    top = ast.parse(path.read_text(encoding="utf-8")).body
    nodes = [
        n for node in top for n in ([node, *node.body] if isinstance(node, ast.If) else [node])
    ]
    for node in nodes:
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("clustering"))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(base + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            if base.startswith("clustering"):
                found.add(base)
                found.update(f"{base}.{a.name}" for a in node.names)
    return found


def import_graph() -> nx.DiGraph:
    modules = {_module_of(p): p for p in PACKAGE.rglob("*.py")}
    graph = nx.DiGraph()
    graph.add_nodes_from(modules)
    for module, path in modules.items():
        for target in _imports(path, module):
            if target in modules and target != module:
                graph.add_edge(module, target)
    return graph


def test_the_graph_sees_known_imports():
    graph = import_graph()
    assert graph.has_edge("clustering.api.form", "clustering.solver.engine")
    assert graph.has_edge("clustering.solver.engine", "clustering.model.problem")


def test_no_import_circles_among_modules():
    graph = import_graph()
    # a package's __init__ re-exporting its modules is not a circle of modules
    modules = graph.subgraph(n for n in graph if not (PACKAGE / n.replace(".", "/")).is_dir())
    circles = list(nx.simple_cycles(modules))
    assert circles == [], f"import circles: {circles}"


def test_stages_import_downwards_only():
    linter = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(linter), "--no-cache"],
        cwd=PACKAGE.parent,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout
