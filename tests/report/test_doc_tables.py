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


def test_users_paragraph_puts_each_claim_of_the_default_map_on_its_side() -> None:
    """The paragraph for users says each 224 px claim is for the paper, against it or
    inconclusive exactly as its committed verdict says."""
    from causalcam.report.claims import CLAIM_BY_KEY
    from causalcam.report.doc_tables.findings import for_users
    from causalcam.report.sections import folder_verdicts

    results = REPO / "docs" / "results"
    default_part = for_users(results).split(". On the paper's formula read literally")[0]
    body = default_part.split("(`CausalOptions()`) is ", 1)[1].rstrip(". ")
    segments = dict(piece.split(" on ", 1) for piece in body.split("; "))
    sides = {"holds": "for the paper", "smaller": "for the paper", "reversed": "against it"}
    _, verdicts = folder_verdicts(results / "full-cpu")
    judged = [v for v in verdicts if v.method in {"causal[mse_prob,none,set]", "causal"}]
    assert len(judged) == 6
    for v in judged:
        side = sides.get(str(v.verdict), "inconclusive")
        assert CLAIM_BY_KEY[v.claim].label in segments[side], (v.claim, v.verdict)


def test_the_default_readings_rank_in_each_seed_study_is_what_the_docs_say() -> None:
    """docs/reproduction.md, "The default reading": other readings rank above the default in
    the 112 px seed study; the 224 px one ranks it first, with an interval including zero."""
    import json

    from causalcam.results import SeedTable

    def study(profile: str) -> SeedTable:
        path = REPO / "docs" / "results" / profile / "seeds" / "seeds.json"
        return SeedTable.from_json(json.loads(path.read_text(encoding="utf-8")))

    default = "causal[mse_prob,none,set]"
    assert study("quick").choice.method != default
    chosen = study("full-cpu").choice
    assert chosen.method == default
    assert chosen.deletion_mean_diff.low < 0 < chosen.deletion_mean_diff.high
