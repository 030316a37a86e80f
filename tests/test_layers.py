"""The layers point one way: core ← store, workflows, adapters ← gateway. A module may
import its own layer and the layers below it, never one above or beside it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ("core", "store", "workflows", "adapters", "gateway")
# What each layer may import of the project, besides itself.
ALLOWED = {
    "core": set(),
    "store": {"core"},
    "workflows": {"core"},
    "adapters": {"core"},
    "gateway": {"core", "store", "workflows", "adapters"},
}


def project_imports(path: Path) -> set[tuple[str, int]]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        for name in names:
            top = name.split(".")[0]
            if top in LAYERS:
                found.add((top, node.lineno))
    return found


@pytest.mark.parametrize("layer", LAYERS)
def test_a_layer_imports_only_the_layers_below_it(layer: str) -> None:
    wrong = [
        f"{path.relative_to(ROOT)}:{line} imports {top}"
        for path in sorted((ROOT / layer).rglob("*.py"))
        for top, line in sorted(project_imports(path))
        if top != layer and top not in ALLOWED[layer]
    ]
    assert not wrong, "\n".join(wrong)


def test_nothing_outside_adapters_names_a_platform_module() -> None:
    wrong = [
        f"{path.relative_to(ROOT)}: imports {alias}"
        for layer in ("core", "store", "workflows")
        for path in sorted((ROOT / layer).rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in (
            [node.module] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
        )
        if alias and alias.split(".")[0] in ("aiogram", "nio")
    ]
    assert not wrong, "\n".join(wrong)
