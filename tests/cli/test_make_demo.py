"""`make demo` from a fresh clone in a temporary folder: the README's first command works on a
machine with nothing trained or downloaded (slow: it builds a virtual environment)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_make_demo_from_a_fresh_clone(tmp_path: Path) -> None:
    if shutil.which("git") is None or shutil.which("make") is None:
        pytest.skip("git and make are needed")
    head = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--verify", "HEAD"], capture_output=True
    )
    if head.returncode != 0:
        pytest.skip("the repository has no commit to clone yet")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(REPO), str(clone)], check=True)
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path / "home"),
        "CAUSALCAM_CACHE": str(tmp_path / "cache"),
    }
    result = subprocess.run(
        ["make", "demo"], cwd=clone, env=env, capture_output=True, text=True, timeout=3600
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = clone / "causalcam-out" / "demo"
    summary = json.loads((out / "explanations.json").read_text())
    assert len(summary["images"]) == len(list(out.glob("*/panel.png"))) > 0
    assert f"are in {out.resolve()}" in result.stdout
