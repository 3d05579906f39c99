"""The results tables of README.md and the docs pages, generated from the committed results.

A page marks each generated block with ``<!-- table: NAME -->`` ... ``<!-- /table -->``;
:func:`refresh` rewrites every block from ``docs/results/**`` (``make docs-tables``, or
``python -m causalcam.report.doc_tables``) and :func:`stale_blocks` names the blocks that
differ from what the results give (``--check``). :data:`TABLES` lists the names a page may use.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..method_names import DEFAULT_CAUSAL, LITERAL_CAUSAL, causal_variant_name
from ..results import AblationTable, Estimate, SeedTable, TransferRecord
from ..results.localisation import LocalisationResult
from ..results.stages import read_stage
from .blocks import Table
from .claims import Verdict, claim_verdicts, comparison_table
from .formatting import duration_text, effect_text, method_text
from .markdown import render_markdown
from .sections import folder_verdicts

#: The default reading, the paper's literal one and the best of the others on 112 px seeds.
DEFAULT = causal_variant_name(**DEFAULT_CAUSAL)
LITERAL = causal_variant_name(**LITERAL_CAUSAL)
BCE_SET = "causal[bce,none,set]"
#: The pages that may hold generated blocks, relative to the repository root.
PAGE_GLOBS = ("README.md", "docs/*.md", "docs/results/**/README.md")
_BLOCK = re.compile(r"(<!-- table: ([\w-]+) -->\n)(.*?)(<!-- /table -->)", re.DOTALL)


@dataclass(frozen=True)
class StaleBlock:
    """A generated block of ``page`` whose text differs from what the results give."""

    page: Path
    name: str

    def __str__(self) -> str:
        return f"{self.page}: table {self.name!r} differs from docs/results"


def _json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _table(columns: Sequence[str], rows: Sequence[Sequence[str]], caption: str = "") -> str:
    return render_markdown([Table(columns, rows, caption)])


def _against_zero(estimate: Estimate, higher_is_better: bool = True) -> str:
    """``better`` / ``worse`` where the 95% interval excludes zero, else ``no difference``."""
    low, high = estimate.low, estimate.high
    if not (estimate.finite and math.isfinite(low) and math.isfinite(high)):
        return "–"
    if not higher_is_better:
        low, high = -high, -low
    if low > 0:
        return "**better**"
    return "**worse**" if high < 0 else "no difference"


def measured_on(results: Path, run: str) -> str:
    """One "measured on" line from the ``manifest.json`` of run folder ``results/run``:
    hardware, threads, precision, versions and the date its last stage finished."""
    data = _json(results / run / "manifest.json")
    hardware, versions = data.get("hardware", {}), data.get("versions", {})
    device = "CUDA GPU" if hardware.get("cuda") else f"{hardware.get('cpu_count', '?')}-core CPU"
    date = str(data.get("updated", "?"))[:10]
    return (
        f"*Measured on: {device} ({hardware.get('processor', '?')}, "
        f"torch threads: {hardware.get('torch_threads', '?')}), {data.get('precision', '?')}, "
        f"torch {versions.get('torch', '?')}, causalcam {versions.get('causalcam', '?')}; "
        f"last stage finished {date} ([manifest](results/{run}/manifest.json)).*"
    )


def seed_ablations_224(results: Path) -> list[tuple[str, AblationTable]]:
    """Each 224 px ResNet-18 seed's ablation as ``(seed, table)``, in seed order: from the
    pooled seed study's folders (``full-cpu/seeds/seed*/``) where it is committed, else from
    ``full-cpu/seeds-preliminary/<seed>-*/``."""
    full = results / "full-cpu"
    paths = sorted((full / "seeds").glob("seed*/ablation.json")) or sorted(
        (full / "seeds-preliminary").glob("*/ablation.json")
    )
    found = []
    for path in paths:
        seed = re.match(r"(?:seed)?(\d+)", path.parent.name)
        if seed is None:
            raise ValueError(f"{path.parent}: no seed number in the folder's name")
        found.append((seed.group(1), AblationTable.from_json(_json(path))))
    return found


def verdict(results: Path) -> str:
    """The paper's claims (as ``causalcam claims`` judges them): a column for the 112 px seed
    study, the 224 px protocol run (ResNet-18 seed 0) and each further 224 px seed."""
    _, quick = folder_verdicts(results / "quick")
    _, full = folder_verdicts(results / "full-cpu")
    runs = [("112 px, 3 ResNet-18 seeds", quick), ("224 px, ResNet-18 seed 0", full)]
    for seed, table in seed_ablations_224(results):
        if seed != "0":
            runs.append((f"224 px, seed {seed}", claim_verdicts(table, None, None)))
    return render_markdown([comparison_table(runs)])


def seeds_224(results: Path) -> str:
    """Each 224 px ResNet-18 seed's ablation: the default, BCE and literal readings."""
    rows = []
    for method in (DEFAULT, BCE_SET, LITERAL):
        for seed, table in seed_ablations_224(results):
            deletion, insertion = table.row("deletion", method), table.row("insertion", method)
            rows.append(
                [
                    f"`{method}`",
                    f"seed {seed}",
                    effect_text(deletion.mean_diff, "points"),
                    _against_zero(deletion.mean_diff),
                    effect_text(deletion.mean_saving, "percent"),
                    effect_text(insertion.mean_diff, "points"),
                    _against_zero(insertion.mean_diff, higher_is_better=False),
                ]
            )
    columns = [
        "map",
        "ResNet-18 (224 px)",
        "deletion: Δacc [95% CI]",
        "vs Grad-CAM",
        "bits saved [95% CI]",
        "insertion: Δacc [95% CI] (lower is better)",
        "vs Grad-CAM",
    ]
    caption = (
        "Against Grad-CAM at matched Huffman budgets, 203 test scans, thresholds 0.2-0.6; "
        "*better* / *worse* only where the 95% paired bootstrap interval excludes zero."
    )
    return _table(columns, rows, caption)


