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
