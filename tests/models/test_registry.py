"""models.build, default_target_layer and local ImageNet initialisation."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torchvision

from causalcam.errors import CheckpointError, InputError
from causalcam.models import PAPER_ARCHS, build, default_target_layer


@pytest.mark.parametrize("name", PAPER_ARCHS)
def test_paper_archs_give_two_logits(name: str) -> None:
    torch.manual_seed(0)
    model = build(name).eval()
    with torch.no_grad():
        assert model(torch.randn(1, 3, 64, 64)).shape == (1, 2)
    layer = default_target_layer(model)
    assert layer == ("layer4" if name.startswith("resnet") else "features.norm5")
    assert default_target_layer(name) == layer
    assert isinstance(model.get_submodule(layer), torch.nn.Module)


def test_other_torchvision_models() -> None:
    model = build("mobilenet_v3_small", num_classes=3)
    assert model(torch.randn(2, 3, 64, 64)).shape == (2, 3)
    assert default_target_layer("mobilenet_v3_small") == "features.12"
    assert default_target_layer("squeezenet1_0") == "features.12"


def test_torchvision_segmentation_networks_build_offline() -> None:
    """Backbone included, with random weights (nothing to download: the machine is offline);
    the maps' layer is the backbone's last stage; causalcam's training refuses them."""
    from causalcam.models.weights import build_arch
    from causalcam.training import TrainConfig

    model = build("lraspp_mobilenet_v3_large", num_classes=3).eval()
    with torch.no_grad():
        assert model(torch.randn(1, 3, 64, 64))["out"].shape == (1, 3, 64, 64)
    assert default_target_layer(model) == "backbone.16"
    assert default_target_layer("fcn_resnet50") == "backbone.layer4"
    assert type(build_arch("deeplabv3_mobilenet_v3_large", 4)).__name__ == "DeepLabV3"
    with pytest.raises(InputError, match="has no ImageNet weights"):
        build("fcn_resnet50", weights="w.pth")
    with pytest.raises(InputError, match="causalcam trains classifiers"):
        TrainConfig(arch="fcn_resnet50")


def test_unknown_arch_and_bad_class_count() -> None:
    with pytest.raises(InputError, match="unknown architecture 'resnet19'"):
        build("resnet19")
    with pytest.raises(InputError, match="num_classes must be at least 2"):
        build("resnet18", num_classes=1)


def test_local_imagenet_weights_initialise_body(tmp_path: Path) -> None:
    torch.manual_seed(1)
    imagenet = torchvision.models.resnet18()
    file = tmp_path / "resnet18-imagenet.pth"
    torch.save(imagenet.state_dict(), file)
    model = build("resnet18", weights=file)
    assert torch.equal(model.conv1.weight, imagenet.conv1.weight)
    assert torch.equal(model.layer4[1].bn2.running_var, imagenet.layer4[1].bn2.running_var)
    assert model.fc.out_features == 2 and model.fc.in_features == 512
    densenet = torchvision.models.densenet121()
    torch.save(densenet.state_dict(), tmp_path / "d.pth")
    assert build("densenet121", 2, tmp_path / "d.pth").classifier.out_features == 2


def test_bad_imagenet_weights(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="does not exist"):
        build("resnet18", weights=tmp_path / "missing.pth")
    (tmp_path / "junk.pth").write_bytes(b"junk")
    with pytest.raises(CheckpointError, match="cannot read ImageNet weights file"):
        build("resnet18", weights=tmp_path / "junk.pth")
    torch.save(torchvision.models.resnet34().state_dict(), tmp_path / "r34.pth")
    with pytest.raises(CheckpointError, match="does not match ResNet ImageNet weights"):
        build("resnet18", weights=tmp_path / "r34.pth")
