"""What the tables of :mod:`causalcam.report.doc_tables` share: the readings they name, the
committed JSON and a Markdown table, and the verdict of an interval against zero."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ...method_names import DEFAULT_CAUSAL, LITERAL_CAUSAL, causal_variant_name
from ...results import Estimate
from ..blocks import Table
from ..markdown import render_markdown

#: The default reading, the paper's literal one and the best of the others on 112 px seeds.
DEFAULT = causal_variant_name(**DEFAULT_CAUSAL)
LITERAL = causal_variant_name(**LITERAL_CAUSAL)
BCE_SET = "causal[bce,none,set]"


def read_json(path: Path) -> Any:
    """The JSON that ``path`` holds."""
    return json.loads(path.read_text(encoding="utf-8"))


def markdown_table(columns: Sequence[str], rows: Sequence[Sequence[str]], caption: str = "") -> str:
    """``rows`` under ``columns`` as a Markdown table with its caption."""
    return render_markdown([Table(columns, rows, caption)])


def against_zero(estimate: Estimate, higher_is_better: bool = True) -> str:
    """``better`` / ``worse`` where the 95% interval excludes zero, else ``no difference``."""
    low, high = estimate.low, estimate.high
    if not (estimate.finite and math.isfinite(low) and math.isfinite(high)):
        return "–"
    if not higher_is_better:
        low, high = -high, -low
    if low > 0:
        return "**better**"
    return "**worse**" if high < 0 else "no difference"
