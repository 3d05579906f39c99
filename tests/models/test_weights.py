"""Your own classifier from its weights (causalcam.models.weights, causalcam.load_model): a timm
MobileNetV3 saved by the test (random weights, no download), wrapper prefixes, and every error
naming the file, key or option at fault."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
from torch import nn

import causalcam
from causalcam import models
from causalcam.errors import CheckpointError, InputError
from causalcam.extras import MissingExtraError
from causalcam.models.weights import read_labels, read_state_dict, strip_wrappers

timm = pytest.importorskip("timm")
safetensors_torch = pytest.importorskip("safetensors.torch")

ARCH = "mobilenetv3_small_050"
CLASSES = 4


@pytest.fixture(scope="module")
def timm_state() -> dict[str, torch.Tensor]:
    """A randomly initialised timm MobileNetV3 (4 classes) as a state dict."""
    torch.manual_seed(0)
    return timm.create_model(ARCH, pretrained=False, num_classes=CLASSES).state_dict()


def _save(state: dict[str, torch.Tensor], path: Path) -> Path:
    if path.suffix == ".safetensors":
        safetensors_torch.save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    else:
        torch.save(state, path)
    return path


def test_timm_weights_from_safetensors_fit_with_their_defaults(
    timm_state: dict[str, torch.Tensor], tmp_path: Path
) -> None:
    network = causalcam.load_model(ARCH, _save(timm_state, tmp_path / "m.safetensors"))
    assert isinstance(network, causalcam.Network) and network.classes is None
    assert network.preprocessing.rgb and network.preprocessing.size == 224
    loaded = network.model.state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in timm_state.items())
    assert not network.model.training
    # timm's last feature stage, not the 1x1 conv after its global pooling
    assert models.default_target_layer(network.model) == "blocks.5"


@pytest.mark.parametrize(
    "wrap",
    [
        lambda s: {f"module.{k}": v for k, v in s.items()},  # DistributedDataParallel
        lambda s: {"state_dict": {f"model.{k}": v for k, v in s.items()}, "epoch": 3},  # Lightning
        lambda s: {f"module._orig_mod.{k}": v for k, v in s.items()},  # DDP of torch.compile
    ],
    ids=["ddp", "lightning", "ddp-compile"],
)
def test_wrapper_prefixes_are_stripped(
    wrap: object, timm_state: dict[str, torch.Tensor], tmp_path: Path
) -> None:
    path = tmp_path / "wrapped.pt"
    torch.save(wrap(timm_state), path)  # type: ignore[operator]
    network = causalcam.load_model(ARCH, path, labels=["a", "b", "c", "d"])
    assert network.classes == ("a", "b", "c", "d")
    head = network.model.state_dict()["classifier.weight"]
    assert torch.equal(head, timm_state["classifier.weight"])


def test_strip_wrappers_keeps_keys_that_already_fit() -> None:
    state = {"model.weight": torch.zeros(1), "bias": torch.zeros(1)}
    assert strip_wrappers(state, ["model.weight", "bias"]) == state


def test_keys_that_do_not_fit_are_named_with_their_shapes(
    timm_state: dict[str, torch.Tensor], tmp_path: Path
) -> None:
    missing = dict(timm_state)
    del missing["conv_stem.weight"]
    with pytest.raises(
        CheckpointError,
        match=rf"m.pt does not fit {ARCH}: conv_stem.weight of {ARCH} is missing from the weights$",
    ):
        causalcam.load_model(ARCH, _save(missing, tmp_path / "m.pt"))
    extra = {**timm_state, "extra.weight": torch.zeros(2)}
    with pytest.raises(CheckpointError, match=r"the weights hold extra.weight, which"):
        causalcam.load_model(ARCH, _save(extra, tmp_path / "e.pt"))
    wrong = {**timm_state, "conv_stem.weight": torch.zeros(8, 3, 3, 3)}
    shape = tuple(timm_state["conv_stem.weight"].shape)
    with pytest.raises(
        CheckpointError,
        match=rf"conv_stem.weight is \(8, 3, 3, 3\) in the weights but "
        rf"\({', '.join(map(str, shape))}\) in {ARCH}$",
    ):
        causalcam.load_model(ARCH, _save(wrong, tmp_path / "w.pt"))


def test_class_counts_must_agree(timm_state: dict[str, torch.Tensor], tmp_path: Path) -> None:
    path = _save(timm_state, tmp_path / "m.pt")
    with pytest.raises(InputError, match="--num-classes says 3, the output layer of the weights"):
        causalcam.load_model(ARCH, path, num_classes=3)
    with pytest.raises(InputError, match="the labels name 2"):
        causalcam.load_model(ARCH, path, labels=["a", "b"])


def test_files_that_are_no_state_dict(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match=r"gone.pt does not exist"):
        read_state_dict(tmp_path / "gone.pt")
    torch.save([1, 2], tmp_path / "list.pt")
    with pytest.raises(CheckpointError, match="holds no state dict"):
        read_state_dict(tmp_path / "list.pt")
    torch.save({"weight": torch.zeros(1), "step": 3}, tmp_path / "mixed.pt")
    with pytest.raises(CheckpointError, match="entry 'step' is no tensor"):
        read_state_dict(tmp_path / "mixed.pt")
    (tmp_path / "junk.pth").write_bytes(b"not a pickle")
    with pytest.raises(CheckpointError, match=r"cannot read weights file .*junk.pth"):
        read_state_dict(tmp_path / "junk.pth")
    models.save_checkpoint(
        tmp_path / "ours.pt",
        nn.Linear(2, 2),
        models.CheckpointMeta(arch="resnet18", classes=["a", "b"]),
    )
    with pytest.raises(CheckpointError, match="is a causalcam checkpoint: pass it as --model"):
        read_state_dict(tmp_path / "ours.pt")


def test_safetensors_without_the_extra_names_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "safetensors.torch", None)
    (tmp_path / "m.safetensors").write_bytes(b"{}")
    with pytest.raises(MissingExtraError, match=r"causalcam\[models\]"):
        read_state_dict(tmp_path / "m.safetensors")


def test_architecture_and_factory_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(InputError, match="neither a torchvision nor a timm model name"):
        causalcam.load_model("resnet9000")
    with pytest.raises(InputError, match="not both or neither"):
        causalcam.load_model()
    with pytest.raises(InputError, match=r"expected package.module:function"):
        causalcam.load_model(factory="no_colon")
    with pytest.raises(InputError, match="cannot import no_such_module"):
        causalcam.load_model(factory="no_such_module:build")
    (tmp_path / "user_nets.py").write_text(
        "import torch\n"
        "def build():\n    return torch.nn.Sequential(torch.nn.Conv2d(3, 2, 1))\n"
        "def broken():\n    return 'a string'\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])
    monkeypatch.delitem(sys.modules, "user_nets", raising=False)
    network = causalcam.load_model(factory="user_nets:build")
    assert isinstance(network.model[0], nn.Conv2d)
    with pytest.raises(InputError, match="user_nets has no function absent"):
        causalcam.load_model(factory="user_nets:absent")
    with pytest.raises(InputError, match=r"is a str, not a torch.nn.Module"):
        causalcam.load_model(factory="user_nets:broken")


def test_labels_file(tmp_path: Path) -> None:
    (tmp_path / "labels.txt").write_text("cat\n\n dog \n")
    assert read_labels(tmp_path / "labels.txt") == ("cat", "dog")
    (tmp_path / "empty.txt").write_text("\n")
    with pytest.raises(InputError, match=r"empty.txt holds no class names"):
        read_labels(tmp_path / "empty.txt")
    with pytest.raises(InputError, match="cannot read the labels file"):
        read_labels(tmp_path / "absent.txt")
