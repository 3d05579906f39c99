"""The reproduction report: ``report.md`` and a self-contained ``report.html`` of a run folder.

:func:`build_report` reads what :func:`causalcam.reproduce.reproduce` wrote (``manifest.json``,
``results/*.json``, ``figures/*.png``) and lays it out next to the paper's numbers:
test accuracy of every network, Fig. 2a-b curves with their summary, Tables 1-2 (ours beside
the paper's), the ablation over the causal map's open choices, RISE AUCs, qualitative panels
(Fig. 2c-h, Fig. 3) and the manifest. The page is built from a small list of blocks rendered
twice: Markdown (figures referenced by relative path) and HTML (figures embedded as base64,
so the file can be mailed or archived alone). Missing stages are stated, never invented.
"""

from __future__ import annotations

import base64
import html
import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._io import atomic_write_bytes, atomic_write_text
from .errors import CausalCamError, InputError

# The paper's Tables 1-2 (Prabhushankar & AlRegib, ICIP 2021, Sec. 4.2), typed in from
# paper/causal-visual-features-icip2021.txt. Its text extraction interleaves the columns: per
# threshold row, first the Huffman pair (Grad-CAM, causal) of the source's masks, then the
# accuracy pairs of the targets, the last target's column printed separately (METHOD.md).
# Thresholds 0.1-0.5 (the text says "5 different thresholds"; METHOD.md fixes them).
PAPER_SOURCE = "Prabhushankar & AlRegib, ICIP 2021, Tables 1-2 (typed in from the paper text)"
PAPER_TABLES: dict[str, dict[str, Any]] = {
    "resnet18": {
        "thresholds": [0.1, 0.2, 0.3, 0.4, 0.5],
        "huffman": {
            "gradcam": [0.7802, 0.6442, 0.5329, 0.4434, 0.3715],
            "causal": [0.5456, 0.4549, 0.3879, 0.3329, 0.2886],
        },
        "accuracy": {
            "resnet34": {
                "gradcam": [0.6158, 0.5911, 0.5665, 0.5074, 0.5025],
                "causal": [0.6502, 0.6355, 0.5764, 0.5419, 0.5222],
            },
            "resnet50": {
                "gradcam": [0.7586, 0.7734, 0.7241, 0.6700, 0.6010],
                "causal": [0.7537, 0.7783, 0.7980, 0.7882, 0.7586],
            },
            "densenet121": {
                "gradcam": [0.6404, 0.6158, 0.6108, 0.5911, 0.5911],
                "causal": [0.6453, 0.6256, 0.6207, 0.5961, 0.6108],
            },
            "densenet169": {
                "gradcam": [0.7044, 0.7143, 0.6946, 0.6305, 0.6059],
                "causal": [0.7291, 0.7685, 0.7389, 0.7192, 0.6847],
            },
        },
        "claim": "causal wins 19 of 20 accuracy cells",
    },
    "resnet34": {
        "thresholds": [0.1, 0.2, 0.3, 0.4, 0.5],
        "huffman": {
            "gradcam": [0.8352, 0.7493, 0.6584, 0.5672, 0.4749],
            "causal": [0.6531, 0.5646, 0.4781, 0.3983, 0.3292],
        },
        "accuracy": {
            "resnet18": {
                "gradcam": [0.7094, 0.7044, 0.6749, 0.6502, 0.6010],
                "causal": [0.7044, 0.6995, 0.6749, 0.6650, 0.6059],
            },
            "resnet50": {
                "gradcam": [0.7783, 0.7931, 0.8177, 0.7635, 0.7783],
                "causal": [0.7241, 0.7586, 0.7537, 0.7685, 0.7537],
            },
            "densenet121": {
                "gradcam": [0.6108, 0.6059, 0.6059, 0.6059, 0.5764],
                "causal": [0.6552, 0.6256, 0.6059, 0.5911, 0.5616],
            },
            "densenet169": {
                "gradcam": [0.7389, 0.7537, 0.7389, 0.7192, 0.6897],
                "causal": [0.7586, 0.7586, 0.7340, 0.7044, 0.6552],
            },
        },
        "claim": "causal wins 10 of 20 accuracy cells (the typed numbers give 7 strict "
        "wins and 2 ties)",
    },
}
ARCH_TITLES = {
    "resnet18": "ResNet-18",
    "resnet34": "ResNet-34",
    "resnet50": "ResNet-50",
    "densenet121": "DenseNet-121",
    "densenet169": "DenseNet-169",
}


