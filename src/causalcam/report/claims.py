"""The paper's claims, each with the verdict a run folder gives it.

Every claim of the paper's abstract and Sec. 4 that a run measures is a :class:`Claim`
(:data:`CLAIMS`). :func:`claim_verdicts` reads the effect from the run's results (the seed
study where there is one, else the ablation of one network; the transference tables) and
judges it by its 95% interval with :func:`judge`:

- ``holds``: the interval excludes no effect, on the paper's side, and reaches the paper's size;
- ``smaller``: on the paper's side, but the whole interval is below the paper's size;
- ``not shown``: the interval includes no effect;
- ``reversed``: the interval excludes no effect, on the other side;
- ``differs``: the paper reports no clear difference, the interval excludes one;
- ``unreliable``: a network of the comparison classifies near chance, so it measures noise;
- ``not measured``: the run has no such result.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeVar

from ..method_names import CAUSAL, DEFAULT_CAUSAL, LITERAL_CAUSAL, causal_variant_name
from ..results import (
    AblationRow,
    AblationTable,
    Estimate,
    JsonForm,
    SeedRow,
    SeedTable,
    TransferRecord,
    TransferResult,
)
from .blocks import Table
from .formatting import effect_text, method_text
from .paper import PAPER_TABLES

_Row = TypeVar("_Row", AblationRow, SeedRow)


class Verdict(StrEnum):
    """What a run says of a claim, judged by its interval."""

    HOLDS = "holds"
    SMALLER = "smaller"
    NOT_SHOWN = "not shown"
    REVERSED = "reversed"
    DIFFERS = "differs"
    UNRELIABLE = "unreliable"
    NOT_MEASURED = "not measured"


@dataclass(frozen=True)
class Claim:
    """One claim: ``key``, the paper's words, the effect it states (``size``; NaN where it
    states only a direction), its direction (``+1``: more is the paper's side, ``-1``: less,
    ``0``: no clear difference), the unit the effect is written in and a short ``label`` for
    running text."""

    key: str
    statement: str
    size: float
    direction: int
    unit: str  # "points" (accuracy) or "percent" (bits saved)
    label: str


def paper_gain(source: str) -> float:
    """The mean accuracy gain of the causal masks over Grad-CAM's in the paper's table of
    ``source`` (every target and threshold cell), from ``paper_tables.json``."""
    accuracy = PAPER_TABLES[source]["accuracy"]
    diffs = [
        c - g
        for pair in accuracy.values()
        for g, c in zip(pair["gradcam"], pair["causal"], strict=True)
    ]
    return sum(diffs) / len(diffs)


CLAIMS: tuple[Claim, ...] = (
    Claim(
        "deletion_bits",
        "Deletion (Fig. 2a): the causal masks need about 15% fewer Huffman bits than "
        "Grad-CAM's for the same accuracy",
        0.15,
        1,
        "percent",
        "Fig. 2a's fewer bits on deletion",
    ),
    Claim(
        "deletion_accuracy",
        "Deletion (Fig. 2a): at the same bits, about 3 points more accuracy than Grad-CAM's",
        0.03,
        1,
        "points",
        "Fig. 2a's higher accuracy on deletion",
    ),
    Claim(
        "insertion",
        "Insertion (Fig. 2b): removing the causal pixels lowers accuracy more than removing "
        "Grad-CAM's",
        math.nan,
        -1,
        "points",
        "Fig. 2b's lower accuracy on insertion",
    ),
    Claim(
        "table1",
        "Table 1: masks from ResNet-18 classified better by four other networks (19 of 20 "
        f"cells; mean {100 * paper_gain('resnet18'):+.1f} points)",
        paper_gain("resnet18"),
        1,
        "points",
        "Table 1's better masks from ResNet-18",
    ),
    Claim(
        "table2",
        "Table 2: masks from ResNet-34 about as good as Grad-CAM's for the others (10 of 20 "
        f"cells; the printed numbers: mean {100 * paper_gain('resnet34'):+.1f} points)",
        paper_gain("resnet34"),
        0,
        "points",
        "Table 2's masks from ResNet-34 as good as Grad-CAM's",
    ),
    Claim(
        "transfer_bits",
        "Tables 1-2: the causal masks have a lower Huffman ratio than Grad-CAM's at every "
        "threshold",
        math.nan,
        1,
        "percent",
        "the lower Huffman ratios of Tables 1-2",
    ),
)
CLAIM_BY_KEY: dict[str, Claim] = {claim.key: claim for claim in CLAIMS}


@dataclass(frozen=True)
class ClaimVerdict(JsonForm):
    """What a run says of one claim for one map (``method``): the effect with its interval,
    the verdict, the evidence it stands on and further detail (win counts)."""

    claim: str
    method: str
    estimate: Estimate
    verdict: Verdict
    evidence: str
    detail: str = ""
    json_derived = ("statement", "paper", "unit")

    @property
    def statement(self) -> str:
        return CLAIM_BY_KEY[self.claim].statement

    @property
    def paper(self) -> float:
        """The paper's effect size (NaN where it gives none)."""
        return CLAIM_BY_KEY[self.claim].size

    @property
    def unit(self) -> str:
        return CLAIM_BY_KEY[self.claim].unit


