"""The notebooks in ``notebooks/`` use the public API only, and are committed executed.

nbmake runs them (``--nbmake`` in pytest's ``addopts``, ``notebooks`` in ``testpaths``); this
file checks what nbmake does not: that their code imports ``clustering`` and nothing below it,
names only what ``clustering.__all__`` lists, and that every code cell has been run.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

import clustering

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))
PUBLIC = set(clustering.__all__) | {"__version__"}


def _code(path: Path) -> list[str]:
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]


def _python(source: str) -> str:
    """A cell without its IPython magics and shell lines (``%…``, ``!…``)."""
    return "\n".join(
        "" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines()
    )


def test_there_are_notebooks():
    assert NOTEBOOKS, "no notebooks found in notebooks/"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_uses_the_public_api_only(path: Path):
    bad = []
    for k, source in enumerate(_code(path)):
        tree = ast.parse(_python(source))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                bad += [
                    f"cell {k}: import {a.name}"
                    for a in node.names
                    if a.name.startswith("clustering.")
                ]
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("clustering"):
                bad.append(f"cell {k}: from {node.module} import …")
            elif (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id == "clustering"
                and node.attr not in PUBLIC
            ):
                bad.append(f"cell {k}: clustering.{node.attr} is not in clustering.__all__")
    assert not bad, f"{path.name} reaches past the public API: " + "; ".join(bad)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_committed_with_its_outputs(path: Path):
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    code = [c for c in cells if c["cell_type"] == "code" and "".join(c["source"]).strip()]
    unrun = [k for k, c in enumerate(code) if c.get("execution_count") is None]
    assert not unrun, f"{path.name}: code cells {unrun} have not been run (execute it in place)"
    errors = [o for c in code for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, f"{path.name} was committed with an error in its outputs"
