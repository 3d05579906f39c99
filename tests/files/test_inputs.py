"""Classifying and decoding the files of a run (causalcam.files.inputs)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from causalcam.errors import InputError
from causalcam.files.inputs import MAX_PIXELS, Reading, file_kind, gather, read_image_scan
from causalcam.medical import Window


def test_sixteen_bit_images_keep_their_depth_until_windowed(tmp_path: Path) -> None:
    values = np.array([[1000, 1010], [1020, 4000]], dtype=np.uint16)
    path = tmp_path / "deep.png"
    Image.fromarray(values).save(path)
    default = read_image_scan(path, Reading())
    assert default.pixels.tolist() == [[0, 1], [2, 255]]  # minmax over the 16-bit values
    narrow = read_image_scan(path, Reading(Window(20.0, 1010.0)))
    assert narrow.pixels.tolist() == [[0, 128], [255, 255]]  # 10 apart is visible after all
    assert default.facts["image"]["bit_depth"] == 16


def test_kinds_by_name_and_content(tmp_path: Path) -> None:
    png = tmp_path / "scan"
    Image.new("L", (4, 4)).save(png, format="PNG")
    (tmp_path / "README.md").write_text("# study")
    (tmp_path / "notes").write_text("free text")
    assert file_kind(png) == "image"
    assert file_kind(tmp_path / "README.md") == "ignored"
    assert file_kind(tmp_path / "notes") == "ignored"
    assert file_kind(tmp_path / "notes", explicit=True) == "image"  # asked for: must decode
    found = gather([tmp_path])
    assert [item.label for item in found.items] == [png] and len(found.ignored) == 2


def test_empty_folder_and_huge_image(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "README").write_text("nothing here")
    with pytest.raises(InputError, match="holds no image files"):
        gather([tmp_path / "empty"])
    big = tmp_path / "big.png"
    side = int(MAX_PIXELS**0.5) + 1
    Image.new("1", (side, side)).save(big)
    found = gather([big])
    assert list(found.scans()) == []
    assert "megapixels" in found.skipped[0].reason and found.skipped[0].file == str(big)


def test_colour_images_keep_their_colour_and_grey_ones_stay_grey(tmp_path: Path) -> None:
    Image.new("RGB", (5, 4), (200, 10, 30)).save(tmp_path / "colour.png")
    Image.new("P", (5, 4), 3).save(tmp_path / "palette.gif")
    Image.new("L", (5, 4), 77).save(tmp_path / "grey.png")
    colour = read_image_scan(tmp_path / "colour.png", Reading())
    assert colour.pixels.shape == (4, 5, 3) and colour.pixels[0, 0].tolist() == [200, 10, 30]
    assert read_image_scan(tmp_path / "palette.gif", Reading()).pixels.shape == (4, 5, 3)
    grey = read_image_scan(tmp_path / "grey.png", Reading())
    assert grey.pixels.shape == (4, 5) and int(grey.pixels[0, 0]) == 77