#: Where a run folder holds a seed study (``benchmarks/ablation.py --out RUN/seeds ...``).
SEED_STUDY = Path("seeds") / "seeds.json"


# ----------------------------------------------------------------------------- blocks


@dataclass(frozen=True)
class Heading:
    level: int
    text: str


@dataclass(frozen=True)
class Paragraph:
    """Text with Markdown-style ``code`` and **bold** spans."""

    text: str


@dataclass(frozen=True)
class Bullets:
    items: Sequence[str]


@dataclass(frozen=True)
class Table:
    columns: Sequence[str]
    rows: Sequence[Sequence[str]]
    caption: str = ""


@dataclass(frozen=True)
class Image:
    """A PNG of the run folder (``path`` relative to it)."""

    path: str
    caption: str


@dataclass(frozen=True)
class Figures:
    """Images shown side by side (one below the other in Markdown)."""

    images: Sequence[Image]


Block = Heading | Paragraph | Bullets | Table | Image | Figures


@dataclass(frozen=True)
class ReportPaths:
    markdown: Path
    html: Path


@dataclass
class RunData:
    """What a run folder holds (``None`` where a stage has not run)."""

    root: Path
    manifest: dict[str, Any]
    results: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    seeds: dict[str, Any] | None = None  # seeds/seeds.json: causalcam.seed_study's output


def read_run(run_dir: str | os.PathLike[str]) -> RunData:
    """Read the manifest and every stage result of a run folder."""
    root = Path(run_dir)
    manifest_path = root / "manifest.json"
    if not manifest_path.is_file():
        raise InputError(f"{root} is not a run folder: {manifest_path.name} is missing")
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    data = RunData(root, manifest)
    for stage in ("train", "curves", "transfer", "ablation", "rise", "qualitative"):
        path = root / "results" / f"{stage}.json"
        stored = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None
        data.results[stage] = stored.get("result") if isinstance(stored, dict) else None
    seeds = root / SEED_STUDY
    if seeds.is_file():
        data.seeds = json.loads(seeds.read_text(encoding="utf-8"))
    return data


def build_report(run_dir: str | os.PathLike[str]) -> ReportPaths:
    """Write ``report.md`` and ``report.html`` into the run folder."""
    data = read_run(run_dir)
    blocks = report_blocks(data)
    title = f"causalcam reproduction report ({data.manifest['profile']['name']} profile)"
    markdown = atomic_write_text(data.root / "report.md", render_markdown(blocks))
    page = atomic_write_text(data.root / "report.html", render_html(blocks, data.root, title))
    return ReportPaths(markdown, page)


def report_blocks(data: RunData) -> list[Block]:
    """The report's content, in order."""
    blocks: list[Block] = [
        Heading(1, "causalcam reproduction report"),
        *_intro(data),
        *_networks(data),
        *_curves(data),
        *_transfer(data),
        *_ablation(data),
        *_seed_study(data),
        *_rise(data),
        *_qualitative(data),
        *_manifest(data),
    ]
    return blocks


# ----------------------------------------------------------------------------- sections