def seeds_112(results: Path) -> str:
    """The 112 px seed study: every variant over three ResNet-18 seeds."""
    table = SeedTable.from_json(_json(results / "quick" / "seeds" / "seeds.json"))
    found = {(r.mode, r.method): r for r in table.rows}
    rows = []
    for method in [r.method for r in table.rows if r.mode == "deletion"]:
        deletion, insertion = found[("deletion", method)], found[("insertion", method)]
        per_seed = " / ".join(
            "—" if v != v else f"{100 * v:+.1f}" for v in deletion.diff_over_seeds.per_seed
        )
        rows.append(
            [
                f"`{method}`",
                per_seed,
                effect_text(deletion.mean_diff, "points"),
                f"{deletion.diff_over_seeds.better}/{deletion.seeds}",
                effect_text(deletion.mean_saving, "percent"),
                effect_text(insertion.mean_diff, "points"),
                f"{insertion.diff_over_seeds.better}/{insertion.seeds}",
            ]
        )
    columns = [
        "variant",
        "deletion Δacc per seed (points)",
        "deletion: mean Δacc [95% CI]",
        "better in",
        "bits saved [95% CI]",
        "insertion: mean Δacc [95% CI] (lower is better)",
        "better in",
    ]
    caption = f"Mean over {len(table.models)} seeds, {table.n_images} test scans."
    return _table(columns, rows, caption)


def transfer_seeds(results: Path) -> str:
    """Transference between the 112 px ResNet-18 seeds: wins, mean gain and Huffman ratios."""
    rows = []
    for path in sorted((results / "transfer-seeds").glob("*.json")):
        table = TransferRecord.from_json(_json(path))
        diffs = [c - g for cells in table.accuracy for g, c in cells]
        h_base = sum(g for g, _ in table.huffman) / len(table.huffman)
        h_new = sum(c for _, c in table.huffman) / len(table.huffman)
        rows.append(
            [
                f"`{table.challenger}`",
                table.source.replace("resnet18-cpu-s", "seed").replace("seed", "seed "),
                f"{table.wins} ({table.ties})",
                f"{100 * sum(diffs) / len(diffs):+.1f} points",
                f"{h_base:.3f} → {h_new:.3f}",
            ]
        )
    columns = [
        "variant",
        "masks from",
        "causal wins (ties) of the cells",
        "mean accuracy Δ vs Grad-CAM",
        "mean H, Grad-CAM → causal",
    ]
    return _table(columns, rows)


