"""Lung masks on synthetic chest scans with known lungs, mass shares by hand, the table."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from causalcam.errors import InputError
from causalcam.evaluate.localisation import (
    LungMask,
    localisation_table,
    lung_mask,
    lung_masks,
    mass_share,
    pointing_hits,
    write_localisation,
)
from causalcam.extras import MissingExtraError, installed
from causalcam.results import LocalisationResult


def _ellipse(shape: tuple[int, int], cy: float, cx: float, ry: float, rx: float) -> np.ndarray:
    y, x = np.mgrid[: shape[0], : shape[1]]
    return ((y - cy) / ry) ** 2 + ((x - cx) / rx) ** 2 <= 1


def synthetic_chest(
    size: int = 112, seed: int = 0, crop: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """A grey uint8 chest: flat black air, a textured bright body with a table below, two
    dark lungs with bright vessel dots; ``crop`` zooms in so the lungs touch the border."""
    rng = np.random.default_rng(seed)
    big = size * 2 if crop else size
    shape = (big, big)
    image = np.zeros(shape)
    body = _ellipse(shape, 0.48 * big, 0.5 * big, 0.36 * big, 0.46 * big)
    image[body] = 0.7 + 0.05 * rng.standard_normal(body.sum())
    image[int(0.9 * big) : int(0.94 * big), int(0.05 * big) : int(0.95 * big)] = 0.8  # table
    lungs = _ellipse(shape, 0.45 * big, 0.3 * big, 0.24 * big, 0.13 * big) | _ellipse(
        shape, 0.45 * big, 0.7 * big, 0.24 * big, 0.13 * big
    )
    image[lungs] = 0.12 + 0.04 * rng.standard_normal(lungs.sum())
    vessels = lungs & (rng.random(shape) < 0.02)
    image[vessels] = 0.6
    if crop:  # keep the middle: lungs run off the image, no air outside the body
        middle = slice(int(0.25 * big), int(0.25 * big) + size)
        image, lungs = image[middle, middle], lungs[middle, middle]
    return (np.clip(image, 0, 1) * 255).astype(np.uint8), lungs


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / (a | b).sum())


@pytest.mark.parametrize("seed", [0, 1])
def test_mask_of_a_whole_chest_finds_both_lungs(seed: int) -> None:
    image, truth = synthetic_chest(seed=seed)
    mask = lung_mask(image)
    assert mask.status == "ok"  # the chest wall is closed around the lungs
    assert _iou(mask.lungs, truth) > 0.85
    assert not mask.lungs[0].any() and not mask.lungs[:, 0].any()  # outside air left out
    assert mask.body[int(0.45 * 112), 56] and not mask.body[2, 2]


def test_mask_of_a_tight_crop_keeps_lungs_that_touch_the_border() -> None:
    image, truth = synthetic_chest(crop=True)
    assert truth[:, 0].any()  # the left lung runs off the image
    mask = lung_mask(image)
    assert mask.status == "hull" and _iou(mask.lungs, truth) > 0.85


def test_flat_or_lungless_images_give_an_empty_mask() -> None:
    assert lung_mask(np.full((40, 40), 128, np.uint8)).status == "empty"
    body_only = np.zeros((64, 64), np.uint8)
    body_only[_ellipse((64, 64), 32, 32, 25, 25)] = 200
    assert lung_mask(body_only).status == "empty"
    with pytest.raises(InputError, match="grey image"):
        lung_mask(np.zeros((4, 4, 3)))


def test_mass_share_and_pointing_by_hand() -> None:
    maps = torch.zeros(3, 4, 4)
    maps[0, 0, 0], maps[0, 3, 3] = 3.0, 1.0  # 3 of 4 inside
    maps[1] = 1.0  # uniform: the region's area
    regions = torch.zeros(3, 4, 4, dtype=torch.bool)
    regions[:, :2, :2] = True
    share = mass_share(maps, regions)
    assert share[0].item() == pytest.approx(0.75) and share[1].item() == pytest.approx(0.25)
    assert torch.isnan(share[2])  # an all-zero map has no mass to place
    assert pointing_hits(maps[:2], regions[:2]).tolist() == [True, True]


def test_table_on_known_maps() -> None:
    chests = [synthetic_chest(seed=s) for s in range(6)]
    images = torch.from_numpy(np.stack([c[0] for c in chests]))
    nothing = np.zeros((112, 112), bool)
    masks = [*lung_masks(images), LungMask(nothing, nothing, "empty")]
    lungs = torch.from_numpy(np.stack([m.lungs for m in masks]))
    maps = {
        "on_lungs": torch.cat([lungs[:-1].float(), torch.ones(1, 112, 112)]),
        "uniform": torch.ones(7, 112, 112),
        "table": torch.zeros(7, 112, 112),
    }
    maps["table"][:, 100:106] = 1.0
    result = localisation_table(maps, masks, "synthetic", n_boot=200)
    rows = {r.method: r for r in result.rows}
    assert result.mask_status == {"ok": 6, "hull": 0, "empty": 1} and rows["uniform"].n == 6
    assert rows["on_lungs"].lung_share == pytest.approx(1.0) and rows["on_lungs"].pointing == 1
    chance = float(lungs[:-1].double().mean())
    assert rows["uniform"].lung_share == pytest.approx(chance) == rows["uniform"].chance
    assert rows["uniform"].ci_low <= chance <= rows["uniform"].ci_high
    assert rows["uniform"].excess == pytest.approx(0, abs=1e-9)
    assert rows["on_lungs"].excess_low > 0.5 and rows["table"].excess_high < 0
    assert rows["table"].lung_share == 0 and rows["table"].body_share < 0.5
    assert "LESS than a uniform map" in " ".join(result.notes)
    with pytest.raises(InputError, match="have shape"):
        localisation_table({"bad": torch.ones(2, 112, 112)}, masks)


def test_written_tables(tmp_path: Path) -> None:
    image, _ = synthetic_chest()
    masks = lung_masks(torch.from_numpy(image)[None])
    result = localisation_table({"uniform": torch.ones(1, 112, 112)}, masks, "m", n_boot=10)
    paths = write_localisation(result, tmp_path)
    assert [p.name for p in paths] == ["localisation.json", "localisation.csv", "localisation.md"]
    saved = json.loads(paths[0].read_text())
    assert saved["rows"][0]["method"] == "uniform" and saved["model"] == "m"
    assert "| uniform |" in paths[2].read_text()


def test_missing_scikit_image_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "skimage.filters", None)  # import fails
    with pytest.raises(MissingExtraError, match=r"causalcam\[localisation\]"):
        lung_mask(np.zeros((8, 8), np.uint8))


def test_a_method_whose_maps_are_all_zero_is_reported_not_averaged() -> None:
    lungs = np.zeros((16, 16), dtype=bool)
    lungs[4:12, 2:7] = lungs[4:12, 9:14] = True
    mask = LungMask(lungs, np.ones_like(lungs), "ok")
    maps = {
        "flat": torch.zeros(3, 16, 16),
        "lungs": torch.from_numpy(lungs).float().repeat(3, 1, 1),
    }
    result = localisation_table(maps, [mask] * 3, n_boot=50)
    flat, inside = result.rows
    assert flat.n == 0 and np.isnan(flat.lung_share)
    assert inside.n == 3 and inside.lung_share == pytest.approx(1.0)
    assert "- flat: every map is zero (degenerate); nothing to measure." in result.notes
    again = LocalisationResult.from_json(json.loads(json.dumps(result.to_json())))
    assert again.rows[1] == inside and again.rows[0].n == 0 and np.isnan(again.rows[0].excess)


def test_installed_tells_whether_an_extra_is_importable() -> None:
    assert installed("localisation")  # make test installs every extra
    assert not installed("no-such-extra")
