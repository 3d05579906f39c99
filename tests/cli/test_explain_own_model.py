"""`causalcam explain` on your own model and colour photos: a torchvision ResNet-50 state dict
saved by the test (random weights, 64 px), a timm model in .safetensors, a model of your own
code (--factory); colour kept through preprocessing and in the overlays; every mix-up of
options a usage error."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision
from PIL import Image
from typer.testing import CliRunner

import causalcam
from causalcam.cli import app
from causalcam.files import ExplainSettings, explain_files

runner = CliRunner()
SIZE = 64
RED, BLUE = (230, 20, 20), (20, 20, 230)


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two colour photos: red left and blue right (PNG), all blue (JPEG), and all red."""
    folder = tmp_path_factory.mktemp("photos")
    halves = np.zeros((80, 80, 3), np.uint8)
    halves[:, :40], halves[:, 40:] = RED, BLUE
    Image.fromarray(halves).save(folder / "halves.png")
    Image.new("RGB", (90, 70), BLUE).save(folder / "blue.jpg", quality=95)
    Image.new("RGB", (70, 90), RED).save(folder / "red.png")
    return folder


@pytest.fixture(scope="module")
def resnet50_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A randomly initialised torchvision ResNet-50 with 3 classes, saved as DDP would."""
    torch.manual_seed(0)
    model = torchvision.models.resnet50(weights=None, num_classes=3)
    path = tmp_path_factory.mktemp("weights") / "my_weights.pth"
    torch.save({f"module.{k}": v for k, v in model.state_dict().items()}, path)
    return path


def _summary(out: Path) -> dict:  # type: ignore[type-arg]
    return json.loads((out / "explanations.json").read_text())


def test_resnet50_weights_explain_colour_photos(
    photos: Path, resnet50_weights: Path, tmp_path: Path
) -> None:
    (tmp_path / "labels.txt").write_text("cat\ndog\nfox\n")
    out = tmp_path / "out"
    args = ["explain", str(photos), "--arch", "resnet50", "--weights", str(resnet50_weights)]
    args += ["--labels", str(tmp_path / "labels.txt"), "--size", str(SIZE), "--out", str(out)]
    result = runner.invoke(app, [*args, "--methods", "gradcam,causal", "--quiet"])
    assert result.exit_code == 0, result.output
    summary = _summary(out)
    model = summary["model"]
    assert model["arch"] == "resnet50" and model["classes"] == ["cat", "dog", "fox"]
    assert model["target_layer"] == "layer4" and model["warning"] is None
    assert model["preprocessing"]["rgb"] is True and model["input_size"] == SIZE
    assert {r["predicted_class"] for r in summary["images"]} <= {"cat", "dog", "fox"}
    with Image.open(out / "halves" / "overlay_gradcam.png") as picture:
        overlay = np.asarray(picture.convert("RGB"), dtype=np.float64)
    assert overlay.shape == (SIZE, SIZE, 3)
    red = overlay[:, : SIZE // 2 - 6]
    blue = overlay[:, SIZE // 2 + 6 :]
    # the photo's colour shows through the heat map, where a grey scan's would not
    assert (red[..., 0] - red[..., 2]).mean() > 80
    assert (blue[..., 2] - blue[..., 0]).mean() > 30


def test_timm_safetensors_with_classes_from_the_weights(photos: Path, tmp_path: Path) -> None:
    timm = pytest.importorskip("timm")
    safetensors_torch = pytest.importorskip("safetensors.torch")
    torch.manual_seed(0)
    model = timm.create_model("mobilenetv3_small_050", pretrained=False, num_classes=5)
    path = tmp_path / "net.safetensors"
    safetensors_torch.save_file(model.state_dict(), str(path))
    out = tmp_path / "out"
    args = ["explain", str(photos / "red.png"), "--arch", "mobilenetv3_small_050"]
    args += ["--weights", str(path), "--size", str(SIZE), "--mean", "0.5", "--std", "0.5,0.5,0.5"]
    result = runner.invoke(app, [*args, "--out", str(out), "--methods", "gradcam", "--quiet"])
    assert result.exit_code == 0, result.output
    model_json = _summary(out)["model"]
    assert model_json["classes"] == ["0", "1", "2", "3", "4"]
    assert model_json["target_layer"] == "blocks.5"
    assert model_json["preprocessing"] == {
        "size": SIZE,
        "mean": [0.5, 0.5, 0.5],
        "std": [0.5, 0.5, 0.5],
        "rgb": True,
    }


COLOUR_NET = '''
import torch


def build():
    """Logit 0 grows with red minus blue, logit 1 with blue minus red."""
    conv = torch.nn.Conv2d(3, 2, 1, bias=False)
    with torch.no_grad():
        conv.weight.copy_(torch.tensor([[1.0, 0.0, -1.0], [-1.0, 0.0, 1.0]]).view(2, 3, 1, 1))
    return torch.nn.Sequential(conv, torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten())
'''


@pytest.fixture
def factory_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory holding ``colour_net.py`` and ``labels.txt``."""
    (tmp_path / "colour_net.py").write_text(COLOUR_NET)
    (tmp_path / "labels.txt").write_text("red\nblue\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])
    monkeypatch.delitem(sys.modules, "colour_net", raising=False)
    return tmp_path


def test_factory_model_sees_colour_unless_grey(photos: Path, factory_dir: Path) -> None:
    """Red and blue photos are told apart in colour; as grey (--grey) they are not."""
    files = [str(photos / "red.png"), str(photos / "blue.jpg")]
    common = ["--factory", "colour_net:build", "--labels", "labels.txt", "--size", "32"]
    common += ["--methods", "gradcam", "--quiet"]
    result = runner.invoke(app, ["explain", *files, *common, "--out", "colour"])
    assert result.exit_code == 0, result.output
    colour = _summary(factory_dir / "colour")
    assert [r["predicted_class"] for r in colour["images"]] == ["red", "blue"]
    assert colour["model"]["arch"] == "factory colour_net:build"
    result = runner.invoke(app, ["explain", *files, *common, "--grey", "--out", "grey"])
    assert result.exit_code == 0, result.output
    grey = _summary(factory_dir / "grey")
    assert "rgb" not in grey["model"]["preprocessing"]
    assert len({r["predicted_class"] for r in grey["images"]}) == 1


def test_load_model_and_explain_files_from_python(photos: Path, factory_dir: Path) -> None:
    network = causalcam.load_model(factory="colour_net:build", labels=["red", "blue"])
    assert network.preprocessing.rgb and network.classes == ("red", "blue")
    run = explain_files(
        [photos / "halves.png"], network, factory_dir / "py", ExplainSettings(methods=["gradcam"])
    )
    assert run.records[0]["predicted_class"] in ("red", "blue")
    assert _summary(factory_dir / "py")["model"]["preprocessing"]["rgb"] is True


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--model", "default", "--arch", "resnet18"], "not --model and --arch"),
        (["--weights", "w.pth"], "give one of --model, --arch or --factory"),
        (["--model", "default", "--weights", "w.pth"], "--weights goes with --arch or --factory"),
        (["--model", "default", "--size", "96"], "--size goes with --arch or --factory"),
        (["--arch", "resnet18", "--mean", "0.1,0.2"], "give one number or three"),
        (["--arch", "resnet18", "--size", "4"], "4 pixels is too small"),
    ],
)
def test_model_option_mix_ups_are_usage_errors(
    photos: Path, extra: list[str], message: str
) -> None:
    result = runner.invoke(app, ["explain", str(photos), *extra])
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())


def test_weights_that_do_not_fit_give_one_sentence(
    photos: Path, resnet50_weights: Path, tmp_path: Path
) -> None:
    args = ["explain", str(photos), "--arch", "resnet34", "--weights", str(resnet50_weights)]
    result = runner.invoke(app, [*args, "--out", str(tmp_path / "out")])
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [
        "error: my_weights.pth does not fit resnet34: layer1.0.conv1.weight is (64, 64, 1, 1) "
        "in the weights but (64, 64, 3, 3) in resnet34 (133 more key(s) differ)"
    ]
