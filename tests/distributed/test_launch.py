"""Two processes on this CPU (gloo, loopback), against one process, file by file.

Every launch is bounded: collectives wait at most ``CAUSALCAM_DIST_TIMEOUT`` seconds and
every process at most ``LIMIT_S``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from launch_helpers import (
    base_env,
    finish,
    free_port,
    launch,
    start_rank,
    torchrun,
    write_scans,
)

from causalcam.distributed.context import RUN_FILE
from causalcam.distributed.explain import MARKERS
from causalcam.evaluate import EvaluationSettings
from causalcam.files import ExplainSettings, explain_files, load_model_source
from causalcam.reproduce import RunSettings, evaluate_checkpoints, reproduce, transfer_checkpoints

METHODS = "gradcam,causal"


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def _without_folder(value: Any, folder: Path) -> Any:
    """JSON with the output folder's path replaced by ``OUT`` (the only allowed difference)."""
    return json.loads(json.dumps(value).replace(str(folder), "OUT"))


def _assert_close(mine: Any, reference: Any, where: str = "") -> None:
    """Equal JSON, floats to 1e-5."""
    if isinstance(reference, dict):
        assert list(mine) == list(reference), where
        for key in reference:
            _assert_close(mine[key], reference[key], f"{where}.{key}")
    elif isinstance(reference, list):
        assert len(mine) == len(reference), where
        for index, (a, b) in enumerate(zip(mine, reference, strict=True)):
            _assert_close(a, b, f"{where}[{index}]")
    elif isinstance(reference, float):
        assert mine == pytest.approx(reference, abs=1e-5), where
    else:
        assert mine == reference, where


def test_explain_under_torchrun_writes_what_one_process_writes(
    tiny_checkpoint: Path, tmp_path: Path, isolated_cache: Path
) -> None:
    images = write_scans(tmp_path / "scans", 10)
    (images / "s05b.png").write_bytes(b"not an image")  # skipped and listed, as in one process
    single, multi = tmp_path / "single", tmp_path / "multi"
    source = load_model_source(str(tiny_checkpoint), torch.device("cpu"))
    methods = METHODS.split(",")
    settings = ExplainSettings(methods=methods, save_npy=True, progress=False)
    explain_files([images], source, single, settings)
    args = ["explain", str(images), "-m", str(tiny_checkpoint), "--methods", METHODS]
    env = {**base_env(isolated_cache), "CAUSALCAM_WORKERS": "1"}  # a decoding worker each
    done = torchrun([*args, "--save-npy", "--out", str(multi), "--device", "cpu"], 2, env)
    assert done.returncode == 1, done.stderr  # one file was skipped
    assert "2 processes; 2 chunk(s): 0 already finished" in done.stdout
    assert "skipped 1 file(s)" in done.stderr and "s05b.png" in done.stderr

    assert _files(multi) == _files(single)
    reference = _without_folder(json.loads((single / "explanations.json").read_text()), single)
    mine = _without_folder(json.loads((multi / "explanations.json").read_text()), multi)
    assert [s["file"] for s in reference["skipped"]] == [str(images / "s05b.png")]
    _assert_close(mine, reference)
    for npy in (p for p in _files(single) if p.endswith(".npy")):
        np.testing.assert_allclose(np.load(multi / npy), np.load(single / npy), atol=1e-5)


