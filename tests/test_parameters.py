"""No function outside the command line takes more than 8 parameters: settings travel as
frozen dataclasses (``EvaluationSettings``, ``AblationSettings``, ``ExplainSettings`` ...).
The one exception is ``Explainer.explain``, whose keyword options mirror the peers."""

from __future__ import annotations

import ast
from pathlib import Path

SOURCE = Path(__file__).resolve().parents[1] / "src" / "causalcam"
LIMIT = 8

#: (module path, function): the exceptions, each with its reason
ALLOWED: dict[tuple[str, str], str] = {
    ("explain/engine.py", "explain"): "Explainer.explain: keyword options mirror the peers",
}


def parameter_count(function: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """Parameters a caller may pass (``self``/``cls`` not counted, ``*args``/``**kw`` one
    each)."""
    arguments = function.args
    names = [*arguments.posonlyargs, *arguments.args]
    count = len(names) + len(arguments.kwonlyargs)
    count += (arguments.vararg is not None) + (arguments.kwarg is not None)
    return count - bool(names and names[0].arg in ("self", "cls"))


def too_long() -> list[str]:
    found = []
    for path in sorted(SOURCE.rglob("*.py")):
        module = path.relative_to(SOURCE).as_posix()
        if module.startswith("cli/"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            if parameter_count(node) > LIMIT and (module, node.name) not in ALLOWED:
                found.append(f"{module}:{node.lineno} {node.name} ({parameter_count(node)})")
    return found


def test_no_function_outside_the_cli_takes_more_than_eight_parameters() -> None:
    assert too_long() == []


def test_the_count_sees_keyword_only_and_variadic_parameters() -> None:
    (function,) = ast.parse("def f(self, a, /, b, *c, d, e=1, **f): pass").body
    assert isinstance(function, ast.FunctionDef)
    assert parameter_count(function) == 6