def judge(estimate: Estimate, claim: Claim) -> Verdict:
    """The verdict of ``estimate`` (with its interval) on ``claim``; an estimate without an
    interval shows nothing."""
    if not estimate.finite:
        return Verdict.NOT_MEASURED
    if not (math.isfinite(estimate.low) and math.isfinite(estimate.high)):
        return Verdict.NOT_SHOWN
    if claim.direction == 0:
        return Verdict.HOLDS if estimate.low <= 0 <= estimate.high else Verdict.DIFFERS
    low, high = sorted((claim.direction * estimate.low, claim.direction * estimate.high))
    if high < 0:
        return Verdict.REVERSED
    if low <= 0:
        return Verdict.NOT_SHOWN
    if math.isfinite(claim.size) and high < claim.size:
        return Verdict.SMALLER
    return Verdict.HOLDS


def claim_verdicts(
    ablation: AblationTable | None,
    seeds: SeedTable | None,
    transfer: TransferResult | None,
    methods: Sequence[str] = (),
    near_chance: Sequence[str] = (),
) -> tuple[ClaimVerdict, ...]:
    """The verdicts of a run on every claim: Fig. 2's three for each causal reading in
    ``methods`` (default: causalcam's default and the paper's literal reading), Tables 1-2
    for the transference stage's challenger; a table with a network of ``near_chance``
    (architecture names) is ``unreliable``."""
    readings = tuple(methods) or (
        causal_variant_name(**DEFAULT_CAUSAL),
        causal_variant_name(**LITERAL_CAUSAL),
    )
    verdicts = [
        _curve_verdict(CLAIM_BY_KEY[key], method, ablation, seeds)
        for method in readings
        for key in ("deletion_bits", "deletion_accuracy", "insertion")
    ]
    tables = {t.source: t for t in (transfer.tables if transfer else ())}
    for key, source in (("table1", "resnet18"), ("table2", "resnet34")):
        verdict = _transfer_verdict(CLAIM_BY_KEY[key], tables.get(source))
        verdicts.append(_unless_near_chance(verdict, tables.get(source), near_chance))
    verdicts.append(_bits_verdict(tuple(tables.values())))
    return tuple(verdicts)


def _curve_verdict(
    claim: Claim, method: str, ablation: AblationTable | None, seeds: SeedTable | None
) -> ClaimVerdict:
    """A Fig. 2 claim from the seed study (mean over networks) or else one network's ablation."""
    mode = "insertion" if claim.key == "insertion" else "deletion"
    seed_row = _find(seeds.rows if seeds else (), mode, method)
    if seeds and seed_row:
        estimate = _pick(claim, seed_row.mean_diff, seed_row.mean_saving)
        spread = seed_row.saving_over_seeds if claim.unit == "percent" else seed_row.diff_over_seeds
        evidence = f"mean over {seed_row.seeds} training seeds, {seeds.n_images} test scans"
        detail = f"better than Grad-CAM on {spread.better} of {seed_row.seeds} networks"
        if not estimate.finite:
            detail = f"no matched budget to compare at on {seed_row.seeds} networks"
            return ClaimVerdict(claim.key, method, estimate, Verdict.NOT_SHOWN, evidence, detail)
        return ClaimVerdict(claim.key, method, estimate, judge(estimate, claim), evidence, detail)
    row = _find(ablation.rows if ablation else (), mode, method)
    if ablation and row:
        estimate = _pick(claim, row.mean_diff, row.mean_saving)
        evidence = f"{ablation.model}, {ablation.n_images} test scans"
        if not estimate.finite:
            detail = f"no matched budget to compare at ({row.budgets} reached)"
            return ClaimVerdict(claim.key, method, estimate, Verdict.NOT_SHOWN, evidence, detail)
        return ClaimVerdict(claim.key, method, estimate, judge(estimate, claim), evidence)
    evidence = f"not among {ablation.model}'s ablation variants" if ablation else "no ablation"
    return ClaimVerdict(claim.key, method, Estimate(), Verdict.NOT_MEASURED, evidence)


