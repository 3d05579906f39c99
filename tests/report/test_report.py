"""The reproduction report: content, paper numbers, self-contained HTML, headless Chromium,
and a report built from a real (tiny) reproduction run."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import time
from io import BytesIO
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from causalcam._io import atomic_write_json
from causalcam.report import PAPER_TABLES, build_report, find_chromium, render_dom, screenshot
from causalcam.results import STAGE_FORMAT, AblationTable
from synthetic_runs import stored, synthetic_run


def test_paper_tables_reproduce_the_papers_own_counts() -> None:
    """Typing errors would show: Table 1's causal masks win 19 of 20 cells, and both tables
    have lower Huffman ratios for causal masks at every threshold (paper Sec. 4.2)."""
    for source, table in PAPER_TABLES.items():
        huffman = table["huffman"]
        assert all(c < g for g, c in zip(huffman["gradcam"], huffman["causal"], strict=True))
        assert source not in table["accuracy"] and len(table["accuracy"]) == 4
    wins = sum(
        c > g
        for pair in PAPER_TABLES["resnet18"]["accuracy"].values()
        for g, c in zip(pair["gradcam"], pair["causal"], strict=True)
    )
    assert wins == 19
    # accuracies are counts over the 203 test images (docs/method.md: 0.6158 = 125/203)
    for table in PAPER_TABLES.values():
        for pair in table["accuracy"].values():
            for value in (*pair["gradcam"], *pair["causal"]):
                assert abs(value * 203 - round(value * 203)) < 0.02, value


def test_report_lays_out_every_section_with_paper_numbers(tmp_path: Path) -> None:
    paths = build_report(synthetic_run(tmp_path))
    markdown = paths.markdown.read_text()
    for heading in (
        "Networks: test accuracy",
        "Deletion and insertion (Fig. 2a-b)",
        "Table 1: masks from ResNet-18",
        "Ablation",
        "RISE",
        "Qualitative",
        "Manifest",
    ):
        assert heading in markdown
    assert "The RISE stage has not run." in markdown
    assert "| ResNet-18 | 0.5000 | 0.6000 | cpu | 48 | 1 / 2 | 3.0 s |" in markdown
    # ours beside the paper's, Table 1 row tau = 0.1: H 0.7802 / 0.5456; ResNet-34 0.6158
    assert "| 0.10 | **0.9000** / 0.7802 | **0.8000** / 0.5456 | **0.5000** / 0.6158 |" in markdown
    assert "paper: causal wins 19 of 20 accuracy cells" in markdown
    assert "![Fig. 2a: deletion](figures/deletion.png)" in markdown
    assert "`abc123`" in markdown and "12.5 s" in markdown
    assert "Caution" not in markdown  # no chance rate recorded: no warning


def test_report_gives_a_verdict_per_claim_and_writes_them_as_json(tmp_path: Path) -> None:
    paths = build_report(synthetic_run(tmp_path))
    section = paths.markdown.read_text().split("## The paper's claims at this scale")[1]
    section = section.split("\n## ")[0]
    # the synthetic Table 1 was stored without its gain; its Huffman ratios are all lower
    assert "causal wins 4 of 8 cells (ties 4) |" in section
    assert "| causal | +12.7% | **holds** | masks from resnet18; lower at 2 of 2 thresholds |" in (
        section
    )
    assert "**not measured** | not among resnet18's ablation variants |" in section
    claims = json.loads(paths.claims.read_text())["claims"]
    assert {c["claim"] for c in claims} == {
        "deletion_bits",
        "deletion_accuracy",
        "insertion",
        "table1",
        "table2",
        "transfer_bits",
    }
    assert next(c for c in claims if c["claim"] == "table2")["verdict"] == "not measured"
    page = paths.html.read_text()  # verdicts in their colours on the page
    assert '<strong style="color: #1a7f37">holds</strong>' in page
    assert '<strong style="color: #57606a">not measured</strong>' in page


def test_ablation_section_shows_the_one_table(tmp_path: Path) -> None:
    markdown = build_report(synthetic_run(tmp_path)).markdown.read_text()
    section = markdown.split("## Ablation")[1].split("\n## ")[0]
    assert "### Deletion (better: higher Δacc, positive saving)" in section
    assert "### Insertion (better: lower Δacc, negative saving)" in section
    # method, kept, acc@H (Δ) per budget, budgets, mean Δacc, bits saved, ΔAUC
    assert (
        "| `causal[mse,l2,set]` | 0.2500 | 0.8000 (+0.0500) | 0.7500 (+0.0500) | 2 | "
        "+0.0500 [-0.0500, +0.1500] | +12.0% [+1.0%, +20.0%] | +0.0500 |"
    ) in section
    assert "Best deletion variant: `causal[mse,l2,set]`; it does not beat Grad-CAM" in section
    assert section.count("bits saved") >= 2  # one definition, in the caption and the header


def test_stage_files_of_another_layout_are_named_not_misread(tmp_path: Path) -> None:
    run = synthetic_run(tmp_path)
    stored(run / "results" / "ablation.json", {"source": "resnet18", "rows": [{"loss": "mse"}]})
    markdown = build_report(run).markdown.read_text()
    assert "`results/ablation.json` was written by another version of causalcam" in markdown
    assert "Table 1: masks from ResNet-18" in markdown  # the other sections are unaffected


def test_a_stage_file_of_another_format_is_named_not_misread(tmp_path: Path) -> None:
    run = synthetic_run(tmp_path)
    path = run / "results" / "ablation.json"
    atomic_write_json(path, {**json.loads(path.read_text()), "format": STAGE_FORMAT + 1})
    markdown = build_report(run).markdown.read_text()
    assert "`results/ablation.json` was written by another version of causalcam" in markdown


def test_networks_near_chance_are_flagged_in_the_transference_section(tmp_path: Path) -> None:
    run = synthetic_run(tmp_path)
    manifest = json.loads((run / "manifest.json").read_text())
    manifest["data"]["majority_rate"] = 0.475  # networks at 0.50 ... 0.54; flagged below 0.525
    atomic_write_json(run / "manifest.json", manifest)
    transfer = json.loads((run / "results" / "transfer.json").read_text())["result"]
    transfer["tables"][0]["gain"] = {"value": 0.01, "low": 0.005, "high": 0.02}
    stored(run / "results" / "transfer.json", transfer)
    markdown = build_report(run).markdown.read_text()
    warning = next(line for line in markdown.splitlines() if line.startswith("**Caution:**"))
    assert warning.startswith(
        "**Caution:** ResNet-18 (0.500), ResNet-34 (0.510), ResNet-50 (0.520) classify"
    )
    assert "DenseNet" not in warning and "majority class (0.475)" in warning
    claims = json.loads((run / "claims.json").read_text())["claims"]
    table1 = next(c for c in claims if c["claim"] == "table1")
    assert table1["verdict"] == "unreliable"
    assert table1["detail"].endswith("; near chance: resnet18, resnet34, resnet50")


def test_html_is_self_contained(tmp_path: Path) -> None:
    paths = build_report(synthetic_run(tmp_path, with_transfer=False))
    page = paths.html.read_text()
    sources = re.findall(r'src="([^"]*)"', page)
    assert len(sources) == 4 and all(s.startswith("data:image/png;base64,") for s in sources)
    assert "http://" not in page and "https://" not in page
    assert "The transference stage has not run." in page
    # claims, networks, curve summary, ablation x 2, manifest
    assert page.count("<table>") == 6
    moved = tmp_path.parent / "moved.html"
    shutil.copy(paths.html, moved)  # nothing refers back to the run folder
    assert moved.read_text() == page


def _render(page: Path, folder: Path) -> tuple[str, Image.Image]:
    """DOM and screenshot of ``page`` in headless Chromium."""
    if find_chromium() is None:
        pytest.skip("chromium is not installed (apt-get install chromium)")
    png = screenshot(page, folder / "shot.png", window=(1280, 2400))
    return render_dom(page), Image.open(BytesIO(png.read_bytes())).convert("RGB")


def _assert_rendered(dom: str, screenshot: Image.Image, tables: int, images: int) -> None:
    assert dom.count("<table>") == tables
    assert len(re.findall(r'<img [^>]*src="data:image/png;base64,', dom)) == images
    assert "causalcam reproduction report" in dom
    pixels = np.asarray(screenshot, dtype=np.float64)
    assert screenshot.size == (1280, 2400)
    assert pixels.std() > 10  # not a blank page
    assert (pixels.mean(axis=2) < 128).mean() > 0.005  # there is dark text / figures


def test_report_renders_in_headless_chromium(tmp_path: Path) -> None:
    paths = build_report(synthetic_run(tmp_path / "run"))
    dom, screenshot = _render(paths.html, tmp_path)
    _assert_rendered(dom, screenshot, tables=7, images=4)


# ----------------------------------------------------------------------------- a real tiny run


def test_report_from_a_tiny_reproduction_run(
    real_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from causalcam.explain import CausalOptions
    from causalcam.models import bundled_model
    from causalcam.reproduce import PROFILES, STAGES, RunSettings, reproduce

    monkeypatch.setenv("CAUSALCAM_CACHE", str(tmp_path / "cache"))
    bundled = bundled_model("resnet18-112").meta  # the ResNet-18: the profile takes its size
    profile = dataclasses.replace(
        PROFILES["tiny"],
        archs=("resnet18", "resnet34"),
        limit=3,
        size=bundled.preprocessing.size,
        bundled="resnet18-112",
    )
    logged: list[str] = []
    html = reproduce(
        tmp_path / "run",
        profile,
        data_root=real_root,
        settings=RunSettings(progress=False),
        log=logged.append,
    )
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert set(manifest["stages"]) == set(STAGES)
    assert manifest["data"]["test_images"] == 6
    markdown = (tmp_path / "run" / "report.md").read_text()
    assert "has not run" not in markdown
    assert (
        "Table 1: masks from ResNet-18" in markdown and "Table 2: masks from ResNet-34" in markdown
    )
    # the ablation lists every variant of the grid and the further readings, once per mode
    ablation = markdown.split("## Ablation")[1].split("\n## ")[0]
    for variant in CausalOptions.ablation_variants():
        assert ablation.count(f"| `{variant.name}`") == 2, variant.name
    stored = json.loads((tmp_path / "run" / "results" / "ablation.json").read_text())
    table = AblationTable.from_json(stored["result"])
    assert len(table.rows) == 2 * (2 + 22) and table.model == "resnet18"
    assert f"Best deletion variant: `{table.choice.method}`" in ablation
    bundled_row = f"| ResNet-18 | {bundled.metrics['test']['accuracy']:.4f} |"
    assert bundled_row in markdown and "bundled model" in markdown

    # a rerun reuses every stage
    logged.clear()
    started = time.perf_counter()
    reproduce(
        tmp_path / "run",
        profile,
        data_root=real_root,
        settings=RunSettings(progress=False),
        log=logged.append,
    )
    assert time.perf_counter() - started < 30
    assert sum("done before, reused" in line for line in logged) == len(STAGES) - 1
    # the localisation table of both networks, in the report beside the masks to check
    assert markdown.count("share of each map's mass inside the lungs") == 2
    assert (tmp_path / "run" / "figures" / "lung_masks.png").is_file()

    # without the localisation extra that stage is skipped, saying how to install it
    import causalcam.reproduce.run as reproduce_run

    with monkeypatch.context() as patch:
        patch.setattr(reproduce_run, "installed", lambda extra: False)
        logged.clear()
        run = tmp_path / "run"
        reproduce(
            run,
            profile,
            data_root=real_root,
            settings=RunSettings(progress=False),
            log=logged.append,
        )
    assert "[localisation] skipped: pip install 'causalcam[localisation]' to run it" in logged

    # a stage whose results gained content (a new STAGE_VERSIONS entry) alone is recomputed
    transfer = json.loads((tmp_path / "run" / "results" / "transfer.json").read_text())
    assert all(t["gain"]["value"] is not None for t in transfer["result"]["tables"])
    with monkeypatch.context() as patch:
        patch.setattr(reproduce_run, "STAGE_VERSIONS", {"transfer": 99})
        logged.clear()
        reproduce(
            tmp_path / "run",
            profile,
            data_root=real_root,
            settings=RunSettings(progress=False),
            log=logged.append,
        )
    assert "[transfer] running" in logged and "[curves] done before, reused" in logged
    assert "[ablation] done before, reused" in logged

    # another default causal variant (a library upgrade) recomputes what used "causal"

    monkeypatch.setattr(reproduce_run, "default_variant", lambda: CausalOptions.literal().to_dict())
    logged.clear()
    reproduce(
        tmp_path / "run",
        profile,
        data_root=real_root,
        settings=RunSettings(progress=False),
        log=logged.append,
    )
    assert "[train] done before, reused" in logged and "[curves] running" in logged
    monkeypatch.undo()

    # another precision: the evaluating stages run again (bf16 claimed; emulated where the
    # CPU lacks it), the manifest says so, and the fp32 results stay where they were
    from causalcam import precision

    monkeypatch.setenv("CAUSALCAM_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(precision, "_cpu_flags", lambda: frozenset({"avx512_bf16"}))
    logged.clear()
    reproduce(
        tmp_path / "run",
        profile,
        data_root=real_root,
        settings=RunSettings(progress=False, precision="bf16"),
        log=logged.append,
    )
    assert "[train] done before, reused" in logged and "[curves] running" in logged
    assert json.loads((tmp_path / "run" / "manifest.json").read_text())["precision"] == "bf16"
    assert (tmp_path / "run" / "eval" / "curves-bf16").is_dir()
    assert (tmp_path / "run" / "eval" / "curves").is_dir()
    monkeypatch.undo()

    if find_chromium() is not None:
        dom, screenshot = _render(html, tmp_path)
        tables = sum(1 for line in markdown.splitlines() if line.startswith("|---"))
        _assert_rendered(dom, screenshot, tables=tables, images=markdown.count("!["))


def test_report_command_rebuilds_and_renders(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from causalcam.cli import app

    run = synthetic_run(tmp_path / "run")
    args = ["report", str(run)]
    if find_chromium() is not None:
        args += ["--screenshot", str(tmp_path / "shot.png")]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert f"report: {run / 'report.html'}" in result.output
    assert (run / "report.md").is_file()
    assert "the paper's claims (claims.json):" in result.output
    assert "  holds         transfer_bits (causal): +12.7%" in result.output
    if find_chromium() is not None:
        with Image.open(tmp_path / "shot.png") as shot:
            assert shot.size == (1280, 2400)


def test_claims_command_sets_runs_side_by_side(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from causalcam.cli import app

    one = synthetic_run(tmp_path / "one")
    two = synthetic_run(tmp_path / "two", with_transfer=False)
    result = CliRunner().invoke(app, ["claims", str(one), str(two)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "| claim of the paper | map | tiny, 48 px | tiny, 48 px |"
    bits = next(line for line in lines if line.startswith("| Tables 1-2: the causal masks"))
    assert bits.endswith("| causal | **holds** +12.7% | **not measured** – |")
    # a seed study's folder alone: Fig. 2's claims from it, the tables not measured
    quick_seeds = Path(__file__).resolve().parents[2] / "docs" / "results" / "quick" / "seeds"
    alone = CliRunner().invoke(app, ["claims", str(quick_seeds)])
    assert alone.exit_code == 0, alone.output
    assert alone.output.splitlines()[0].endswith("| seed study of 3 networks |")
    assert "| causal[mse_prob,none,set] | **not shown** +0.5 points [-0.0, +1.0] |" in alone.output


def test_export_leaves_out_checkpoints_and_caches_and_reads_back(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from causalcam.cli import app

    run = synthetic_run(tmp_path / "run")
    (run / "models" / "resnet18").mkdir(parents=True)
    (run / "models" / "resnet18" / "best.pt").write_bytes(b"weights")
    (run / "eval").mkdir()
    (run / "eval" / "curve.pt").write_bytes(b"cache")
    (run / "seeds" / "0-a" / "eval").mkdir(parents=True)
    (run / "seeds" / "0-a" / "ablation.md").write_text("table")
    (run / "seed-models").symlink_to(run / "models", target_is_directory=True)
    shared = tmp_path / "shared"
    result = CliRunner().invoke(app, ["report", str(run), "--export", str(shared)])
    assert result.exit_code == 0, result.output
    assert f"exported: {shared}" in result.output
    kept = sorted(str(p.relative_to(shared)) for p in shared.rglob("*") if p.is_file())
    assert "claims.json" in kept and "report.md" in kept and "seeds/0-a/ablation.md" in kept
    assert "results/ablation.json" in kept and "figures/deletion.png" in kept
    assert not [p for p in kept if p.endswith((".pt", ".html")) or "models" in p]
    assert not (shared / "eval").exists() and not (shared / "seeds" / "0-a" / "eval").exists()
    rebuilt = build_report(shared)  # the copy is a run folder of its own
    assert rebuilt.markdown.read_text() == (run / "report.md").read_text()
    for inside in (run, run / "copy"):
        again = CliRunner().invoke(app, ["report", str(run), "--export", str(inside)])
        assert again.exit_code == 1 and "into itself" in again.stderr
    assert not (run / "copy").exists()


def test_reproduce_refuses_a_folder_of_another_profile(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from causalcam.cli import app

    atomic_write_json(tmp_path / "manifest.json", {"profile": {"name": "quick"}, "stages": {}})
    result = CliRunner().invoke(app, ["reproduce", "--profile", "tiny", "--out", str(tmp_path)])
    assert result.exit_code == 1
    assert "holds a run of profile 'quick'" in result.stderr


def test_reproduce_on_one_network_skips_tables_1_2_and_says_why(
    tmp_path: Path, isolated_cache: Path
) -> None:
    from typer.testing import CliRunner

    from causalcam.cli import app
    from causalcam.data.fake import write_fake_dataset
    from causalcam.reproduce import STAGES

    data = write_fake_dataset(
        tmp_path / "covid-ct", counts={"train": (2, 2), "val": (2, 2), "test": (3, 3)}
    )
    run = tmp_path / "run"
    args = ["reproduce", "--profile", "tiny", "--archs", "resnet18", "--device", "cpu"]
    result = CliRunner().invoke(app, [*args, "--data", str(data), "--out", str(run), "-q"])
    assert result.exit_code == 0, result.output
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["profile"]["archs"] == ["resnet18"]
    reason = "Tables 1-2 need networks beside resnet18 (--archs)"
    assert manifest["stages"]["transfer"] == {"skipped": reason}
    assert sorted(manifest["stages"]) == sorted(STAGES)
    assert (run / "results" / "curves.json").is_file()
    assert not (run / "results" / "transfer.json").exists()
    assert f"Not run: {reason}." in (run / "report.md").read_text()
    claims = json.loads((run / "claims.json").read_text())["claims"]
    tables = [v for v in claims if v["claim"].startswith("table")]
    assert tables and all(v["verdict"] == "not measured" for v in tables)