def localisation(results: Path) -> str:
    """Share of each map's mass inside the lungs, for the bundled 224 and 112 px models."""
    found = {
        size: LocalisationResult.from_json(
            _json(results / "localisation" / f"bundled-{size}" / "localisation.json")
        )
        for size in (224, 112)
    }
    methods = [row.method for row in found[224].rows]
    rows = []
    for method in methods:
        cells = [method_text(method)]
        for result in found.values():
            row = next((r for r in result.rows if r.method == method), None)
            cells.append(
                f"{100 * row.lung_share:.1f}% [{100 * row.ci_low:.1f}, {100 * row.ci_high:.1f}]"
                if row
                else "–"
            )
        rows.append(cells)
    chance = [f"{100 * r.rows[0].chance:.1f}%" for r in found.values()]
    rows.append(["a uniform map (the lung area)", *chance])
    columns = ["map", "224 px ResNet-18: mass in the lungs [95% CI]", "112 px ResNet-18"]
    return _table(columns, rows, f"{found[224].n_images} test scans.")


def speed(results: Path) -> str:
    """The fast path's speed (fp32 contiguous, fp32 channels-last, bf16), with its context."""
    data = _json(results / "precision" / "fast_path_resnet18_quiet.json")
    rows = [
        [
            row["mode"],
            f"{row['forward_images_per_s']:.1f}",
            f"{row['maps_images_per_s']:.1f}",
            f"{row['evaluation_images_per_s']:.1f}",
            f"{row['maps_vs_fp32_contiguous_forward']:.2f}",
            f"{row['evaluation_speedup']:.2f}x",
        ]
        for row in data["rows"]
    ]
    columns = [
        "mode",
        "forward (images/s)",
        "all six maps (images/s)",
        "evaluation (images/s)",
        "all maps / fp32 contiguous forward",
        "evaluation speed-up",
    ]
    context = data["context"].replace(" (random scans (DataError))", " (random images)")
    return _table(columns, rows) + f"\n*Measured on: {context}.*\n"


def precision_agreement(results: Path) -> str:
    """Agreement of the channels-last and bf16 maps with the fp32 contiguous ones, per map."""
    data = _json(results / "precision" / "agreement.json")
    by_mode = {(r["mode"], r["method"]): r for r in data["maps"]}
    methods = list(dict.fromkeys(r["method"] for r in data["maps"]))
    rows = []
    for method in methods:
        cells = [
            method_text(method),
            f"{by_mode[('fp32 channels-last', method)]['max_abs_difference']:.1e}",
        ]
        for mode in ("bf16", "bf16, bf16 head"):
            row = by_mode[(mode, method)]
            cells += [
                f"{row['median_pearson']:.5f}",
                f"{row['min_pearson']:.4f}",
                f"{100 * row['mask_pixels_differing']:.2f}%",
            ]
        rows.append(cells)
    columns = [
        "map",
        "fp32 channels-last: max difference",
        "bf16: median r",
        "min r",
        "mask at 0.5 differs",
        "bf16 head too: median r",
        "min r",
        "mask differs",
    ]
    return _table(columns, rows, str(data.get("context", "")))


def run_time(results: Path, run: str) -> str:
    """The stage times of run folder ``results/run`` from its manifest, with the "measured on"
    line."""
    stages = _json(results / run / "manifest.json").get("stages", {})
    rows = [[name, duration_text(stage.get("seconds"))] for name, stage in stages.items()]
    total = sum(float(stage.get("seconds") or 0) for stage in stages.values())
    rows.append(["**all stages**", f"**{duration_text(total)}**"])
    caption = "A stage whose results were already on disk shows the time to read them."
    table = _table(["stage", "time"], rows, caption)
    return table + "\n" + measured_on(results, run) + "\n"


