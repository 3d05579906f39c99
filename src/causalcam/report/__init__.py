"""The reproduction report: ``report.md`` and a self-contained ``report.html`` of a run folder.

:func:`build_report` reads what :func:`causalcam.reproduce.reproduce` wrote (``manifest.json``,
``results/*.json``, ``figures/*.png``) and lays it out next to the paper's numbers: test
accuracy of every network, Fig. 2a-b curves with their summary, Tables 1-2 (ours beside the
paper's), the ablation over the causal map's open choices, RISE AUCs, qualitative panels
(Fig. 2c-h, Fig. 3) and the manifest.

Modules: :mod:`.sections` (the content, as :mod:`.blocks`), :mod:`.formatting`,
:mod:`.markdown` and :mod:`.html_page` (the two renderings), :mod:`.paper` (the paper's
Tables 1-2, loaded from ``paper_tables.json``), :mod:`.chromium` (headless rendering) and
:mod:`.build`.
"""

from .blocks import Block, Bullets, Figures, Heading, Image, Paragraph, Table
from .build import EXPORT_SKIPS, ReportPaths, build_report, export_run
from .chromium import CHROMIUM_NAMES, find_chromium, render_dom, screenshot
from .formatting import ARCH_TITLES
from .html_page import render_html
from .markdown import render_markdown
from .paper import PAPER_SOURCE, PAPER_TABLES, paper_tables
from .sections import NEAR_CHANCE_MARGIN, SEED_STUDY, RunData, read_run, report_blocks

__all__ = [
    "ARCH_TITLES",
    "CHROMIUM_NAMES",
    "EXPORT_SKIPS",
    "NEAR_CHANCE_MARGIN",
    "PAPER_SOURCE",
    "PAPER_TABLES",
    "SEED_STUDY",
    "Block",
    "Bullets",
    "Figures",
    "Heading",
    "Image",
    "Paragraph",
    "ReportPaths",
    "RunData",
    "Table",
    "build_report",
    "export_run",
    "find_chromium",
    "paper_tables",
    "read_run",
    "render_dom",
    "render_html",
    "render_markdown",
    "report_blocks",
    "screenshot",
]
