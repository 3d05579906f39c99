"""Every benchmark script imports: a renamed or removed library name fails here, not on the
day someone measures."""

from __future__ import annotations

import importlib.util
import json
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest

from causalcam.data.cache import write_pack
from causalcam.data.fake import write_fake_dataset

BENCHMARKS = sorted((Path(__file__).parents[1] / "benchmarks").glob("*.py"))


def _benchmark(name: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    path = Path(__file__).parents[1] / "benchmarks" / f"{name}.py"
    monkeypatch.syspath_prepend(str(path.parent))
    spec = importlib.util.spec_from_file_location(f"benchmark_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, f"benchmark_{name}", module)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("path", BENCHMARKS, ids=lambda p: p.name)
def test_benchmark_imports(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    module = _benchmark(path.stem, monkeypatch)
    assert callable(getattr(module, "main", None)), f"{path.name} has no main()"


def test_device_paper_script_on_the_cpu(
    tmp_path: Path, isolated_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The GPU call's script, run as it will be there but with the tiny profile on the CPU
    from a pack: a first call cut short by its budget, a second that resumes and finishes."""
    device_paper = _benchmark("device_paper", monkeypatch)
    data = write_fake_dataset(
        tmp_path / "covid-ct", counts={"train": (2, 2), "val": (2, 2), "test": (3, 3)}
    )
    pack = tmp_path / "data.ccpack"
    write_pack(pack, sizes=(48,), root=data)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    common = ["--data", str(pack), "--run", str(tmp_path / "run"), "--profile", "tiny"]
    common += ["--archs", "resnet18"]  # the other networks cost time and test nothing more
    common += ["--device", "cpu", "--batch", "4", "--rounds", "1"]
    cut = device_paper.main([*common, "--out", str(tmp_path / "first"), "--budget", "0.5"])
    assert not cut.finished and cut.throughput is None and "report" not in cut.stage_seconds
    stored = json.loads((tmp_path / "first" / "device_run.json").read_text())
    assert stored["finished"] is False and stored["budget_seconds"] == 0.5
    done = device_paper.main([*common, "--out", str(tmp_path / "second"), "--budget", "600"])
    assert done.finished and {"train", "curves", "ablation", "report"} <= set(done.stage_seconds)
    assert done.throughput.batch == 4
    speeds = [done.throughput.forward, done.throughput.causalcam_all_maps]
    assert all(speed > 0 for speed in [*speeds, done.throughput.gradcam_package])
    stored = json.loads((tmp_path / "second" / "device_run.json").read_text())["throughput"]
    assert stored["all_maps_vs_gradcam"] == pytest.approx(
        done.throughput.causalcam_all_maps / done.throughput.gradcam_package
    )
    with tarfile.open(tmp_path / "second" / "paper.tar.gz") as archive:
        names = archive.getnames()
    assert "paper/report.md" in names and "paper/claims.json" in names
    assert not [name for name in names if name.endswith(".pt") or "/models" in name]
