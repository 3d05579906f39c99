"""The report's sections: what a run folder holds (:func:`read_run`) laid out next to the
paper's numbers as blocks (:func:`report_blocks`). Missing stages are stated, never invented.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..method_names import CAUSAL, GRADCAM
from ..results import (
    STAGE_RESULTS,
    AblationTable,
    CurvesResult,
    LocalisationStageResult,
    NetworkRow,
    QualitativeResult,
    RiseStageResult,
    SeedTable,
    SummaryRow,
    TrainResult,
    TransferRecord,
    TransferResult,
    gain_text,
    read_stage,
)
from .ablation import ablation_blocks, seed_blocks
from .blocks import Block, Bullets, Figures, Heading, Image, Paragraph, Table
from .claims import CLAIM_BY_KEY, ClaimVerdict, claim_verdicts
from .formatting import (
    arch_title,
    duration_text,
    effect_text,
    is_finite,
    method_text,
    number_text,
    paper_pair,
    value_ci,
)
from .metrics import MetricsFolder, metrics_section, read_metrics
from .paper import PAPER_SOURCE, PAPER_TABLES

#: Where a run folder holds a seed study (``benchmarks/ablation.py --out RUN/seeds ...``).
SEED_STUDY = Path("seeds") / "seeds.json"


@dataclass
class RunData:
    """What a run folder holds (``None`` where a stage has not run); ``unreadable``: the
    files written in another layout (by another version of causalcam)."""

    root: Path
    manifest: dict[str, Any]
    train: TrainResult | None = None
    curves: CurvesResult | None = None
    transfer: TransferResult | None = None
    ablation: AblationTable | None = None
    rise: RiseStageResult | None = None
    localisation: LocalisationStageResult | None = None
    qualitative: QualitativeResult | None = None
    seeds: SeedTable | None = None  # seeds/seeds.json: causalcam.ablation.seeds's output
    metrics: list[MetricsFolder] = field(default_factory=list)  # RUN/metrics/*/metrics.json
    unreadable: list[str] = field(default_factory=list)


def read_run(
    run_dir: str | os.PathLike[str], metrics: Sequence[str | os.PathLike[str]] = ()
) -> RunData:
    """Read the manifest, every stage result, a seed study and the metrics results of a run
    folder (``RUN/metrics/*/``, and the output folders ``metrics`` of ``causalcam evaluate
    --metrics`` elsewhere)."""
    root = Path(run_dir)
    manifest_path = root / "manifest.json"
    if not manifest_path.is_file():
        raise InputError(f"{root} is not a run folder: {manifest_path.name} is missing")
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    data = RunData(root, manifest)
    for stage in STAGE_RESULTS:
        path = root / "results" / f"{stage}.json"
        if path.is_file():
            setattr(data, stage, _parse(partial(read_stage, path), path, data))
    if (root / SEED_STUDY).is_file():
        path = root / SEED_STUDY
        seeds = _parse(lambda: SeedTable.from_json(json.loads(path.read_text("utf-8"))), path, data)
        data.seeds = seeds
    data.metrics = read_metrics(root, metrics)
    return data


def _parse(read: Callable[[], Any], path: Path, data: RunData) -> Any:
    """``read()``, or ``None`` (noted in ``data.unreadable``) when the file has another
    layout or format."""
    try:
        return read()
    except (KeyError, TypeError, ValueError, AttributeError):
        data.unreadable.append(str(path.relative_to(data.root)))
        return None


def _not_run(data: RunData, stage: str, text: str) -> list[Block]:
    """Why a stage's section is empty: the reason it was skipped, its file has another layout,
    or ``text`` (it has not run)."""
    skipped = data.manifest.get("stages", {}).get(stage, {}).get("skipped")
    if skipped:
        return [Paragraph(f"Not run: {skipped}.")]
    file = f"results/{stage}.json"
    if file in data.unreadable:
        return [
            Paragraph(
                f"`{file}` was written by another version of causalcam; run `causalcam "
                "reproduce` on this folder again to recompute it."
            )
        ]
    return [Paragraph(text)]


def report_blocks(data: RunData) -> list[Block]:
    """The report's content, in order."""
    blocks: list[Block] = [
        Heading(1, "causalcam reproduction report"),
        *_intro(data),
        *_claims(data),
        *_networks(data),
        *_curves(data),
        *_transfer(data),
        *_ablation(data),
        *_seed_study(data),
        *_rise(data),
        *_localisation(data),
        *metrics_section(data.metrics),
        *_qualitative(data),
        *_manifest(data),
    ]
    return blocks


def _intro(data: RunData) -> list[Block]:
    profile = data.manifest["profile"]
    total = sum(s.get("seconds", 0.0) for s in data.manifest["stages"].values())
    return [
        Paragraph(
            "Reproduction of *Extracting Causal Visual Features for Limited Label "
            "Classification* (Prabhushankar & AlRegib, ICIP 2021) on COVID-CT with the official "
            f"split. Profile **{profile['name']}**: {profile['description']}. "
            f"Test images: {data.manifest.get('data', {}).get('test_images', '?')}; "
            f"compute time of the stages: {duration_text(total)}."
        ),
        Paragraph(
            "Paper numbers are quoted from the paper's text (source noted under each table). "
            "A smaller profile than `paper` changes resolution, epochs and thresholds, so its "
            "numbers are comparable in direction, not in value."
        ),
    ]


def run_verdicts(data: RunData) -> tuple[ClaimVerdict, ...]:
    """The verdicts of the run on the paper's claims (:mod:`.claims`)."""
    weak = [n.arch for n, _ in _near_chance(data)]
    return claim_verdicts(data.ablation, data.seeds, data.transfer, near_chance=weak)


def folder_verdicts(folder: str | os.PathLike[str]) -> tuple[str, tuple[ClaimVerdict, ...]]:
    """A column name and the verdicts of a run folder, or of a seed study's folder alone
    (``seeds.json`` of ``benchmarks/ablation.py``: Fig. 2's claims only)."""
    path = Path(folder)
    if not (path / "manifest.json").is_file() and (path / SEED_STUDY.name).is_file():
        payload = json.loads((path / SEED_STUDY.name).read_text(encoding="utf-8"))
        seeds = SeedTable.from_json(payload)
        return f"seed study of {len(seeds.models)} networks", claim_verdicts(None, seeds, None)
    data = read_run(path)
    size = data.manifest.get("data", {}).get("size", "?")
    return f"{data.manifest['profile']['name']}, {size} px", run_verdicts(data)


def _claims(data: RunData) -> list[Block]:
    verdicts = run_verdicts(data)
    rows = [
        [
            CLAIM_BY_KEY[v.claim].statement,
            method_text(v.method),
            effect_text(v.estimate, CLAIM_BY_KEY[v.claim].unit),
            f"**{v.verdict}**",
            v.evidence + (f"; {v.detail}" if v.detail else ""),
        ]
        for v in verdicts
    ]
    caption = (
        "Effect against Grad-CAM with its 95% paired bootstrap interval over test images "
        "(deletion/insertion: mean over the matched Huffman budgets; bits: fewer bits for "
        "Grad-CAM's accuracy; transference: mean accuracy gain over the cells). Verdicts: "
        "holds (interval on the paper's side and reaching its size), smaller (on its side, "
        "below its size), not shown (interval includes no effect), reversed, differs (the "
        "paper reports no clear difference), unreliable (a network near chance), not measured."
    )
    columns = ["claim of the paper", "map", "ours [95% CI]", "verdict", "evidence"]
    return [
        Heading(2, "The paper's claims at this scale"),
        *_near_chance_warning(data),
        Table(columns, rows, caption),
    ]


def _networks(data: RunData) -> list[Block]:
    blocks: list[Block] = [Heading(2, "Networks: test accuracy")]
    result = data.train
    if not result:
        return [*blocks, *_not_run(data, "train", "The training stage has not run.")]
    rows = [
        [
            arch_title(n.arch),
            number_text(n.test_accuracy),
            number_text(n.val_accuracy),
            n.recipe,
            str(n.size or ""),
            f"{'?' if n.best_epoch is None else n.best_epoch} / "
            f"{'?' if n.epochs is None else n.epochs}",
            "bundled model" if n.bundled else duration_text(n.train_seconds),
        ]
        for n in result.networks
    ]
    columns = ["network", "test acc.", "val. acc.", "recipe", "px", "best epoch", "train time"]
    caption = "Best epoch chosen on the validation split; test accuracy of that model."
    return [*blocks, Table(columns, rows, caption)]


def _curves(data: RunData) -> list[Block]:
    blocks: list[Block] = [Heading(2, "Deletion and insertion (Fig. 2a-b)")]
    result = data.curves
    if not result:
        return [*blocks, *_not_run(data, "curves", "The curves stage has not run.")]
    blocks.append(
        Paragraph(
            f"Maps of {arch_title(result.source)} on {result.n_images} test images, thresholded; "
            "deletion keeps the explanation's pixels (curves to the left are ideal), insertion "
            "removes them (curves to the right are ideal). H = Huffman bits of the masked image "
            "over those of the scan."
        )
    )
    figures = result.figures
    captions = (("deletion", "Fig. 2a: deletion"), ("insertion", "Fig. 2b: insertion"))
    blocks.append(Figures([Image(figures[m], c) for m, c in captions if m in figures]))
    blocks.append(_curve_summary_table(result.summary))
    return blocks


def _curve_summary_table(summary: Sequence[SummaryRow]) -> Table:
    methods = list(dict.fromkeys(r.method for r in summary))
    rows = []
    for method in methods:
        cells = [method_text(method)]
        for mode in ("deletion", "insertion"):
            picked = [r for r in summary if r.method == method and r.mode == mode]
            cells.append(value_ci(picked, "auc"))
            cells.append(value_ci(picked, "bits_saving", mean=True, percent=True))
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
    result = data.transfer
    if not result or not result.tables:
        return [*blocks, *_not_run(data, "transfer", "The transference stage has not run.")]
    blocks.append(
        Paragraph(
            "Masks (deletion: the explanation is kept) from a source network, fed to the "
            "other networks. Each cell: **ours** / paper. Huffman ratio: lower is better; "
            "accuracy: higher is better."
        )
    )
    blocks += _near_chance_warning(data)
    for number, table in enumerate(result.tables, start=1):
        blocks += _transfer_table(number, table)
    return blocks


#: A network within this many accuracy points of always answering the majority class is
#: flagged: its transference cells measure noise, not the masks.
NEAR_CHANCE_MARGIN = 0.05


def _near_chance(data: RunData) -> list[tuple[NetworkRow, float]]:
    """The trained networks within :data:`NEAR_CHANCE_MARGIN` of the majority-class rate,
    with that rate (none when the manifest does not record it)."""
    majority = data.manifest.get("data", {}).get("majority_rate")
    trained = data.train.networks if data.train else ()
    if not is_finite(majority):
        return []
    return [
        (n, float(majority))
        for n in trained
        if n.test_accuracy is not None and n.test_accuracy < majority + NEAR_CHANCE_MARGIN
    ]


def _near_chance_warning(data: RunData) -> list[Block]:
    near = _near_chance(data)
    if not near:
        return []
    majority = near[0][1]
    weak = [f"{arch_title(n.arch)} ({n.test_accuracy:.3f})" for n, _ in near]
    return [
        Paragraph(
            f"**Caution:** {', '.join(weak)} classify the unmasked test scans within "
            f"{100 * NEAR_CHANCE_MARGIN:.0f} points of always answering the majority class "
            f"({majority:.3f}). Their transference cells measure noise, not whether the masks "
            "carry the evidence; train them longer (the `paper` profile) before reading them."
        )
    ]


def _transfer_table(number: int, table: TransferRecord) -> list[Block]:
    source = table.source
    paper = PAPER_TABLES.get(source)
    columns = ["τ", "H Grad-CAM", "H causal"]
    for target in table.targets:
        columns += [f"{arch_title(target)} Grad-CAM", f"{arch_title(target)} causal"]
    rows = []
    for r, tau in enumerate(table.thresholds):
        paper_row = _paper_row(paper, tau)
        cells = [f"{tau:.2f}"]
        for m, method in enumerate((GRADCAM, CAUSAL)):
            cells.append(paper_pair(table.huffman[r][m], _get(paper_row, "huffman", method)))
        for t, target in enumerate(table.targets):
            for m, method in enumerate((GRADCAM, CAUSAL)):
                quoted = _get(paper_row, "accuracy", target, method)
                cells.append(paper_pair(table.accuracy[r][t][m], quoted))
        rows.append(cells)
    gain = gain_text(table.gain, table.significant_wins, table.significant_losses)
    ours = (
        f"causal wins {table.wins} of {table.cells} accuracy cells (ties {table.ties}){gain}; "
        f"lower H at {table.fewer_bits} of {len(table.thresholds)} thresholds"
    )
    claim = f"; paper: {paper['claim']}" if paper else ""
    caption = (
        f"Ours: {ours}{claim}. {table.n_images} test images. Paper values: {PAPER_SOURCE}."
        if paper
        else f"Ours: {ours}."
    )
    title = f"Table {number}: masks from {arch_title(source)}"
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
    table = data.ablation
    if not table:
        return [*blocks, *_not_run(data, "ablation", "The ablation stage has not run.")]
    blocks.append(
        Paragraph(
            "The paper leaves three choices open (docs/method.md): the contrast "
            "loss, the normalisation `n` of contrast weights and the sign convention. Every "
            "combination `causal[loss,normalize,sign]`, plus further readings (the loss on "
            "softmax probabilities, `mse_prob`; Grad-CAM's term from the cross-entropy loss, "
            "a fourth entry `ce`), against Grad-CAM, all maps from one explain pass."
        )
    )
    return [*blocks, *ablation_blocks(table, level=3)]


def _seed_study(data: RunData) -> list[Block]:
    """The ablation over training seeds, when ``seeds/seeds.json`` is in the run folder."""
    if str(SEED_STUDY) in data.unreadable:
        return [
            Heading(2, "The ablation over training seeds"),
            Paragraph(
                f"`{SEED_STUDY}` was written by another version of causalcam; run the seed "
                "study again (`benchmarks/ablation.py`) to recompute it."
            ),
        ]
    if not data.seeds:
        return []
    return [Heading(2, "The ablation over training seeds"), *seed_blocks(data.seeds, level=3)]


def _rise(data: RunData) -> list[Block]:
    blocks: list[Block] = [Heading(2, "RISE deletion/insertion AUC (probability based)")]
    result = data.rise
    if not result:
        return [*blocks, *_not_run(data, "rise", "The RISE stage has not run.")]
    rows = [
        [method_text(r.method), number_text(r.deletion_auc), number_text(r.insertion_auc)]
        for r in result.rows
    ]
    caption = (
        f"Petsiuk et al. (BMVC 2018) on {arch_title(result.source)}, {result.steps} steps, "
        "black deletion baseline, blurred insertion start; for comparison with other libraries."
    )
    return [*blocks, Table(["method", "deletion AUC (↓)", "insertion AUC (↑)"], rows, caption)]


def _localisation(data: RunData) -> list[Block]:
    blocks: list[Block] = [Heading(2, "Do the maps look at the lungs? (localisation)")]
    result = data.localisation
    if not result:
        text = "The localisation stage has not run."
        return [*blocks, *_not_run(data, "localisation", text)]
    for table in result.tables:
        used = table.n_images - table.mask_status.get("empty", 0)
        rows = [
            [
                method_text(r.method),
                f"{number_text(r.lung_share)} [{number_text(r.ci_low)}, {number_text(r.ci_high)}]",
                number_text(r.chance),
                f"{number_text(r.excess, True)} "
                f"[{number_text(r.excess_low, True)}, {number_text(r.excess_high, True)}]",
                number_text(r.pointing),
                number_text(r.body_share),
                str(r.n),
            ]
            for r in table.rows
        ]
        caption = (
            f"{arch_title(table.model)}: share of each map's mass inside the lungs, mean over "
            f"{used} of {table.n_images} test scans with a lung mask "
            f"({int(table.ci * 100)}% bootstrap intervals, {table.n_boot} resamples); chance: "
            "the lung area fraction (a uniform map); excess: share minus chance, paired; "
            "scans: those where the method's map is not all zero."
        )
        columns = ["method", "lung share", "chance", "excess", "pointing game", "in body", "scans"]
        notes = [note.removeprefix("- ") for note in table.notes]
        blocks += [Table(columns, rows, caption), Bullets(notes)]
    if result.masks_figure:
        caption = "Sampled test scans with their lung (and body) masks, to check them by eye."
        blocks.append(Image(result.masks_figure, caption))
    return blocks


def _qualitative(data: RunData) -> list[Block]:
    blocks: list[Block] = [Heading(2, "Qualitative panels (Fig. 2c-h, Fig. 3)")]
    result = data.qualitative
    if not result:
        return [*blocks, *_not_run(data, "qualitative", "The qualitative stage has not run.")]
    if result.fig2:
        blocks.append(Image(result.fig2, "Fig. 2c-h: a NonCOVID test scan and its maps."))
    for number, path in enumerate(result.fig3, start=1):
        caption = (
            f"Fig. 3{'ab'[number - 1] if number <= 2 else number}: a COVID test scan masked by "
            f"Grad-CAM's and the causal map's pixels above {result.threshold:.2f}, with the "
            "network's prediction on each masked image."
        )
        blocks.append(Image(path, caption))
    return blocks


def _manifest(data: RunData) -> list[Block]:
    manifest = data.manifest
    stages = [
        [
            name,
            duration_text(entry.get("seconds")),
            entry.get("finished") or entry.get("skipped", ""),
        ]
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
