"""Train a set of networks one after another into one folder, resumable, with a summary table.

:func:`train_all` runs :func:`causalcam.training.train` for each architecture in
``out_dir/<arch>/``: a network whose ``metrics.json`` exists is finished and skipped, one with a
``last.pt`` is resumed after its last saved epoch (exactly as an uninterrupted run), others
start fresh. After each network the summary (``summary.json`` and ``summary.md``: validation
and test accuracy, epochs, seconds per epoch) is rewritten, so an interrupted set still
reports what it has. Behind ``causalcam train-all``.

Several ``train-all`` processes may share one set folder (two on a 2-core machine, one
thread each): a network being trained holds ``<arch>/.training.lock`` (the process id and
host), the others skip it and take the next network. A lock left by a process that died on
this host is taken over; one from another host is respected until it is deleted.
"""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._io import atomic_write_json, atomic_write_text
from ..models.checkpoint import read_checkpoint
from .loop import TrainConfig, train, trained_precision
from .recipes import recipe_label

PAPER_ARCHS: tuple[str, ...] = ("resnet18", "resnet34", "resnet50", "densenet121", "densenet169")


@dataclass(frozen=True)
class NetworkSummary:
    """One network of the set: where it stands and how its selected model scores."""

    arch: str
    status: str  # "finished" | "running" (epochs saved, not finished) | "not started"
    epochs_done: int
    epochs: int
    best_epoch: int | None = None  # counted from 1
    val_accuracy: float | None = None
    test_accuracy: float | None = None
    test_auc: float | None = None
    seconds_per_epoch: float | None = None  # median over the epochs run
    precision: str | None = None
    recipe: str | None = None  # ``train.recipe_label``: the name and the fields changed

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _median(values: Sequence[float]) -> float | None:
    ordered = sorted(values)
    if not ordered:
        return None
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def summarise(run_dir: Path, arch: str, epochs: int) -> NetworkSummary:
    """The :class:`NetworkSummary` of the run in ``run_dir`` (from its files only)."""
    metrics_path, history_path = run_dir / "metrics.json", run_dir / "history.json"
    history = json.loads(history_path.read_text()) if history_path.is_file() else []
    seconds = _median([float(r["seconds"]) for r in history])
    if not metrics_path.is_file():
        status = "running" if history else "not started"
        precision = recipe = None
        if (run_dir / "last.pt").is_file():
            config = read_checkpoint(run_dir / "last.pt")["meta"]["config"]
            precision = trained_precision(config)
            recipe = recipe_label(config["recipe"])
        return NetworkSummary(
            arch,
            status,
            len(history),
            epochs,
            seconds_per_epoch=seconds,
            precision=precision,
            recipe=recipe,
        )
    metrics = json.loads(metrics_path.read_text())
    return NetworkSummary(
        arch=arch,
        status="finished",
        epochs_done=len(history),
        epochs=int(metrics["recipe"]["epochs"]),
        best_epoch=int(metrics["best_epoch"]) + 1,
        val_accuracy=metrics["val"]["accuracy"],
        test_accuracy=metrics["test"]["accuracy"],
        test_auc=metrics["test"]["auc"],
        seconds_per_epoch=seconds,
        precision=trained_precision(metrics),
        recipe=recipe_label(metrics["recipe"]),
    )