def _intro(data: RunData) -> list[Block]:
    profile = data.manifest["profile"]
    total = sum(s.get("seconds", 0.0) for s in data.manifest["stages"].values())
    return [
        Paragraph(
            "Reproduction of *Extracting Causal Visual Features for Limited Label "
            "Classification* (Prabhushankar & AlRegib, ICIP 2021) on COVID-CT with the official "
            f"split. Profile **{profile['name']}**: {profile['description']}. "
            f"Test images: {data.manifest.get('data', {}).get('test_images', '?')}; "
            f"compute time of the stages: {_duration(total)}."
        ),
        Paragraph(
            "Paper numbers are quoted from the paper's text (source noted under each table). "
            "A smaller profile than `paper` changes resolution, epochs and thresholds, so its "
            "numbers are comparable in direction, not in value."
        ),
    ]


def _networks(data: RunData) -> list[Block]:
    blocks: list[Block] = [Heading(2, "Networks: test accuracy")]
    result = data.results.get("train")
    if not result:
        return [*blocks, Paragraph("The training stage has not run.")]
    rows = [
        [
            _arch(n["arch"]),
            _num(n.get("test_accuracy")),
            _num(n.get("val_accuracy")),
            str(n.get("recipe", "")),
            str(n.get("size", "")),
            f"{n.get('best_epoch', '?')} / {n.get('epochs', '?')}",
            "bundled model" if n["checkpoint"] == "bundled" else _duration(n.get("train_seconds")),
        ]
        for n in result["networks"]
    ]
    columns = ["network", "test acc.", "val. acc.", "recipe", "px", "best epoch", "train time"]
    caption = "Best epoch chosen on the validation split; test accuracy of that model."
    return [*blocks, Table(columns, rows, caption)]


def _curves(data: RunData) -> list[Block]:
    blocks: list[Block] = [Heading(2, "Deletion and insertion (Fig. 2a-b)")]
    result = data.results.get("curves")
    if not result:
        return [*blocks, Paragraph("The curves stage has not run.")]
    blocks.append(
        Paragraph(
            f"Maps of {_arch(result['source'])} on {result['n_images']} test images, thresholded; "
            "deletion keeps the explanation's pixels (curves to the left are ideal), insertion "
            "removes them (curves to the right are ideal). H = Huffman bits of the masked image "
            "over those of the scan."
        )
    )
    figures = result.get("figures", {})
    captions = (("deletion", "Fig. 2a: deletion"), ("insertion", "Fig. 2b: insertion"))
    blocks.append(Figures([Image(figures[m], c) for m, c in captions if m in figures]))
    blocks.append(_curve_summary_table(result["summary"]))
    return blocks


def _curve_summary_table(summary: Sequence[Mapping[str, Any]]) -> Table:
    methods = list(dict.fromkeys(r["method"] for r in summary))
    rows = []
    for method in methods:
        cells = [_method(method)]
        for mode in ("deletion", "insertion"):
            picked = [r for r in summary if r["method"] == method and r["mode"] == mode]
            cells.append(_value_ci(picked, "auc"))
            cells.append(_value_ci(picked, "bits_saving", mean=True, percent=True))
        rows.append(cells)
    columns = [
        "method",
        "deletion: mean acc. over shared H (↑)",
        "deletion: bits saved vs Grad-CAM (↑)",
        "insertion: mean acc. (↓)",
        "insertion: bits saved vs Grad-CAM",
    ]
    caption = (
        "Mean accuracy over the H range all methods share; bits saved = 1 - H_method / "
        "H_Grad-CAM at Grad-CAM's accuracies, averaged over the matched points. Brackets: "
        "95% bootstrap interval over test images (when the profile computes it)."
    )
    return Table(columns, rows, caption)


def _transfer(data: RunData) -> list[Block]:
    blocks: list[Block] = [Heading(2, "Transference of masks between networks (Tables 1-2)")]
    result = data.results.get("transfer")
    if not result or not result.get("tables"):
        return [*blocks, Paragraph("The transference stage has not run.")]
    blocks.append(
        Paragraph(
            "Masks (deletion: the explanation is kept) from a source network, fed to the "
            "other networks. Each cell: **ours** / paper. Huffman ratio: lower is better; "
            "accuracy: higher is better."
        )
    )
    blocks += _near_chance_warning(data)
    for number, table in enumerate(result["tables"], start=1):
        blocks += _transfer_table(number, table)
    return blocks


