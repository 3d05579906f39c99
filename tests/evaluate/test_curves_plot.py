"""Accuracy-versus-H plots (paper Fig. 2a-b)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from evaluate_helpers import make_table_curve

from causalcam.errors import InputError
from causalcam.evaluate import write_evaluation
from causalcam.viz.curves import IDEAL_DIRECTION, accuracy_curve_figure, save_accuracy_curves


def test_plot_has_legend_labels_and_ideal_direction(tmp_path: Path) -> None:
    curves = [
        make_table_curve("gradcam", "r18", [0.6, 0.5, 0.4], [0.7, 0.6, 0.5]),
        make_table_curve("causal", "r18", [0.4, 0.3, 0.2], [0.8, 0.5, 0.4]),
        make_table_curve("mine", "r18", [0.5, 0.4, 0.3], [0.6, 0.6, 0.6]),
    ]
    figure = accuracy_curve_figure(curves)
    axes = figure.axes[0]
    assert [text.get_text() for text in axes.get_legend().get_texts()][:1] == ["Grad-CAM"]
    assert len(axes.get_lines()) == 3
    assert "Huffman ratio" in axes.get_xlabel() and axes.get_ylabel() == "accuracy"
    assert IDEAL_DIRECTION["deletion"] in [text.get_text() for text in axes.texts]
    assert "r18" in axes.get_title()
    path = save_accuracy_curves(curves, tmp_path / "plots" / "deletion.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in path.parent.iterdir()] == ["deletion.png"]


def test_plot_rejects_mixed_or_empty_input() -> None:
    first = make_table_curve("gradcam", "r18", [0.6], [0.7])
    second = make_table_curve("gradcam", "r34", [0.6], [0.7])
    with pytest.raises(InputError, match="one \\(source, target, mode\\)"):
        accuracy_curve_figure([first, second])
    with pytest.raises(InputError, match="no curves"):
        accuracy_curve_figure([first], methods=["causal"])


def test_write_evaluation_outputs(tmp_path: Path) -> None:
    curves = [
        make_table_curve("gradcam", "r18", [0.6, 0.5, 0.4], [0.7, 0.6, 0.5]),
        make_table_curve("causal", "r18", [0.4, 0.3, 0.2], [0.8, 0.5, 0.4]),
        make_table_curve("causal", "r34", [0.4, 0.3, 0.2], [0.6, 0.5, 0.4]),
    ]
    paths = write_evaluation(curves, tmp_path, n_boot=20)
    names = sorted(p.relative_to(tmp_path).as_posix() for p in paths)
    assert names == [
        "curves.csv",
        "curves.json",
        "plots/r18__r18__deletion.png",
        "plots/r18__r34__deletion.png",
        "summary.csv",
        "summary.json",
    ]
    rows = json.loads((tmp_path / "curves.json").read_text())
    assert len(rows) == 9 and rows[0]["method"] == "gradcam" and rows[0]["n_images"] == 10
    assert rows[3]["accuracy"] == 0.8 and rows[3]["huffman_ratio"] == 0.4
    summary = list(csv.DictReader(io.StringIO((tmp_path / "summary.csv").read_text())))
    saving = [r for r in summary if r["statistic"] == "bits_saving" and r["target"] == "r18"]
    assert saving and all(r["method"] == "causal" for r in saving)
