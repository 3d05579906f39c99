"""Self-supervised pretraining: the two losses against slow references, a resumable run on
fake scans, and fine-tuning from its encoder."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

import causalcam.training.pretraining as pretrain_module
from causalcam.cli import app
from causalcam.data.fake import write_fake_dataset
from causalcam.errors import CheckpointError, InputError
from causalcam.models import build
from causalcam.models.registry import encoder_state, head_name, load_encoder
from causalcam.training import TrainConfig, train
from causalcam.training.pretraining import PretrainConfig, nt_xent, pretrain, rotation_loss


@pytest.fixture
def fake_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CAUSALCAM_CACHE", str(tmp_path / "cache"))
    return write_fake_dataset(tmp_path / "covid-ct")


def _config(root: Path, out: Path, **changes: object) -> PretrainConfig:
    base = PretrainConfig(
        out_dir=out, data_root=root, epochs=2, batch_size=4, size=32, limit=8, progress=False
    )
    return PretrainConfig(**{**base.__dict__, **changes})


def test_nt_xent_equals_the_formula_written_out() -> None:
    torch.manual_seed(0)
    z, tau = torch.randn(6, 5), 0.3
    unit = [v / v.norm() for v in z]
    expected = 0.0
    for i in range(6):
        partner = (i + 3) % 6
        others = sum(math.exp(float(unit[i] @ unit[k]) / tau) for k in range(6) if k != i)
        expected -= math.log(math.exp(float(unit[i] @ unit[partner]) / tau) / others)
    assert float(nt_xent(z, tau)) == pytest.approx(expected / 6, rel=1e-5)


def test_nt_xent_is_low_when_the_views_agree_and_high_when_they_do_not() -> None:
    views = torch.eye(4)
    assert float(nt_xent(torch.cat([views, views]), 0.1)) < 1e-3
    assert float(nt_xent(torch.cat([views, views.roll(1, 0)]), 0.1)) > 5


def test_rotation_loss_asks_for_each_quarter_turn() -> None:
    images = torch.arange(2 * 4 * 4, dtype=torch.float32).view(2, 4, 4)
    seen: list[torch.Tensor] = []

    def model(x: torch.Tensor) -> torch.Tensor:
        seen.append(x)
        logits = torch.full((x.shape[0], 4), -20.0)
        logits[:, 0] = 20.0  # always says "not turned"
        return logits

    loss = rotation_loss(model, images)  # type: ignore[arg-type]
    (turned,) = seen
    for k in range(4):
        assert torch.equal(turned[2 * k : 2 * k + 2], torch.rot90(images, k, dims=(-2, -1)))
    assert float(loss) == pytest.approx(3 / 4 * 40, rel=1e-4)  # wrong on 3 of 4 turns


@pytest.mark.parametrize("method", ["rotation", "simclr"])
def test_an_interrupted_pretraining_resumes_where_it_stopped(
    fake_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, method: str
) -> None:
    out = tmp_path / method
    real_epoch = pretrain_module._epoch

    def dies_in_epoch_one(config, run, images, epoch, bar):  # type: ignore[no-untyped-def]
        if epoch == 1:
            raise KeyboardInterrupt  # stands in for kill -9 after epoch 0 was saved
        return real_epoch(config, run, images, epoch, bar)

    monkeypatch.setattr(pretrain_module, "_epoch", dies_in_epoch_one)
    with pytest.raises(KeyboardInterrupt):
        pretrain(_config(fake_root, out, method=method))
    first = json.loads((out / "history.json").read_text())
    assert [r["epoch"] for r in first] == [0] and math.isfinite(first[0]["loss"])
    monkeypatch.undo()

    encoder = pretrain(_config(fake_root, out, method=method))
    history = json.loads((out / "history.json").read_text())
    assert [r["epoch"] for r in history] == [0, 1] and history[0] == first[0]
    payload = torch.load(encoder, weights_only=True)
    assert payload["meta"]["method"] == method and payload["meta"]["epochs_done"] == 2
    assert not any(key.startswith("fc.") for key in payload["state_dict"])
    with pytest.raises(InputError, match="cannot resume"):
        pretrain(_config(fake_root, out, method=method, lr=0.1))


def test_fine_tuning_starts_from_the_encoder_but_a_new_head(
    fake_root: Path, tmp_path: Path
) -> None:
    encoder = pretrain(_config(fake_root, tmp_path / "pre", epochs=1))
    state = torch.load(encoder, weights_only=True)["state_dict"]
    model = build("resnet18", 2)
    head_before = model.fc.weight.clone()
    load_encoder(model, encoder, "resnet18")
    assert torch.equal(model.conv1.weight, state["conv1.weight"])
    assert torch.equal(model.fc.weight, head_before) and head_name(model) == "fc"
    assert set(encoder_state(model)) == set(state)
    with pytest.raises(CheckpointError, match="not resnet34"):
        load_encoder(build("resnet34", 2), encoder, "resnet34")
    with pytest.raises(CheckpointError, match="not an encoder"):
        torch.save(model.state_dict(), tmp_path / "plain.pt")
        load_encoder(model, tmp_path / "plain.pt", "resnet18")

    config = TrainConfig(
        arch="resnet18",
        recipe="scratch",
        out_dir=tmp_path / "fine",
        data_root=fake_root,
        epochs=1,
        size=32,
        limit=4,
        progress=False,
        init=encoder,
    )
    result = train(config)
    saved = torch.load(result.last_path, weights_only=True)
    assert saved["meta"]["config"]["train"]["init"] == str(encoder)


def test_the_command_line_names_an_unknown_pretext_task(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["pretrain", "--method", "jigsaw", "--out", str(tmp_path)])
    assert result.exit_code == 1
    assert "unknown pretext task 'jigsaw'; choose rotation, simclr" in result.stderr