#: A network within this many accuracy points of always answering the majority class is
#: flagged: its transference cells measure noise, not the masks.
NEAR_CHANCE_MARGIN = 0.05


def _near_chance_warning(data: RunData) -> list[Block]:
    majority = data.manifest.get("data", {}).get("majority_rate")
    trained = (data.results.get("train") or {}).get("networks", [])
    if not _finite(majority):
        return []
    weak = [
        f"{_arch(n['arch'])} ({n['test_accuracy']:.3f})"
        for n in trained
        if _finite(n.get("test_accuracy")) and n["test_accuracy"] < majority + NEAR_CHANCE_MARGIN
    ]
    if not weak:
        return []
    return [
        Paragraph(
            f"**Caution:** {', '.join(weak)} classify the unmasked test scans within "
            f"{100 * NEAR_CHANCE_MARGIN:.0f} points of always answering the majority class "
            f"({majority:.3f}). Their cells below measure noise, not whether the masks carry "
            "the evidence; train them longer (the `paper` profile) before reading them."
        )
    ]


def _transfer_table(number: int, table: Mapping[str, Any]) -> list[Block]:
    source = table["source"]
    paper = PAPER_TABLES.get(source)
    columns = ["τ", "H Grad-CAM", "H causal"]
    for target in table["targets"]:
        columns += [f"{_arch(target)} Grad-CAM", f"{_arch(target)} causal"]
    rows = []
    for r, tau in enumerate(table["thresholds"]):
        paper_row = _paper_row(paper, tau)
        cells = [f"{tau:.2f}"]
        for m, method in enumerate(("gradcam", "causal")):
            cells.append(_pair(table["huffman"][r][m], _get(paper_row, "huffman", method)))
        for t, target in enumerate(table["targets"]):
            for m, method in enumerate(("gradcam", "causal")):
                quoted = _get(paper_row, "accuracy", target, method)
                cells.append(_pair(table["accuracy"][r][t][m], quoted))
        rows.append(cells)
    ours = (
        f"causal wins {table['wins']} of {table['cells']} accuracy cells (ties {table['ties']}); "
        f"lower H at {table['fewer_bits']} of {len(table['thresholds'])} thresholds"
    )
    claim = f"; paper: {paper['claim']}" if paper else ""
    caption = (
        f"Ours: {ours}{claim}. {table['n_images']} test images. Paper values: {PAPER_SOURCE}."
        if paper
        else f"Ours: {ours}."
    )
    title = f"Table {number}: masks from {_arch(source)}"
    return [Heading(3, title), Table(columns, rows, caption)]


def _paper_row(paper: Mapping[str, Any] | None, tau: float) -> dict[str, Any] | None:
    if paper is None:
        return None
    for r, quoted in enumerate(paper["thresholds"]):
        if abs(quoted - tau) < 1e-9:
            return {
                "huffman": {m: v[r] for m, v in paper["huffman"].items()},
                "accuracy": {
                    t: {m: v[r] for m, v in pair.items()} for t, pair in paper["accuracy"].items()
                },
            }
    return None


def _get(values: Mapping[str, Any] | None, *keys: str) -> float | None:
    current: Any = values
    for key in keys:
        if not isinstance(current, Mapping) or key not in current:
            return None
        current = current[key]
    return float(current)


