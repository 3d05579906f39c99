"""Check, import and fetch a copy of COVID-CT.

``verify_dataset`` reports *every* problem at once (split-file entries, undecodable or
truncated images, images listed twice, checksum mismatches against ``SHA256SUMS``).
``import_dataset`` verifies a local copy and copies it into the cache (all or nothing).
``fetch_dataset`` downloads the official UCSD release only when the network is explicitly
allowed, and otherwise fails at once with the manual route.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable
from pathlib import Path, PurePosixPath

from tqdm import tqdm

from .._io import cache_dir, sha256_file
from ..errors import DataError
from .covidct import CLASSES, SPLITS, Problem, open_grey, raise_problems, scan_split, split_file

CHECKSUMS = "SHA256SUMS"
OFFICIAL_COUNTS = {  # (COVID, NonCOVID) per split, as published
    "train": (191, 234),
    "val": (60, 58),
    "test": (98, 105),
}
OFFICIAL_REPO = "https://github.com/UCSD-AI4H/COVID-CT/raw/master"
OFFICIAL_FILES = {
    "CT_COVID": "Images-processed/CT_COVID.zip",
    "CT_NonCOVID": "Images-processed/CT_NonCOVID.zip",
}


def read_checksums(path: Path, problems: list[Problem]) -> dict[str, tuple[str, int]]:
    """``relative path -> (sha256, line)`` from a ``sha256sum`` file; bad lines (not
    ``HASH  PATH``, absolute paths, ``..``) go to ``problems``."""
    listed: dict[str, tuple[str, int]] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        digest, _, name = line.partition(" ")
        name = name.lstrip(" *")
        relative = PurePosixPath(name)
        hexdigits = len(digest) == 64 and all(c in "0123456789abcdefABCDEF" for c in digest)
        if not hexdigits or not name:
            problems.append(Problem(path, "not a 'SHA256  PATH' line", number))
        elif relative.is_absolute() or ".." in relative.parts or "\\" in name:
            problems.append(
                Problem(path, f"path {name!r} leaves the data folder; rejected", number)
            )
        else:
            listed[name] = (digest.lower(), number)
    return listed


def _check_checksums(root: Path, problems: list[Problem], progress: bool) -> None:
    sums = root / CHECKSUMS
    listed = read_checksums(sums, problems)
    for name, (digest, number) in tqdm(listed.items(), desc="checksums", disable=not progress):
        file = root / name
        if not file.is_file():
            problems.append(Problem(sums, f"{file} is listed but missing", number))
        elif sha256_file(file) != digest:
            problems.append(
                Problem(file, f"checksum mismatch (expected {digest}, {sums}:{number})")
            )


def _check_images(root: Path, problems: list[Problem], official: bool, progress: bool) -> None:
    seen: dict[Path, str] = {}
    for split in SPLITS:
        entries, found = scan_split(root, split)
        problems += found
        for entry in tqdm(entries, desc=f"decoding {split}", disable=not progress):
            where = f"{entry.source}:{entry.line}"
            if entry.path in seen:
                problems.append(
                    Problem(
                        entry.source,
                        f"{entry.path.name} is also listed at {seen[entry.path]}",
                        entry.line,
                    )
                )
            seen[entry.path] = where
            try:
                open_grey(entry.path, where)
            except DataError as error:
                problems.append(Problem(entry.path, f"{error}"))
        counts = tuple(sum(e.label == c for e in entries) for c in range(len(CLASSES)))
        if official and not found and counts != OFFICIAL_COUNTS[split]:
            problems.append(
                Problem(
                    root / "Data-split",
                    f"{split} split has {counts} (COVID, NonCOVID) images, "
                    f"the official split has {OFFICIAL_COUNTS[split]}",
                )
            )


def verify_dataset(
    root: str | os.PathLike[str],
    checksums: bool = True,
    official: bool = False,
    progress: bool = False,
) -> list[Problem]:
    """Every problem in the data set at ``root`` (an empty list means it is sound).

    Checks the layout, every split-file entry (bare name, exists, not duplicated, not listed in
    two places), that every listed image decodes completely, the ``SHA256SUMS`` file when
    ``checksums`` (a missing file is a problem), and the official split counts when ``official``.
    """
    base = Path(root)
    if not base.is_dir():
        return [Problem(base, "data folder does not exist")]
    problems = [
        Problem(base / c, "class folder is missing") for c in CLASSES if not (base / c).is_dir()
    ]
    missing_splits = [
        split_file(base, s, c)
        for s in SPLITS
        for c in CLASSES
        if not split_file(base, s, c).is_file()
    ]
    problems += [Problem(path, "split file is missing") for path in missing_splits]
    if problems:
        return problems
    _check_images(base, problems, official, progress)
    if checksums:
        if (base / CHECKSUMS).is_file():
            _check_checksums(base, problems, progress)
        else:
            problems.append(Problem(base / CHECKSUMS, "checksum file is missing"))
    return problems


def _copy_listed(src: Path, dest: Path) -> None:
    """Copy the class folders, split files and checksum/README files of ``src`` into ``dest``
    (regular files only: symbolic links are not followed)."""
    wanted = [src / c for c in CLASSES] + [src / "Data-split"]
    for folder in wanted:
        for file in sorted(folder.rglob("*")):
            if file.is_file() and not file.is_symlink():
                target = dest / file.relative_to(src)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(file, target)
    for extra in (CHECKSUMS, "README.md"):
        if (src / extra).is_file():
            shutil.copyfile(src / extra, dest / extra)


def _install(staged: Path, dest: Path, overwrite: bool) -> Path:
    """Move the verified folder ``staged`` onto ``dest`` (replacing it if ``overwrite``)."""
    if dest.exists():
        if not overwrite:
            raise DataError(
                f"{dest} already exists; pass overwrite=True (--overwrite) to replace it"
            )
        old = dest.with_name(f".{dest.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        dest.rename(old)
        staged.rename(dest)
        shutil.rmtree(old, ignore_errors=True)
    else:
        staged.rename(dest)
    return dest


def _stage(
    dest: Path, fill: Callable[[Path], None], checksums: bool, official: bool, progress: bool
) -> Path:
    """Build the data set in a temporary folder beside ``dest``, verify it, then install it."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    staged = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        fill(staged)
        raise_problems(
            verify_dataset(staged, checksums=checksums, official=official, progress=progress)
        )
        return staged
    except BaseException:
        shutil.rmtree(staged, ignore_errors=True)
        raise