def bundled_models(results: Path) -> str:
    """The bundled networks (the runs of ``training/recipes.json`` marked ``bundled``).

    Raises:
        ValueError: a bundled run's test accuracy differs from the one its protocol run
            measured (``quick`` and ``full-cpu`` ``results/train.json``).
    """
    measured = {
        network.size: network
        for run in ("full-cpu", "quick")
        for network in read_stage(results / run / "results" / "train.json").networks
        if network.bundled
    }
    rows = []
    for run in _json(results / "training" / "recipes.json")["runs"]:
        if "bundled" not in run:
            continue
        network = measured.get(run["size"])
        if network is None or abs((network.test_accuracy or 0) - run["test_accuracy"]) > 1e-3:
            raise ValueError(f"{run['bundled']}: recipes.json and the protocol's train.json differ")
        rows.append(
            [
                f"`{run['bundled']}`",
                run["network"],
                f"{run['size']} px",
                run["recipe"],
                f"{run['val_accuracy']:.3f}",
                f"{network.test_accuracy:.3f}",
            ]
        )
    columns = ["name", "network", "input", "recipe", "val accuracy", "test accuracy (203 scans)"]
    return _table(columns, rows)


def bundled_confusion(results: Path) -> str:
    """The bundled networks' accuracy and confusion matrix on validation and test.

    Raises:
        ValueError: a confusion matrix whose accuracy differs from the recorded one.
    """
    rows = []
    runs = [r for r in _json(results / "training" / "recipes.json")["runs"] if "bundled" in r]
    for run in runs:
        for split, accuracy in (
            ("validation", run["val_accuracy"]),
            ("test", run["test_accuracy"]),
        ):
            matrix = run["confusion"][split]
            n = sum(map(sum, matrix))
            if abs((matrix[0][0] + matrix[1][1]) / n - accuracy) > 1e-3:
                raise ValueError(f"{run['bundled']} {split}: confusion and accuracy disagree")
            rows.append([f"`{run['bundled']}`", split, str(n), f"{accuracy:.3f}", str(matrix)])
    columns = [
        "model",
        "split",
        "n",
        "accuracy",
        "confusion [[COVID→COVID, COVID→Non], [Non→COVID, Non→Non]]",
    ]
    return _table(columns, rows)


def summary(results: Path) -> str:
    """The verdict in one sentence, counted from the committed results: on how many trained
    networks each reading's deletion accuracy is ahead of Grad-CAM's with a 95% interval
    above zero, and whether Tables 1-2 are measured at 224 px."""
    seeds = SeedTable.from_json(_json(results / "quick" / "seeds" / "seeds.json"))
    tables = [table for _, table in seed_ablations_224(results)]

    def ahead(method: str) -> tuple[int, Estimate]:
        rows = [t.row("deletion", method).mean_diff for t in tables]
        best = max(rows, key=lambda e: e.value if e.finite else -1.0)
        return sum(_against_zero(e) == "**better**" for e in rows), best

    default_ahead, best = ahead(DEFAULT)
    literal_ahead, _ = ahead(LITERAL)
    row_112 = {(r.mode, r.method): r for r in seeds.rows}[("deletion", DEFAULT)]
    over_112 = "" if _against_zero(row_112.mean_diff) == "**better**" else "not "
    _, verdicts = folder_verdicts(results / "full-cpu")
    holds = [v for v in verdicts if v.verdict == Verdict.HOLDS]
    tables_224 = {v.claim: v.verdict for v in verdicts}.get("table1", Verdict.NOT_MEASURED)
    literal = "never does" if literal_ahead == 0 else f"does on {literal_ahead} of {len(tables)}"
    size = "by at most" if default_ahead else "the best estimate"
    if tables_224 == Verdict.NOT_MEASURED:
        transfer = "are not measured yet at 224 px"
    else:
        transfer = f"get the verdict *{tables_224}* at 224 px"
    return (
        f"**Does the paper hold?** {'In part' if holds else 'Not in what is measured'}: "
        "causalcam's "
        f"default causal map beats Grad-CAM (a 95% interval above zero) on {default_ahead} of "
        f"{len(tables)} ResNet-18s at 224 px ({size} {effect_text(best, 'points')}, where the "
        f"paper reports about 3 points), and {over_112}on the mean of {row_112.seeds} at 112 px "
        f"({effect_text(row_112.mean_diff, 'points')}); the paper's literal reading {literal}, and "
        f"the paper's Tables 1-2 (masks carried to other networks) {transfer}. "
        f"{_ground_truth_sentence(results)}"
    )