def _ablation(data: RunData) -> list[Block]:
    blocks: list[Block] = [Heading(2, "Ablation: the causal map's open choices")]
    result = data.results.get("ablation")
    if not result:
        return [*blocks, Paragraph("The ablation stage has not run.")]
    blocks.append(
        Paragraph(
            "METHOD.md leaves three choices open: the contrast loss, the normalisation `n` of "
            "contrast weights and the sign convention. Every combination, plus two further "
            "readings (the loss on softmax probabilities, `mse_prob`; Grad-CAM's term from the "
            "cross-entropy loss, Grad-CAM term `ce`), on "
            f"{_arch(result['source'])} with thresholds {_range(result['thresholds'])}. "
            "AUC = mean accuracy over the H range shared with Grad-CAM; diff = minus Grad-CAM's."
        )
    )
    columns = [
        "loss",
        "normalize",
        "sign",
        "Grad-CAM term",
        "deletion AUC (↑)",
        "diff vs Grad-CAM",
        "bits saved",
        "insertion AUC (↓)",
        "diff vs Grad-CAM",
    ]
    ranked = sorted(result["rows"], key=lambda r: -(r.get("deletion_auc") or -1.0))
    rows = [
        [
            r["loss"],
            r["normalize"],
            r["sign"],
            r.get("gradcam_term", "logit"),
            _num(r.get("deletion_auc")),
            _num(r.get("deletion_auc_diff"), signed=True),
            _percent(r.get("deletion_bits_saving")),
            _num(r.get("insertion_auc")),
            _num(r.get("insertion_auc_diff"), signed=True),
        ]
        for r in ranked
    ]
    return [*blocks, Table(columns, rows, "Sorted by deletion AUC.")]


def _seed_study(data: RunData) -> list[Block]:
    """The ablation over training seeds, when ``seeds/seeds.json`` is in the run folder."""
    study = data.seeds
    if not study:
        return []
    rows = {(r["mode"], r["method"]): r for r in study["rows"]}
    deletion = sorted(
        (r for (mode, _), r in rows.items() if mode == "deletion"),
        key=lambda r: -(r["mean_diff"] if _finite(r.get("mean_diff")) else -1.0),
    )
    n = len(study["models"])
    table_rows = []
    for row in deletion:
        insertion = rows.get(("insertion", row["method"]), {})
        table_rows.append(
            [
                f"`{row['method']}`",
                " / ".join(_num(v, signed=True) for v in row.get("mean_diff_per_seed", [])),
                _interval(row, "mean_diff"),
                f"{row.get('mean_diff_seeds_better', '–')}/{n}",
                _interval(row, "mean_saving", percent=True),
                _interval(insertion, "mean_diff"),
                f"{insertion.get('mean_diff_seeds_better', '–')}/{n}",
            ]
        )
    columns = [
        "method",
        "deletion Δacc per seed",
        "deletion mean Δacc [95% CI]",
        "seeds better",
        "deletion bits saving [95% CI]",
        "insertion mean Δacc [95% CI] (↓)",
        "seeds better",
    ]
    choice = study["choice"]
    return [
        Heading(2, "The ablation over training seeds"),
        Paragraph(
            f"The same ablation on {n} networks of one architecture trained with different "
            f"seeds ({', '.join(f'`{m}`' for m in study['models'])}), {study['n_images']} "
            f"test images, thresholds {_range(study['thresholds'])}. Δacc: accuracy minus "
            "Grad-CAM's at matched Huffman budgets, averaged over the budgets; intervals: "
            "paired bootstrap over the test images of the seed-averaged value."
        ),
        Table(columns, table_rows, "Sorted by the deletion mean over seeds."),
        Paragraph(
            f"Best deletion variant over seeds: `{choice['method']}` "
            f"({_num(choice['deletion_mean_diff'], signed=True)}, better than Grad-CAM in "
            f"{choice['deletion_seeds_better']} of {choice['seeds']} seeds; its interval "
            f"{'lies above zero' if choice['beats_gradcam'] else 'includes zero'})."
        ),
    ]


def _interval(row: Mapping[str, Any], key: str, percent: bool = False) -> str:
    value = row.get(key)
    if not _finite(value):
        return "–"
    show = _percent if percent else (lambda v: _num(v, signed=True))
    low, high = row.get(f"{key}_lo"), row.get(f"{key}_hi")
    if _finite(low) and _finite(high):
        return f"{show(value)} [{show(low)}, {show(high)}]"
    return show(value)


