"""The 3-D network and the input grid a 3-D checkpoint records."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from causalcam import models
from causalcam.errors import InputError
from causalcam.explain import Explainer
from causalcam.models import CheckpointMeta, SmallCNN3d, VolumeGrid, volume_input
from causalcam.preprocess import Preprocessing
from causalcam.training.volumes import VolumeTrainConfig, generate_volumes


def test_small3d_reads_one_grey_channel_and_its_cam_layer_is_a_quarter() -> None:
    model = models.build("small3d", num_classes=2).eval()
    assert isinstance(model, SmallCNN3d)
    assert models.default_target_layer("small3d") == models.default_target_layer(model) == "block4"
    grid = VolumeGrid((16, 24, 32), (1.0, 1.0, 2.0))
    seen: list[torch.Size] = []
    model.block4.register_forward_hook(lambda _m, _i, out: seen.append(out.shape))
    volumes = torch.randint(0, 256, (2, 16, 24, 32), dtype=torch.uint8)
    assert model(volume_input(volumes, grid)).shape == (2, 2)
    assert seen == [torch.Size([2, 32, 4, 6, 8])]
    with pytest.raises(InputError, match="expected grey volumes"):
        volume_input(volumes[:, :8], grid)
    with pytest.raises(InputError, match="ImageNet"):
        models.build("small3d", weights="w.pth")


def test_volume_input_normalises_like_the_grid_says() -> None:
    grid = VolumeGrid((2, 2, 2), mean=0.5, std=0.25)
    ones = torch.full((1, 2, 2, 2), 255, dtype=torch.uint8)
    assert torch.allclose(volume_input(ones, grid), torch.full((1, 1, 2, 2, 2), 2.0))
    assert torch.allclose(volume_input(ones.float() / 255, grid), torch.full((1, 1, 2, 2, 2), 2.0))


def test_checkpoint_records_the_grid_and_a_2d_one_stays_as_it_was(tmp_path: Path) -> None:
    grid = VolumeGrid((32, 32, 32), (1.0, 0.8, 0.8))
    model = models.build("small3d", num_classes=2)
    meta = CheckpointMeta("small3d", ["clear", "lesion"], Preprocessing(size=32), volume=grid)
    path = models.save_checkpoint(tmp_path / "net3d.pt", model, meta, half=True)
    loaded = models.load_checkpoint(path)
    assert loaded.meta.volume == grid and isinstance(loaded.model, SmallCNN3d)
    flat = CheckpointMeta("resnet18", ["a", "b"])
    assert "volume" not in flat.to_dict()  # 2-D metadata keeps its old form
    assert CheckpointMeta.from_dict(flat.to_dict()).volume is None


@pytest.mark.parametrize(
    ("shape", "spacing"), [((32, 32), (1.0, 1.0, 1.0)), ((4, 4, 4), (1.0, 0.0, 1.0))]
)
def test_bad_grids_are_refused(shape: tuple[int, ...], spacing: tuple[float, ...]) -> None:
    with pytest.raises(InputError, match="volume grid"):
        VolumeGrid(shape, spacing)  # type: ignore[arg-type]


def test_the_bundled_3d_network_finds_planted_lesions_and_its_gradcam_points_at_them() -> None:
    """Held-out generated volumes (the generator's test split, a seed no training epoch
    draws): classified well above chance, and Grad-CAM puts more of its mass on the lesion
    than a uniform map would."""
    path = models.checkpoint.MODEL_ASSETS / models.BUNDLED_VOLUME_MODELS["small3d-lesion"]
    assert path.stat().st_size < 5 * 2**20
    assert models.read_checkpoint(path)["state_dict"]["block1.0.weight"].dtype == torch.float16
    loaded = models.bundled_model("small3d-lesion")
    grid = loaded.meta.volume
    assert grid is not None and loaded.meta.metrics["test"]["accuracy"] > 0.8
    config = VolumeTrainConfig(size=grid.shape[0], design=loaded.meta.config["design"])
    data = generate_volumes(config.volume_design(), 16, seed=101, split="test")
    inputs = volume_input(data.images, grid)
    explained = Explainer(loaded.model, "block4").explain(inputs, ("gradcam",), target_class=1)
    correct = (explained.predicted == data.labels).sum().item()
    assert correct >= 12  # of 16: chance is 8
    lesion = data.labels == 1
    maps, masks = explained.maps["gradcam"][lesion], data.masks["lesion"][lesion].float()
    share = (maps * masks).flatten(1).sum(1) / maps.flatten(1).sum(1).clamp_min(1e-12)
    uniform = masks.flatten(1).mean(1)
    assert share.mean() > 3 * uniform.mean()
