"""`causalcam serve` options (the page itself is tested in tests/app)."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from causalcam.cli import app

runner = CliRunner()


def test_serve_binds_to_this_machine_by_default() -> None:
    result = runner.invoke(app, ["serve", "--help"])
    assert result.exit_code == 0
    text = " ".join(result.stdout.split())
    assert "127.0.0.1" in text and "--port" in text and "--models" in text


def test_a_models_folder_that_is_not_one_is_a_usage_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["serve", "--models", str(tmp_path / "none")])
    assert result.exit_code == 2 and "--models" in result.stderr
