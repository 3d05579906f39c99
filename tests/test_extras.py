"""Optional dependencies: a missing one is named with the extra that installs it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from causalcam.errors import CausalCamError
from causalcam.extras import MissingExtraError, require


def test_missing_module_names_the_extra(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "pydicom", None)  # import pydicom now raises ImportError
    with pytest.raises(MissingExtraError, match=r"pip install 'causalcam\[medical\]'"):
        require("pydicom", "reading DICOM")
    from causalcam.files import gather

    scan = tmp_path / "slice.dcm"
    scan.write_bytes(b"\0" * 128 + b"DICM" + b"\0" * 64)
    with pytest.raises(CausalCamError, match=r"causalcam\[medical\]"):
        gather([scan])


def test_serve_without_the_app_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from causalcam.cli import app

    monkeypatch.setitem(sys.modules, "fastapi", None)
    result = CliRunner().invoke(app, ["serve"])
    assert result.exit_code == 1 and "pip install 'causalcam[app]'" in result.stderr