def _pick(claim: Claim, diff: Estimate, saving: Estimate) -> Estimate:
    return saving if claim.unit == "percent" else diff


def _find(rows: Sequence[_Row], mode: str, method: str) -> _Row | None:
    return next((r for r in rows if (r.mode, r.method) == (mode, method)), None)


def _transfer_verdict(claim: Claim, table: TransferRecord | None) -> ClaimVerdict:
    """Table 1 or 2: the mean accuracy gain over the cells, with its paired interval."""
    if table is None:
        return ClaimVerdict(claim.key, CAUSAL, Estimate(), Verdict.NOT_MEASURED, "no table")
    targets = ", ".join(table.targets)
    evidence = f"masks from {table.source}, {table.n_images} test scans, targets {targets}"
    detail = f"causal wins {table.wins} of {table.cells} cells (ties {table.ties})"
    if table.significant_wins is not None and table.significant_losses is not None:
        detail += (
            f"; significantly better in {table.significant_wins}, "
            f"worse in {table.significant_losses}"
        )
    verdict = judge(table.gain, claim)
    return ClaimVerdict(claim.key, table.challenger, table.gain, verdict, evidence, detail)


def _unless_near_chance(
    verdict: ClaimVerdict, table: TransferRecord | None, near_chance: Sequence[str]
) -> ClaimVerdict:
    """``verdict``, made ``unreliable`` when a network of ``table`` classifies near chance."""
    weak = [n for n in (table.source, *table.targets) if n in near_chance] if table else []
    if not weak or verdict.verdict is Verdict.NOT_MEASURED:
        return verdict
    detail = f"{verdict.detail}; near chance: {', '.join(weak)}"
    return dataclasses.replace(verdict, verdict=Verdict.UNRELIABLE, detail=detail)


def _bits_verdict(tables: Sequence[TransferRecord]) -> ClaimVerdict:
    """Tables 1-2's Huffman ratios: the thresholds where the causal masks cost fewer bits,
    and the mean saving ``1 - H_causal / H_Grad-CAM`` (no interval: a count)."""
    claim = CLAIM_BY_KEY["transfer_bits"]
    if not tables:
        return ClaimVerdict(claim.key, CAUSAL, Estimate(), Verdict.NOT_MEASURED, "no table")
    savings = [1 - c / g for t in tables for g, c in t.huffman if g > 0]
    fewer = sum(t.fewer_bits for t in tables)
    total = sum(len(t.thresholds) for t in tables)
    if fewer == total:
        verdict = Verdict.HOLDS
    else:
        verdict = Verdict.REVERSED if fewer == 0 else Verdict.NOT_SHOWN
    evidence = ", ".join(f"masks from {t.source}" for t in tables)
    detail = f"lower at {fewer} of {total} thresholds"
    estimate = Estimate(sum(savings) / len(savings)) if savings else Estimate()
    return ClaimVerdict(claim.key, tables[0].challenger, estimate, verdict, evidence, detail)


def verdict_lines(verdicts: Sequence[ClaimVerdict]) -> list[str]:
    """One line per verdict for a terminal: verdict, claim key, map, effect [interval]."""
    width = max((len(str(v.verdict)) for v in verdicts), default=0)
    return [
        f"{str(v.verdict).ljust(width)}  {v.claim} ({method_text(v.method)}): "
        f"{effect_text(v.estimate, CLAIM_BY_KEY[v.claim].unit)}"
        for v in verdicts
    ]


def comparison_table(runs: Sequence[tuple[str, Sequence[ClaimVerdict]]], note: str = "") -> Table:
    """The verdicts of several runs side by side: a row per claim and map, a column per run
    (its name), each cell the verdict and the effect with its interval; ``note`` ends the
    caption (what each column's verdicts come from)."""
    keys = list(dict.fromkeys((v.claim, v.method) for _, verdicts in runs for v in verdicts))
    found = [{(v.claim, v.method): v for v in verdicts} for _, verdicts in runs]
    rows = []
    for claim, method in keys:
        cells = [CLAIM_BY_KEY[claim].statement, method_text(method)]
        for by_key in found:
            verdict = by_key.get((claim, method))
            effect = effect_text(verdict.estimate, CLAIM_BY_KEY[claim].unit) if verdict else ""
            cells.append(f"**{verdict.verdict}** {effect}" if verdict else "–")
        rows.append(cells)
    columns = ["claim of the paper", "map", *(name for name, _ in runs)]
    caption = "Verdict and effect against Grad-CAM [95% CI] per run" + (f": {note}" if note else "")
    return Table(columns, rows, caption + ".")