def test_evaluate_and_transfer_on_two_processes_match_one(
    tiny_checkpoint: Path, fake_data: Path, tmp_path: Path, isolated_cache: Path
) -> None:
    other = shutil.copy(tiny_checkpoint, tmp_path / "other.pt")
    single, multi = tmp_path / "single", tmp_path / "multi"
    taus, common = (0.2, 0.5), ["--data", str(fake_data), "--device", "cpu", "-q"]
    settings = EvaluationSettings(thresholds=taus, progress=False)
    evaluate_checkpoints(
        [tiny_checkpoint],
        single,
        methods=["gradcam", "causal"],
        settings=settings,
        data_root=fake_data,
        n_boot=20,
    )
    transfer_checkpoints(tiny_checkpoint, [other], single, settings=settings, data_root=fake_data)
    env = base_env(isolated_cache)
    evaluate = ["evaluate", str(tiny_checkpoint), "--methods", METHODS, "--thresholds", "0.2,0.5"]
    ranks = launch([*evaluate, "--n-boot", "20", "--out", str(multi), *common], 2, env)
    assert [r.returncode for r in ranks] == [0, 0], ranks[0].stderr + ranks[1].stderr
    transfer = ["transfer", str(tiny_checkpoint), str(other), "--thresholds", "0.2,0.5"]
    ranks = launch([*transfer, "--out", str(multi), *common], 2, env)
    assert [r.returncode for r in ranks] == [0, 0], ranks[0].stderr + ranks[1].stderr
    assert "table:" in ranks[0].stdout and ranks[1].stdout == ""

    results = [p for p in _files(single) if not p.startswith("eval")]
    assert results == [p for p in _files(multi) if not p.startswith("eval")]
    assert "r18_summary.json" in results and "transfer_r18.md" in results
    for name in (p for p in results if p.endswith(".json")):
        _assert_close(
            json.loads((multi / name).read_text()), json.loads((single / name).read_text())
        )
    assert (multi / "transfer_r18.md").read_text() == (single / "transfer_r18.md").read_text()
    assert not (multi / RUN_FILE).exists()


def test_a_killed_rank_costs_only_its_unfinished_chunks(
    tiny_checkpoint: Path, tmp_path: Path, isolated_cache: Path
) -> None:
    images = write_scans(tmp_path / "scans", 24)  # 3 chunks of 8: rank 0 gets 1, rank 1 gets 2
    out = tmp_path / "out"
    args = ["explain", str(images), "-m", str(tiny_checkpoint), "--methods", METHODS]
    args += ["--out", str(out), "--device", "cpu", "-q"]
    env = {**base_env(isolated_cache), "CAUSALCAM_DIST_TIMEOUT": "20"}
    port = free_port()
    ranks = [start_rank(args, rank, 2, port, env) for rank in range(2)]
    markers = out / MARKERS / "explain" / "chunks"
    deadline = time.monotonic() + 150
    while not (markers / "000001.json").exists() and time.monotonic() < deadline:
        assert ranks[1].poll() is None, finish(ranks[1]).stderr
        time.sleep(0.05)
    os.kill(ranks[1].pid, signal.SIGKILL)
    first = [finish(rank) for rank in ranks]
    assert first[0].returncode != 0 and first[1].returncode == -signal.SIGKILL
    assert "another process died" in first[0].stderr
    assert (markers / "000000.json").exists() and not (markers / "000002.json").exists()
    kept = {p: (out / p / "panel.png").stat().st_mtime_ns for p in ("s00", "s07", "s08", "s15")}

    again = launch(args[:-1], 2, env)  # without -q: rank 0 reports the chunks
    assert [r.returncode for r in again] == [0, 0], again[0].stderr + again[1].stderr
    assert "3 chunk(s): 2 already finished; computed rank 0: 0, rank 1: 1" in again[0].stdout
    assert {p: (out / p / "panel.png").stat().st_mtime_ns for p in kept} == kept
    summary = json.loads((out / "explanations.json").read_text())
    assert [Path(r["file"]).name for r in summary["images"]] == [f"s{i:02d}.png" for i in range(24)]
    assert not (out / MARKERS).exists() and not (out / RUN_FILE).exists()


@pytest.mark.slow  # the check itself: test_shards.py; this is the end to end
def test_more_processes_than_images_is_refused(
    tiny_checkpoint: Path, tmp_path: Path, isolated_cache: Path
) -> None:
    images = write_scans(tmp_path / "scans", 1)
    args = ["explain", str(images), "-m", str(tiny_checkpoint), "--out", str(tmp_path / "o")]
    ranks = launch([*args, "--device", "cpu"], 2, base_env(isolated_cache))
    for rank in ranks:
        assert rank.returncode == 1
        assert "2 processes for 1 image files" in rank.stderr, rank.stderr


