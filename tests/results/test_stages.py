"""Every committed stage result reads back into its class and writes the same JSON: the
typed results keep every number of ``docs/results``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from causalcam.errors import DataError
from causalcam.evaluate.tables import jsonable
from causalcam.results import STAGE_FORMAT, STAGE_RESULTS, SeedTable, read_stage

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
    stored = json.loads(path.read_text(encoding="utf-8"))
    assert stored["format"] == STAGE_FORMAT
    result = read_stage(path)
    assert isinstance(result, STAGE_RESULTS[path.stem])
    assert jsonable(result.to_json()) == stored["result"]


def test_a_stage_file_of_another_format_is_refused_naming_both_versions(tmp_path: Path) -> None:
    stored = json.loads((RESULTS / "quick" / "results" / "train.json").read_text("utf-8"))
    path = tmp_path / "results" / "train.json"
    path.parent.mkdir()
    path.write_text(json.dumps({**stored, "format": STAGE_FORMAT - 1}), encoding="utf-8")
    with pytest.raises(DataError, match=rf"train\.json.*format {STAGE_FORMAT - 1}.*{STAGE_FORMAT}"):
        read_stage(path)
    del stored["format"]
    path.write_text(json.dumps(stored), encoding="utf-8")
    with pytest.raises(DataError, match="no format version"):
        read_stage(path)
    with pytest.raises(DataError, match="not a stage file"):
        read_stage(tmp_path / "results" / "other.json")


@pytest.mark.parametrize("path", SEED_FILES, ids=lambda p: str(p.relative_to(RESULTS)))
def test_a_seed_table_reads_back_unchanged(path: Path) -> None:
    stored = json.loads(path.read_text(encoding="utf-8"))
    assert jsonable(SeedTable.from_json(stored).to_json()) == stored
