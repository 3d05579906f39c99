"""The other commands through CliRunner: demo, train, evaluate, transfer, data, report."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from causalcam import models
from causalcam.cli import app
from causalcam.models.checkpoint import DEFAULT_MODEL

runner = CliRunner()


def _error_line(stderr: str) -> str:
    errors = [line for line in stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "Traceback" not in stderr, stderr
    return errors[0]


def test_demo_with_the_embedded_model_is_fast_and_says_where(tmp_path: Path) -> None:
    if not models.checkpoint.DEFAULT_MODEL.is_file():
        pytest.fail(f"the embedded model {models.checkpoint.DEFAULT_MODEL} is not in the package")
    started = time.perf_counter()
    result = runner.invoke(app, ["demo", "--out", str(tmp_path / "demo")])
    seconds = time.perf_counter() - started
    assert result.exit_code == 0, result.output
    assert seconds < 60
    assert f"are in {(tmp_path / 'demo').resolve()}" in result.output
    summary = json.loads((tmp_path / "demo" / "explanations.json").read_text())
    assert summary["model"]["source"].startswith("bundled ResNet-18")
    assert len(summary["images"]) == len(list((tmp_path / "demo").glob("*/panel.png")))


def test_demo_says_clearly_when_the_embedded_model_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(models.checkpoint, "MODEL_ASSETS", tmp_path)  # no model file there
    result = runner.invoke(app, ["demo", "--out", str(tmp_path / "demo")])
    assert result.exit_code == 1
    line = _error_line(result.stderr)
    assert "embedded model" in line and DEFAULT_MODEL.name in line and "missing" in line
    assert not (tmp_path / "demo").exists()


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["report", "{tmp}"], "manifest.json is missing"),
        (["claims", "{tmp}"], "manifest.json is missing"),
        (["data", "verify", "{tmp}/nowhere"], "not found"),
        (["data", "fetch", "--dest", "{tmp}/d"], "--allow-network"),
        (["data", "import", "{tmp}/nowhere", "--dest", "{tmp}/d"], "problem(s)"),
        (["train", "--recipe", "fancy", "--out", "{tmp}/t"], "fancy"),
        (["evaluate", "{tmp}/missing.pt", "--out", "{tmp}/e"], "missing.pt"),
        (["transfer", "{tmp}/a.pt", "{tmp}/b.pt", "--out", "{tmp}/e"], "a.pt"),
        (
            ["transfer", "{tmp}/a.pt", "{tmp}/b.pt", "--causal", "causal[mse,odd,set]"],
            "unknown causal normalisation 'odd'",
        ),
    ],
)
def test_user_errors_of_the_other_commands(args: list[str], needle: str, tmp_path: Path) -> None:
    result = runner.invoke(app, [a.replace("{tmp}", str(tmp_path)) for a in args])
    assert result.exit_code == 1, result.output
    assert needle in _error_line(result.stderr)


@pytest.mark.parametrize(
    "args",
    [
        ["reproduce", "--profile", "huge"],
        ["reproduce", "--stop-after", "lunch"],
        ["reproduce", "--profile", "tiny", "--archs", "resnet18,vgg16"],
        ["evaluate", "x.pt", "--thresholds", "0.1:oops"],
        ["frobnicate"],
        ["data", "verify", "--bogus"],
    ],
)
def test_usage_errors_exit_with_2(args: list[str]) -> None:
    assert runner.invoke(app, args).exit_code == 2


def test_train_evaluate_and_transfer_on_a_few_real_scans(
    real_root: Path, checkpoint: Path, tmp_path: Path
) -> None:
    common = ["--data", str(real_root), "--limit", "2", "--quiet"]
    result = runner.invoke(
        app,
        [
            "train",
            "--arch",
            "resnet18",
            "--epochs",
            "1",
            "--size",
            "64",
            "--out",
            str(tmp_path / "trained"),
            *common,
        ],
    )
    assert result.exit_code == 0, result.output
    trained = tmp_path / "trained" / "best.pt"
    assert result.output.strip().endswith(f"checkpoint: {trained}")

    result = runner.invoke(
        app,
        [
            "evaluate",
            str(trained),
            "--thresholds",
            "0.2,0.5",
            "--n-boot",
            "0",
            "--methods",
            "gradcam,causal",
            "--out",
            str(tmp_path / "ev"),
            *common,
        ],
    )
    assert result.exit_code == 0, result.output
    rows = json.loads((tmp_path / "ev" / "trained_curves.json").read_text())
    assert {(r["method"], r["mode"], r["threshold"]) for r in rows} == {
        (m, mode, t)
        for m in ("gradcam", "causal")
        for mode in ("deletion", "insertion")
        for t in (0.2, 0.5)
    }
    assert (tmp_path / "ev" / "trained_deletion.png").is_file()

    result = runner.invoke(
        app,
        [
            "transfer",
            str(trained),
            str(checkpoint),
            "--thresholds",
            "0.1,0.3",
            "--out",
            str(tmp_path / "tr"),
            *common,
        ],
    )
    assert result.exit_code == 0, result.output
    table = json.loads((tmp_path / "tr" / "transfer_trained.json").read_text())
    assert table["source"] == "trained" and table["targets"] == ["r18"]
    assert table["thresholds"] == [0.1, 0.3] and table["n_images"] == 4

    literal = "causal[mse,none,literal]"
    args = ["transfer", str(trained), str(checkpoint), "--thresholds", "0.1,0.3", "--causal"]
    result = runner.invoke(app, [*args, literal, "--out", str(tmp_path / "tr"), *common])
    assert result.exit_code == 0, result.output
    other = json.loads(
        (tmp_path / "tr" / "transfer_trained_causal_mse_none_literal.json").read_text()
    )
    assert (other["baseline"], other["challenger"]) == ("gradcam", literal)
    assert other["accuracy"] != table["accuracy"] or other["huffman"] != table["huffman"]


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.startswith("causalcam ")


def test_method_lists_keep_causal_variants_whole() -> None:
    from causalcam.cli._app import split_names

    assert split_names("gradcam, causal[bce,l2,set],gradcam++") == [
        "gradcam",
        "causal[bce,l2,set]",
        "gradcam++",
    ]


def test_threshold_option_forms() -> None:
    from causalcam.cli._app import parse_thresholds

    assert parse_thresholds(None, "--t") is None
    assert parse_thresholds("0.1,0.25", "--t") == (0.1, 0.25)
    assert parse_thresholds("0.1:0.8:0.01", "--t") == tuple(
        round(0.1 + 0.01 * i, 6) for i in range(71)
    )


def test_train_all_with_bf16_resumes_by_rerunning_the_same_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from causalcam import precision
    from causalcam.data.fake import write_fake_dataset

    monkeypatch.setenv("CAUSALCAM_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(precision, "_cpu_flags", lambda: frozenset({"amx_bf16"}))
    root = write_fake_dataset(tmp_path / "covid-ct")
    command = [
        "train-all",
        "--out",
        str(tmp_path / "set"),
        "--archs",
        "resnet18",
        "--data",
        str(root),
        "--size",
        "32",
        "--epochs",
        "1",
        "--limit",
        "2",
        "--set",
        "mixup=0.2",
        "--precision",
        "bf16",
        "--device",
        "cpu",
    ]
    first = runner.invoke(app, command)
    assert first.exit_code == 0, first.output
    assert "| resnet18 | finished | 1/1 |" in first.output and "bf16" in first.output
    second = runner.invoke(app, command)
    assert second.exit_code == 0 and "resnet18: finished, skipped" in second.output
    bad = runner.invoke(app, [*command, "--set", "mixup"])
    assert bad.exit_code == 2 and "FIELD=VALUE" in bad.output


def test_localise_writes_the_table_and_the_mask_grid(
    real_root: Path, checkpoint: Path, tmp_path: Path
) -> None:
    out = tmp_path / "loc"
    args = [
        "localise",
        str(checkpoint),
        "--data",
        str(real_root),
        "--limit",
        "3",
        "--quiet",
        "--methods",
        "gradcam,causal",
        "--n-boot",
        "50",
        "--grid",
        "4",
        "--out",
        str(out),
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    table = json.loads((out / "localisation.json").read_text())
    assert [row["method"] for row in table["rows"]] == ["gradcam", "causal"]
    assert table["n_images"] == 6 and sum(table["mask_status"].values()) == 6
    for row in table["rows"]:
        assert 0 <= row["lung_share"] <= 1 and row["ci_low"] <= row["lung_share"] <= row["ci_high"]
    assert (out / "masks.png").stat().st_size > 1000
    assert len(json.loads((out / "masks_sample.json").read_text())["indices"]) == 4
    missing = runner.invoke(app, ["localise", str(tmp_path / "nope.pt"), "--out", str(out)])
    assert missing.exit_code == 1 and "nope.pt" in _error_line(missing.stderr)


def test_train_with_precision_and_recipe_fields(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from causalcam import precision
    from causalcam.data.fake import write_fake_dataset

    monkeypatch.setattr(precision, "_cpu_flags", lambda: frozenset({"avx512_bf16"}))
    root = write_fake_dataset(tmp_path / "covid-ct")
    out = tmp_path / "run"
    args = [
        "train",
        "--data",
        str(root),
        "--out",
        str(out),
        "--recipe",
        "scratch",
        "--size",
        "32",
        "--epochs",
        "1",
        "--limit",
        "2",
        "--precision",
        "bf16",
        "--set",
        "ema=0.9",
        "--set",
        "cutmix=1.0",
        "--no-channels-last",
        "--quiet",
        "--device",
        "cpu",
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["compute"] == {"precision": "bf16", "channels_last": False}
    assert saved["recipe"]["ema"] == 0.9 and saved["recipe"]["cutmix"] == 1.0
    bad = runner.invoke(app, [*args[:-2], "--set", "epochs=many", "--out", str(tmp_path / "b")])
    assert bad.exit_code == 2 and "epochs='many' is not of type int" in bad.output