def test_ranks_with_different_models_are_refused(
    tiny_checkpoint: Path, tmp_path: Path, isolated_cache: Path
) -> None:
    """Same command line in two folders whose r18.pt differ: the model hash disagrees."""
    folders = [tmp_path / "a", tmp_path / "b"]
    for number, folder in enumerate(folders):
        write_scans(folder / "scans", 4)
        state = torch.load(tiny_checkpoint, weights_only=True)
        if number:
            state["state_dict"]["fc.bias"] += 1.0
        torch.save(state, folder / "r18.pt")
    for name in ("s00.png", "s01.png", "s02.png", "s03.png"):
        shutil.copy2(folders[0] / "scans" / name, folders[1] / "scans" / name)
    args = ["explain", "scans", "-m", "r18.pt", "--out", str(tmp_path / "o"), "--device", "cpu"]
    ranks = launch(args, 2, base_env(isolated_cache), cwds=folders)
    for rank in ranks:
        assert rank.returncode == 1
        assert "the processes disagree on the model" in rank.stderr, rank.stderr


@pytest.mark.slow  # the check itself: test_shards.py; this is the end to end
def test_an_output_folder_in_use_by_another_run_is_refused(
    tiny_checkpoint: Path, tmp_path: Path, isolated_cache: Path
) -> None:
    images = write_scans(tmp_path / "scans", 2)
    out = tmp_path / "o"
    out.mkdir()
    (out / RUN_FILE).write_text(json.dumps({"fingerprint": "another", "started": "earlier"}))
    args = ["explain", str(images), "-m", str(tiny_checkpoint), "--out", str(out)]
    ranks = launch([*args, "--device", "cpu"], 2, base_env(isolated_cache))
    for rank in ranks:
        assert rank.returncode == 1
        assert f"output folder {out} belongs to another run" in rank.stderr, rank.stderr


def test_a_process_alone_gives_up_after_the_timeout(tmp_path: Path, isolated_cache: Path) -> None:
    env = {**base_env(isolated_cache), "CAUSALCAM_DIST_TIMEOUT": "3"}
    started = time.monotonic()
    alone = finish(start_rank(["explain", str(tmp_path), "-m", "default"], 0, 2, free_port(), env))
    assert alone.returncode == 1
    assert "joining the 2 processes" in alone.stderr and "waited at most 3 s" in alone.stderr
    assert time.monotonic() - started < 90


def test_reproduce_shares_its_evaluating_stages_and_matches_one_process(
    fake_data: Path, tmp_path: Path, isolated_cache: Path
) -> None:
    """The tiny profile: trained once by one process; its stages then run on two ranks."""
    single, multi = tmp_path / "single", tmp_path / "multi"
    args = ["reproduce", "--profile", "tiny", "--data", str(fake_data), "--device", "cpu", "-q"]
    env = base_env(isolated_cache)
    refused = launch([*args, "--out", str(multi)], 2, env)
    for rank in refused:
        assert rank.returncode == 1
        assert "training does not run under torchrun" in rank.stderr, rank.stderr
        assert "--stop-after train" in rank.stderr
    (multi / RUN_FILE).unlink()  # the refused run's claim on the folder

    logged: list[str] = []
    trained = reproduce(multi, "tiny", data_root=fake_data, stop_after="train")
    assert trained is None and _files(multi / "results") == ["train.json"]
    shutil.copytree(multi / "models", single / "models")
    shutil.copytree(multi / "results", single / "results")
    reproduce(
        single, "tiny", data_root=fake_data, settings=RunSettings(progress=False), log=logged.append
    )
    assert "[train] done before, reused" in logged
    ranks = launch([*args, "--out", str(multi)], 2, env)
    assert [r.returncode for r in ranks] == [0, 0], ranks[0].stderr + ranks[1].stderr
    assert "report:" in ranks[0].stdout and ranks[1].stdout == ""

    outputs = [p for p in _files(single) if p.split("/")[0] in ("results", "figures")]
    assert outputs == [p for p in _files(multi) if p.split("/")[0] in ("results", "figures")]
    for stage in ("curves", "transfer", "ablation", "rise", "localisation", "qualitative"):
        reference = json.loads((single / "results" / f"{stage}.json").read_text())["result"]
        mine = json.loads((multi / "results" / f"{stage}.json").read_text())["result"]
        _assert_close(_without_folder(mine, multi), _without_folder(reference, single), stage)
    assert (multi / "report.html").is_file() and not (multi / RUN_FILE).exists()
    # the ablation's store is a folder of its network's weights: its job lies below it
    jobs = {p.split("sharded/")[1].split("/")[0] for p in _files(multi / "eval") if "sharded/" in p}
    assert len(jobs) == 1 + 2 + 1 + 3  # curves; transfer from 2 sources; ablation; RISE x3