def _cell(value: float | int | str | None, digits: int = 3) -> str:
    if value is None:
        return "-"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def summary_markdown(rows: Sequence[NetworkSummary]) -> str:
    """The summary as a markdown table."""
    lines = [
        "| network | status | epochs | best epoch | val acc | test acc | test AUC | s/epoch "
        "| precision | recipe |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        cells = [
            r.arch,
            r.status,
            f"{r.epochs_done}/{r.epochs}",
            _cell(r.best_epoch),
            _cell(r.val_accuracy),
            _cell(r.test_accuracy),
            _cell(r.test_auc),
            _cell(r.seconds_per_epoch, 1),
            _cell(r.precision),
            _cell(r.recipe),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_summary(out_dir: Path, rows: Sequence[NetworkSummary]) -> tuple[Path, Path]:
    """Write ``summary.json`` and ``summary.md`` atomically; return their paths."""
    json_path = atomic_write_json(out_dir / "summary.json", [r.to_dict() for r in rows])
    md_path = atomic_write_text(out_dir / "summary.md", summary_markdown(rows))
    return json_path, md_path


LOCK = ".training.lock"
UNREADABLE_GRACE_S = 60.0  # an unreadable lock younger than this is being written


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def _boot_id() -> str | None:
    """This boot of the machine (Linux), so a lock from before a restart is known stale."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text(encoding="ascii").strip()
    except OSError:
        return None


def _started(pid: int) -> int | None:
    """When process ``pid`` started (clock ticks since boot; Linux), to tell a reused pid."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[19])  # field 22 of proc(5)


def _holder(host: str) -> dict[str, Any]:
    pid = os.getpid()
    return {"pid": pid, "host": host, "boot": _boot_id(), "started": _started(pid)}


def _holds(holder: dict[str, Any], host: str) -> bool:
    """Whether the process named in a lock may still hold it: one on another host always
    may; on this host, not if the machine has restarted since, the pid is dead, or the pid
    now belongs to a process started later."""
    if holder.get("host") not in (None, host):
        return True
    boot = holder.get("boot")
    if boot is not None and boot != _boot_id():
        return False
    pid = int(holder.get("pid", 0))
    if not _alive(pid):
        return False
    started = holder.get("started")
    return started is None or started == _started(pid)


def take_lock(run_dir: Path) -> bool:
    """Claim ``run_dir`` for this process; False when a live process (or one on another
    host) holds it. A stale lock on this host (its process dead, its pid reused, or written
    before the machine restarted) is replaced."""
    run_dir.mkdir(parents=True, exist_ok=True)
    path, host = run_dir / LOCK, socket.gethostname()
    for _ in range(3):
        try:
            handle = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            try:
                holder = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError):  # being written, or its writer died
                try:
                    age = time.time() - path.stat().st_mtime
                except FileNotFoundError:
                    continue  # released meanwhile: try again
                if age < UNREADABLE_GRACE_S:
                    return False
                holder = {}
            if _holds(holder, host):
                return False
            path.unlink(missing_ok=True)
            continue
        with os.fdopen(handle, "w", encoding="utf-8") as lock:
            json.dump(_holder(host), lock)
        return True
    return False


def train_all(
    base: TrainConfig,
    archs: Sequence[str] = PAPER_ARCHS,
    log: Callable[[str], None] = lambda message: None,
) -> list[NetworkSummary]:
    """Train each of ``archs`` with ``base`` (its ``out_dir`` holds one folder per network),
    skipping finished networks and resuming started ones; return the summary rows."""
    out_dir = Path(base.out_dir)
    epochs = base.resolved_recipe().epochs

    def summary() -> list[NetworkSummary]:
        rows = [summarise(out_dir / a, a, epochs) for a in archs]
        write_summary(out_dir, rows)
        return rows

    for arch in archs:
        run_dir = out_dir / arch
        if (run_dir / "metrics.json").is_file():
            log(f"{arch}: finished, skipped")
            continue
        if not take_lock(run_dir):
            log(f"{arch}: being trained by another process ({run_dir / LOCK}), skipped")
            continue
        try:
            resume = (run_dir / "last.pt").is_file()
            log(f"{arch}: {'resuming' if resume else 'starting'} in {run_dir}")
            summary()
            result = train(dataclasses.replace(base, arch=arch, out_dir=run_dir, resume=resume))
        finally:
            (run_dir / LOCK).unlink(missing_ok=True)
        log(
            f"{arch}: val accuracy {result.metrics['val']['accuracy']:.4f}, "
            f"test accuracy {result.metrics['test']['accuracy']:.4f}"
        )
    return summary()
