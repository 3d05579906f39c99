"""The generated blocks of README.md and the docs pages agree with docs/results."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from causalcam.report.doc_tables import (
    TABLES,
    benchmark_names,
    pages,
    refresh,
    render_page,
    stale_blocks,
)

REPO = Path(__file__).resolve().parents[2]
if not (REPO / "docs" / "results").is_dir():
    pytest.skip("a source checkout's docs/results is needed", allow_module_level=True)


@pytest.fixture(scope="module")
def fresh_pages() -> dict[Path, str]:
    """Every page as the committed results render it (the tables computed once)."""
    cache: dict[str, str] = {}
    return {
        page: render_page(page.read_text(encoding="utf-8"), page, REPO, cache)
        for page in pages(REPO)
    }


def test_every_page_agrees_with_the_results(fresh_pages: dict[Path, str]) -> None:
    stale = [
        str(page.relative_to(REPO))
        for page, text in fresh_pages.items()
        if text != page.read_text(encoding="utf-8")
    ]
    assert not stale, f"run `make docs-tables`: {stale} differ from docs/results"


def test_every_table_is_quoted_somewhere(fresh_pages: dict[Path, str]) -> None:
    used = {m for text in fresh_pages.values() for m in re.findall(r"<!-- table: ([\w-]+)", text)}
    assert {*TABLES, *benchmark_names(REPO / "docs" / "results")} <= used


def _tmp_repo(tmp_path: Path, readme: str) -> Path:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "results").symlink_to(REPO / "docs" / "results")
    (tmp_path / "README.md").write_text(readme, encoding="utf-8")
    return tmp_path


def test_a_changed_number_is_found_and_rewritten(tmp_path: Path) -> None:
    page = "# t\n\n<!-- table: bundled-models -->\n<!-- /table -->\n"
    root = _tmp_repo(tmp_path, page)
    assert [str(b) for b in stale_blocks(root)] == [
        "README.md: table 'bundled-models' differs from docs/results"
    ]
    assert refresh(root) == [Path("README.md")]
    text = (root / "README.md").read_text(encoding="utf-8")
    assert "| `resnet18-224` | ResNet-18 | 224 px |" in text
    assert stale_blocks(root) == []
    (root / "README.md").write_text(text.replace("0.690", "0.750"), encoding="utf-8")
    assert len(stale_blocks(root)) == 1


def test_readme_links_point_into_docs(tmp_path: Path) -> None:
    page = "<!-- table: run-time-full-cpu -->\n<!-- /table -->\n"
    root = _tmp_repo(tmp_path, page)
    refresh(root)
    assert "](docs/results/full-cpu/manifest.json)" in (root / "README.md").read_text()


def test_an_unknown_table_is_named(tmp_path: Path) -> None:
    root = _tmp_repo(tmp_path, "<!-- table: no-such -->\n<!-- /table -->\n")
    with pytest.raises(KeyError, match="unknown table 'no-such'"):
        refresh(root)
