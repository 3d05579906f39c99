"""The process group of a ``torchrun`` launch: who this process is, its device, collectives.

torchrun (and any launcher following its conventions) sets ``RANK``, ``WORLD_SIZE``,
``LOCAL_RANK``, ``LOCAL_WORLD_SIZE``, ``MASTER_ADDR`` and ``MASTER_PORT``. Without them the
process is a single-process run and every collective here is the identity. Each process uses
the GPU of its ``LOCAL_RANK`` (NCCL) or the CPU (gloo). Collectives wait at most
``$CAUSALCAM_DIST_TIMEOUT`` seconds (default :data:`DEFAULT_TIMEOUT_S`), so a dead or stuck
process makes the others fail with a message instead of waiting for hours.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist

from .._io import atomic_write_json
from ..errors import CausalCamError, InputError
from ..evaluate.store import digest_of

DEFAULT_TIMEOUT_S = 600
TIMEOUT_VARIABLE = "CAUSALCAM_DIST_TIMEOUT"
RUN_FILE = ".causalcam-run.json"
DISTRIBUTED_COMMANDS: tuple[str, ...] = ("explain", "evaluate", "transfer", "reproduce")


class DistributedError(CausalCamError, RuntimeError):
    """The processes of a launch could not meet: one died, is stuck, or never started."""


@contextmanager
def _collective(what: str, ctx: Context) -> Iterator[None]:
    try:
        yield
    except (RuntimeError, dist.DistError) as error:
        if isinstance(error, CausalCamError):
            raise
        raise DistributedError(
            f"rank {ctx.rank} of {ctx.world_size}: {what} failed (another process died, is "
            f"stuck, or did not start; waited at most {ctx.timeout.total_seconds():.0f} s, "
            f"${TIMEOUT_VARIABLE}): {str(error).splitlines()[0] if str(error) else error!r}"
        ) from error


@dataclass(frozen=True)
class Context:
    """This process's place in the launch (single process: rank 0 of 1)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    local_world_size: int = 1
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    timeout: timedelta = timedelta(seconds=DEFAULT_TIMEOUT_S)

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0 writes the outputs and prints the results."""
        return self.rank == 0

    @property
    def backend(self) -> str:
        return "nccl" if self.device.type == "cuda" else "gloo"

    def all_gather(self, value: Any) -> list[Any]:
        """``value`` of every rank, in rank order (picklable objects)."""
        if not self.distributed:
            return [value]
        gathered: list[Any] = [None] * self.world_size
        with _collective("gathering results", self):
            dist.all_gather_object(gathered, value)
        return gathered

    def broadcast(self, value: Any) -> Any:
        """Rank 0's ``value`` on every rank."""
        if not self.distributed:
            return value
        box = [value]
        with _collective("receiving rank 0's plan", self):
            dist.broadcast_object_list(box, src=0)
        return box[0]

    def barrier(self) -> None:
        if self.distributed:
            with _collective("waiting for every process to finish", self):
                dist.barrier()


_SINGLE = Context()
_current: Context = _SINGLE


def current() -> Context:
    """The context of the running :func:`join_launch` (a single process outside one)."""
    return _current


def launched() -> bool:
    """Whether this process was started by torchrun with more than one process."""
    return _int_variable("WORLD_SIZE", 1) > 1


def _int_variable(name: str, default: int) -> int:
    text = os.environ.get(name)
    if text is None or text == "":
        return default
    try:
        return int(text)
    except ValueError:
        raise InputError(f"environment variable {name}={text!r} is not an integer") from None


def timeout_from_env() -> timedelta:
    """``$CAUSALCAM_DIST_TIMEOUT`` seconds (> 0), default :data:`DEFAULT_TIMEOUT_S`."""
    text = os.environ.get(TIMEOUT_VARIABLE, str(DEFAULT_TIMEOUT_S))
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not seconds > 0:
        raise InputError(f"{TIMEOUT_VARIABLE}={text!r}: expected a number of seconds > 0")
    return timedelta(seconds=seconds)


def context_from_env(device: torch.device) -> Context:
    """Read torchrun's variables; ``device`` (already resolved) becomes this rank's device."""
    world = _int_variable("WORLD_SIZE", 1)
    rank, local_rank = _int_variable("RANK", 0), _int_variable("LOCAL_RANK", 0)
    local_world = _int_variable("LOCAL_WORLD_SIZE", world)
    if world < 1 or not 0 <= rank < world or not 0 <= local_rank < max(local_world, 1):
        raise InputError(
            f"inconsistent launch variables RANK={rank}, WORLD_SIZE={world}, "
            f"LOCAL_RANK={local_rank}, LOCAL_WORLD_SIZE={local_world}"
        )
    if world > 1:
        missing = [name for name in ("MASTER_ADDR", "MASTER_PORT") if not os.environ.get(name)]
        if missing:
            raise InputError(
                f"WORLD_SIZE={world} but {' and '.join(missing)} not set: start several "
                "processes with torchrun (see the README)"
            )
        device = rank_device(device, local_rank)
    return Context(rank, world, local_rank, local_world, device, timeout_from_env())


