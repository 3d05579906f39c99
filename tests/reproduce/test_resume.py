"""A reproduce run killed with SIGKILL in the middle resumes: finished stages are reused, the
stage it was in is completed, and the results equal those of a run never interrupted."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from causalcam.data.fake import write_fake_dataset
from causalcam.reproduce import STAGES, RunSettings, reproduce

STAGES_COMPARED = ("curves", "transfer", "ablation", "rise", "qualitative")


def _finished(run: Path) -> set[str]:
    try:
        manifest = json.loads((run / "manifest.json").read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return set()
    return {name for name, stage in manifest["stages"].items() if "fingerprint" in stage}


def _numbers(value: object) -> list[float]:
    """Every number of a stored stage result, in order (paths and names dropped)."""
    if isinstance(value, dict):
        return [x for key in sorted(value) for x in _numbers(value[key])]
    if isinstance(value, list):
        return [x for item in value for x in _numbers(item)]
    if isinstance(value, bool) or value is None:
        return []
    return [float(value)] if isinstance(value, int | float) else []


def test_a_run_killed_after_its_curves_resumes_without_recomputing_them(
    tmp_path: Path, isolated_cache: Path
) -> None:
    data = write_fake_dataset(
        tmp_path / "covid-ct", counts={"train": (2, 2), "val": (2, 2), "test": (6, 5)}
    )
    reference, run = tmp_path / "reference", tmp_path / "killed"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the killed run's thread count: the same kernels, the same floats
    try:
        reproduce(reference, "tiny", data_root=data, stop_after="train")
        for folder in ("models", "results"):  # both runs explain the same trained networks
            shutil.copytree(reference / folder, run / folder)
        reproduce(reference, "tiny", data_root=data, settings=RunSettings(progress=False), log=len)
        _kill_after_curves(run, data)
        done_before = _finished(run)
        assert {"train", "curves"} <= done_before and "report" not in done_before
        logged: list[str] = []
        reproduce(
            run, "tiny", data_root=data, settings=RunSettings(progress=False), log=logged.append
        )
    finally:
        torch.set_num_threads(threads)
    for stage in done_before:
        assert f"[{stage}] done before, reused" in logged, (stage, logged)
    for stage in set(STAGES) - done_before - {"report"}:
        assert f"[{stage}] running" in logged, (stage, logged)
    assert (run / "report.html").is_file()
    for stage in STAGES_COMPARED:
        mine = json.loads((run / "results" / f"{stage}.json").read_text())["result"]
        theirs = json.loads((reference / "results" / f"{stage}.json").read_text())["result"]
        np.testing.assert_allclose(_numbers(mine), _numbers(theirs), atol=1e-5, err_msg=stage)


def _kill_after_curves(run: Path, data: Path) -> None:
    """Start ``causalcam reproduce`` on ``run`` and SIGKILL it once its curves are stored."""
    command = [sys.executable, "-m", "causalcam", "reproduce", "--profile", "tiny"]
    command += ["--data", str(data), "--out", str(run), "--device", "cpu", "-q"]
    env = dict(os.environ, OMP_NUM_THREADS="1", MPLBACKEND="Agg")
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while "curves" not in _finished(run) and process.poll() is None:
        assert time.monotonic() < deadline, "the run never finished its curves"
        time.sleep(0.02)
    if process.poll() is not None:
        pytest.fail(f"the run ended (exit {process.returncode}) before it could be killed")
    os.kill(process.pid, signal.SIGKILL)
    process.wait()


def test_a_network_added_to_the_profile_recomputes_only_the_stages_that_use_it(
    tmp_path: Path, isolated_cache: Path
) -> None:
    import dataclasses

    from causalcam.reproduce import get_profile

    data = write_fake_dataset(
        tmp_path / "covid-ct", counts={"train": (2, 2), "val": (2, 2), "test": (3, 3)}
    )
    one = dataclasses.replace(get_profile("tiny"), archs=("resnet18",))
    two = dataclasses.replace(one, archs=("resnet18", "resnet34"))
    quiet = RunSettings(progress=False)
    reproduce(tmp_path / "run", one, data_root=data, settings=quiet, log=len, stop_after="rise")
    logged: list[str] = []
    reproduce(
        tmp_path / "run", two, data_root=data, settings=quiet, log=logged.append,
        stop_after="rise",
    )  # fmt: skip
    for stage in ("curves", "ablation", "rise"):  # ResNet-18's alone: reused
        assert f"[{stage}] done before, reused" in logged, (stage, logged)
    assert "[train] running" in logged and "[transfer] running" in logged, logged


def test_a_run_takes_the_committed_stages_computed_from_the_same_inputs(
    tmp_path: Path, isolated_cache: Path
) -> None:
    import dataclasses

    from causalcam.reproduce import get_profile

    data = write_fake_dataset(
        tmp_path / "covid-ct", counts={"train": (2, 2), "val": (2, 2), "test": (3, 3)}
    )
    one = dataclasses.replace(get_profile("tiny"), archs=("resnet18",))
    committed = tmp_path / "committed"
    quiet = RunSettings(progress=False)
    reproduce(committed, one, data_root=data, settings=quiet, log=len, stop_after="ablation")
    # another run folder with the same ResNet-18 (as committed weights give it), a second
    # network and other words for the profile: the source network's stages are copied with
    # the committed manifest's times, the rest computed
    two = dataclasses.replace(one, archs=("resnet18", "resnet34"), description="other words")
    logged: list[str] = []
    settings = RunSettings(progress=False, committed=committed)
    run = tmp_path / "run"
    shutil.copytree(committed / "models", run / "models")
    reproduce(run, two, data_root=data, settings=settings, log=logged.append, stop_after="ablation")
    for stage in ("curves", "ablation"):
        assert f"[{stage}] taken from {committed} (same inputs)" in logged, (stage, logged)
        copied = json.loads((run / "results" / f"{stage}.json").read_text())
        assert copied == json.loads((committed / "results" / f"{stage}.json").read_text())
    assert "[transfer] running" in logged, logged
    before, after = (json.loads((d / "manifest.json").read_text()) for d in (committed, run))
    assert after["stages"]["curves"]["seconds"] == before["stages"]["curves"]["seconds"]
    assert after["stages"]["curves"]["adopted_from"] == str(committed)
    # another seed is another input: nothing is taken
    logged.clear()
    other = RunSettings(progress=False, committed=committed, seed=1)
    seed1 = tmp_path / "seed1"
    shutil.copytree(committed / "models", seed1 / "models")
    reproduce(seed1, one, data_root=data, settings=other, log=logged.append, stop_after="curves")
    assert "[curves] running" in logged, logged
