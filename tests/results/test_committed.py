"""Every committed result file besides the stage files reads back into its class and writes
the same JSON: the one converter keeps every number of ``docs/results`` and ``weights``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from causalcam.evaluate.tables import jsonable
from causalcam.ground_truth.verdicts import BenchmarkResult
from causalcam.results import (
    AblationTable,
    LocalisationResult,
    SeedTable,
    TransferRecord,
    WeightsRecord,
)
from causalcam.results.metrics import MetricsReport

REPO = Path(__file__).resolve().parents[2]
RESULTS = REPO / "docs" / "results"

#: (glob under the repository, the class its files hold)
COMMITTED: tuple[tuple[str, Any], ...] = (
    ("docs/results/metrics/*/metrics.json", MetricsReport),
    ("docs/results/ground-truth/**/results.json", BenchmarkResult),
    ("docs/results/localisation/*/localisation.json", LocalisationResult),
    ("docs/results/full-cpu/seeds/*/ablation.json", AblationTable),
    ("docs/results/*/seeds/seeds.json", SeedTable),
    ("docs/results/transfer-seeds/transfer_*.json", TransferRecord),
    ("docs/results/quick/results/transfer_*.json", TransferRecord),
    ("docs/results/full-cpu/results/transfer_*.json", TransferRecord),
    ("weights/*.json", WeightsRecord),
)
FILES = [(path, kind) for pattern, kind in COMMITTED for path in sorted(REPO.glob(pattern))]


def test_every_kind_of_committed_file_is_found() -> None:
    assert {kind for _, kind in FILES} == {kind for _, kind in COMMITTED}


@pytest.mark.parametrize(("path", "kind"), FILES, ids=lambda v: getattr(v, "name", ""))
def test_a_committed_file_reads_back_unchanged(path: Path, kind: Any) -> None:
    stored = json.loads(path.read_text(encoding="utf-8"))
    written = jsonable(kind.from_json(stored).to_json())
    assert {key: written[key] for key in stored} == stored  # older files lack later fields


def test_a_seed_study_and_an_ablation_find_a_row_by_mode_and_method() -> None:
    """``SeedTable.row`` and ``AblationTable.row``: the row of a reading, or a KeyError naming
    what is missing."""
    path = RESULTS / "full-cpu" / "seeds" / "seeds.json"
    study = SeedTable.from_json(json.loads(path.read_text(encoding="utf-8")))
    row = study.row("insertion", "causal[bce,none,set]")
    assert (row.mode, row.method, row.seeds) == ("insertion", "causal[bce,none,set]", 3)
    with pytest.raises(KeyError, match=r"seed study of 3 networks has no deletion row for 'x'"):
        study.row("deletion", "x")
    (first,) = sorted((RESULTS / "full-cpu" / "seeds").glob("0-*/ablation.json"))
    ablation = AblationTable.from_json(json.loads(first.read_text(encoding="utf-8")))
    assert ablation.row("insertion", row.method).mean_diff.value == pytest.approx(
        row.diff_over_seeds.per_seed[0]
    )
    with pytest.raises(KeyError, match=r"has no insertion row for 'x'"):
        ablation.row("insertion", "x")
