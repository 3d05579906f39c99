"""The paper's Tables 1-2 (Prabhushankar & AlRegib, ICIP 2021, Sec. 4.2) as data.

``paper_tables.json`` beside this module holds, per source network, the thresholds, the
Huffman ratios of Grad-CAM's and the causal masks, the accuracy of every target network on
them and the paper's claim; its ``note`` says how the numbers were read off the paper.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any


@cache
def paper_tables() -> dict[str, Any]:
    """The parsed ``paper_tables.json``: ``source``, ``note`` and ``tables`` (per source)."""
    text = resources.files(__package__).joinpath("paper_tables.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


PAPER_SOURCE: str = paper_tables()["source"]
PAPER_TABLES: dict[str, dict[str, Any]] = paper_tables()["tables"]
