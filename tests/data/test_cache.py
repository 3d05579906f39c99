"""The uint8 tensor cache: evaluation preprocessing, reuse, invalidation, corruption."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from causalcam.data import CovidCT, cache, load_split
from causalcam.data.cache import eval_resize, prepare
from causalcam.errors import DataError


def test_real_test_split_tensors(real_root: Path) -> None:
    images, labels = load_split("test", size=64, root=real_root)
    assert images.shape == (203, 64, 64) and images.dtype == torch.uint8
    assert labels.dtype == torch.int64 and labels.bincount().tolist() == [98, 105]


def test_evaluation_preprocessing_matches_pil(fake_root: Path) -> None:
    images, labels = load_split("val", size=32, root=fake_root)
    dataset = CovidCT(fake_root, "val")
    assert labels.tolist() == dataset.targets
    for index in range(len(dataset)):
        expected = prepare(dataset[index][0], eval_resize(32), 32)
        assert np.array_equal(images[index].numpy(), expected)
    # shorter side 40 -> round(32*256/224) = 37, then the centre 32x32
    grey = np.arange(40 * 48, dtype=np.uint8).reshape(40, 48)
    resized = np.asarray(Image.fromarray(grey).resize((44, 37), Image.Resampling.BILINEAR))
    assert prepare(Image.fromarray(grey), 37, 32).shape == (32, 32)
    assert abs(int(prepare(Image.fromarray(grey), 37, 32)[16, 16]) - int(resized[18, 22])) <= 2


def test_second_load_does_not_decode(fake_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = load_split("train", size=24, root=fake_root)

    def refuse(*args: object) -> None:
        raise AssertionError("decoded again")

    monkeypatch.setattr(cache, "open_grey", refuse)
    second = load_split("train", size=24, root=fake_root)
    assert torch.equal(first[0], second[0]) and torch.equal(first[1], second[1])


def _cache_files(isolated_cache: Path, split: str) -> list[Path]:
    return sorted((isolated_cache / "covidct").glob(f"{split}-*.pt"))


def test_changed_image_rebuilds_and_drops_stale(fake_root: Path, isolated_cache: Path) -> None:
    before, _ = load_split("test", size=24, root=fake_root)
    old_files = _cache_files(isolated_cache, "test")
    path = CovidCT(fake_root, "test").samples[0][0]
    Image.new("L", (48, 40), color=7).save(path, format="PNG")
    os.utime(path, ns=(1, 1))  # a different mtime even on coarse clocks
    after, _ = load_split("test", size=24, root=fake_root)
    assert not torch.equal(before[0], after[0]) and int(after[0].max()) == 7
    assert torch.equal(before[1:], after[1:])
    new_files = _cache_files(isolated_cache, "test")
    assert len(new_files) == 1 and new_files != old_files


def test_changed_split_file_rebuilds(fake_root: Path) -> None:
    before, _ = load_split("val", size=24, root=fake_root)
    listing = fake_root / "Data-split/COVID/valCT_COVID.txt"
    lines = listing.read_text().splitlines()
    listing.write_text("\n".join(lines[:-1]) + "\n")
    after, labels = load_split("val", size=24, root=fake_root)
    assert len(after) == len(before) - 1 and labels.tolist().count(0) == 3


def test_sizes_are_cached_separately(fake_root: Path, isolated_cache: Path) -> None:
    load_split("test", size=24, root=fake_root)
    load_split("test", size=32, root=fake_root)
    assert len(_cache_files(isolated_cache, "test")) == 2


def test_corrupt_cache_is_rebuilt(fake_root: Path, isolated_cache: Path) -> None:
    expected, _ = load_split("test", size=24, root=fake_root)
    (cached,) = _cache_files(isolated_cache, "test")
    cached.write_bytes(b"garbage")
    images, _ = load_split("test", size=24, root=fake_root)
    assert torch.equal(images, expected)


def test_bad_image_fails_naming_line(fake_root: Path) -> None:
    path = CovidCT(fake_root, "val").samples[2][0]
    path.write_bytes(path.read_bytes()[:40])
    with pytest.raises(DataError, match=rf"{path.name} \(listed at .*valCT_COVID.txt:3\)"):
        load_split("val", size=24, root=fake_root)
