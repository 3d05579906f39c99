"""Markdown text of the report's blocks (figures referenced by relative path)."""

from __future__ import annotations

from collections.abc import Sequence

from .blocks import Block, Bullets, Figures, Heading, Image, Paragraph, Table


def render_markdown(blocks: Sequence[Block]) -> str:
    """Markdown text of ``blocks`` (images by relative path)."""
    parts = []
    for block in blocks:
        if isinstance(block, Heading):
            parts.append(f"{'#' * block.level} {block.text}")
        elif isinstance(block, Paragraph):
            parts.append(block.text)
        elif isinstance(block, Bullets):
            parts.append("\n".join(f"- {item}" for item in block.items))
        elif isinstance(block, Table):
            parts.append(_markdown_table(block))
        elif isinstance(block, Figures):
            parts.append("\n\n".join(_markdown_image(image) for image in block.images))
        else:
            parts.append(_markdown_image(block))
    return "\n\n".join(parts) + "\n"


def _markdown_image(image: Image) -> str:
    return f"![{image.caption}]({image.path})\n\n*{image.caption}*"


def _markdown_table(table: Table) -> str:
    lines = [
        "| " + " | ".join(table.columns) + " |",
        "|" + "|".join("---" for _ in table.columns) + "|",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in table.rows]
    if table.caption:
        lines += ["", f"*{table.caption}*"]
    return "\n".join(lines)
