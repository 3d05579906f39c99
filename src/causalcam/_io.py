"""Files: where causalcam keeps caches (:func:`cache_dir`, never beside the data, which may
be read-only) and atomic output: write to a temporary file beside the target, then rename.

A reader never sees a half-written file, and an interrupted run leaves either
the old file or the new one, never a truncated one.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any


def _current_umask() -> int:
    """The process umask (read by setting and restoring it; there is no getter)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextmanager
def atomic_path(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path in the target's folder; rename it onto ``target`` on success.

    The folder is created if needed. On any exception the temporary file is removed
    and ``target`` is left untouched.
    """
    target_path = Path(target)
    target_path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(
        prefix=f".{target_path.name}.", suffix=".tmp", dir=target_path.parent
    )
    os.close(handle)
    temp_path = Path(temp_name)
    try:
        yield temp_path
        with open(temp_path, "rb") as written:
            os.fsync(written.fileno())
        os.chmod(temp_path, 0o666 & ~_current_umask())
        os.replace(temp_path, target_path)
    finally:
        temp_path.unlink(missing_ok=True)


def _atomic_write(
    target: str | os.PathLike[str], mode: str, write: Callable[[IO[Any]], object]
) -> Path:
    with atomic_path(target) as temp_path, open(temp_path, mode) as stream:
        write(stream)
    return Path(target)


def atomic_write_bytes(target: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``target`` atomically and return the path."""
    return _atomic_write(target, "wb", lambda stream: stream.write(data))


def atomic_write_text(target: str | os.PathLike[str], text: str) -> Path:
    """Write UTF-8 ``text`` to ``target`` atomically and return the path."""
    return _atomic_write(target, "wb", lambda stream: stream.write(text.encode("utf-8")))


def atomic_write_json(target: str | os.PathLike[str], payload: Any) -> Path:
    """Write ``payload`` as indented JSON (keys in insertion order) atomically."""
    return atomic_write_text(target, json.dumps(payload, indent=2, allow_nan=False) + "\n")


def cache_dir() -> Path:
    """Per-user cache folder: ``$CAUSALCAM_CACHE``, else ``$XDG_CACHE_HOME/causalcam``,
    else ``~/.cache/causalcam``. It is not created here."""
    explicit = os.environ.get("CAUSALCAM_CACHE")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "causalcam"


def sha256_file(path: str | os.PathLike[str]) -> str:
    """The SHA-256 of a file's bytes (hex), read in blocks of 1 MiB."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
