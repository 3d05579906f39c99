"""The tables of the runs behind the results: stage times and where they were measured,
the bundled networks, the training recipes compared and their recall."""

from __future__ import annotations

from pathlib import Path

from ...results import WeightsRecord, read_stage
from ..formatting import duration_text
from .common import markdown_table, read_json


def measured_on(results: Path, run: str) -> str:
    """One "measured on" line from the ``manifest.json`` of run folder ``results/run``:
    hardware, threads, precision, versions and the date its last stage finished."""
    data = read_json(results / run / "manifest.json")
    hardware, versions = data.get("hardware", {}), data.get("versions", {})
    device = "CUDA GPU" if hardware.get("cuda") else f"{hardware.get('cpu_count', '?')}-core CPU"
    date = str(data.get("updated", "?"))[:10]
    cpu = ", ".join(
        str(hardware[key]) for key in ("processor", "cpu_vector") if key in hardware
    )  # fmt: skip
    processes = f"{hardware['processes']} process(es), " if "processes" in hardware else ""
    return (
        f"*Measured on: {device} ({cpu}, {processes}"
        f"torch threads: {hardware.get('torch_threads', '?')}), {data.get('precision', '?')}, "
        f"torch {versions.get('torch', '?')}, causalcam {versions.get('causalcam', '?')}; "
        f"last stage finished {date} ([manifest](results/{run}/manifest.json)).*"
    )


def run_time(results: Path, run: str) -> str:
    """The stage times of run folder ``results/run`` from its manifest, with the "measured on"
    line."""
    stages = read_json(results / run / "manifest.json").get("stages", {})
    rows = [
        [
            name,
            duration_text(stage.get("seconds")),
            "an earlier run" if "adopted_from" in stage else "this run",
        ]
        for name, stage in stages.items()
    ]
    total = sum(float(stage.get("seconds") or 0) for stage in stages.values())
    rows.append(["**all stages**", f"**{duration_text(total)}**", ""])
    caption = (
        "A stage whose results were already on disk shows the time to read them; one taken "
        "from committed results of the same inputs (an earlier run) keeps the time it took "
        "there, on that run's machine."
    )
    table = markdown_table(["stage", "time", "computed in"], rows, caption)
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
    for run in read_json(results / "training" / "recipes.json")["runs"]:
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
    return markdown_table(columns, rows)


def bundled_confusion(results: Path) -> str:
    """The bundled networks' accuracy and confusion matrix on validation and test.

    Raises:
        ValueError: a confusion matrix whose accuracy differs from the recorded one.
    """
    rows = []
    runs = [r for r in read_json(results / "training" / "recipes.json")["runs"] if "bundled" in r]
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
    return markdown_table(columns, rows)


def recipes(results: Path) -> str:
    """The training recipes compared (``docs/results/training/recipes.json``)."""
    runs = read_json(results / "training" / "recipes.json")["runs"]
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
    return markdown_table(
        columns, rows, "Validation: 118 scans; test: the 203 official test scans."
    )


def recall(results: Path) -> str:
    """Per-class recall on validation and test of the runs that recorded it."""
    runs = read_json(results / "training" / "recipes.json")["runs"]
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
    return markdown_table(columns, rows)


def _recipe_text(recipe: dict[str, object]) -> str:
    """A committed network's recipe in words: its name, mixup, progressive resizing."""
    parts = [str(recipe["name"])]
    if recipe.get("mixup"):
        parts.append(f"mixup {recipe['mixup']}")
    if recipe.get("early_size"):
        share = float(str(recipe["early_share"]))
        parts.append(f"first {share:.0%} of epochs at {recipe['early_size']} px")
    return ", ".join(parts)


def committed_networks(results: Path) -> str:
    """The networks committed under ``weights/`` (beside ``docs/``), from their records."""
    folder = results.parents[1] / "weights"
    rows = []
    for path in sorted(folder.glob("*.json")):
        record = WeightsRecord.from_json(read_json(path), path)
        rows.append(
            [
                f"`{record.name}`",
                f"{record.size} px",
                str(record.seed),
                _recipe_text(record.recipe),
                f"{record.best_epoch} of {record.epochs}",
                record.precision,
                f"{record.val_accuracy:.3f}",
                f"{record.test_accuracy:.3f}",
                f"{record.test_auc:.3f}" if record.test_auc is not None else "–",
                duration_text(record.train_seconds),
            ]
        )
    columns = [
        "network",
        "input",
        "seed",
        "recipe",
        "selected epoch",
        "precision",
        "val accuracy",
        "test accuracy",
        "test AUC",
        "training time",
    ]
    note = (
        "Accuracies measured on the fp16 files; validation: 118 scans, test: the 203 official "
        "test scans. Training time: as recorded, on one core (bf16 where the CPU runs it "
        "natively, else fp32); it depends on the CPU and its load."
    )
    return markdown_table(columns, rows, note)
