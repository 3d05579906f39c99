"""Training the 3-D network on generated volumes: reproducible, resumable, recorded."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from causalcam import models
from causalcam.errors import InputError
from causalcam.training import volumes
from causalcam.training.volumes import VolumeTrainConfig, generate_volumes, train_volumes


def _config(out: Path, **changes: object) -> VolumeTrainConfig:
    values: dict[str, object] = {
        "out_dir": out,
        "size": 24,
        "epochs": 2,
        "per_epoch": 8,
        "test": 8,
        "batch_size": 4,
        "progress": False,
    }
    return VolumeTrainConfig(**(values | changes))  # type: ignore[arg-type]


def test_generated_volumes_come_in_chunks_that_join_up(monkeypatch: pytest.MonkeyPatch) -> None:
    design = _config(Path(".")).volume_design()
    monkeypatch.setattr(volumes, "GENERATE_CHUNK", 3)
    data = generate_volumes(design, 7, seed=0, split="test")
    assert data.images.shape == (7, 24, 24, 24) and data.masks["lesion"].shape == (7, 24, 24, 24)
    assert data.design.ndim == 3 and data.design.classes == ("clear", "lesion")
    lesion = data.masks["lesion"].flatten(1).any(1)
    assert lesion.all()  # every volume has a lesion mask, present or not
    assert (data.present["lesion"] == (data.labels == 1)).all()


def test_a_resumed_run_ends_where_an_uninterrupted_one_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = train_volumes(_config(tmp_path / "whole"))
    real_epoch = volumes._epoch

    def stop_at_second(*args: object) -> float:
        if args[3] == 1:
            raise KeyboardInterrupt
        return real_epoch(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(volumes, "_epoch", stop_at_second)
    with pytest.raises(KeyboardInterrupt):
        train_volumes(_config(tmp_path / "cut"))
    monkeypatch.setattr(volumes, "_epoch", real_epoch)
    resumed = train_volumes(_config(tmp_path / "cut", resume=True))
    assert [h["epoch"] for h in resumed.history] == [0, 1]
    a = models.load_checkpoint(whole.model_path)
    b = models.load_checkpoint(resumed.model_path)
    for key, value in a.model.state_dict().items():
        torch.testing.assert_close(value, b.model.state_dict()[key])
    assert a.meta.metrics == b.meta.metrics and 0 <= a.meta.metrics["test"]["accuracy"] <= 1
    assert a.meta.volume == models.VolumeGrid((24, 24, 24), (1.0, 1.0, 1.0))
    assert a.meta.arch == "small3d" and a.meta.classes == ["clear", "lesion"]
    with pytest.raises(InputError, match="other settings"):
        train_volumes(_config(tmp_path / "cut", resume=True, lr=1e-3))
