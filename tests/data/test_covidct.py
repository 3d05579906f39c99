"""CovidCT and resolve_root on the real data and on fake data sets with every quirk."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from causalcam.data import CLASSES, CovidCT, open_grey, resolve_root
from causalcam.data.fake import fake_scan
from causalcam.errors import DataError


@pytest.mark.parametrize(
    ("split", "covid", "noncovid"), [("train", 191, 234), ("val", 60, 58), ("test", 98, 105)]
)
def test_real_split_counts(real_root: Path, split: str, covid: int, noncovid: int) -> None:
    dataset = CovidCT(real_root, split)
    assert len(dataset) == covid + noncovid
    assert dataset.targets.count(0) == covid and dataset.targets.count(1) == noncovid
    assert dataset.classes == ["CT_COVID", "CT_NonCOVID"]
    assert all(path.parent.name == CLASSES[label] for path, label in dataset.samples)


def test_real_splits_are_disjoint_and_quirky_files_decode(real_root: Path) -> None:
    paths = [p for split in ("train", "val", "test") for p, _ in CovidCT(real_root, split).samples]
    assert len(paths) == len(set(paths)) == 746
    jpeg_in_png = [p for p in paths if p.suffix == ".png" and p.read_bytes()[:3] == b"\xff\xd8\xff"]
    assert len(jpeg_in_png) == 34
    image = open_grey(jpeg_in_png[0])
    assert image.mode == "L" and min(image.size) > 0


def test_fake_quirks_load_as_grey(fake_root: Path) -> None:
    crlf = (fake_root / "Data-split/NonCOVID/trainCT_NonCOVID.txt").read_bytes()
    assert b"\r\n" in crlf and not crlf.endswith(b"\n")
    dataset = CovidCT(fake_root, "train")
    assert len(dataset) == 16 and dataset.targets == [0] * 8 + [1] * 8
    names = [path.name for path, _ in dataset.samples]
    assert any("%" in name for name in names)
    modes = {Image.open(path).mode for path, _ in dataset.samples}
    assert {"RGBA", "RGB", "L"} <= modes
    formats = {(path.suffix, Image.open(path).format) for path, _ in dataset.samples}
    assert (".png", "JPEG") in formats
    for index in range(len(dataset)):
        image, label = dataset[index]
        assert image.mode == "L" and image.size == (48, 40) and label == dataset.targets[index]


def test_grey_values_survive_every_mode(fake_root: Path) -> None:
    dataset = CovidCT(fake_root, "val")
    png = [i for i, (p, _) in enumerate(dataset.samples) if Image.open(p).format == "PNG"]
    assert png
    for index in png:  # lossless files decode to the exact grey values written
        image, _ = dataset[index]
        values = np.asarray(image)
        assert values.dtype == np.uint8 and values.shape == (40, 48)
    expected = fake_scan(0, 16)  # first val COVID image is number 16 in write order
    assert np.array_equal(np.asarray(dataset[0][0]), expected)


def test_transform_is_applied(fake_root: Path) -> None:
    dataset = CovidCT(fake_root, "test", transform=lambda image: image.size)
    assert dataset[0] == ((48, 40), 0)


def test_resolve_root_order(
    fake_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, isolated_cache: Path
) -> None:
    with pytest.raises(DataError, match="causalcam data import"):
        resolve_root()
    cached = isolated_cache / "covid-ct"
    cached.mkdir(parents=True)
    assert resolve_root() == cached
    monkeypatch.setenv("CAUSALCAM_DATA", str(fake_root))
    assert resolve_root() == fake_root
    assert resolve_root(tmp_path) == tmp_path
    with pytest.raises(DataError, match="nowhere"):
        resolve_root(tmp_path / "nowhere")


def test_unknown_split(fake_root: Path) -> None:
    with pytest.raises(DataError, match="unknown split 'dev'"):
        CovidCT(fake_root, "dev")


def _append(fake_root: Path, line: str, split: str = "train") -> Path:
    listing = fake_root / f"Data-split/COVID/{split}CT_COVID.txt"
    listing.write_bytes(listing.read_bytes() + line.encode() + b"\n")
    return listing


def test_missing_file_names_split_line(fake_root: Path) -> None:
    listing = _append(fake_root, "ghost.png")
    with pytest.raises(
        DataError, match=rf"{re.escape(str(listing))}:9: listed file .*ghost.png does not exist"
    ):
        CovidCT(fake_root, "train")


def test_duplicate_entry(fake_root: Path) -> None:
    listing = _append(fake_root, "train-covid-0.png")
    with pytest.raises(
        DataError, match=rf"{re.escape(str(listing))}:9: duplicate entry .* \(first on line 1\)"
    ):
        CovidCT(fake_root, "train")


@pytest.mark.parametrize(
    "entry", ["../CT_NonCOVID/train1.png", "sub/x.png", "..", "a\\b.png", "/etc/hostname"]
)
def test_escaping_entries_are_rejected_not_followed(fake_root: Path, entry: str) -> None:
    (fake_root / "CT_COVID" / "sub").mkdir()
    Image.new("L", (8, 8)).save(fake_root / "CT_COVID" / "sub" / "x.png")
    listing = _append(fake_root, entry)
    with pytest.raises(DataError, match=rf"{re.escape(str(listing))}:9: entry .* rejected"):
        CovidCT(fake_root, "train")


def test_all_listing_problems_reported_together(fake_root: Path) -> None:
    _append(fake_root, "ghost.png")
    _append(fake_root, "../x.png")
    with pytest.raises(DataError, match="2 problem") as caught:
        CovidCT(fake_root, "train")
    assert "ghost.png" in str(caught.value) and "../x.png" in str(caught.value)


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty"])
def test_unreadable_image_names_file_and_line(fake_root: Path, damage: str) -> None:
    dataset = CovidCT(fake_root, "test")
    path = dataset.samples[1][0]
    data = path.read_bytes()
    broken = {"truncate": data[: len(data) // 2], "garbage": b"not an image" * 20, "empty": b""}
    path.write_bytes(broken[damage])
    listing = fake_root / "Data-split/COVID/testCT_COVID.txt"
    with pytest.raises(
        DataError,
        match=rf"cannot decode image .*{path.name} \(listed at {re.escape(str(listing))}:2\)",
    ):
        dataset[1]


def test_sixteen_bit_grey_is_scaled_to_eight_bits(tmp_path: Path) -> None:
    values = np.array([[0, 256, 32768, 65535]], dtype=np.uint16)
    Image.fromarray(values).save(tmp_path / "deep.png")
    assert np.asarray(open_grey(tmp_path / "deep.png")).tolist() == [[0, 1, 128, 255]]
