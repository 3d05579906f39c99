"""The ablation's tables as report blocks: one network's (:func:`ablation_blocks`) and over
training seeds (:func:`seed_blocks`). The report, ``ablation.md`` and ``seeds.md`` all show
these, so each number has one definition on every page.
"""

from __future__ import annotations

from ..results import SANITY_TAU, AblationRow, AblationTable, Choice, Estimate, SeedTable
from .blocks import Block, Heading, Paragraph, Table
from .formatting import estimate_text, number_text, range_text

#: What "better" means per mode, for the table headings.
BETTER: dict[str, str] = {
    "deletion": "higher Δacc, positive saving",
    "insertion": "lower Δacc, negative saving",
}

NUMBERS = (
    "Δacc: accuracy minus Grad-CAM's at a matched Huffman budget H; mean Δacc and bits "
    "saved (1 - H_method / H_Grad-CAM at Grad-CAM's accuracy, only where Grad-CAM is above "
    "chance) are averaged over the budgets both curves reach; ΔAUC: difference of the mean "
    "accuracy over the H range both curves share. Brackets: 95% paired bootstrap intervals "
    "over the test images (when computed)."
)


def ablation_blocks(table: AblationTable, level: int = 2) -> list[Block]:
    """The per-mode tables of one network's ablation and the chosen variant."""
    blocks: list[Block] = [
        Paragraph(
            f"Model {table.model}, layer `{table.layer}`, {table.n_images} test images "
            f"(chance {number_text(table.chance)}), "
            f"thresholds {range_text(table.thresholds)}, matched "
            f"budgets H = {', '.join(f'{h:g}' for h in table.h_values)}. {NUMBERS}"
        )
    ]
    for mode, better in BETTER.items():
        rows = [r for r in table.rows if r.mode == mode]
        if rows:
            blocks += [Heading(level, f"{mode.capitalize()} (better: {better})")]
            blocks.append(_mode_table(rows, table.h_values))
    return [*blocks, Heading(level, "Choice"), Paragraph(choice_text(table.choice))]


def _mode_table(rows: list[AblationRow], h_values: tuple[float, ...]) -> Table:
    columns = [
        "method",
        f"kept@τ={SANITY_TAU:g}",
        *(f"acc@H={h:g} (Δ)" for h in h_values),
        "budgets",
        "mean Δacc",
        "bits saved",
        "ΔAUC",
    ]
    cells = []
    for row in rows:
        same = f" (= `{row.same_maps_as}`)" if row.same_maps_as else ""
        accuracy = [
            number_text(acc.value)
            + (f" ({number_text(diff.value, signed=True)})" if diff.finite else "")
            for acc, diff in zip(row.accuracy, _diffs(row), strict=True)
        ]
        cells.append(
            [
                f"`{row.method}`{same}",
                number_text(row.kept_at_tau),
                *accuracy,
                str(row.budgets),
                estimate_text(row.mean_diff),
                estimate_text(row.mean_saving, percent=True),
                estimate_text(row.auc_diff),
            ]
        )
    return Table(columns, cells, "In the order measured; Grad-CAM is the reference.")


def _diffs(row: AblationRow) -> tuple[Estimate, ...]:
    """The differences to Grad-CAM per budget (none, shown as such, for Grad-CAM itself)."""
    return row.accuracy_diff or tuple(Estimate() for _ in row.accuracy)


def choice_text(choice: Choice) -> str:
    """One sentence on the chosen variant and whether it beats Grad-CAM."""
    verdict = "beats" if choice.beats_gradcam else "does not beat"
    seeds = (
        f"; better in {choice.seeds_better} of {choice.seeds} seeds"
        if choice.seeds is not None
        else ""
    )
    agrees = "agrees" if choice.insertion_agrees else "does not agree"
    return (
        f"Best deletion variant{' over seeds' if choice.seeds is not None else ''}: "
        f"`{choice.method}`; it {verdict} Grad-CAM at matched budgets (mean Δacc "
        f"{estimate_text(choice.deletion_mean_diff)}, bits saved "
        f"{estimate_text(choice.deletion_mean_saving, percent=True)}{seeds}); insertion mean Δacc "
        f"{estimate_text(choice.insertion_mean_diff)} ({agrees})."
    )


def seed_blocks(study: SeedTable, level: int = 2) -> list[Block]:
    """The per-mode tables of the ablation over training seeds and the chosen variant."""
    n = len(study.models)
    blocks: list[Block] = [
        Paragraph(
            f"The same ablation on {n} networks of one architecture trained with different "
            f"seeds ({', '.join(f'`{m}`' for m in study.models)}), {study.n_images} test "
            f"images (chance {number_text(study.chance)}), "
            f"thresholds {range_text(study.thresholds)}, "
            f"matched budgets H = {', '.join(f'{h:g}' for h in study.h_values)}. {NUMBERS} "
            "Values are averaged over the seeds; each interval resamples the shared test "
            "images of every seed at once; *better* counts the seeds in which the method "
            "beats Grad-CAM."
        )
    ]
    columns = [
        "method",
        "Δacc per seed",
        "mean Δacc",
        "sd",
        "better",
        "bits saved",
        "better",
    ]
    for mode, better in BETTER.items():
        rows = [r for r in study.rows if r.mode == mode]
        if not rows:
            continue
        cells = [
            [
                f"`{r.method}`",
                " / ".join(number_text(v, signed=True) for v in r.diff_over_seeds.per_seed),
                estimate_text(r.mean_diff),
                number_text(r.diff_over_seeds.sd),
                f"{r.diff_over_seeds.better}/{r.seeds}",
                estimate_text(r.mean_saving, percent=True),
                f"{r.saving_over_seeds.better}/{r.seeds}",
            ]
            for r in rows
        ]
        blocks += [Heading(level, f"{mode.capitalize()} (better: {better})"), Table(columns, cells)]
    return [*blocks, Heading(level, "Choice"), Paragraph(choice_text(study.choice))]