def _rise(data: RunData) -> list[Block]:
    blocks: list[Block] = [Heading(2, "RISE deletion/insertion AUC (probability based)")]
    result = data.results.get("rise")
    if not result:
        return [*blocks, Paragraph("The RISE stage has not run.")]
    rows = [
        [_method(r["method"]), _num(r["deletion_auc"]), _num(r["insertion_auc"])]
        for r in result["rows"]
    ]
    caption = (
        f"Petsiuk et al. (BMVC 2018) on {_arch(result['source'])}, {result['steps']} steps, "
        "black deletion baseline, blurred insertion start; for comparison with other libraries."
    )
    return [*blocks, Table(["method", "deletion AUC (↓)", "insertion AUC (↑)"], rows, caption)]


def _qualitative(data: RunData) -> list[Block]:
    blocks: list[Block] = [Heading(2, "Qualitative panels (Fig. 2c-h, Fig. 3)")]
    result = data.results.get("qualitative")
    if not result:
        return [*blocks, Paragraph("The qualitative stage has not run.")]
    if result.get("fig2"):
        blocks.append(Image(result["fig2"], "Fig. 2c-h: a NonCOVID test scan and its maps."))
    for number, path in enumerate(result.get("fig3", []), start=1):
        caption = (
            f"Fig. 3{'ab'[number - 1] if number <= 2 else number}: a COVID test scan masked by "
            f"Grad-CAM's and the causal map's pixels above {result['threshold']:.2f}, with the "
            "network's prediction on each masked image."
        )
        blocks.append(Image(path, caption))
    return blocks


def _manifest(data: RunData) -> list[Block]:
    manifest = data.manifest
    stages = [
        [name, _duration(entry.get("seconds")), entry.get("finished") or ""]
        for name, entry in manifest["stages"].items()
    ]
    versions = ", ".join(f"{k} {v}" for k, v in manifest.get("versions", {}).items())
    hardware = manifest.get("hardware", {})
    data_info = manifest.get("data", {})
    return [
        Heading(2, "Manifest"),
        Bullets(
            [
                f"profile: `{manifest['profile']['name']}`, seed {manifest['seed']}, "
                f"device {manifest.get('device', '?')}",
                f"data: test split at {data_info.get('size', '?')} px, "
                f"{data_info.get('test_images', '?')} images, checksum "
                f"`{str(data_info.get('test_checksum', '?'))[:16]}`",
                f"hardware: {hardware.get('platform', '?')}, {hardware.get('cpu_count', '?')} "
                f"CPUs ({hardware.get('torch_threads', '?')} torch threads)"
                + (f", GPU {hardware['gpu']}" if hardware.get("gpu") else ", no GPU"),
                f"versions: {versions}",
                f"started {manifest.get('started', '?')}, last update "
                f"{manifest.get('updated', '?')}",
            ]
        ),
        Table(["stage", "wall time", "finished (UTC)"], stages, "Time of the last computation."),
    ]


# ----------------------------------------------------------------------------- formatting


def _arch(name: str) -> str:
    return ARCH_TITLES.get(name, name)


def _method(name: str) -> str:
    return {"gradcam": "Grad-CAM", "gradcam++": "Grad-CAM++", "causal": "causal"}.get(name, name)


def _num(value: Any, signed: bool = False) -> str:
    if not _finite(value):
        return "–"
    return f"{float(value):+.4f}" if signed else f"{float(value):.4f}"


def _percent(value: Any) -> str:
    if not _finite(value):
        return "–"
    return f"{100 * float(value):+.1f}%"


def _pair(ours: float, paper: float | None) -> str:
    return f"**{ours:.4f}** / {paper:.4f}" if paper is not None else f"**{ours:.4f}**"


