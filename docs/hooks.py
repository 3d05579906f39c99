"""MkDocs hook: the site's home page is README.md, its links made relative to docs/."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

README = Path(__file__).resolve().parents[1] / "README.md"
#: Files of the repository root that the site does not carry: linked by name only.
_OUTSIDE = re.compile(r"\[([^\]]+)\]\((?:LICENSE|NOTICE)\)")


def readme_as_home(text: str) -> str:
    """README.md as the site's ``index.md``: ``docs/`` links made relative, root files named."""
    return _OUTSIDE.sub(r"\1", text.replace("](docs/", "]("))


def on_page_markdown(markdown: str, page: Any, **kwargs: Any) -> str:
    """Replace the stub ``index.md`` by the README."""
    if page.file.src_uri == "index.md":
        return readme_as_home(README.read_text(encoding="utf-8"))
    return markdown
