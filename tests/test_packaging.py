"""The sdist and wheel that ``python -m build`` makes: ``twine check``, what each holds, the terms
in the metadata, a long description that the package index can show (no relative links), and the
wheel installed into a new virtual environment running ``causalcam demo``, then with the extras
``app`` and ``medical`` serving and reading a NIfTI volume.

The build runs on a copy of the project (so the checkout gets no build leftovers) into which
files that must never ship are planted. The new environment sees the test environment's
installed dependencies (torch, torchvision, ...) through a ``.pth`` file, so nothing is
downloaded; causalcam itself must come from the wheel, which the test checks.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from dataclasses import dataclass
from email.parser import HeaderParser
from pathlib import Path

import numpy as np
import pytest

from causalcam.models.checkpoint import BUNDLED_MODELS, DEFAULT_BUNDLED

pytestmark = pytest.mark.packaging

REPO = Path(__file__).resolve().parents[1]
LICENSE_EXPRESSION = "MIT AND LicenseRef-COVID-CT-Research-Use"
# Never copied into the build tree: the checkout's environments, outputs and caches.
SKIPPED = {".git", ".venv", "runs", "out", "causalcam-out", "build", "dist"}
SKIPPED_SUFFIXES = ("_cache", ".egg-info")
# Planted into the build tree; none of them may reach the sdist or the wheel.
PLANTED = (
    "runs/resnet18/best.pt",
    ".venv/lib/site.py",
    "causalcam-out/demo/explanations.json",
    ".pytest_cache/v/cache/lastfailed",
    "src/causalcam/__pycache__/cli.cpython-311.pyc",
    "tests/__pycache__/conftest.cpython-311-pytest-8.pyc",
)
# The two bundled models are 22 MB each; anything much larger means something that should
# not ship.
MAX_DIST_BYTES = 52 * 2**20
SAMPLE_SCANS = 6


@dataclass(frozen=True)
class Dists:
    """The built sdist and wheel, and the project tree they were built from."""

    sdist: Path
    wheel: Path
    tree: Path

    @property
    def package(self) -> Path:
        return self.tree / "src" / "causalcam"


def _ignore(folder: str, names: list[str]) -> set[str]:
    return {n for n in names if n in SKIPPED or n.endswith(SKIPPED_SUFFIXES) or n == "__pycache__"}


def _run(
    args: list[str], cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a command to completion; fail the test with its output when it fails."""
    result = subprocess.run(args, capture_output=True, text=True, timeout=600, cwd=cwd, env=env)
    assert result.returncode == 0, (
        f"{args} failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    )
    return result


@pytest.fixture(scope="module")
def dists(tmp_path_factory: pytest.TempPathFactory) -> Dists:
    """``python -m build`` (sdist, then the wheel from the sdist) of a copy of the project."""
    root = tmp_path_factory.mktemp("packaging")
    tree = root / "tree"
    shutil.copytree(REPO, tree, ignore=_ignore)
    for name in PLANTED:
        (tree / name).parent.mkdir(parents=True, exist_ok=True)
        (tree / name).write_bytes(b"\0" * 1024)
    out = root / "dist"
    # --no-isolation: the build backend comes from the dev extra, so nothing is downloaded.
    _run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(tree)])
    (sdist,) = out.glob("*.tar.gz")
    (wheel,) = out.glob("*.whl")
    return Dists(sdist, wheel, tree)


