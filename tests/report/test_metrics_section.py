"""The report's explanation-metrics section: from a run's ``metrics/`` folder or another output
folder of ``causalcam evaluate --metrics``; the committed pages agree with the committed result."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from causalcam.errors import InputError
from causalcam.report import build_report, read_run, render_markdown
from causalcam.report.metrics import metrics_blocks, metrics_section, read_metrics
from synthetic_runs import synthetic_run

REPO = Path(__file__).resolve().parents[2]
COMMITTED = REPO / "docs" / "results" / "metrics" / "resnet18_covidct_224"
FULL_CPU = REPO / "docs" / "results" / "full-cpu"
if not COMMITTED.is_dir():
    pytest.skip("a source checkout's docs/results is needed", allow_module_level=True)


def test_committed_pages_agree_with_the_committed_metrics() -> None:
    """``metrics.md`` and the full-cpu run's report (the same bundled 224 px ResNet-18) are
    rendered from ``metrics.json``: ``causalcam report docs/results/full-cpu --metrics
    docs/results/metrics/resnet18_covidct_224``."""
    (found,) = read_metrics(FULL_CPU, [COMMITTED])
    assert found.folder == "../metrics/resnet18_covidct_224"
    page = (COMMITTED / "metrics.md").read_text(encoding="utf-8")
    assert page == render_markdown(metrics_blocks(found.report, 1))
    section = render_markdown(metrics_section([found]))
    assert section.strip() in (FULL_CPU / "report.md").read_text(encoding="utf-8")
    assert "Failing:" in section and "The causal map (causal) " in section
    assert "](../metrics/resnet18_covidct_224/sanity.png)" in section


def test_a_run_folders_metrics_become_a_section(tmp_path: Path) -> None:
    run = synthetic_run(tmp_path / "run")
    assert "Explanation metrics" not in build_report(run).markdown.read_text()
    shutil.copytree(COMMITTED, run / "metrics" / "r18", ignore=shutil.ignore_patterns("*.csv"))
    paths = build_report(run)
    markdown = paths.markdown.read_text()
    assert "## Explanation metrics" in markdown and "### Sanity checks" in markdown
    assert "![Sanity checks: maps as layers are randomised, top first](metrics/r18/sanity.png)" in (
        markdown
    )
    assert "missing figure" not in paths.html.read_text()
    assert markdown.index("Explanation metrics") < markdown.index("Qualitative panels")
    with pytest.raises(InputError, match=r"holds no metrics\.json"):
        read_run(run, [tmp_path])