def _ground_truth_sentence(results: Path) -> str:
    """How many causal readings separate planted cause from context (the benchmark's
    verdict over every design), as one sentence."""
    readings = _json(results / "ground-truth" / "results.json")["readings"]
    separate = sum(1 for reading in readings if reading["separates"])
    default = next(r for r in readings if r["reading"] == DEFAULT)
    return (
        f"On images with a planted cause and context, {separate} of {len(readings)} causal "
        f"readings separate them better than Grad-CAM, and the default "
        f"{'does' if default['separates'] else 'does not'}."
    )


def recipes(results: Path) -> str:
    """The training recipes compared (``docs/results/training/recipes.json``)."""
    runs = _json(results / "training" / "recipes.json")["runs"]
    rows = [
        [
            run["network"],
            f"{run['size']} px",
            run["recipe"],
            str(run["seed"]),
            run["precision"],
            f"{run['val_accuracy']:.3f}",
            f"{run['test_accuracy']:.3f}" if run.get("test_accuracy") is not None else "–",
            run.get("note", ""),
        ]
        for run in runs
    ]
    columns = [
        "network",
        "input",
        "recipe",
        "seed",
        "precision",
        "val accuracy",
        "test accuracy",
        "note",
    ]
    return _table(columns, rows, "Validation: 118 scans; test: the 203 official test scans.")


def recall(results: Path) -> str:
    """Per-class recall on validation and test of the runs that recorded it."""
    runs = _json(results / "training" / "recipes.json")["runs"]
    rows = [
        [
            f"{run['network']}, {run['recipe']}, seed {run['seed']}",
            f"{run['covid_recall'][0]:.3f} / {run['noncovid_recall'][0]:.3f}",
            f"{run['covid_recall'][1]:.3f} / {run['noncovid_recall'][1]:.3f}",
        ]
        for run in runs
        if "covid_recall" in run
    ]
    columns = ["run", "validation: COVID / NonCOVID recall", "test: COVID / NonCOVID recall"]
    return _table(columns, rows)


def benchmark(path: Path) -> str:
    """A benchmark's table (``docs/results/benchmarks/NAME.json``: ``columns`` with an optional
    ``format`` for numbers, ``rows``, ``command`` and ``measured_on``)."""
    data = _json(path)
    columns = data["columns"]
    rows = [
        [
            column.get("format", "{}").format(value)
            if isinstance(value, int | float)
            else value or "–"
            for column, value in zip(columns, row, strict=True)
        ]
        for row in data["rows"]
    ]
    table = _table([c["name"] for c in columns], rows)
    return f"{table}\n*Measured on: {data['measured_on']}; `{data['command']}`.*\n"


def benchmark_names(results: Path) -> list[str]:
    """The table name of each committed benchmark record: ``bench-NAME`` for
    ``benchmarks/NAME.json`` (underscores written as hyphens)."""
    folder = results / "benchmarks"
    return [f"bench-{p.stem.replace('_', '-')}" for p in sorted(folder.glob("*.json"))]