def _value_ci(
    rows: Sequence[Mapping[str, Any]], statistic: str, mean: bool = False, percent: bool = False
) -> str:
    picked = [r for r in rows if r["statistic"] == statistic and _finite(r["value"])]
    if not picked:
        return "–"
    values = [float(r["value"]) for r in picked]
    value = sum(values) / len(values) if mean else values[0]
    text = _percent(value) if percent else _num(value)
    low, high = picked[0].get("ci_low"), picked[0].get("ci_high")
    if not mean and _finite(low) and _finite(high):
        text += f" [{low:.3f}, {high:.3f}]"
    return text


def _finite(value: Any) -> bool:
    """A number that is neither None nor NaN (JSON stores NaN as null)."""
    return isinstance(value, int | float) and value == value


def _duration(seconds: Any) -> str:
    if seconds is None:
        return "–"
    value = float(seconds)
    if value < 90:
        return f"{value:.1f} s"
    return f"{value / 60:.1f} min" if value < 5400 else f"{value / 3600:.2f} h"


def _range(values: Sequence[float]) -> str:
    if len(values) < 2:
        return ", ".join(f"{v:.2f}" for v in values)
    return f"{values[0]:.2f}-{values[-1]:.2f} ({len(values)} values)"


# ----------------------------------------------------------------------------- rendering


def render_markdown(blocks: Sequence[Block]) -> str:
    """Markdown text of ``blocks`` (images by relative path)."""
    parts = []
    for block in blocks:
        if isinstance(block, Heading):
            parts.append(f"{'#' * block.level} {block.text}")
        elif isinstance(block, Paragraph):
            parts.append(block.text)
        elif isinstance(block, Bullets):
            parts.append("\n".join(f"- {item}" for item in block.items))
        elif isinstance(block, Table):
            parts.append(_markdown_table(block))
        elif isinstance(block, Figures):
            parts.append("\n\n".join(_markdown_image(image) for image in block.images))
        else:
            parts.append(_markdown_image(block))
    return "\n\n".join(parts) + "\n"


def _markdown_image(image: Image) -> str:
    return f"![{image.caption}]({image.path})\n\n*{image.caption}*"


def _markdown_table(table: Table) -> str:
    lines = [
        "| " + " | ".join(table.columns) + " |",
        "|" + "|".join("---" for _ in table.columns) + "|",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in table.rows]
    if table.caption:
        lines += ["", f"*{table.caption}*"]
    return "\n".join(lines)


_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 2rem auto;
       max-width: 1200px; padding: 0 1.5rem; color: #1d1d1f; line-height: 1.45; }
