"""Images per second of ``causalcam explain`` and ``causalcam evaluate`` on 1 and 2 processes.

Runs the real commands (``python -m causalcam`` and ``torchrun --nproc_per_node 2 -m
causalcam``) on synthetic scans and a fake COVID-CT test split, with a seeded ResNet-18:

- ``1x1``: one process, one thread (``OMP_NUM_THREADS=1``);
- ``2x1``: two processes of one thread each (gloo on the loopback interface);
- ``1x2``: one process with two threads (what a user of one machine has without torchrun).

Prints wall-clock seconds, images per second, the start-up seconds of each set-up (measured
on a one-image run and subtracted for the ``work`` rate), the scaling efficiency
``rate(2x1) / (2 * rate(1x1))`` and the ratios ``2x1 / 1x1`` (target for the evaluation:
>= 1.8) and ``2x1 / 1x2``. With ``--device cuda --procs K`` it compares one process on one GPU
with K processes on K GPUs instead.

Usage: ``python benchmarks/distributed_speed.py [--images 48] [--size 64] [--jobs evaluate]``.
Note the load average printed with the numbers: they only count on a quiet machine.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from PIL import Image

from causalcam import models
from causalcam.data import CLASSES
from causalcam.data.fake import fake_scan, write_fake_dataset
from causalcam.preprocess import Preprocessing


@dataclass(frozen=True)
class Setup:
    name: str
    procs: int
    threads: int


def _command(setup: Setup, args: list[str], port: int) -> list[str]:
    if setup.procs == 1:
        return [sys.executable, "-m", "causalcam", *args]
    runner = shutil.which("torchrun", path=str(Path(sys.executable).parent)) or "torchrun"
    return [
        runner,
        "--nnodes=1",
        f"--nproc_per_node={setup.procs}",
        "--master_addr=127.0.0.1",
        f"--master_port={port}",
        "-m",
        "causalcam",
        *args,
    ]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _run(setup: Setup, args: list[str], work: Path) -> float:
    threads = str(setup.threads)
    env = {
        **os.environ,
        "OMP_NUM_THREADS": threads,
        "MKL_NUM_THREADS": threads,
        "OMP_WAIT_POLICY": "PASSIVE",
        "CAUSALCAM_CACHE": str(work / "cache"),
        "CAUSALCAM_WORKERS": "0",
        "MPLBACKEND": "Agg",
    }
    started = time.perf_counter()
    command = _command(setup, args, _free_port())
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{setup.name} failed:\n{done.stderr[-3000:]}")
    return seconds


def _inputs(work: Path, images: int, size: int) -> tuple[Path, Path, Path]:
    torch.manual_seed(0)
    meta = models.CheckpointMeta(
        arch="resnet18", classes=list(CLASSES), preprocessing=Preprocessing(size=size)
    )
    checkpoint = models.save_checkpoint(
        work / "r18.pt", models.build("resnet18", num_classes=2), meta
    )
    scans = work / "scans"
    scans.mkdir()
    for index in range(images):
        Image.fromarray(fake_scan(index % 2, index, (size, size))).save(scans / f"{index:04d}.png")
    half = images // 2
    data = write_fake_dataset(
        work / "covid-ct", {"train": (1, 1), "val": (1, 1), "test": (half, images - half)}
    )
    return checkpoint, scans, data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=48)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--thresholds", default="0.1:0.8:0.01")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--procs", type=int, default=2)
    parser.add_argument("--jobs", default="explain,evaluate", help="explain and/or evaluate")
    options = parser.parse_args()
    k = options.procs
    if options.device == "cpu":
        setups = [Setup("1x1", 1, 1), Setup(f"{k}x1", k, 1), Setup(f"1x{k}", 1, k)]
    else:
        setups = [Setup("1 GPU", 1, 1), Setup(f"{k} GPUs", k, 1)]
    work = Path(tempfile.mkdtemp(prefix="causalcam-dist-bench-"))
    try:
        checkpoint, scans, data = _inputs(work, options.images, options.size)
        common = ["--device", options.device, "-q"]
        jobs = {
            "explain": ["explain", str(scans), "-m", str(checkpoint), *common],
            "evaluate": [
                "evaluate",
                str(checkpoint),
                "--data",
                str(data),
                "--thresholds",
                options.thresholds,
                "--methods",
                "gradcam,causal",
                "--n-boot",
                "0",
                *common,
            ],
        }
        one = {  # the same commands on one image per shard: the start-up cost
            "explain": [
                *jobs["explain"][:1],
                *(str(scans / f"{index:04d}.png") for index in range(k)),
                *jobs["explain"][2:],
            ],
            "evaluate": [*jobs["evaluate"], "--limit", "1", "--thresholds", "0.5"],
        }
        _run(setups[0], [*one["evaluate"], "--out", str(work / "warm")], work)
        print(f"{options.images} images of {options.size} px, ResNet-18, {options.device}")
        print(f"load average before: {os.getloadavg()}")
        rates: dict[tuple[str, str], float] = {}
        for job, args in jobs.items():
            if job not in options.jobs.split(","):
                continue
            for number, setup in enumerate(setups):
                start = _run(setup, [*one[job], "--out", str(work / f"s-{job}-{number}")], work)
                total = _run(setup, [*args, "--out", str(work / f"{job}-{number}")], work)
                rate = options.images / total
                work_rate = options.images / (total - start) if total > start else float("nan")
                rates[(job, setup.name)] = work_rate
                print(
                    f"{job:8s} {setup.name:7s} {total:7.1f} s  {rate:6.2f} images/s   "
                    f"start {start:5.1f} s  work {work_rate:6.2f} images/s"
                )
            base, multi = rates[(job, setups[0].name)], rates[(job, setups[1].name)]
            line = (
                f"{job}: {setups[1].name} / {setups[0].name} = {multi / base:.2f}x "
                f"(efficiency {multi / (k * base):.0%})"
            )
            if len(setups) > 2:
                line += f"; {setups[1].name} / {setups[2].name} = "
                line += f"{multi / rates[(job, setups[2].name)]:.2f}x"
            print(line)
        print(f"load average after: {os.getloadavg()}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