def render_table(name: str, results: Path) -> str:
    """The Markdown of table ``name`` from the results folder ``results``.

    Raises:
        KeyError: ``name`` is neither in :data:`TABLES` nor a committed benchmark.
    """
    if name in TABLES:
        return TABLES[name](results)
    if name in benchmark_names(results):
        return benchmark(results / "benchmarks" / f"{name[len('bench-') :].replace('-', '_')}.json")
    known = ", ".join([*TABLES, *benchmark_names(results)])
    raise KeyError(f"unknown table {name!r} (known: {known})")


def _gradcam_verdict(config: dict[str, Any], method: str) -> dict[str, Any] | None:
    """The deciding comparison of ``method`` with Grad-CAM on one ground-truth configuration
    (the verdict whose quantity is measured against Grad-CAM), or None."""
    for verdict in config["verdicts"]:
        prediction = verdict["prediction"]
        if prediction["method"] == method and "Grad-CAM" in prediction["quantity"]:
            return dict(verdict)
    return None


#: how a ground-truth prediction's ``kind`` reads in a table
_KINDS = {"above": ">", "below": "<", "within": "within +-"}


def _design_label(config: dict[str, Any]) -> str:
    design = config["design"]
    label = str(design["name"])
    if design["name"] == "shortcut":
        label += f" (rho {design['rho']:g}{', the null case' if design['rho'] == 0.5 else ''})"
    return f"{label}, smoothing {config['smoothing']:g}"


def ground_truth(results: Path) -> str:
    """The ground-truth benchmark per design: the default reading's deciding comparison with
    Grad-CAM (effect, interval, outcome) and how many causal readings pass it."""
    rows = []
    for config in _json(results / "ground-truth" / "results.json")["configs"]:
        verdict = _gradcam_verdict(config, DEFAULT)
        if verdict is None:
            continue
        prediction, estimate = verdict["prediction"], Estimate.from_json(verdict["estimate"])
        readings = [
            _gradcam_verdict(config, row["method"])
            for row in config["rows"]
            if row["method"].startswith("causal[")
        ]
        passed = sum(1 for v in readings if v is not None and v["outcome"] == "holds")
        rule = f"{prediction['quantity']} {_KINDS[prediction['kind']]} {prediction['bound']:g}"
        effect = f"{estimate.value:+.3f} [{estimate.low:+.3f}, {estimate.high:+.3f}]"
        rows.append([_design_label(config), rule, effect, f"**{verdict['outcome']}**",
                     f"{passed} of {len(readings)}"])  # fmt: skip
    columns = ["design", "predicted for the causal map", f"`{DEFAULT}`", "verdict",
               "causal readings that pass"]  # fmt: skip
    manifest = _json(results / "ground-truth" / "manifest.json")
    settings = manifest["settings"]
    caption = (
        "S: share of map mass on the cause minus share on the context (docs/ground-truth.md); "
        "95% bootstrap intervals over networks, then images; margins declared before the first "
        f"run. Settings: {settings['arch']} CNN at {settings['size']} px, {settings['seeds']} "
        f"seeds a design, {settings['n_train']} training images, {settings['epochs']} epochs; "
        f"{manifest['cpu_count']}-core {manifest['cpu']} CPU, torch {manifest['torch']} "
        "([manifest](results/ground-truth/manifest.json))."
    )
    return _table(columns, rows, caption)


def sanity(results: Path) -> str:
    """The sanity checks of every method on the bundled 224 px model: each test's mean
    similarity with its interval, and whether the method passes every test."""
    report = _json(results / "metrics" / "resnet18_covidct_224" / "metrics.json")
    verdicts = report["sanity"]["verdicts"]
    tests = list(dict.fromkeys((v["test"], v["statistic"]) for v in verdicts))
    rows = []
    for method in dict.fromkeys(v["method"] for v in verdicts):
        cells, passed = [], True
        for test in tests:
            match = [v for v in verdicts if (v["method"], v["test"], v["statistic"]) ==
                     (method, *test)]  # fmt: skip
            if not match:
                cells.append("–")
                continue
            estimate = Estimate.from_json(match[0]["estimate"])
            passed = passed and bool(match[0]["passed"])
            cells.append(f"{estimate.value:.2f} [{estimate.low:.2f}, {estimate.high:.2f}]")
        rows.append([f"`{method}`", *cells, "passes" if passed else "**fails**"])
    columns = ["map", *[f"{test} {statistic}" for test, statistic in tests], "sanity checks"]
    caption = (
        "Similarity of each map before and after randomisation (or to the map of the other "
        f"class), {report['images']} test scans, 95% bootstrap intervals; a map passes "
        "where every interval lies below 0.5 (docs/metrics.md)."
    )
    return _table(columns, rows, caption)