h1 { border-bottom: 2px solid #ddd; padding-bottom: .3rem; }
h2 { margin-top: 2.2rem; border-bottom: 1px solid #eee; padding-bottom: .2rem; }
table { border-collapse: collapse; margin: .8rem 0 .3rem; font-size: .88rem; }
th, td { border: 1px solid #d0d7de; padding: .3rem .55rem; text-align: right; }
th { background: #f3f5f7; } td:first-child, th:first-child { text-align: left; }
tr:nth-child(even) td { background: #fafbfc; }
figure { margin: 1rem 0; } figure img { max-width: 100%; border: 1px solid #eee; }
.row { display: flex; flex-wrap: wrap; gap: 1.5rem; } .row figure { flex: 1 1 420px; }
figcaption, .caption { color: #555; font-size: .85rem; font-style: italic; }
code { background: #f3f5f7; padding: 0 .25rem; border-radius: 3px; }
"""


def render_html(blocks: Sequence[Block], root: Path, title: str) -> str:
    """A self-contained HTML page of ``blocks``; images are read from ``root`` and embedded."""
    body = []
    for block in blocks:
        if isinstance(block, Heading):
            body.append(f"<h{block.level}>{_inline(block.text)}</h{block.level}>")
        elif isinstance(block, Paragraph):
            body.append(f"<p>{_inline(block.text)}</p>")
        elif isinstance(block, Bullets):
            items = "".join(f"<li>{_inline(item)}</li>" for item in block.items)
            body.append(f"<ul>{items}</ul>")
        elif isinstance(block, Table):
            body.append(_html_table(block))
        elif isinstance(block, Figures):
            images = "".join(_html_image(image, root) for image in block.images)
            body.append(f'<div class="row">{images}</div>')
        else:
            body.append(_html_image(block, root))
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(title)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + "\n</body>\n</html>\n"
    )


def _html_table(table: Table) -> str:
    head = "".join(f"<th>{_inline(c)}</th>" for c in table.columns)
    rows = "".join(
        "<tr>" + "".join(f"<td>{_inline(cell)}</td>" for cell in row) + "</tr>"
        for row in table.rows
    )
    caption = f'<p class="caption">{_inline(table.caption)}</p>' if table.caption else ""
    return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>{caption}"


def _html_image(image: Image, root: Path) -> str:
    path = root / image.path
    if not path.is_file():
        return f"<p><em>missing figure {html.escape(image.path)}</em></p>"
    encoded = base64.b64encode(path.read_bytes()).decode("ascii")
    alt = html.escape(image.caption, quote=True)
    return (
        f'<figure><img alt="{alt}" src="data:image/png;base64,{encoded}">'
        f"<figcaption>{_inline(image.caption)}</figcaption></figure>"
    )


_CODE = re.compile(r"`([^`]+)`")
_BOLD = re.compile(r"\*\*([^*]+)\*\*")
_ITALIC = re.compile(r"(?<![*\w])\*([^*]+)\*(?!\w)")


def _inline(text: str) -> str:
    """Escape ``text`` and render its ``code``, **bold** and *italic* spans."""
    escaped = html.escape(text)
    escaped = _CODE.sub(r"<code>\1</code>", escaped)
    escaped = _BOLD.sub(r"<strong>\1</strong>", escaped)
    return _ITALIC.sub(r"<em>\1</em>", escaped)


# ----------------------------------------------------------------------------- headless Chromium


CHROMIUM_NAMES: tuple[str, ...] = ("chromium", "chromium-browser", "google-chrome")
_CHROMIUM_FLAGS: tuple[str, ...] = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
)


def find_chromium() -> str | None:
    """Path of a Chromium/Chrome executable on ``PATH``, or None."""
    return next((found for name in CHROMIUM_NAMES if (found := shutil.which(name))), None)


def _chromium(args: Sequence[str], timeout: float) -> subprocess.CompletedProcess[str]:
    executable = find_chromium()
    if executable is None:
        raise CausalCamError(
            "headless Chromium is needed to render the report; install it "
            "(Debian/Ubuntu: apt-get install chromium)"
        )
    with tempfile.TemporaryDirectory(prefix="causalcam-chromium-") as profile:
        command = [executable, *_CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args]
        try:
            return subprocess.run(
                command, capture_output=True, text=True, timeout=timeout, check=True
            )
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as error:
            raise CausalCamError(f"headless Chromium failed on {args[-1]}: {error}") from error


def render_dom(page: str | os.PathLike[str], timeout: float = 120.0) -> str:
    """The DOM of ``page`` after headless Chromium has loaded it (``--dump-dom``)."""
    return _chromium(["--dump-dom", Path(page).resolve().as_uri()], timeout).stdout


def screenshot(
    page: str | os.PathLike[str],
    png: str | os.PathLike[str],
    window: tuple[int, int] = (1280, 2400),
    timeout: float = 120.0,
) -> Path:
    """Render ``page`` in headless Chromium and write a ``window``-sized PNG screenshot."""
    width, height = window
    url = Path(page).resolve().as_uri()
    with tempfile.TemporaryDirectory(prefix="causalcam-shot-") as folder:
        shot = Path(folder) / "screenshot.png"  # Chromium picks the format by the suffix
        done = _chromium([f"--screenshot={shot}", f"--window-size={width},{height}", url], timeout)
        if not shot.is_file() or shot.stat().st_size == 0:
            raise CausalCamError(f"headless Chromium wrote no screenshot of {page}: {done.stderr}")
        return atomic_write_bytes(png, shot.read_bytes())
