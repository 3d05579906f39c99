"""The report's content as a small list of typed blocks, rendered twice (Markdown and HTML)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Heading:
    """A section title at ``level`` (1: the page's title)."""

    level: int
    text: str


@dataclass(frozen=True)
class Paragraph:
    """Text with Markdown-style ``code`` and **bold** spans."""

    text: str


@dataclass(frozen=True)
class Bullets:
    """A bulleted list."""

    items: Sequence[str]


@dataclass(frozen=True)
class Table:
    """A table: column titles, rows of cells and a caption."""

    columns: Sequence[str]
    rows: Sequence[Sequence[str]]
    caption: str = ""


@dataclass(frozen=True)
class Image:
    """A PNG of the run folder (``path`` relative to it)."""

    path: str
    caption: str


@dataclass(frozen=True)
class Figures:
    """Images shown side by side (one below the other in Markdown)."""

    images: Sequence[Image]


Block = Heading | Paragraph | Bullets | Table | Image | Figures
