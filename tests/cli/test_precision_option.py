"""``--precision`` on explain, evaluate, transfer and reproduce: checked names, a printed
fallback warning where bf16 is not native, and bf16 results next to the fp32 ones."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from causalcam import precision
from causalcam.cli import app
from causalcam.data import sample_scans

runner = CliRunner()


@pytest.mark.parametrize("command", ["explain", "evaluate", "transfer", "reproduce"])
def test_every_command_takes_precision_and_checks_it(command: str, tmp_path: Path) -> None:
    args = {
        "explain": ["explain", str(tmp_path), "-m", "default"],
        "evaluate": ["evaluate", str(tmp_path / "a.pt")],
        "transfer": ["transfer", str(tmp_path / "a.pt"), str(tmp_path / "b.pt")],
        "reproduce": ["reproduce", "--out", str(tmp_path / "run")],
    }[command]
    assert "--precision" in runner.invoke(app, [command, "--help"]).output
    result = runner.invoke(app, [*args, "--precision", "half"])
    assert result.exit_code == 2, result.output
    assert "--precision" in result.stderr and "half" in result.stderr


def test_explain_in_bf16_without_support_warns_and_runs_in_fp32(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(precision, "_cpu_flags", lambda: frozenset({"avx2"}))
    scan = sample_scans()[0].path
    out = tmp_path / "bf16"
    result = runner.invoke(
        app,
        ["explain", str(scan), "-m", "default", "--precision", "bf16", "--out", str(out), "-q"],
    )
    assert result.exit_code == 0, result.output
    assert "warning: bfloat16 is not supported natively on cpu" in result.stderr
    assert (out / "explanations.json").is_file()


def test_evaluate_in_bf16_next_to_fp32(
    real_root: Path, checkpoint: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """bf16 (claimed supported; emulated where the CPU lacks it) gives the same curves on
    an untrained network's 4 scans as fp32 within one image per threshold."""
    monkeypatch.setattr(precision, "_cpu_flags", lambda: frozenset({"avx512_bf16"}))
    rows = {}
    for name in ("fp32", "bf16"):
        result = runner.invoke(
            app,
            [
                "evaluate",
                str(checkpoint),
                "--precision",
                name,
                "--thresholds",
                "0.3,0.6",
                "--n-boot",
                "0",
                "--methods",
                "gradcam",
                "--out",
                str(tmp_path / name),
                "--data",
                str(real_root),
                "--limit",
                "2",
                "--quiet",
            ],
        )
        assert result.exit_code == 0, result.output
        assert "warning" not in result.stderr
        rows[name] = json.loads((tmp_path / name / "r18_curves.json").read_text())
    assert len(rows["fp32"]) == len(rows["bf16"]) == 4
    for exact, fast in zip(rows["fp32"], rows["bf16"], strict=True):
        assert (exact["mode"], exact["threshold"]) == (fast["mode"], fast["threshold"])
        assert abs(exact["n_correct"] - fast["n_correct"]) <= 1
