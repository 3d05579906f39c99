"""The committed ground-truth reports are what the report code writes from their results."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from causalcam.ground_truth import BenchmarkResult
from causalcam.ground_truth.report import markdown
from causalcam.synthetic.phantom import LESION_FLOOR, LESION_GAIN, NOISE_SD

RESULTS = Path(__file__).resolve().parents[2] / "docs" / "results" / "ground-truth"
FOLDERS = sorted(p.parent for p in RESULTS.glob("**/results.json"))


def test_results_are_committed() -> None:
    assert RESULTS in FOLDERS


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda p: p.relative_to(RESULTS).as_posix())
def test_committed_report_is_regenerated(folder: Path) -> None:
    result = BenchmarkResult.from_json(json.loads((folder / "results.json").read_text()))
    manifest = json.loads((folder / "manifest.json").read_text())
    text = markdown(result, manifest)
    assert text == (folder / "report.md").read_text(encoding="utf-8")
    low = LESION_FLOOR * LESION_GAIN
    assert f"by {low:g} to {LESION_GAIN:g} grey levels" in text
    assert f"noise of SD {NOISE_SD:g}" in text
