"""Private names stay private to their module: no module of the package or the benchmarks
imports a name starting with ``_`` from another module (the tests may)."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ROOTS = (REPO / "src" / "causalcam", REPO / "benchmarks")

#: (importing file, imported name): the exceptions, each with its reason
ALLOWED: dict[tuple[str, str], str] = {}


def private_imports(path: Path) -> list[tuple[int, str]]:
    """(line, name) of every private name ``path`` imports from a causalcam module."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.ImportFrom):
            continue
        if node.level == 0 and not (node.module or "").startswith("causalcam"):
            continue
        found += [
            (node.lineno, alias.name)
            for alias in node.names
            if alias.name.startswith("_") and not alias.name.startswith("__")
        ]
    return found


def test_no_module_imports_a_private_name_of_another() -> None:
    offending = []
    for root in ROOTS:
        for path in sorted(root.rglob("*.py")):
            where = path.relative_to(REPO).as_posix()
            offending += [
                f"{where}:{line} imports {name}"
                for line, name in private_imports(path)
                if (where, name) not in ALLOWED
            ]
    assert offending == []


def test_the_check_sees_relative_and_absolute_imports(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text(
        "from .formatting import _num, arch\nfrom causalcam.x import _y\nfrom os import _exit\n",
        encoding="utf-8",
    )
    assert private_imports(module) == [(1, "_num"), (2, "_y")]
