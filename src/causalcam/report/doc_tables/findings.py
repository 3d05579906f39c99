"""The tables of the reproduction's findings: the paper's claims, the seed studies at 112 and
224 px, transference between seeds, localisation and the verdict in one sentence."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from ...results import (
    AblationTable,
    Estimate,
    LocalisationResult,
    SeedTable,
    TransferRecord,
)
from ..claims import CLAIM_BY_KEY, ClaimVerdict, Verdict, comparison_table
from ..formatting import effect_text, method_text
from ..markdown import render_markdown
from ..sections import folder_verdicts
from .common import BCE_SET, DEFAULT, LITERAL, against_zero, markdown_table, read_json


def seed_ablations_224(results: Path) -> list[tuple[str, AblationTable]]:
    """Each 224 px ResNet-18's ablation as ``(seed, table)``, in seed order: the folders
    ``full-cpu/seeds/<index>-<checkpoint>/`` of the seed study, whose checkpoints ``make
    full-cpu`` gives in seed order (the bundled model, seed 0, first)."""
    found = []
    for path in sorted((results / "full-cpu" / "seeds").glob("*/ablation.json")):
        seed = re.match(r"(\d+)-", path.parent.name)
        if seed is None:
            raise ValueError(f"{path.parent}: no seed number in the folder's name")
        found.append((seed.group(1), AblationTable.from_json(read_json(path))))
    return found


def _seed_study(results: Path, profile: str) -> SeedTable:
    """The pooled seed study of a committed run (``<profile>/seeds/seeds.json``)."""
    return SeedTable.from_json(read_json(results / profile / "seeds" / "seeds.json"))


def verdict(results: Path) -> str:
    """The paper's claims (as ``causalcam claims`` judges them) at 112 and 224 px: Fig. 2 from
    each size's seed study, Tables 1-2 from its protocol run."""
    _, quick = folder_verdicts(results / "quick")
    _, full = folder_verdicts(results / "full-cpu")
    sizes = (("112 px", quick, "quick"), ("224 px", full, "full-cpu"))
    runs = [
        (f"{size}, {len(_seed_study(results, profile).models)} ResNet-18 seeds", verdicts)
        for size, verdicts, profile in sizes
    ]
    note = (
        "Fig. 2 on the mean of each size's seed study, Tables 1-2 from masks of its first "
        "ResNet-18 and of ResNet-34 on the four other networks"
    )
    return render_markdown([comparison_table(runs, note)])


