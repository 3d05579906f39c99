"""README and the docs speak of the software, not of how the work was done."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PAGES = sorted([REPO / "README.md", *(REPO / "docs").glob("*.md")])
_MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*"
#: Talk about the work rather than the software, each with what it catches.
PATTERNS: dict[str, str] = {
    "a date of a run": rf"\b\d{{1,2}}(?:-\d{{1,2}})? {_MONTH}\b|\b{_MONTH} \d{{1,2}}\b",
    "the machine the work ran on": (
        r"\bthis (?:machine|CPU|task|session|sitting|round)\b|\b(?:quiet|shared|new) machine\b"
    ),
    "an issue number": r"\bissues? \d+|(?<![\w&/])#\d+\b",
    "a trial label": r"\b(?:trial )?T\d\b",
    "lost work": r"\b(?:were|was) lost\b|\b(?:weights|files|runs|networks) (?:are|were) gone\b",
    "an internal target": r"\(target <=|\btarget of \d|the issue's",
    "a path of the project's own machine": r"/work/",
}


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_no_talk_of_the_work(page: Path) -> None:
    found = [
        f"{page.relative_to(REPO)}:{number}: {what}: {match.group(0)!r}"
        for number, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1)
        for what, pattern in PATTERNS.items()
        for match in re.finditer(pattern, line)
    ]
    assert not found, "\n".join(found)


@pytest.mark.parametrize(
    ("text", "what"),
    [
        ("measured on 27 Nov at load 3", "a date of a run"),
        ("the run of 29-30 Nov", "a date of a run"),
        ("this CPU trains slower", "the machine the work ran on"),
        ("see issue 21", "an issue number"),
        ("fixed in #12", "an issue number"),
        ("trial T4 chose mixup", "a trial label"),
        ("the weights were lost", "lost work"),
        ("the other networks are gone", "lost work"),
        ("(target <= 1.25)", "an internal target"),
        ("runs live in /work/runs", "a path of the project's own machine"),
    ],
)
def test_each_pattern_catches_its_talk(text: str, what: str) -> None:
    assert re.search(PATTERNS[what], text)


@pytest.mark.parametrize(
    "text",
    ["the target layer", "a 2-core CPU", "Table 1", "C_{P,Q}", "## Install", "hooks are gone"],
)
def test_plain_words_pass(text: str) -> None:
    assert not any(re.search(pattern, text) for pattern in PATTERNS.values())