def rank_device(device: torch.device, local_rank: int) -> torch.device:
    """The device of one process: CPU stays CPU; CUDA becomes the GPU ``LOCAL_RANK``."""
    if device.type != "cuda":
        return device
    if device.index is not None:
        raise InputError(
            f"--device {device} names one GPU, but under torchrun every process uses the GPU "
            "of its LOCAL_RANK: pass --device cuda (or auto)"
        )
    count = torch.cuda.device_count()
    if local_rank >= count:
        raise InputError(
            f"LOCAL_RANK {local_rank} but only {count} GPU(s) are visible: start at most "
            f"{count} processes per node (--nproc_per_node)"
        )
    return torch.device("cuda", local_rank)


@contextmanager
def join_launch(
    device: torch.device,
    *,
    out_dir: str | os.PathLike[str] | None = None,
    identity: Mapping[str, Any] | None = None,
) -> Iterator[Context]:
    """Join the launch's process group for the block (nothing to join in a single process).

    ``identity`` (e.g. the command and its options) must be equal on every rank; with
    ``out_dir`` the folder is claimed for this run (see :func:`claim_folder`) and released
    when the block ends without an error.
    """
    global _current
    ctx = context_from_env(device)
    if not ctx.distributed:
        yield ctx
        return
    if not dist.is_available():
        raise InputError(f"WORLD_SIZE={ctx.world_size} but this torch has no torch.distributed")
    if ctx.device.type == "cuda":
        torch.cuda.set_device(ctx.device)
    where = f"{os.environ['MASTER_ADDR']}:{os.environ['MASTER_PORT']}"
    with _collective(f"joining the {ctx.world_size} processes at {where}", ctx):
        dist.init_process_group(
            ctx.backend, rank=ctx.rank, world_size=ctx.world_size, timeout=ctx.timeout
        )
    try:
        fingerprint = digest_of(dict(identity or {}))
        check_agreement(ctx, command=fingerprint)
        if out_dir is not None:
            claim_folder(ctx, Path(out_dir), fingerprint, dict(identity or {}))
        _current = ctx
        yield ctx
        ctx.barrier()
        if out_dir is not None and ctx.is_main:
            (Path(out_dir) / RUN_FILE).unlink(missing_ok=True)
    finally:
        _current = _SINGLE
        dist.destroy_process_group()


def check_agreement(ctx: Context, **hashes: str) -> None:
    """Raise (on every rank) when the ranks' ``hashes`` differ: naming what and which ranks."""
    gathered = ctx.all_gather(hashes)
    for name, mine in gathered[0].items():
        differing = [rank for rank, theirs in enumerate(gathered) if theirs.get(name) != mine]
        if differing:
            raise InputError(
                f"the processes disagree on the {name}: rank 0 has {mine}, rank(s) "
                f"{', '.join(map(str, differing))} have "
                f"{', '.join(str(gathered[r].get(name)) for r in differing)}; start every "
                "process with the same command, files and checkpoint"
            )


def claim_folder(ctx: Context, out_dir: Path, fingerprint: str, identity: dict[str, Any]) -> None:
    """Rank 0 marks ``out_dir`` as used by this run; a different unfinished run there is an
    error on every rank. The mark stays when a run fails, so a rerun of the same command
    resumes and any other run is refused until the mark is removed."""
    message = None
    if ctx.is_main:
        message = _claim(out_dir, fingerprint, identity, ctx.world_size)
    message = ctx.broadcast(message)
    if message:
        raise InputError(message)


def _claim(out_dir: Path, fingerprint: str, identity: dict[str, Any], world: int) -> str | None:
    path = out_dir / RUN_FILE
    try:
        previous = json_or_none(path)
    except OSError as error:
        return f"cannot read {path}: {error}"
    if previous is not None and previous.get("fingerprint") != fingerprint:
        return (
            f"output folder {out_dir} belongs to another run that has not finished "
            f"(started {previous.get('started')} on {previous.get('host')}: "
            f"{previous.get('identity')}); give this run another --out, or delete {path} "
            "if that run is over"
        )
    atomic_write_json(
        path,
        {
            "fingerprint": fingerprint,
            "identity": identity,
            "world_size": world,
            "host": socket.gethostname(),
            "started": (previous or {}).get("started")
            or datetime.now(UTC).isoformat(timespec="seconds"),
        },
    )
    return None


def json_or_none(path: Path) -> dict[str, Any] | None:
    """A JSON object from ``path``; ``None`` when missing or unreadable as JSON."""
    if not path.is_file():
        return None
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        return None
    return payload if isinstance(payload, dict) else None
