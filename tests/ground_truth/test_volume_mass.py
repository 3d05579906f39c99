"""The bundled 3-D network's lesion-mass table (``causalcam benchmark volumes``) on a few
generated volumes."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from causalcam.cli import app
from causalcam.errors import InputError
from causalcam.ground_truth.volume_mass import LesionMassConfig, lesion_mass
from causalcam.results import LesionMassResult
from causalcam.viz.volumes import planes_figure

runner = CliRunner()


def test_the_command_writes_the_table_its_figure_and_the_command(tmp_path: Path) -> None:
    out = tmp_path / "volumes"
    args = ["benchmark", "volumes", "--out", str(out), "--volumes", "8", "--n-boot", "200"]
    result = runner.invoke(app, [*args, "--methods", "gradcam,gradcam++,random_cam", "-q"])
    assert result.exit_code != 0 and "random_cam" in result.output
    result = runner.invoke(app, [*args, "--methods", "gradcam,gradcam++,randomcam", "-q"])
    assert result.exit_code == 0, result.output
    table = LesionMassResult.from_json(json.loads((out / "results.json").read_text()))
    assert [row.method for row in table.rows] == ["gradcam", "gradcam++", "randomcam"]
    assert table.n_volumes == 8 and 0 < table.n_lesion < 8
    assert 0.0 <= table.accuracy.low <= table.accuracy.value <= table.accuracy.high <= 1.0
    assert table.accuracy.value >= 0.75  # the bundled network classifies held-out volumes
    rows = {row.method: row for row in table.rows}
    gradcam, other = rows["gradcam"], rows["gradcam++"]
    assert not gradcam.vs_gradcam.finite
    assert other.vs_gradcam.value == pytest.approx(other.share.value - gradcam.share.value)
    for row in table.rows:
        assert 0.0 <= row.share.low <= row.share.value <= row.share.high <= 1.0
    # Grad-CAM points at the lesion: several times the share of a uniform map
    assert gradcam.share.value > 3 * table.uniform.value
    lines = list(csv.DictReader((out / "results.csv").open()))
    assert [line["method"] for line in lines] == ["gradcam", "gradcam++", "randomcam", "uniform"]
    assert float(lines[0]["share"]) == pytest.approx(gradcam.share.value, abs=1e-6)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["command"].startswith(f"causalcam benchmark volumes --out {out}")
    assert "--methods gradcam,gradcam++,randomcam" in manifest["command"]
    assert manifest["command"] in (out / "README.md").read_text()
    assert (out / "planes.png").read_bytes().startswith(b"\x89PNG")


def test_a_2d_network_and_too_few_volumes_are_refused() -> None:
    with pytest.raises(InputError, match="2-D network"):
        lesion_mass(LesionMassConfig(model="resnet18-112", volumes=4), progress=False)
    with pytest.raises(InputError, match="at least 2 volumes"):
        lesion_mass(LesionMassConfig(volumes=1), progress=False)


def test_the_planes_go_through_the_outlined_region() -> None:
    grey = np.zeros((6, 8, 10), dtype=np.float32)
    region = np.zeros(grey.shape, dtype=bool)
    region[1:4, 2:5, 6:9] = True  # centre (2, 3, 7)
    peak = np.zeros(grey.shape, dtype=np.float32)
    peak[5, 0, 0] = 1.0
    figure = planes_figure(grey, {"gradcam": peak}, "t", outline=region)
    titles = [axis.get_title() for axis in figure.axes]
    assert titles == ["Grad-CAM: axial 2", "Grad-CAM: coronal 3", "Grad-CAM: sagittal 7"]
    assert all(axis.collections for axis in figure.axes)  # the outline's contour is drawn
    with pytest.raises(InputError, match="outline"):
        planes_figure(grey, {"gradcam": peak}, "t", outline=region[:3])
