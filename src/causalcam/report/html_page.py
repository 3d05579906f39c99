"""A self-contained HTML page of the report's blocks (figures embedded as base64, so the file
can be mailed or archived alone).
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Sequence
from pathlib import Path

from .blocks import Block, Bullets, Figures, Heading, Image, Paragraph, Table
from .claims import Verdict

_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 2rem auto;
       max-width: 1200px; padding: 0 1.5rem; color: #1d1d1f; line-height: 1.45; }
h1 { border-bottom: 2px solid #ddd; padding-bottom: .3rem; }
h2 { margin-top: 2.2rem; border-bottom: 1px solid #eee; padding-bottom: .2rem; }
table { border-collapse: collapse; margin: .8rem 0 .3rem; font-size: .88rem; }
th, td { border: 1px solid #d0d7de; padding: .3rem .55rem; text-align: right; }
th { background: #f3f5f7; } td:first-child, th:first-child { text-align: left; }
tr:nth-child(even) td { background: #fafbfc; } td.text { text-align: left; }
figure { margin: 1rem 0; } figure img { max-width: 100%; border: 1px solid #eee; }
.row { display: flex; flex-wrap: wrap; gap: 1.5rem; } .row figure { flex: 1 1 420px; }
figcaption, .caption { color: #555; font-size: .85rem; font-style: italic; }
code { background: #f3f5f7; padding: 0 .25rem; border-radius: 3px; }
"""


def render_html(blocks: Sequence[Block], root: Path, title: str) -> str:
    """A self-contained HTML page of ``blocks``; images are read from ``root`` and embedded."""
    body = []
    for block in blocks:
        if isinstance(block, Heading):
            body.append(f"<h{block.level}>{_inline(block.text)}</h{block.level}>")
        elif isinstance(block, Paragraph):
            body.append(f"<p>{_inline(block.text)}</p>")
        elif isinstance(block, Bullets):
            items = "".join(f"<li>{_inline(item)}</li>" for item in block.items)
            body.append(f"<ul>{items}</ul>")
        elif isinstance(block, Table):
            body.append(_html_table(block))
        elif isinstance(block, Figures):
            images = "".join(_html_image(image, root) for image in block.images)
            body.append(f'<div class="row">{images}</div>')
        else:
            body.append(_html_image(block, root))
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(title)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + "\n</body>\n</html>\n"
    )


def _html_table(table: Table) -> str:
    head = "".join(f"<th>{_inline(c)}</th>" for c in table.columns)
    rows = "".join(
        "<tr>" + "".join(f"<td{_align(cell)}>{_inline(cell)}</td>" for cell in row) + "</tr>"
        for row in table.rows
    )
    caption = f'<p class="caption">{_inline(table.caption)}</p>' if table.caption else ""
    return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>{caption}"


#: A cell longer than this is prose, set flush left; shorter ones (numbers) flush right.
PROSE_CELL = 40


def _align(cell: str) -> str:
    return ' class="text"' if len(cell) > PROSE_CELL else ""


def _html_image(image: Image, root: Path) -> str:
    path = root / image.path
    if not path.is_file():
        return f"<p><em>missing figure {html.escape(image.path)}</em></p>"
    encoded = base64.b64encode(path.read_bytes()).decode("ascii")
    alt = html.escape(image.caption, quote=True)
    return (
        f'<figure><img alt="{alt}" src="data:image/png;base64,{encoded}">'
        f"<figcaption>{_inline(image.caption)}</figcaption></figure>"
    )


_CODE = re.compile(r"`([^`]+)`")


_BOLD = re.compile(r"\*\*([^*]+)\*\*")


_ITALIC = re.compile(r"(?<![*\w])\*([^*]+)\*(?!\w)")


def _inline(text: str) -> str:
    """Escape ``text`` and render its ``code``, **bold** and *italic* spans."""
    escaped = html.escape(text)
    escaped = _CODE.sub(r"<code>\1</code>", escaped)
    escaped = _BOLD.sub(_strong, escaped)
    return _ITALIC.sub(r"<em>\1</em>", escaped)


#: Colours of the verdicts on the paper's claims (:class:`~.claims.Verdict`), when bold.
VERDICT_COLOURS: dict[str, str] = {
    Verdict.HOLDS: "#1a7f37",
    Verdict.SMALLER: "#9a6700",
    Verdict.NOT_SHOWN: "#57606a",
    Verdict.REVERSED: "#cf222e",
    Verdict.DIFFERS: "#9a6700",
    Verdict.UNRELIABLE: "#8250df",
    Verdict.NOT_MEASURED: "#57606a",
}


def _strong(match: re.Match[str]) -> str:
    """A bold span; a verdict word in its colour."""
    text = match.group(1)
    colour = VERDICT_COLOURS.get(html.unescape(text))
    style = f' style="color: {colour}"' if colour else ""
    return f"<strong{style}>{text}</strong>"
