"""``causalcam benchmark ground-truth`` on a tiny configuration: files, verdicts, resuming."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from causalcam.cli import app

runner = CliRunner()
TINY = [
    "benchmark", "ground-truth", "--designs", "shortcut-1", "--seeds", "1",
    "--smoothing", "0", "--n-train", "40", "--n-test", "40", "--epochs", "1",
    "--n-boot", "50", "--curve-images", "16", "--quiet",
]  # fmt: skip


def test_tiny_run_and_resume(tmp_path: Path) -> None:
    out = tmp_path / "gt"
    result = runner.invoke(app, [*TINY, "--out", str(out)])
    assert result.exit_code == 0, result.output
    for name in ("report.md", "results.json", "manifest.json", "gains.png"):
        assert (out / name).is_file(), name
    assert (out / "examples-shortcut-1-smoothing0.png").is_file()
    payload = json.loads((out / "results.json").read_text())
    assert [c["design"]["name"] for c in payload["configs"]] == ["shortcut"]
    assert payload["margins"] == {"delta": 0.05, "epsilon": 0.05}
    assert {r["reading"] for r in payload["readings"]} >= {"causal[mse_prob,none,set]"}
    assert "Verdicts" in (out / "report.md").read_text()
    units = sorted(out.glob("networks/*/*/unit.json"))
    assert len(units) == 1
    stamps = [u.stat().st_mtime_ns for u in units]
    again = runner.invoke(app, [*TINY, "--out", str(out)])
    assert again.exit_code == 0, again.output
    assert [u.stat().st_mtime_ns for u in units] == stamps  # resumed, nothing recomputed
    assert json.loads((out / "results.json").read_text())["configs"] == payload["configs"]


def test_bad_design_is_a_usage_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["benchmark", "ground-truth", "--designs", "birds",
                                 "--out", str(tmp_path)])  # fmt: skip
    assert result.exit_code == 2
    assert "unknown design" in result.output
