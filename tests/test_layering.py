"""The layering of docs/architecture.md holds: a module imports only modules of lower layers
(inside its own package anything), and only the command line imports inside functions (also
within a package: no import is deferred to dodge a cycle)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SOURCE = Path(__file__).resolve().parents[1] / "src" / "causalcam"

#: Layer of every top-level module or package of causalcam (docs/architecture.md).
LAYERS: dict[str, int] = {
    "errors": 0,
    "_io": 0,
    "method_names": 0,
    "results": 1,
    "preprocess": 1,
    "precision": 1,
    "extras": 1,
    "network": 2,
    "data": 3,
    "models": 3,
    "viz": 3,
    "medical": 3,
    "synthetic": 3,
    "explain": 4,
    "training": 4,
    "report": 4,
    "evaluate": 5,
    "files": 5,
    "metrics": 6,
    "ground_truth": 6,
    "ablation": 6,
    "distributed": 6,
    "app": 6,
    "reproduce": 7,
    "cli": 8,
    "__main__": 9,
}


def _top(path: Path) -> str:
    return path.relative_to(SOURCE).parts[0].removesuffix(".py")


def _imports(path: Path, source: Path = SOURCE) -> list[tuple[str, bool]]:
    """(top-level causalcam module imported, whether the import sits inside a function)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = list(path.relative_to(source).parent.parts)
    found: list[tuple[str, bool]] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inner = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            if isinstance(child, ast.ImportFrom) and child.level:
                base = package[: len(package) - child.level + 1]
                parts = base + (child.module.split(".") if child.module else [])
                names = parts[:1] if parts else [a.name for a in child.names]
                found.extend((name, inner) for name in names)
            visit(child, inner)

    visit(tree, False)
    return found


MODULES = sorted(p for p in SOURCE.rglob("*.py") if p != SOURCE / "__init__.py")


def test_every_module_has_a_layer() -> None:
    assert {_top(p) for p in MODULES} <= set(LAYERS)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(SOURCE)))
def test_imports_go_down_the_layers(path: Path) -> None:
    own = _top(path)
    for name, in_function in _imports(path):
        assert not in_function or own == "cli", f"{path.name} imports {name} in a function"
        if name != own:
            assert LAYERS[name] < LAYERS[own], f"{own} (layer {LAYERS[own]}) imports {name}"


def test_a_deferred_import_inside_a_package_is_seen(tmp_path: Path) -> None:
    package = tmp_path / "causalcam" / "data"
    package.mkdir(parents=True)
    module = package / "cache.py"
    module.write_text("def f():\n    from .pack import read_pack\n", encoding="utf-8")
    assert _imports(module, tmp_path / "causalcam") == [("data", True)]
