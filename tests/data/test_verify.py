"""verify_dataset reports every problem; import_dataset and fetch_dataset (never online)."""

from __future__ import annotations

import time
import zipfile
from pathlib import Path

import pytest

from causalcam.data import CovidCT, resolve_root, verify
from causalcam.data.fake import write_checksums
from causalcam.data.verify import fetch_dataset, import_dataset, verify_dataset
from causalcam.errors import DataError


def test_real_data_is_sound(real_root: Path) -> None:
    assert verify_dataset(real_root, checksums=True, official=True) == []


def test_clean_fake_is_sound(fake_root: Path) -> None:
    assert verify_dataset(fake_root) == []


def test_every_problem_reported_at_once(fake_root: Path) -> None:
    tampered = CovidCT(fake_root, "train").samples[-1][0]
    covid = fake_root / "Data-split/COVID/trainCT_COVID.txt"
    covid.write_bytes(covid.read_bytes() + b"ghost.png\ntrain-covid-0.png\n../escape.png\n")
    test_image = CovidCT(fake_root, "test").samples[0][0]  # listed in test ...
    val_listing = fake_root / "Data-split/COVID/valCT_COVID.txt"
    val_listing.write_bytes(
        val_listing.read_bytes() + test_image.name.encode() + b"\n"
    )  # ... and val
    truncated = CovidCT(fake_root, "val").samples[1][0]
    truncated.write_bytes(truncated.read_bytes()[:30])  # also breaks its checksum
    tampered.write_bytes(tampered.read_bytes() + b"\0")  # decodes, but checksum differs
    problems = verify_dataset(fake_root)
    text = "\n".join(map(str, problems))
    assert f"{covid}:9: listed file" in text and "ghost.png" in text
    assert f"{covid}:10: duplicate entry 'train-covid-0.png'" in text
    assert f"{covid}:11: entry '../escape.png' has a path separator; rejected" in text
    assert f"{test_image.name} is also listed at" in text
    assert f"cannot decode image {truncated}" in text
    assert f"{tampered}: checksum mismatch" in text and f"{truncated}: checksum mismatch" in text
    edited = {p.file for p in problems if p.message.startswith("checksum mismatch")}
    assert {covid, val_listing} < edited  # the edited split files no longer match either
    assert len(problems) == 9


def test_missing_layout_and_checksum_file(fake_root: Path, tmp_path: Path) -> None:
    (fake_root / "SHA256SUMS").unlink()
    assert [p.message for p in verify_dataset(fake_root)] == ["checksum file is missing"]
    assert verify_dataset(fake_root, checksums=False) == []
    (fake_root / "Data-split/NonCOVID/valCT_NonCOVID.txt").unlink()
    assert [str(p).endswith("split file is missing") for p in verify_dataset(fake_root)] == [True]
    assert verify_dataset(tmp_path / "none")[0].message == "data folder does not exist"


def test_official_counts_flag_fake(fake_root: Path) -> None:
    problems = verify_dataset(fake_root, official=True)
    assert len(problems) == 3 and "the official split has (191, 234)" in str(problems[0])


def test_bad_checksum_lines(fake_root: Path) -> None:
    sums = fake_root / "SHA256SUMS"
    sums.write_text(sums.read_text() + "abc  x.png\n" + "0" * 64 + "  ../../etc/passwd\n")
    messages = [str(p) for p in verify_dataset(fake_root)]
    assert any("not a 'SHA256  PATH' line" in m for m in messages)
    assert any("'../../etc/passwd' leaves the data folder" in m for m in messages)


def test_import_copies_and_resolves(fake_root: Path, isolated_cache: Path) -> None:
    installed = import_dataset(fake_root)
    assert installed == isolated_cache / "covid-ct" == resolve_root()
    assert verify_dataset(installed) == []
    assert len(CovidCT(None, "train")) == 16
    with pytest.raises(DataError, match="already exists"):
        import_dataset(fake_root)
    assert import_dataset(fake_root, overwrite=True) == installed


def test_import_refuses_bad_source_and_installs_nothing(fake_root: Path, tmp_path: Path) -> None:
    image = CovidCT(fake_root, "test").samples[0][0]
    image.write_bytes(image.read_bytes()[:-5] + b"xxxxx")
    dest = tmp_path / "dest"
    with pytest.raises(DataError, match="checksum mismatch"):
        import_dataset(fake_root, dest)
    assert not dest.exists() and list(tmp_path.glob(".dest*")) == []


def test_fetch_without_network_flag_fails_fast(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("the network was touched")

    monkeypatch.setattr(verify.urllib.request, "urlopen", no_network)
    started = time.perf_counter()
    with pytest.raises(DataError, match=r"--allow-network.*causalcam data import"):
        fetch_dataset()
    assert time.perf_counter() - started < 1.0


def test_fetch_network_failure_is_a_data_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def unreachable(url: str, timeout: float) -> None:
        raise verify.urllib.error.URLError("no route to host")

    monkeypatch.setattr(verify.urllib.request, "urlopen", unreachable)
    with pytest.raises(DataError, match=r"cannot download https://github\.com/UCSD-AI4H"):
        fetch_dataset(tmp_path / "dest", allow_network=True)
    assert not (tmp_path / "dest").exists()


def _release(fake_root: Path, folder: Path, evil: bool = False) -> None:
    """Lay ``fake_root`` out like the UCSD repository (image zips + Data-split)."""
    for class_name in ("CT_COVID", "CT_NonCOVID"):
        archive = folder / "Images-processed" / f"{class_name}.zip"
        archive.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(archive, "w") as bundle:
            for image in sorted((fake_root / class_name).iterdir()):
                bundle.write(image, f"{class_name}/{image.name}")
            bundle.writestr(f"__MACOSX/{class_name}/._junk.png", b"junk")
            if evil:
                bundle.writestr("../../outside.png", b"x")
    for listing in (fake_root / "Data-split").rglob("*.txt"):
        target = folder / listing.relative_to(fake_root)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(listing.read_bytes())


def test_fetch_installs_a_release(
    fake_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mirror = tmp_path / "mirror"
    _release(fake_root, mirror)
    monkeypatch.setattr(verify, "OFFICIAL_COUNTS", {"train": (8, 8), "val": (4, 4), "test": (4, 4)})
    fetched = fetch_dataset(tmp_path / "fetched", allow_network=True, base_url=mirror.as_uri())
    write_checksums(fetched)
    assert verify_dataset(fetched, official=True) == []
    assert len(CovidCT(fetched, "test")) == 8


def test_fetch_rejects_escaping_zip_member(
    fake_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mirror = tmp_path / "mirror"
    _release(fake_root, mirror, evil=True)
    with pytest.raises(DataError, match="leaves its folder"):
        fetch_dataset(tmp_path / "fetched", allow_network=True, base_url=mirror.as_uri())
    assert not (tmp_path / "outside.png").exists() and not (tmp_path / "fetched").exists()
