"""`make demo` from a fresh clone in a temporary folder: the README's first command works on a
machine with nothing trained or downloaded (slow: it builds a virtual environment); it installs
the package alone, while `make test` installs every extra (checked with `make -n`)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _planned(target: str, folder: Path) -> list[str]:
    """The commands ``make -n target`` would run in ``folder`` (a copy of the Makefile and
    pyproject.toml, so nothing is installed yet)."""
    for name in ("Makefile", "pyproject.toml"):
        shutil.copy(REPO / name, folder / name)
    result = subprocess.run(
        ["make", "-n", target], cwd=folder, capture_output=True, text=True, check=True
    )
    return result.stdout.splitlines()


def test_make_demo_installs_the_package_alone_and_make_test_every_extra(tmp_path: Path) -> None:
    if shutil.which("make") is None:
        pytest.skip("make is needed")
    demo = [line for line in _planned("demo", tmp_path) if "pip install" in line]
    assert demo[-1].endswith('pip install -q -e "."'), demo
    assert not any("[" in line.split("pip install", 1)[1] for line in demo if "-e" in line)
    test = [line for line in _planned("test", tmp_path) if "pip install" in line]
    assert test[-1].endswith('pip install -q -e ".[dev]"'), test


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
    for dev_tool in ("pytest", "ruff", "mypy"):  # the dev extra is not installed
        assert not (clone / ".venv" / "bin" / dev_tool).exists(), dev_tool
