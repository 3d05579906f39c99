"""`causalcam explain` through typer's CliRunner: outputs, JSON, options, every user error."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from causalcam.cli import app
from causalcam.data import CLASSES, sample_scans

runner = CliRunner()


def _samples() -> Path:
    return sample_scans()[0].path.parent


def test_explain_writes_panels_overlays_npy_and_json(checkpoint: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = runner.invoke(
        app,
        ["explain", str(_samples()), "--model", str(checkpoint), "--save-npy", "--out", str(out)],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "explanations.json").read_text())
    names = [scan.name for scan in sample_scans()]
    assert [Path(r["file"]).stem for r in summary["images"]] == sorted(names)
    assert summary["model"]["arch"] == "resnet18" and summary["model"]["input_size"] == 64
    assert summary["model"]["target_layer"] == "layer4"
    record = summary["images"][0]
    assert sum(record["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)
    assert record["contrast"] != record["predicted"]
    folder = out / Path(record["file"]).stem
    for method in summary["methods"]:
        saved = np.load(folder / f"{method}.npy")
        assert saved.shape == (64, 64) and saved.dtype == np.float32
        assert saved.min() >= 0.0 and saved.max() <= 1.0
        assert record["maps"][method]["mean"] == pytest.approx(float(saved.mean()), abs=1e-6)
        with Image.open(folder / f"overlay_{method}.png") as overlay:
            assert overlay.size == (64, 64)
    assert (folder / "panel.png").stat().st_size > 5000
    assert f"are in {out.resolve()}" in result.output


def test_methods_layer_and_contrast_class_options(checkpoint: Path, tmp_path: Path) -> None:
    image = sample_scans()[3].path
    out = tmp_path / "o"
    args = ["explain", str(image), "-m", str(checkpoint), "--out", str(out), "--quiet"]
    assert runner.invoke(app, args).exit_code == 0
    predicted = json.loads((out / "explanations.json").read_text())["images"][0]["predicted"]
    args += ["--methods", "gradcam", "--methods", "causal,contrast_none", "--layer", "layer3"]
    args += ["--normalize", "l2", "--sign", "set"]
    result = runner.invoke(app, [*args, "--contrast-class", str(predicted)])
    assert result.exit_code == 1 and "contrast class equals the explained class" in result.stderr
    other = CLASSES[1 - predicted]
    result = runner.invoke(app, [*args, "--contrast-class", other])
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "explanations.json").read_text())
    assert summary["methods"] == ["gradcam", "causal", "contrast_none"]
    assert summary["model"]["target_layer"] == "layer3"
    assert summary["causal_options"] == {
        "loss": "mse_prob",
        "normalize": "l2",
        "sign": "set",
        "gradcam_term": "logit",
    }
    assert summary["images"][0]["contrast_class"] == other
    expected = f"panels, overlays and explanations.json are in {out.resolve()}"
    assert result.output.strip().splitlines() == [expected]


def test_architecture_name_warns_that_weights_are_random(tmp_path: Path) -> None:
    image = sample_scans()[0].path
    result = runner.invoke(
        app, ["explain", str(image), "-m", "resnet18", "--out", str(tmp_path), "-q"]
    )
    assert result.exit_code == 0, result.output
    assert "warning: --model resnet18 is an architecture name: its weights are RANDOM" in (
        result.stderr
    )
    assert json.loads((tmp_path / "explanations.json").read_text())["model"]["warning"]


def _one_line_error(result: object, *needles: str) -> None:
    exit_code, stderr = result.exit_code, result.stderr  # type: ignore[attr-defined]
    assert exit_code == 1, stderr
    errors = [line for line in stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "Traceback" not in stderr, stderr
    for needle in needles:
        assert needle in errors[0]


def test_user_errors_are_one_line_with_exit_code_1(checkpoint: Path, tmp_path: Path) -> None:
    image = str(sample_scans()[0].path)
    empty = tmp_path / "empty"
    empty.mkdir()
    bad_image = tmp_path / "broken.png"
    bad_image.write_bytes(b"not a png")
    bad_ckpt = tmp_path / "bad.pt"
    bad_ckpt.write_bytes(b"garbage")
    cases = [
        (["explain", str(tmp_path / "missing.png"), "-m", str(checkpoint)], ["missing.png"]),
        (["explain", str(empty), "-m", str(checkpoint)], ["holds no image files"]),
        (["explain", str(bad_image), "-m", str(checkpoint)], ["broken.png"]),
        (["explain", image, "-m", str(tmp_path / "nope.pt")], ["nope.pt", "no such checkpoint"]),
        (["explain", image, "-m", str(bad_ckpt)], ["bad.pt"]),
        (["explain", image, "-m", "notanet"], ["notanet"]),
        (["explain", image, "-m", str(checkpoint), "--layer", "layer9"], ["layer9"]),
        (["explain", image, "-m", str(checkpoint), "--contrast-class", "3"], ["--contrast-class"]),
    ]
    for args, needles in cases:
        result = runner.invoke(app, [*args, "--out", str(tmp_path / "out")])
        _one_line_error(result, *needles)


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["explain", str(tmp_path / "missing.png"), "-m", "resnet18", "--debug"]
    )
    assert result.exit_code == 1
    assert "Traceback" in result.stderr and "error: " in result.stderr


@pytest.mark.parametrize(
    ("extra", "hint"),
    [
        (["--methods", "gradcam,bogus"], "--methods"),
        (["--loss", "hinge"], "--loss"),
        (["--device", "cuda:7"], "--device"),
        (["--no-such-option"], "No such option"),
    ],
)
def test_usage_errors_exit_with_2(checkpoint: Path, extra: list[str], hint: str) -> None:
    image = str(sample_scans()[0].path)
    result = runner.invoke(app, ["explain", image, "-m", str(checkpoint), *extra])
    assert result.exit_code == 2
    assert hint in result.stderr


def test_missing_model_option_is_a_usage_error() -> None:
    result = runner.invoke(app, ["explain", str(sample_scans()[0].path)])
    assert result.exit_code == 2 and "--model" in result.stderr


def test_unreadable_files_are_skipped_listed_and_exit_1(checkpoint: Path, tmp_path: Path) -> None:
    scans = tmp_path / "scans"
    scans.mkdir()
    for scan in sample_scans()[:2]:
        (scans / scan.path.name).write_bytes(scan.path.read_bytes())
    (scans / "empty.jpg").write_bytes(b"")
    (scans / "README").write_text("scans of the study\n")
    (scans / "notes.txt").write_text("notes\n")
    out = tmp_path / "out"
    result = runner.invoke(app, ["explain", str(scans), "-m", str(checkpoint), "--out", str(out)])
    assert result.exit_code == 1, result.output
    summary = json.loads((out / "explanations.json").read_text())
    assert len(summary["images"]) == 2
    assert [Path(s["file"]).name for s in summary["skipped"]] == ["empty.jpg"]
    assert "cannot decode image" in summary["skipped"][0]["reason"]
    assert summary["ignored"]["count"] == 2
    assert "skipped 1 file(s)" in result.stderr and "empty.jpg" in result.stderr
    assert "Research use only" in summary["notice"] and "Research use only" in result.stdout


def test_a_checkpoint_of_another_kind_is_one_sentence(checkpoint: Path, tmp_path: Path) -> None:
    plain = tmp_path / "plain.pt"
    torch.save(torch.nn.Linear(2, 2), plain)  # a whole pickled module, not a causalcam file
    image = str(sample_scans()[0].path)
    result = runner.invoke(app, ["explain", image, "-m", str(plain), "--out", str(tmp_path)])
    _one_line_error(result, "plain.pt is not a causalcam checkpoint")
    assert len(result.stderr.strip().splitlines()) == 1


def test_explain_a_nifti_volume_with_the_bundled_3d_network(tmp_path: Path) -> None:
    nibabel = pytest.importorskip("nibabel")
    volume = np.full((24, 24, 20), -1000.0, dtype=np.float32)
    volume[4:20, 4:20, 3:17] = 30.0
    affine = np.diag([1.2, 1.2, 1.5, 1.0])
    nibabel.save(nibabel.Nifti1Image(volume, affine), tmp_path / "scan.nii.gz")
    out = tmp_path / "out"
    result = runner.invoke(
        app,
        ["explain", str(tmp_path / "scan.nii.gz"), "--model", "small3d-lesion", "--out", str(out)],
    )
    assert result.exit_code == 0, result.output
    assert "planes.png" in result.output
    written = nibabel.load(out / "scan" / "causal.nii.gz")
    assert written.shape == volume.shape and np.allclose(written.affine, affine)