def import_dataset(
    src: str | os.PathLike[str],
    dest: str | os.PathLike[str] | None = None,
    checksums: bool = True,
    overwrite: bool = False,
    progress: bool = False,
) -> Path:
    """Verify the data set at ``src`` (every problem reported at once), copy it to ``dest``
    (default ``cache_dir()/covid-ct``, where :func:`resolve_root` looks) and verify the copy.
    Nothing is installed unless everything checks out."""
    source = Path(src)
    target = Path(dest) if dest is not None else cache_dir() / "covid-ct"
    if source.resolve() == target.resolve():
        raise DataError(f"{source} is already the destination")
    raise_problems(verify_dataset(source, checksums=checksums, progress=progress))
    staged = _stage(target, lambda d: _copy_listed(source, d), checksums, False, progress)
    return _install(staged, target, overwrite)


def _download(url: str, target: Path, timeout: float) -> None:
    """Fetch ``url`` into ``target``; any network failure is a :class:`DataError`."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, open(target, "wb") as out:
            shutil.copyfileobj(response, out)
    except (urllib.error.URLError, OSError, TimeoutError) as error:
        raise DataError(f"cannot download {url}: {error}") from error


def _extract_class(archive: Path, class_name: str, dest: Path) -> None:
    """Extract the images of ``class_name`` from a release zip into ``dest/class_name``,
    keeping only bare file names (no member path is ever followed)."""
    folder = dest / class_name
    folder.mkdir(parents=True, exist_ok=True)
    try:
        with zipfile.ZipFile(archive) as bundle:
            for member in bundle.infolist():
                parts = PurePosixPath(member.filename).parts
                name = parts[-1] if parts else ""
                if member.is_dir() or "__MACOSX" in parts or name.startswith("."):
                    continue
                if ".." in parts or "\\" in member.filename:
                    raise DataError(f"{archive}: member {member.filename!r} leaves its folder")
                with bundle.open(member) as stream, open(folder / name, "wb") as out:
                    shutil.copyfileobj(stream, out)
    except zipfile.BadZipFile as error:
        raise DataError(f"{archive} is not a valid zip archive: {error}") from error


def fetch_dataset(
    dest: str | os.PathLike[str] | None = None,
    allow_network: bool = False,
    base_url: str = OFFICIAL_REPO,
    timeout: float = 20.0,
    overwrite: bool = False,
    progress: bool = False,
) -> Path:
    """Download the official UCSD COVID-CT release (two image zips and the six split files),
    verify it (official split counts; the release has no checksum file) and install it.

    Without ``allow_network`` nothing is attempted: a :class:`DataError` explains how to
    download the release by hand and import it with :func:`import_dataset`.
    """
    target = Path(dest) if dest is not None else cache_dir() / "covid-ct"
    if not allow_network:
        raise DataError(
            "downloading is off: rerun with --allow-network (network access to github.com), or "
            f"download {base_url}/{OFFICIAL_FILES['CT_COVID']}, "
            f"{OFFICIAL_FILES['CT_NonCOVID']} and Data-split/ yourself and run "
            "`causalcam data import DIR`"
        )

    def fill(staged: Path) -> None:
        for class_name, remote in OFFICIAL_FILES.items():
            archive = staged / f"{class_name}.zip"
            _download(f"{base_url}/{remote}", archive, timeout)
            _extract_class(archive, class_name, staged)
            archive.unlink()
        for split in SPLITS:
            for class_name in CLASSES:
                local = split_file(staged, split, class_name)
                local.parent.mkdir(parents=True, exist_ok=True)
                _download(f"{base_url}/{local.relative_to(staged).as_posix()}", local, timeout)

    staged = _stage(target, fill, checksums=False, official=True, progress=progress)
    return _install(staged, target, overwrite)
