"""Data packs: written from a folder, served in its place, checked on load, clear errors."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from causalcam.cli import app
from causalcam.data import cache, cached_split, load_split, resolve_root
from causalcam.data.cache import eval_resize, pack_geometries, write_pack
from causalcam.data.pack import PACK_FORMAT, read_pack
from causalcam.errors import DataError


def test_geometries_are_what_training_and_evaluation_read() -> None:
    assert pack_geometries(224) == [("train", 256, 256), ("val", 256, 224), ("test", 256, 224)]
    assert pack_geometries(48) == [("train", 55, 55), ("val", 55, 48), ("test", 55, 48)]


def test_pack_serves_every_split_as_the_folder_does(fake_root: Path, tmp_path: Path) -> None:
    out = write_pack(tmp_path / "fake.ccpack", sizes=(24, 32), root=fake_root)
    assert sorted(out.splits) == sorted(
        f"{s}-r{r}-c{c}" for size in (24, 32) for s, r, c in pack_geometries(size)
    )
    shutil.rmtree(fake_root)  # the images are gone: only the pack answers
    for size in (24, 32):
        for split, resize, crop in pack_geometries(size):
            packed = cached_split(split, resize, crop, root=tmp_path / "fake.ccpack")
            assert packed.images.dtype == torch.uint8 and packed.images.shape[1:] == (crop, crop)
            assert packed.checksum == out.splits[f"{split}-r{resize}-c{crop}"].checksum
    images, labels = load_split("test", size=24, root=tmp_path / "fake.ccpack")
    assert images.shape[-1] == 24 and labels.dtype == torch.int64


def test_pack_equals_decoding(fake_root: Path, tmp_path: Path) -> None:
    write_pack(tmp_path / "fake.ccpack", sizes=(24,), root=fake_root)
    for split, resize, crop in pack_geometries(24):
        direct = cached_split(split, resize, crop, root=fake_root)
        packed = cached_split(split, resize, crop, root=tmp_path / "fake.ccpack")
        assert torch.equal(direct.images, packed.images)
        assert torch.equal(direct.labels, packed.labels) and direct.names == packed.names


def test_environment_variable_names_a_pack(
    fake_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_pack(tmp_path / "fake.ccpack", sizes=(24,), root=fake_root)
    monkeypatch.setenv("CAUSALCAM_DATA", str(tmp_path / "fake.ccpack"))

    def refuse(*args: object) -> None:
        raise AssertionError("decoded an image")

    monkeypatch.setattr(cache, "open_grey", refuse)
    images, _ = load_split("val", size=24)
    assert images.shape[-1] == 24


def test_missing_geometry_names_what_the_pack_holds(fake_root: Path, tmp_path: Path) -> None:
    write_pack(tmp_path / "fake.ccpack", sizes=(24,), root=fake_root)
    with pytest.raises(DataError, match=r"fake\.ccpack.*no test split resized to 37.*test-r27"):
        cached_split("test", eval_resize(32), 32, root=tmp_path / "fake.ccpack")


def test_corrupt_or_foreign_files_are_refused(fake_root: Path, tmp_path: Path) -> None:
    path = tmp_path / "fake.ccpack"
    write_pack(path, sizes=(24,), root=fake_root)
    stored = torch.load(path, weights_only=True)
    stored["splits"]["test-r27-c24"]["images"][0, 0, 0] ^= 1
    torch.save(stored, path)
    with pytest.raises(DataError, match="test-r27-c24 of the pack fails its checksum"):
        read_pack(path)
    torch.save({"format": "other"}, path)
    with pytest.raises(DataError, match=f"not a causalcam data pack.*{PACK_FORMAT}"):
        read_pack(path)
    path.write_bytes(b"not a torch file")
    with pytest.raises(DataError, match="not a causalcam data pack"):
        read_pack(path)


def test_packing_a_pack_and_reading_images_from_one_are_refused(
    fake_root: Path, tmp_path: Path
) -> None:
    write_pack(tmp_path / "fake.ccpack", sizes=(24,), root=fake_root)
    with pytest.raises(DataError, match="already a pack"):
        write_pack(tmp_path / "again.ccpack", root=tmp_path / "fake.ccpack")
    with pytest.raises(DataError, match="is a file: this needs the COVID-CT folder"):
        resolve_root(tmp_path / "fake.ccpack")


def test_cli_pack(fake_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "packs" / "fake.ccpack"
    result = CliRunner().invoke(
        app, ["data", "pack", str(out), "--data", str(fake_root), "--size", "24", "--quiet"]
    )
    assert result.exit_code == 0, result.output
    assert "test-r27-c24, train-r27-c27, val-r27-c24" in result.output
    assert sorted(read_pack(out).splits) == ["test-r27-c24", "train-r27-c27", "val-r27-c24"]
