"""The paper's Tables 1-2 layout and win counts."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest
from evaluate_helpers import make_table_curve

from causalcam.errors import InputError
from causalcam.evaluate import TransferenceTable, transference_table
from causalcam.evaluate.summary import bootstrap_weights
from causalcam.evaluate.transference import paired_gain
from causalcam.results import TransferRecord, gain_text

# Paper Table 1 (masks from ResNet-18), read as docs/method.md explains: per threshold row the
# Huffman pair, then (Grad-CAM, causal) accuracy for ResNet-34, ResNet-50, DenseNet-121, -169.
TABLE_1 = [
    [0.7802, 0.5456, 0.6158, 0.6502, 0.7586, 0.7537, 0.6404, 0.6453, 0.7044, 0.7291],
    [0.6442, 0.4549, 0.5911, 0.6355, 0.7734, 0.7783, 0.6158, 0.6256, 0.7143, 0.7685],
    [0.5329, 0.3879, 0.5665, 0.5764, 0.7241, 0.7980, 0.6108, 0.6207, 0.6946, 0.7389],
    [0.4434, 0.3329, 0.5074, 0.5419, 0.6700, 0.7882, 0.5911, 0.5961, 0.6305, 0.7192],
    [0.3715, 0.2886, 0.5025, 0.5222, 0.6010, 0.7586, 0.5911, 0.6108, 0.6059, 0.6847],
]
TABLE_2 = [  # masks from ResNet-34; targets ResNet-18, ResNet-50, DenseNet-121, DenseNet-169
    [0.8352, 0.6531, 0.7094, 0.7044, 0.7783, 0.7241, 0.6108, 0.6552, 0.7389, 0.7586],
    [0.7493, 0.5646, 0.7044, 0.6995, 0.7931, 0.7586, 0.6059, 0.6256, 0.7537, 0.7586],
    [0.6584, 0.4781, 0.6749, 0.6749, 0.8177, 0.7537, 0.6059, 0.6059, 0.7389, 0.7340],
    [0.5672, 0.3983, 0.6502, 0.6650, 0.7635, 0.7685, 0.6059, 0.5911, 0.7192, 0.7044],
    [0.4749, 0.3292, 0.6010, 0.6059, 0.7783, 0.7537, 0.5764, 0.5616, 0.6897, 0.6552],
]


def paper_table(
    values: list[list[float]], source: str, targets: tuple[str, ...]
) -> TransferenceTable:
    array = np.array(values)
    return TransferenceTable(
        source=source,
        baseline="gradcam",
        challenger="causal",
        mode="deletion",
        thresholds=(0.1, 0.2, 0.3, 0.4, 0.5),
        targets=targets,
        huffman=array[:, :2],
        accuracy=array[:, 2:].reshape(5, 4, 2),
        n_images=203,
    )


def test_paper_table_1_counts_19_of_20() -> None:
    table = paper_table(TABLE_1, "resnet18", ("resnet34", "resnet50", "densenet121", "densenet169"))
    assert (table.wins, table.cells, table.ties, table.fewer_bits) == (19, 20, 0, 5)


def test_paper_table_2_counts() -> None:
    """The paper says 10 of 20; its printed numbers give 7 strict wins and 2 ties."""
    table = paper_table(TABLE_2, "resnet34", ("resnet18", "resnet50", "densenet121", "densenet169"))
    assert (table.wins, table.ties, table.fewer_bits) == (7, 2, 5)


def test_layout_markdown_csv_json(tmp_path: Path) -> None:
    table = paper_table(TABLE_1, "resnet18", ("resnet34", "resnet50", "densenet121", "densenet169"))
    header = table.header()
    assert header[:3] == ["threshold", "huffman gradcam", "huffman causal"]
    assert header[3:5] == ["resnet34 gradcam", "resnet34 causal"]
    assert len(header) == 11
    markdown = table.to_markdown()
    lines = markdown.splitlines()
    first_row = next(line for line in lines if line.startswith("| 0.10"))
    cells = [cell.strip() for cell in first_row.strip("|").split("|")]
    assert cells == [
        "0.10", "0.7802", "**0.5456**", "0.6158", "**0.6502**", "**0.7586**", "0.7537",
        "0.6404", "**0.6453**", "0.7044", "**0.7291**",
    ]  # fmt: skip
    assert "causal wins 19 of 20 accuracy cells (ties: 0)" in markdown
    csv_path, json_path, md_path = table.write(tmp_path / "table1")
    rows = list(csv.DictReader(io.StringIO(csv_path.read_text())))
    assert len(rows) == 5 and float(rows[3]["resnet50 causal"]) == 0.7882
    payload = json.loads(json_path.read_text())
    assert payload["wins"] == 19 and payload["targets"][0] == "resnet34"
    assert md_path.read_text() == markdown


def test_table_from_curves_and_missing_curves() -> None:
    curves = [
        make_table_curve("gradcam", "r34", [0.6, 0.5], [0.7, 0.6]),
        make_table_curve("causal", "r34", [0.4, 0.3], [0.8, 0.5]),
    ]
    table = transference_table(curves, source="r18", thresholds=(0.1, 0.2))
    np.testing.assert_allclose(table.huffman, [[0.6, 0.4], [0.5, 0.3]])
    np.testing.assert_allclose(table.accuracy[:, 0], [[0.7, 0.8], [0.6, 0.5]])
    assert (table.wins, table.cells) == (1, 2)
    with pytest.raises(InputError, match="missing"):
        transference_table(curves[:1], source="r18", thresholds=(0.1,))
    with pytest.raises(InputError, match=r"threshold 0\.3"):
        transference_table(curves, source="r18", thresholds=(0.3,))


def test_paired_gain_matches_a_loop_over_resamples() -> None:
    rng = np.random.default_rng(1)
    baseline, challenger = rng.random((2, 6, 40)) < np.array([0.5, 0.6])[:, None, None]
    gain, wins, losses = paired_gain(baseline, challenger, n_boot=300, seed=3)
    counts = bootstrap_weights(40, 300, 3)
    per_cell = np.array(
        [
            [
                sum(
                    w * (int(c) - int(b))
                    for w, b, c in zip(row, baseline[k], challenger[k], strict=True)
                )
                / 40
                for k in range(6)
            ]
            for row in counts
        ]
    )
    assert gain.value == pytest.approx(challenger.mean() - baseline.mean())
    low, high = np.percentile(per_cell.mean(axis=1), [2.5, 97.5])
    assert (gain.low, gain.high) == pytest.approx((low, high), abs=1e-12)
    cell_low, cell_high = np.percentile(per_cell, [2.5, 97.5], axis=0)
    assert (wins, losses) == (int((cell_low > 0).sum()), int((cell_high < 0).sum()))


def test_paired_gain_counts_clear_wins_and_losses_only() -> None:
    better, same, worse = np.ones(50, bool), np.arange(50) % 2 == 0, np.zeros(50, bool)
    baseline = np.stack([worse, same, better, same])
    challenger = np.stack([better, same, worse, ~same])  # +1, 0, -1, 0 on average
    gain, wins, losses = paired_gain(baseline, challenger, n_boot=200)
    assert (wins, losses) == (1, 1)
    assert gain.value == pytest.approx(0.0) and gain.low < 0 < gain.high
    point_only = paired_gain(baseline, challenger, n_boot=0)
    assert point_only[1:] == (None, None) and not np.isfinite(point_only[0].low)


def test_table_from_curves_carries_the_gain_and_its_json_reads_old_records() -> None:
    curves = [
        make_table_curve("gradcam", "r34", [0.6, 0.5], [0.7, 0.6]),
        make_table_curve("causal", "r34", [0.4, 0.3], [0.8, 0.5]),
    ]
    table = transference_table(curves, source="r18", thresholds=(0.1, 0.2), n_boot=100)
    assert table.gain.value == pytest.approx(((0.8 - 0.7) + (0.5 - 0.6)) / 2)
    assert table.gain.low <= table.gain.value <= table.gain.high
    assert (table.significant_wins, table.significant_losses) == (0, 0)  # 10 images: no evidence
    assert "mean accuracy gain +0.0 points [" in table.summary_line()
    record = table.to_record()
    assert TransferRecord.from_json(record.to_json()) == record
    old = {k: v for k, v in record.to_json().items() if "gain" not in k and "significant" not in k}
    restored = TransferRecord.from_json(old)
    assert restored.significant_wins is None and not restored.gain.finite
    assert gain_text(restored.gain, None, None) == ""