def seeds_224(results: Path) -> str:
    """Each 224 px ResNet-18 seed's ablation and their pooled mean: the default, BCE and
    literal readings."""
    pooled = _seed_study(results, "full-cpu")
    tables: list[tuple[str, AblationTable | SeedTable]] = [
        *((f"seed {seed}", table) for seed, table in seed_ablations_224(results)),
        (f"mean of {len(pooled.models)}", pooled),
    ]
    rows = []
    for method in (DEFAULT, BCE_SET, LITERAL):
        for name, table in tables:
            deletion, insertion = table.row("deletion", method), table.row("insertion", method)
            rows.append(
                [
                    f"`{method}`",
                    name,
                    effect_text(deletion.mean_diff, "points"),
                    against_zero(deletion.mean_diff),
                    effect_text(deletion.mean_saving, "percent"),
                    effect_text(insertion.mean_diff, "points"),
                    against_zero(insertion.mean_diff, higher_is_better=False),
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
        f"Against Grad-CAM at matched Huffman budgets, {pooled.n_images} test scans, thresholds "
        f"{min(pooled.thresholds):g}-{max(pooled.thresholds):g}; the mean of the networks has "
        "one paired bootstrap interval over the test scans of all of them; *better* / *worse* "
        "only where the 95% interval excludes zero."
    )
    return markdown_table(columns, rows, caption)


def seeds_112(results: Path) -> str:
    """The 112 px seed study: every variant over three ResNet-18 seeds."""
    table = _seed_study(results, "quick")
    rows = []
    for method in [r.method for r in table.rows if r.mode == "deletion"]:
        deletion, insertion = table.row("deletion", method), table.row("insertion", method)
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
    return markdown_table(columns, rows, caption)


def transfer_seeds(results: Path) -> str:
    """Transference between the 112 px ResNet-18 seeds: wins, mean gain and Huffman ratios."""
    rows = []
    for path in sorted((results / "transfer-seeds").glob("*.json")):
        table = TransferRecord.from_json(read_json(path))
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
    return markdown_table(columns, rows)


def localisation(results: Path) -> str:
    """Share of each map's mass inside the lungs, for the bundled 224 and 112 px models."""
    found = {
        size: LocalisationResult.from_json(
            read_json(results / "localisation" / f"bundled-{size}" / "localisation.json")
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
    return markdown_table(columns, rows, f"{found[224].n_images} test scans.")


def _pooled(results: Path, profile: str, method: str) -> tuple[str, str]:
    """A reading's deletion effect in a committed seed study: its comparison with Grad-CAM
    (``better``, ``worse`` or ``no difference``) and ``the mean of N at SIZE px (effect)``."""
    study = _seed_study(results, profile)
    row = study.row("deletion", method)
    size = read_json(results / profile / "manifest.json")["data"]["size"]
    where = f"the mean of {row.seeds} at {size} px ({effect_text(row.mean_diff, 'points')})"
    return against_zero(row.mean_diff).strip("*"), where


def _on_pooled(results: Path, profile: str) -> str:
    """``[not ]on the mean of N at SIZE px (effect)`` for the default reading."""
    comparison, where = _pooled(results, profile, DEFAULT)
    return f"{'' if comparison == 'better' else 'not '}on {where}"


def _literal_text(results: Path, ahead: int, networks: int) -> str:
    """Where the literal reading beats Grad-CAM, and where it is worse on a seed study's mean."""
    text = "never does" if ahead == 0 else f"does on {ahead} of {networks}"
    worse = [
        where
        for comparison, where in (_pooled(results, p, LITERAL) for p in ("full-cpu", "quick"))
        if comparison == "worse"
    ]
    return text + (f" and is worse on {' and on '.join(worse)}" if worse else "")


def summary(results: Path) -> str:
    """The verdict in one sentence, counted from the committed results: on how many trained
    networks each reading's deletion accuracy is ahead of Grad-CAM's with a 95% interval
    above zero, on the mean of each seed study, and Tables 1-2 at 224 px."""
    tables = [table for _, table in seed_ablations_224(results)]

    def ahead(method: str) -> tuple[int, Estimate]:
        rows = [t.row("deletion", method).mean_diff for t in tables]
        best = max(rows, key=lambda e: e.value if e.finite else -1.0)
        return sum(against_zero(e) == "**better**" for e in rows), best

    default_ahead, best = ahead(DEFAULT)
    literal_ahead, _ = ahead(LITERAL)
    _, verdicts = folder_verdicts(results / "full-cpu")
    holds = [v for v in verdicts if v.verdict == Verdict.HOLDS]
    by_claim = {v.claim: v for v in verdicts}
    literal = _literal_text(results, literal_ahead, len(tables))
    size = "by at most" if default_ahead else "the best estimate"
    transfer = "are not measured yet at 224 px"
    if by_claim["table1"].verdict != Verdict.NOT_MEASURED:
        transfer = "at 224 px: " + "; ".join(
            f"{name} *{v.verdict}*, {effect_text(v.estimate, 'points')} "
            f"({v.detail.replace('; ', ', ')})"
            for name, v in (("Table 1", by_claim["table1"]), ("Table 2", by_claim["table2"]))
        )
    return (
        f"**Does the paper hold?** {'In part' if holds else 'Not in what is measured'}: "
        "causalcam's "
        f"default causal map beats Grad-CAM (a 95% interval above zero) on {default_ahead} of "
        f"{len(tables)} ResNet-18s at 224 px ({size} {effect_text(best, 'points')}, where the "
        f"paper reports about 3 points), {_on_pooled(results, 'full-cpu')}, and "
        f"{_on_pooled(results, 'quick')}; the paper's literal reading {literal}, and "
        f"the paper's Tables 1-2 (masks carried to other networks) {transfer}. "
        f"{_ground_truth_sentence(results)}"
    )


def _ground_truth_sentence(results: Path) -> str:
    """How many causal readings separate planted cause from context (the benchmark's
    verdict over every design), as one sentence."""
    readings = read_json(results / "ground-truth" / "results.json")["readings"]
    names = list(dict.fromkeys(r["reading"] for r in readings))
    smoothings = sorted({float(r["smoothing"]) for r in readings})
    separate = {r["reading"] for r in readings if r["separates"]}
    default = DEFAULT in separate
    return (
        f"On images with a planted cause and context, {len(separate)} of {len(names)} causal "
        "readings separate them better than Grad-CAM (with label smoothing "
        f"{' or '.join(f'{v:g}' for v in smoothings)}), and the default "
        f"{'does' if default else 'does not'}."
    )


#: How a verdict counts in the users' paragraph: evidence for the paper, against it, or neither.
_SIDES = {
    Verdict.HOLDS: "for",
    Verdict.SMALLER: "for",
    Verdict.REVERSED: "against",
    Verdict.DIFFERS: "against",
    Verdict.NOT_SHOWN: "inconclusive",
}


def _sides(verdicts: Sequence[ClaimVerdict], methods: set[str]) -> dict[str, list[str]]:
    """The claims judged on ``methods`` by side (:data:`_SIDES`), each as ``label (effect)``."""
    found: dict[str, list[str]] = {"for": [], "against": [], "inconclusive": []}
    for v in verdicts:
        if v.method in methods and v.verdict in _SIDES:
            claim = CLAIM_BY_KEY[v.claim]
            effect = effect_text(v.estimate, claim.unit)
            found[_SIDES[v.verdict]].append(
                f"{claim.label} ({'no budget to compare at' if effect == '–' else effect})"
            )
    return found


def _side_text(found: dict[str, list[str]]) -> str:
    """``for the paper on ...; against it on ...; inconclusive on ...``."""
    words = {
        "for": "for the paper on",
        "against": "against it on",
        "inconclusive": "inconclusive on",
    }
    return "; ".join(
        f"{words[side]} {', '.join(items) if items else 'none of the claims'}"
        for side, items in found.items()
    )


def for_users(results: Path) -> str:
    """What the 224 px evidence means for someone choosing between the causal map and
    Grad-CAM: each claim for, against or inconclusive, with its interval, and the advice it
    supports."""
    _, verdicts = folder_verdicts(results / "full-cpu")
    default = _sides(verdicts, {DEFAULT, "causal"})
    literal = _sides(verdicts, {LITERAL})
    fig2 = {v.verdict for v in verdicts if v.method == DEFAULT}
    text = (
        "**What this means for a user.** At 224 px (Fig. 2 on the mean of the "
        f"{len(_seed_study(results, 'full-cpu').models)} ResNet-18s, Tables 1-2 on masks "
        "carried to the other networks) the evidence on the default causal map "
        f"(`CausalOptions()`) is {_side_text(default)}. On the paper's formula read literally "
        f"(`CausalOptions.literal()`) it is {_side_text(literal)}."
    )
    if not fig2 & {Verdict.HOLDS, Verdict.SMALLER, Verdict.REVERSED, Verdict.DIFFERS}:
        text += (
            " Choosing between the two maps on this evidence: the default causal map marks the "
            "pixels a network needs neither better nor worse than Grad-CAM, so expect the same "
            "regions; it costs no more to compute (one call gives both)."
        )
    if literal["against"]:
        text += (
            " Do not use the literal reading to find what a network relies on: its maps keep "
            "few pixels, and where an interval decides they are worse than Grad-CAM's."
        )
    return text
