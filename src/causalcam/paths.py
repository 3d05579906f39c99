"""Where causalcam keeps caches and outputs (never beside the data, which may be read-only)."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """Per-user cache folder: ``$CAUSALCAM_CACHE``, else ``$XDG_CACHE_HOME/causalcam``,
    else ``~/.cache/causalcam``. It is not created here."""
    explicit = os.environ.get("CAUSALCAM_CACHE")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "causalcam"
