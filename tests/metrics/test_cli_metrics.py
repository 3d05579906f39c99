"""``causalcam evaluate --metrics``: every group on a fake test split, tables, figures, report."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from typer.testing import CliRunner

from causalcam.cli import app
from causalcam.data.fake import write_fake_dataset

runner = CliRunner()


def test_evaluate_metrics_writes_tables_figures_and_report(
    untrained_checkpoint: Callable[[int], Path], isolated_cache: Path, tmp_path: Path
) -> None:
    root = write_fake_dataset(
        tmp_path / "covid-ct", {"train": (1, 1), "val": (1, 1), "test": (2, 2)}
    )
    out = tmp_path / "out"
    args = ["evaluate", str(untrained_checkpoint(64)), "--data", str(root), "--out", str(out)]
    args += ["--metrics", "road,confidence,sanity,complexity,sensitivity"]
    args += ["--methods", "gradcam,causal", "--n-boot", "50", "--quiet", "--device", "cpu"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    folder = out / "r18"
    report = json.loads((folder / "metrics.json").read_text())
    assert report["images"] == 4 and report["subset"] == "all 4 test scans"
    assert {c["method"] for c in report["comparisons"]} == {"gradcam", "causal"}
    assert report["sanity"]["layers"][0] == "fc" and report["sanity"]["layers"][-1] == "conv1"
    text = (folder / "metrics.md").read_text()
    assert "# Explanation metrics" in text and "## Sanity checks" in text
    for name in ("scores.csv", "comparisons.csv", "sanity.csv", "sanity.png", "comparisons.png"):
        assert (folder / name).is_file()


def test_evaluate_metrics_names_an_unknown_group(
    untrained_checkpoint: Callable[[int], Path], tmp_path: Path
) -> None:
    args = [
        "evaluate",
        str(untrained_checkpoint(64)),
        "--metrics",
        "road,speed",
        "--out",
        str(tmp_path),
    ]
    result = runner.invoke(app, args)
    assert result.exit_code != 0
    assert "unknown metrics speed" in result.output
