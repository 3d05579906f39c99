"""Sharding, the resumable sharded runner, curve joining and launch set-up (one process)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn
from typer.testing import CliRunner

from causalcam.cli import app
from causalcam.distributed import Context, ShardedJob, chunk_ranges, plan, run_sharded
from causalcam.distributed.context import (
    RUN_FILE,
    _claim,
    context_from_env,
    rank_device,
    timeout_from_env,
)
from causalcam.distributed.evaluate import join_curves
from causalcam.distributed.shards import check_enough_items, preferred_chunk, shard_indices
from causalcam.errors import InputError
from causalcam.evaluate import EvaluationSettings, run_deletion_insertion
from causalcam.preprocess import Preprocessing

LAUNCH_VARIABLES = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR")


@pytest.fixture(autouse=True)
def not_launched(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (*LAUNCH_VARIABLES, "MASTER_PORT"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize("strided", [False, True])
@pytest.mark.parametrize(("n_items", "world"), [(10, 3), (7, 7), (100, 4), (5, 2)])
def test_shards_cover_every_item_once_with_sizes_one_apart(
    n_items: int, world: int, strided: bool
) -> None:
    shards = [shard_indices(n_items, rank, world, strided) for rank in range(world)]
    assert sorted(i for shard in shards for i in shard) == list(range(n_items))
    sizes = [len(shard) for shard in shards]
    assert max(sizes) - min(sizes) <= 1
    if not strided:
        assert [i for shard in shards for i in shard] == list(range(n_items))
    with pytest.raises(InputError, match=f"rank {world} is not in a world of {world}"):
        shard_indices(n_items, world, world)


def test_chunks_and_plans_are_contiguous_complete_and_balanced() -> None:
    chunks = chunk_ranges(21, 8)
    assert [(c.start, c.stop) for c in chunks] == [(0, 8), (8, 16), (16, 21)]
    unfinished = [0, 2, 3, 5, 6, 7, 9]
    shares = plan(unfinished, 3)
    assert [c for share in shares for c in share] == unfinished
    assert [len(share) for share in shares] == [2, 2, 3]
    assert plan([4], 2) == [[], [4]]
    assert preferred_chunk(10, 2, 8) == 5 and preferred_chunk(100, 2, 8) == 8
    with pytest.raises(InputError, match="chunk size"):
        chunk_ranges(3, 0)


def test_more_processes_than_items_is_refused_clearly() -> None:
    with pytest.raises(InputError, match=r"3 processes for 2 image files.*at most 2"):
        check_enough_items(2, 3, "image files")


def _counting_work(calls: list[int]) -> Any:
    def work(chunks: Sequence[tuple[int, range]]) -> Iterator[tuple[int, Any]]:
        for chunk_id, chunk in chunks:
            calls.append(chunk_id)
            yield chunk_id, [i * i for i in chunk]

    return work


def test_a_rerun_recomputes_only_chunks_without_a_valid_marker(tmp_path: Path) -> None:
    job = ShardedJob(10, 3, {"inputs": "a", "model": "b"}, tmp_path / "markers")
    calls: list[int] = []
    results, report = run_sharded(Context(), job, _counting_work(calls))
    assert [x for part in results for x in part] == [i * i for i in range(10)]
    assert calls == [0, 1, 2, 3] and (report.chunks, report.reused) == (4, 0)

    calls.clear()
    (tmp_path / "markers" / "chunks" / "000002.json").unlink()
    (tmp_path / "markers" / "chunks" / "000003.json").write_text("{broken")
    results, report = run_sharded(Context(), job, _counting_work(calls))
    assert calls == [2, 3] and report.reused == 2 and report.computed == (2,)
    assert [x for part in results for x in part] == [i * i for i in range(10)]

    calls.clear()
    changed = ShardedJob(10, 3, {"inputs": "a", "model": "other"}, tmp_path / "markers")
    run_sharded(Context(), changed, _counting_work(calls))
    assert calls == [0, 1, 2, 3]


class _Tiny(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(3)
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.head = nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.conv(x).relu().mean(dim=(2, 3)))


def _brightness(x: torch.Tensor) -> torch.Tensor:
    grey = x.mean(dim=1)
    low = grey.amin(dim=(1, 2), keepdim=True)
    return (grey - low) / (grey.amax(dim=(1, 2), keepdim=True) - low).clamp_min(1e-6)


def test_curves_of_image_chunks_join_into_the_curves_of_all_images() -> None:
    generator = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (9, 12, 12), dtype=torch.uint8, generator=generator)
    labels = torch.arange(9) % 2
    models = {"tiny": (_Tiny().eval(), Preprocessing(size=12))}
    networks = {name: _network(*pair) for name, pair in models.items()}
    settings = EvaluationSettings(thresholds=(0.2, 0.5, 0.7), progress=False)
    common: dict[str, Any] = {"source": "tiny", "settings": settings}
    whole = run_deletion_insertion(networks, {"b": _brightness}, images, labels, **common)
    parts = [
        run_deletion_insertion(networks, {"b": _brightness}, images[a:b], labels[a:b], **common)
        for a, b in ((0, 4), (4, 5), (5, 9))
    ]
    joined = join_curves(parts)
    assert [(c.method, c.mode) for c in joined] == [(c.method, c.mode) for c in whole]
    for mine, reference in zip(joined, whole, strict=True):
        assert (mine.correct == reference.correct).all()
        assert (mine.bits == reference.bits).all()
        assert (mine.original_bits == reference.original_bits).all()


def _network(model: nn.Module, preprocessing: Preprocessing) -> Any:
    from causalcam.evaluate import Network

    return Network(model, preprocessing)


def test_launch_variables_are_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    cpu = torch.device("cpu")
    assert not context_from_env(cpu).distributed
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    with pytest.raises(InputError, match="MASTER_ADDR and MASTER_PORT not set"):
        context_from_env(cpu)
    monkeypatch.setenv("RANK", "2")
    with pytest.raises(InputError, match="RANK=2, WORLD_SIZE=2"):
        context_from_env(cpu)
    monkeypatch.setenv("RANK", "one")
    with pytest.raises(InputError, match="RANK='one'"):
        context_from_env(cpu)
    monkeypatch.setenv("CAUSALCAM_DIST_TIMEOUT", "0")
    with pytest.raises(InputError, match="CAUSALCAM_DIST_TIMEOUT"):
        timeout_from_env()


def test_each_process_takes_the_gpu_of_its_local_rank() -> None:
    assert rank_device(torch.device("cpu"), 3) == torch.device("cpu")
    with pytest.raises(InputError, match="LOCAL_RANK"):
        rank_device(torch.device("cuda", 1), 0)
    if torch.cuda.device_count() < 8:
        with pytest.raises(InputError, match=r"LOCAL_RANK 7 but only \d GPU"):
            rank_device(torch.device("cuda"), 7)


def test_an_output_folder_of_another_unfinished_run_is_refused(tmp_path: Path) -> None:
    assert _claim(tmp_path, "aaa", {"command": "explain"}, 2) is None
    first = json.loads((tmp_path / RUN_FILE).read_text())
    assert _claim(tmp_path, "aaa", {"command": "explain"}, 2) is None
    assert json.loads((tmp_path / RUN_FILE).read_text())["started"] == first["started"]
    message = _claim(tmp_path, "bbb", {"command": "evaluate"}, 2)
    assert message is not None
    assert "belongs to another run" in message and str(tmp_path / RUN_FILE) in message


def test_commands_that_cannot_share_work_refuse_torchrun(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORLD_SIZE", "2")
    result = CliRunner().invoke(app, ["train", "--epochs", "1"])
    assert result.exit_code == 1
    assert "cannot run under torchrun" in result.output
    assert "DistributedDataParallel" in result.output


def test_python_dash_m_causalcam_runs_the_command_line() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "causalcam", "--help"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "explain" in done.stdout and "evaluate" in done.stdout