def _wheel_names(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as archive:
        return archive.namelist()


def _wheel_metadata(wheel: Path) -> tuple[str, dict[str, list[str]]]:
    """The wheel's METADATA as (long description, header -> values)."""
    with zipfile.ZipFile(wheel) as archive:
        (name,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        message = HeaderParser().parsestr(archive.read(name).decode("utf-8"))
    headers = {key: message.get_all(key) or [] for key in set(message.keys())}
    return str(message.get_payload()), headers


#: Link and image targets in Markdown (inline and reference) and HTML.
_TARGETS = (
    re.compile(r"\]\(\s*<?([^)\s>]+)"),
    re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)", re.MULTILINE),
    re.compile(r"(?:src|href)\s*=\s*[\"']([^\"']+)", re.IGNORECASE),
)


def broken_on_the_index(text: str) -> list[str]:
    """Link and image targets that break on a package index: anything but an absolute
    ``https://``, ``http://`` or ``mailto:`` address (relative paths, ``#anchors``)."""
    targets = [m.group(1) for pattern in _TARGETS for m in pattern.finditer(text)]
    return [t for t in targets if not re.match(r"(https?://|mailto:)", t)]


def test_the_link_check_finds_relative_links_and_images() -> None:
    text = (
        "![panel](docs/demo-panel.png) [guide](docs/engine.md) [up](#install) "
        "[ok](https://example.org/a) <img src='x.png'>\n[ref]: docs/method.md\n"
    )
    assert broken_on_the_index(text) == [
        "docs/demo-panel.png",
        "docs/engine.md",
        "#install",
        "docs/method.md",
        "x.png",
    ]


def test_long_description_has_nothing_that_breaks_on_the_index(dists: Dists) -> None:
    description, headers = _wheel_metadata(dists.wheel)
    assert headers["Description-Content-Type"] == ["text/markdown"]
    assert "causalcam" in description and "pip install" in description
    assert broken_on_the_index(description) == []


def test_twine_check_passes(dists: Dists) -> None:
    _run([sys.executable, "-m", "twine", "check", "--strict", str(dists.sdist), str(dists.wheel)])


def test_metadata_states_the_terms(dists: Dists) -> None:
    description, headers = _wheel_metadata(dists.wheel)
    assert headers["License-Expression"] == [LICENSE_EXPRESSION]
    assert sorted(headers["License-File"]) == ["LICENSE", "NOTICE"]
    assert "NOTICE" in description and "not for clinical use" in description
    names = _wheel_names(dists.wheel)
    (notice,) = [n for n in names if n.endswith(".dist-info/licenses/NOTICE")]
    with zipfile.ZipFile(dists.wheel) as archive:
        text = archive.read(notice).decode("utf-8")
    for term in ("LicenseRef-COVID-CT-Research-Use", "UCSD-AI4H/COVID-CT", "NOT for clinical use"):
        assert term in text
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)


