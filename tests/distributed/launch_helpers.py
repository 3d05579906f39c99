"""Start causalcam as several processes on the loopback interface, as torchrun would."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from causalcam.data.fake import fake_scan

LIMIT_S = 180  # no launch in these tests may take longer
COLLECTIVE_TIMEOUT_S = "60"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def base_env(cache: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        CAUSALCAM_CACHE=str(cache),
        CAUSALCAM_DIST_TIMEOUT=COLLECTIVE_TIMEOUT_S,
        OMP_NUM_THREADS="1",
        OMP_WAIT_POLICY="PASSIVE",
        MPLBACKEND="Agg",
    )
    return env


@dataclass
class Finished:
    returncode: int
    stdout: str
    stderr: str


def start_rank(
    args: Sequence[str],
    rank: int,
    world: int,
    port: int,
    env: Mapping[str, str],
    cwd: Path | None = None,
) -> subprocess.Popen[str]:
    """``python -m causalcam ARGS`` as rank ``rank`` of ``world`` (torchrun's variables)."""
    variables = {
        **env,
        "RANK": str(rank),
        "LOCAL_RANK": str(rank),
        "WORLD_SIZE": str(world),
        "LOCAL_WORLD_SIZE": str(world),
        "MASTER_ADDR": "127.0.0.1",
        "MASTER_PORT": str(port),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "causalcam", *args],
        env=variables,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process: subprocess.Popen[str]) -> Finished:
    try:
        out, err = process.communicate(timeout=LIMIT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
    return Finished(process.returncode, out, err)


def launch(
    args: Sequence[str],
    world: int,
    env: Mapping[str, str],
    cwds: Sequence[Path | None] | None = None,
) -> list[Finished]:
    """Run ``world`` ranks of ``python -m causalcam ARGS`` to the end; their results."""
    port = free_port()
    processes = [
        start_rank(args, rank, world, port, env, (cwds or [None] * world)[rank])
        for rank in range(world)
    ]
    return [finish(process) for process in processes]


def torchrun(args: Sequence[str], world: int, env: Mapping[str, str]) -> Finished:
    """``torchrun --nproc_per_node WORLD -m causalcam ARGS`` on the loopback interface."""
    runner = shutil.which("torchrun", path=str(Path(sys.executable).parent)) or "torchrun"
    command = [
        runner,
        "--nnodes=1",
        f"--nproc_per_node={world}",
        "--master_addr=127.0.0.1",
        f"--master_port={free_port()}",
        "-m",
        "causalcam",
        *args,
    ]
    done = subprocess.run(command, env=dict(env), capture_output=True, text=True, timeout=LIMIT_S)
    return Finished(done.returncode, done.stdout, done.stderr)


def write_scans(folder: Path, count: int) -> Path:
    """``count`` synthetic scans ``s00.png``, ``s01.png``, ... in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(count):
        Image.fromarray(fake_scan(index % 2, index)).save(folder / f"s{index:02d}.png")
    return folder