#: Every table a page may name, with the function that renders it from ``docs/results``.
TABLES: dict[str, Callable[[Path], str]] = {
    "verdict": verdict,
    "seeds-224": seeds_224,
    "seeds-112": seeds_112,
    "transfer-seeds": transfer_seeds,
    "localisation": localisation,
    "speed": speed,
    "precision-agreement": precision_agreement,
    "run-time-quick": lambda results: run_time(results, "quick"),
    "run-time-full-cpu": lambda results: run_time(results, "full-cpu"),
    "bundled-models": bundled_models,
    "bundled-confusion": bundled_confusion,
    "summary": summary,
    "ground-truth": ground_truth,
    "sanity": sanity,
    "recipes": recipes,
    "recall": recall,
}


def pages(root: Path) -> Iterator[Path]:
    """The pages of ``root`` that may hold generated blocks."""
    for pattern in PAGE_GLOBS:
        yield from sorted(root.glob(pattern))


def _for_page(text: str, page: Path, root: Path) -> str:
    """``text`` with its ``results/...`` links (written for ``docs/``) made relative to ``page``."""
    docs = root / "docs"
    prefix = "docs/" if page.parent == root else "../" * len(page.parent.relative_to(docs).parts)
    return re.sub(r"\]\((results/)", rf"]({prefix}\1", text)


def render_page(text: str, page: Path, root: Path, cache: dict[str, str]) -> str:
    """``text`` with every generated block rewritten (``cache``: rendered tables by name).

    Raises:
        KeyError: a block names a table that :data:`TABLES` does not know.
    """

    def block(match: re.Match[str]) -> str:
        name = match.group(2)
        if name not in cache:
            try:
                cache[name] = render_table(name, root / "docs" / "results").strip()
            except KeyError as error:
                raise KeyError(f"{page}: {error.args[0]}") from None
        body = _for_page(cache[name], page, root)
        return f"{match.group(1)}{body}\n{match.group(4)}"

    return _BLOCK.sub(block, text)


def stale_blocks(root: Path) -> list[StaleBlock]:
    """The generated blocks of the pages under ``root`` that differ from the results."""
    cache: dict[str, str] = {}
    stale = []
    for page in pages(root):
        text = page.read_text(encoding="utf-8")
        fresh = render_page(text, page, root, cache)
        old, new = _BLOCK.findall(text), _BLOCK.findall(fresh)
        stale += [
            StaleBlock(page.relative_to(root), a[1])
            for a, b in zip(old, new, strict=True)
            if a != b
        ]
    return stale


def refresh(root: Path) -> list[Path]:
    """Rewrite every generated block under ``root``; returns the pages that changed."""
    cache: dict[str, str] = {}
    changed = []
    for page in pages(root):
        text = page.read_text(encoding="utf-8")
        fresh = render_page(text, page, root, cache)
        if fresh != text:
            page.write_text(fresh, encoding="utf-8")
            changed.append(page.relative_to(root))
    return changed


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: rewrite the blocks (default) or only check them (``--check``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--root", type=Path, default=Path("."), help="Repository root.")
    parser.add_argument("--check", action="store_true", help="Only list stale blocks.")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_blocks(args.root)
        for block in stale:
            print(block)
        return 1 if stale else 0
    for page in refresh(args.root):
        print(f"updated {page}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