def test_wheel_holds_the_whole_package_and_nothing_else(dists: Dists) -> None:
    names = _wheel_names(dists.wheel)
    shipped = {n for n in names if not n.split("/")[0].endswith(".dist-info")}
    expected = {
        "causalcam/" + p.relative_to(dists.package).as_posix()
        for p in dists.package.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    assert shipped == expected, (
        f"missing from the wheel: {sorted(expected - shipped)}; "
        f"unexpected: {sorted(shipped - expected)} (see [tool.setuptools.package-data])"
    )
    for model in BUNDLED_MODELS.values():
        assert f"causalcam/assets/models/{model}" in shipped
    assert len([n for n in shipped if n.startswith("causalcam/assets/samples/")]) > SAMPLE_SCANS
    assert dists.wheel.stat().st_size < MAX_DIST_BYTES


def test_sdist_holds_the_sources_and_nothing_private(dists: Dists) -> None:
    with tarfile.open(dists.sdist) as archive:
        names = {n.split("/", 1)[1] for n in archive.getnames() if "/" in n}
    for needed in ("pyproject.toml", "README.md", "LICENSE", "NOTICE", "PKG-INFO"):
        assert needed in names, f"{needed} missing from {dists.sdist.name}"
    for model in BUNDLED_MODELS.values():
        assert f"src/causalcam/assets/models/{model}" in names
    tests = {p.relative_to(dists.tree).as_posix() for p in (dists.tree / "tests").rglob("*.py")}
    assert tests <= names, f"tests missing from the sdist: {sorted(tests - names)}"
    for planted in PLANTED:
        assert planted not in names, f"{planted} leaked into {dists.sdist.name}"
    private = [n for n in names if n.split("/")[0] in SKIPPED or n.endswith(".pyc")]
    assert not private, private
    assert dists.sdist.stat().st_size < MAX_DIST_BYTES


def _site_packages(venv: Path) -> Path:
    """The virtual environment's own site-packages, as its interpreter reports it."""
    probe = "import sysconfig; print(sysconfig.get_path('purelib'))"
    return Path(_run([str(venv / "bin" / "python"), "-c", probe]).stdout.strip())


@pytest.fixture(scope="module")
def venv(dists: Dists, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new virtual environment with the wheel installed, its dependencies taken from the
    test environment through a ``.pth`` file (``pip --no-index``: nothing downloaded)."""
    folder = tmp_path_factory.mktemp("venv") / "env"
    _run([sys.executable, "-m", "venv", "--without-pip", str(folder)])
    python = folder / "bin" / "python"
    site = _site_packages(folder)
    paths = dict.fromkeys([sysconfig.get_path("purelib"), sysconfig.get_path("platlib")])
    (site / "_test_environment.pth").write_text("\n".join(paths) + "\n")
    _pip_install(python, str(dists.wheel))
    return folder


def _pip_install(python: Path, requirement: str) -> subprocess.CompletedProcess[str]:
    """``pip install --no-index requirement`` into the environment of ``python``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env["PIP_CONFIG_FILE"] = os.devnull
    command = [sys.executable, "-m", "pip", "--python", str(python), "install"]
    return _run([*command, "--no-index", "--no-cache-dir", requirement], env=env)


def _env(venv: Path, tmp_path: Path) -> dict[str, str]:
    """The environment a user of ``venv`` has: its scripts first, a home and cache of its own."""
    return {
        "PATH": f"{venv / 'bin'}:{os.environ['PATH']}",
        "HOME": str(tmp_path / "home"),
        "CAUSALCAM_CACHE": str(tmp_path / "cache"),
        "OMP_WAIT_POLICY": "PASSIVE",
    }


def test_installed_wheel_runs_the_demo(venv: Path, tmp_path: Path) -> None:
    env = _env(venv, tmp_path)
    probe = (
        "import causalcam, json, importlib.metadata as m, importlib.resources as r;"
        "print(json.dumps({'file': causalcam.__file__, 'licence': m.metadata('causalcam')"
        "['License-Expression'], 'model': str(r.files('causalcam') / 'assets' / 'models' /"
        f" {BUNDLED_MODELS[DEFAULT_BUNDLED]!r})}}))"
    )
    found = json.loads(
        _run([str(venv / "bin" / "python"), "-c", probe], cwd=tmp_path, env=env).stdout
    )
    site = _site_packages(venv)
    assert Path(found["file"]).is_relative_to(site), found
    assert Path(found["model"]).is_relative_to(site) and Path(found["model"]).is_file(), found
    assert found["licence"] == LICENSE_EXPRESSION

    out = tmp_path / "demo"
    command = [str(venv / "bin" / "causalcam"), "demo", "--out", str(out), "--quiet"]
    _run(command, cwd=tmp_path, env=env)
    images = json.loads((out / "explanations.json").read_text())["images"]
    assert len(images) == SAMPLE_SCANS
    for image in images:
        # The scans explained are the wheel's copies, not the checkout's.
        assert Path(image["file"]).is_relative_to(site), image["file"]
        assert image["predicted_class"] in ("CT_COVID", "CT_NonCOVID")
        panel = Path(image["outputs"]["panel"])
        assert panel.is_relative_to(out) and panel.read_bytes().startswith(b"\x89PNG"), panel


def test_wheel_with_the_app_and_medical_extras(venv: Path, dists: Dists, tmp_path: Path) -> None:
    """``pip install "causalcam[app,medical]"`` as the README documents it: the extras exist,
    name their packages, and what they enable runs from the installed wheel."""
    from medical_files import write_nifti

    python = venv / "bin" / "python"
    result = _pip_install(python, f"{dists.wheel}[app,medical]")
    assert "does not provide the extra" not in result.stdout + result.stderr
    env = _env(venv, tmp_path)
    volume = np.linspace(-1000, 400, 24 * 24 * 3, dtype=np.float32).reshape(24, 24, 3)
    nifti = write_nifti(tmp_path / "volume.nii.gz", volume, np.eye(4))
    out = tmp_path / "out"
    explain = ["explain", str(nifti), "--model", "default", "--slices", "1"]
    explain += ["--methods", "gradcam", "--out", str(out), "--quiet"]
    # One interpreter (torch imported once): the extras' metadata, the page's app, and the
    # command line reading a NIfTI volume.
    probe = (
        "import json, sys, importlib.metadata as m\n"
        "from causalcam.extras import installed\n"
        "from causalcam.app.server import create_app\n"
        "from causalcam.app.service import ExplainService\n"
        "from causalcam.cli import main\n"
        "create_app(ExplainService())\n"
        "print(json.dumps({'extras': m.metadata('causalcam').get_all('Provides-Extra'),"
        "'requires': m.requires('causalcam'), 'installed': [installed('app'),"
        "installed('medical')], 'file': __import__('causalcam').__file__}))\n"
        f"sys.argv = ['causalcam', *{explain!r}]\n"
        "main()\n"
    )
    result = _run([str(python), "-c", probe], cwd=tmp_path, env=env)
    found = json.loads(result.stdout.splitlines()[0])
    assert Path(found["file"]).is_relative_to(_site_packages(venv))
    assert {"app", "medical", "localisation", "models", "dev"} <= set(found["extras"])
    for extra, packages in (("app", ("fastapi", "uvicorn")), ("medical", ("pydicom", "nibabel"))):
        for package in packages:
            assert any(
                r.startswith(package) and f'extra == "{extra}"' in r for r in found["requires"]
            ), (package, found["requires"])
    assert found["installed"] == [True, True]
    summary = json.loads((out / "explanations.json").read_text())
    assert [image["nifti"]["slice"] for image in summary["images"]] == [1]
    assert summary["volumes"] and Path(summary["volumes"][0]["maps"]["gradcam"]).is_file()
