"""Every committed stage result reads back into its class and writes the same JSON: the
typed results keep every number of ``docs/results``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from causalcam.evaluate.tables import jsonable
from causalcam.results import STAGE_RESULTS, SeedTable

RESULTS = Path(__file__).resolve().parents[2] / "docs" / "results"
STAGE_FILES = sorted(
    path for path in RESULTS.glob("*/results/*.json") if path.stem in STAGE_RESULTS
)
SEED_FILES = sorted(RESULTS.glob("*/seeds/seeds.json"))


def test_the_committed_results_are_found() -> None:
    assert {path.stem for path in STAGE_FILES} == set(STAGE_RESULTS)
    assert SEED_FILES


@pytest.mark.parametrize("path", STAGE_FILES, ids=lambda p: str(p.relative_to(RESULTS)))
def test_a_stage_file_reads_back_unchanged(path: Path) -> None:
    stored = json.loads(path.read_text(encoding="utf-8"))["result"]
    result = STAGE_RESULTS[path.stem].from_json(stored)
    assert jsonable(result.to_json()) == stored


@pytest.mark.parametrize("path", SEED_FILES, ids=lambda p: str(p.relative_to(RESULTS)))
def test_a_seed_table_reads_back_unchanged(path: Path) -> None:
    stored = json.loads(path.read_text(encoding="utf-8"))
    assert jsonable(SeedTable.from_json(stored).to_json()) == stored
