"""Writes ``report.md``, ``report.html`` and ``claims.json`` of a run folder."""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .._io import atomic_write_json, atomic_write_text
from ..errors import InputError
from .claims import ClaimVerdict
from .html_page import render_html
from .markdown import render_markdown
from .sections import read_run, report_blocks, run_verdicts

#: The verdicts on the paper's claims, as JSON, beside ``report.md``.
CLAIMS_FILE = "claims.json"


@dataclass(frozen=True)
class ReportPaths:
    """The files :func:`build_report` wrote, and the verdicts it wrote to ``claims``."""

    markdown: Path
    html: Path
    claims: Path
    verdicts: tuple[ClaimVerdict, ...] = ()


def build_report(
    run_dir: str | os.PathLike[str], metrics: Sequence[str | os.PathLike[str]] = ()
) -> ReportPaths:
    """Write ``report.md``, ``report.html`` and ``claims.json`` into the run folder; its
    explanation-metrics section comes from ``RUN/metrics/*/`` and the ``metrics`` output
    folders of ``causalcam evaluate --metrics``."""
    data = read_run(run_dir, metrics)
    verdicts = run_verdicts(data)
    claims = atomic_write_json(data.root / CLAIMS_FILE, {"claims": [v.to_json() for v in verdicts]})
    blocks = report_blocks(data)
    title = f"causalcam reproduction report ({data.manifest['profile']['name']} profile)"
    markdown = atomic_write_text(data.root / "report.md", render_markdown(blocks))
    page = atomic_write_text(data.root / "report.html", render_html(blocks, data.root, title))
    return ReportPaths(markdown, page, claims, verdicts)


#: What a shared copy of a run leaves out: checkpoints, evaluation caches, the network folders
#: (also when they are links) and the self-contained page (rebuilt from the rest).
EXPORT_SKIPS = ("models", "seed-models", "eval", "*.pt", "report.html")


def export_run(run_dir: str | os.PathLike[str], dest: str | os.PathLike[str]) -> Path:
    """Copy a run folder's report, verdicts, manifest, stage results, figures and seed study
    to ``dest`` without :data:`EXPORT_SKIPS`, to commit or share it; ``causalcam report``
    and ``causalcam claims`` read the copy as they read the run."""
    root = read_run(run_dir).root  # refuses a folder that is not a run
    target = Path(dest)
    if root.resolve() in (target.resolve(), *target.resolve().parents):
        raise InputError(f"cannot export {root} into itself ({target})")
    ignore = shutil.ignore_patterns(*EXPORT_SKIPS)
    shutil.copytree(root, target, ignore=ignore, dirs_exist_ok=True)
    return target
