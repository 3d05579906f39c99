"""Training a set of networks: skip finished ones, resume a started one, summary table."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from causalcam.data.fake import write_fake_dataset
from causalcam.training import TrainConfig
from causalcam.training import all_networks as train_all_module
from causalcam.training.all_networks import (
    LOCK,
    UNREADABLE_GRACE_S,
    summary_markdown,
    take_lock,
    train_all,
)


@pytest.fixture
def fake_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CAUSALCAM_CACHE", str(tmp_path / "cache"))
    return write_fake_dataset(tmp_path / "covid-ct")


def _base(root: Path, out: Path) -> TrainConfig:
    return TrainConfig(
        recipe="scratch",
        out_dir=out,
        data_root=root,
        size=32,
        epochs=2,
        batch_size=8,
        limit=2,
        progress=False,
        device="cpu",
    )


def test_set_resumes_a_started_network_and_skips_finished_ones(
    fake_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "set"
    real_train = train_all_module.train
    calls: list[tuple[str, bool]] = []

    def interrupted(config: TrainConfig, **kwargs: Any) -> Any:
        calls.append((config.arch, config.resume))
        if config.arch == "resnet34":  # killed after its first epoch was saved

            def crash(epoch: int, record: dict[str, Any]) -> None:
                raise KeyboardInterrupt

            return real_train(config, on_epoch_end=crash)
        return real_train(config)

    monkeypatch.setattr(train_all_module, "train", interrupted)
    archs = ("resnet18", "resnet34")
    with pytest.raises(KeyboardInterrupt):
        train_all(_base(fake_root, out), archs)
    partial = json.loads((out / "summary.json").read_text())
    assert [r["status"] for r in partial] == ["finished", "not started"]

    monkeypatch.setattr(train_all_module, "train", real_train)
    seen: list[str] = []
    rows = train_all(_base(fake_root, out), archs, log=seen.append)
    assert calls == [("resnet18", False), ("resnet34", False)]
    assert seen[0] == "resnet18: finished, skipped" and seen[1].startswith("resnet34: resuming")
    history = json.loads((out / "resnet34" / "history.json").read_text())
    assert [r["epoch"] for r in history] == [0, 1]
    assert [r.status for r in rows] == ["finished", "finished"]
    for row in rows:
        metrics = json.loads((out / row.arch / "metrics.json").read_text())
        assert row.test_accuracy == metrics["test"]["accuracy"]
        assert row.epochs_done == row.epochs == 2 and row.seconds_per_epoch
        assert row.precision == "fp32" and row.recipe == "scratch + batch_size=8"
    saved = json.loads((out / "summary.json").read_text())
    assert saved == [r.to_dict() for r in rows]
    table = (out / "summary.md").read_text()
    assert table == summary_markdown(rows) and "| resnet34 | finished | 2/2 |" in table
    assert table.splitlines()[-1].endswith("| fp32 | scratch + batch_size=8 |")


def test_a_network_locked_by_a_live_process_is_left_to_it(fake_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "set"
    (out / "resnet18").mkdir(parents=True)
    holder = {"pid": os.getpid(), "host": socket.gethostname()}  # alive: this very process
    (out / "resnet18" / LOCK).write_text(json.dumps(holder))
    seen: list[str] = []
    rows = train_all(_base(fake_root, out), ("resnet18", "resnet34"), log=seen.append)
    assert seen[0].startswith("resnet18: being trained by another process")
    assert [r.status for r in rows] == ["not started", "finished"]
    assert not (out / "resnet34" / LOCK).exists()  # released after training
    assert json.loads((out / "resnet18" / LOCK).read_text()) == holder  # not touched


def test_stale_and_foreign_locks(tmp_path: Path) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()  # its pid is free now (reuse within this test is vanishingly unlikely)
    run = tmp_path / "resnet18"
    run.mkdir()
    (run / LOCK).write_text(json.dumps({"pid": dead.pid, "host": socket.gethostname()}))
    assert take_lock(run)  # a dead process's lock on this host is taken over
    assert json.loads((run / LOCK).read_text())["pid"] == os.getpid()
    assert not take_lock(run)  # held now, by a live process
    mine = json.loads((run / LOCK).read_text())
    if sys.platform.startswith("linux"):  # /proc tells a reused pid and a restart
        assert isinstance(mine["started"], int) and mine["boot"]
        # the pid is alive but its process started after the lock was written
        (run / LOCK).write_text(json.dumps({**mine, "started": mine["started"] - 1}))
        assert take_lock(run)
        (run / LOCK).write_text(json.dumps({**mine, "boot": "an-earlier-boot"}))
        assert take_lock(run)  # written before the machine restarted
    (run / LOCK).write_text(json.dumps({"pid": os.getpid(), "host": socket.gethostname()}))
    assert not take_lock(run)  # an old-style lock of a live pid: respected
    (run / LOCK).write_text(json.dumps({"pid": dead.pid, "host": "another-machine"}))
    assert not take_lock(run)  # cannot tell whether it lives: respected
    (run / LOCK).write_text("{")  # being written
    assert not take_lock(run)
    old = time.time() - 2 * UNREADABLE_GRACE_S
    os.utime(run / LOCK, (old, old))  # ... and never finished: stale
    assert take_lock(run)
