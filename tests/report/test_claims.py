"""The paper's claims and their verdicts (causalcam.report.claims): the verdict rule on every
side of an interval, which result each claim is read from, and the JSON form."""

from __future__ import annotations

import json
import math

import pytest

from causalcam.evaluate.summary import choose_variant
from causalcam.report.claims import (
    CLAIM_BY_KEY,
    CLAIMS,
    ClaimVerdict,
    Verdict,
    claim_verdicts,
    judge,
    paper_gain,
)
from causalcam.results import (
    AblationRow,
    AblationTable,
    Estimate,
    SeedRow,
    SeedTable,
    Spread,
    TransferRecord,
    TransferResult,
)

DEFAULT = "causal[mse_prob,none,set]"
LITERAL = "causal[mse,none,literal]"
TARGETS = ("resnet34", "resnet50", "densenet121", "densenet169")


@pytest.mark.parametrize(
    ("key", "estimate", "verdict"),
    [
        ("deletion_accuracy", Estimate(0.04, 0.01, 0.07), Verdict.HOLDS),  # reaches 3 points
        ("deletion_accuracy", Estimate(0.05, 0.04, 0.06), Verdict.HOLDS),  # larger still holds
        ("deletion_accuracy", Estimate(0.014, 0.002, 0.025), Verdict.SMALLER),
        ("deletion_accuracy", Estimate(0.005, -0.0001, 0.01), Verdict.NOT_SHOWN),
        ("deletion_accuracy", Estimate(-0.02, -0.04, -0.001), Verdict.REVERSED),
        ("deletion_accuracy", Estimate(0.02), Verdict.NOT_SHOWN),  # no interval: nothing shown
        ("deletion_accuracy", Estimate(), Verdict.NOT_MEASURED),
        ("deletion_bits", Estimate(0.10, 0.01, 0.149), Verdict.SMALLER),  # below 15%
        ("deletion_bits", Estimate(0.10, 0.01, 0.16), Verdict.HOLDS),
        ("insertion", Estimate(-0.01, -0.02, -0.001), Verdict.HOLDS),  # lower is the paper's side
        ("insertion", Estimate(0.03, 0.01, 0.06), Verdict.REVERSED),
        ("insertion", Estimate(-0.01, -0.02, 0.001), Verdict.NOT_SHOWN),
        ("table2", Estimate(0.001, -0.003, 0.006), Verdict.HOLDS),  # the paper: no clear gain
        ("table2", Estimate(0.02, 0.01, 0.03), Verdict.DIFFERS),
        ("table2", Estimate(-0.02, -0.03, -0.01), Verdict.DIFFERS),
    ],
)
def test_judge_reads_the_interval_against_the_papers_side_and_size(
    key: str, estimate: Estimate, verdict: Verdict
) -> None:
    assert judge(estimate, CLAIM_BY_KEY[key]) is verdict


def test_paper_gains_are_the_printed_tables_means() -> None:
    # Table 1: 19 of 20 cells better, mean +4.16 points; Table 2: mean -0.79 points
    assert paper_gain("resnet18") == pytest.approx(0.04163, abs=1e-5)
    assert paper_gain("resnet34") == pytest.approx(-0.00788, abs=1e-5)
    assert "19 of 20" in CLAIM_BY_KEY["table1"].statement
    assert CLAIM_BY_KEY["table2"].direction == 0
    assert len({c.key for c in CLAIMS}) == len(CLAIMS)


def _ablation_row(mode: str, method: str, diff: Estimate, saving: Estimate) -> AblationRow:
    return AblationRow(mode, method, budgets=2, mean_diff=diff, mean_saving=saving)


def _ablation(rows: tuple[AblationRow, ...]) -> AblationTable:
    return AblationTable(
        model="resnet18",
        layer="layer4",
        n_images=203,
        chance=0.517,
        thresholds=(0.2, 0.4),
        h_values=(0.3, 0.5),
        rows=rows,
        choice=choose_variant(rows),
    )


def _table(source: str, gain: Estimate, huffman: tuple[tuple[float, float], ...]) -> TransferRecord:
    targets = tuple(t for t in ("resnet18", *TARGETS) if t != source)
    return TransferRecord(
        source=source,
        baseline="gradcam",
        challenger="causal",
        mode="deletion",
        n_images=203,
        thresholds=tuple(0.1 * (i + 1) for i in range(len(huffman))),
        targets=targets,
        huffman=huffman,
        accuracy=tuple(((0.6, 0.62),) * len(targets) for _ in huffman),
        wins=7,
        ties=2,
        cells=len(huffman) * len(targets),
        fewer_bits=sum(c < g for g, c in huffman),
        gain=gain,
        significant_wins=1,
        significant_losses=0,
    )


def test_fig2_claims_come_from_one_networks_ablation_without_a_seed_study() -> None:
    rows = (
        _ablation_row("deletion", "gradcam", Estimate(), Estimate()),
        _ablation_row("deletion", DEFAULT, Estimate(0.04, 0.01, 0.07), Estimate(0.1, 0.02, 0.2)),
        _ablation_row("insertion", DEFAULT, Estimate(0.01, -0.01, 0.03), Estimate()),
        _ablation_row("deletion", LITERAL, Estimate(), Estimate()),  # reaches no budget
    )
    verdicts = {(v.claim, v.method): v for v in claim_verdicts(_ablation(rows), None, None)}
    bits = verdicts["deletion_bits", DEFAULT]
    assert bits.estimate == Estimate(0.1, 0.02, 0.2) and bits.verdict is Verdict.HOLDS
    assert bits.evidence == "resnet18, 203 test scans"
    assert verdicts["deletion_accuracy", DEFAULT].verdict is Verdict.HOLDS
    assert verdicts["insertion", DEFAULT].verdict is Verdict.NOT_SHOWN
    literal = verdicts["deletion_accuracy", LITERAL]
    assert literal.verdict is Verdict.NOT_SHOWN and "no matched budget" in literal.detail
    assert verdicts["insertion", LITERAL].verdict is Verdict.NOT_MEASURED  # no such row
    for key in ("table1", "table2", "transfer_bits"):
        assert verdicts[key, "causal"].verdict is Verdict.NOT_MEASURED


def test_a_seed_study_outranks_the_single_network() -> None:
    rows = (_ablation_row("deletion", DEFAULT, Estimate(0.04, 0.01, 0.07), Estimate()),)
    spread = Spread(per_seed=(0.01, 0.02, -0.01), better=2)
    seed_row = SeedRow(
        mode="deletion",
        method=DEFAULT,
        options={},
        seeds=3,
        budgets=2,
        mean_diff=Estimate(0.005, -0.001, 0.01),
        mean_saving=Estimate(0.04, -0.02, 0.06),
        diff_over_seeds=spread,
        saving_over_seeds=Spread(per_seed=(0.1, 0.0, 0.02), better=3),
    )
    seeds = SeedTable(
        models=("a.pt", "b.pt", "c.pt"),
        n_images=203,
        chance=0.517,
        thresholds=(0.2,),
        h_values=(0.3,),
        rows=(seed_row,),
        choice=_ablation(rows).choice,
    )
    verdicts = {(v.claim, v.method): v for v in claim_verdicts(_ablation(rows), seeds, None)}
    accuracy = verdicts["deletion_accuracy", DEFAULT]
    assert accuracy.estimate == seed_row.mean_diff and accuracy.verdict is Verdict.NOT_SHOWN
    assert accuracy.evidence == "mean over 3 training seeds, 203 test scans"
    assert accuracy.detail == "better than Grad-CAM on 2 of 3 networks"
    assert verdicts["deletion_bits", DEFAULT].detail == "better than Grad-CAM on 3 of 3 networks"


def test_transference_claims_read_the_gain_and_the_huffman_ratios() -> None:
    table1 = _table("resnet18", Estimate(0.05, 0.02, 0.08), ((0.8, 0.6), (0.5, 0.4)))
    table2 = _table("resnet34", Estimate(-0.02, -0.03, -0.01), ((0.8, 0.9), (0.5, 0.4)))
    transfer = TransferResult(tables=(table1, table2))
    verdicts = {v.claim: v for v in claim_verdicts(None, None, transfer, methods=(DEFAULT,))}
    assert verdicts["table1"].verdict is Verdict.HOLDS
    assert verdicts["table1"].detail.startswith("causal wins 7 of 8 cells (ties 2)")
    assert "significantly better in 1, worse in 0" in verdicts["table1"].detail
    assert verdicts["table2"].verdict is Verdict.DIFFERS
    bits = verdicts["transfer_bits"]
    assert bits.verdict is Verdict.NOT_SHOWN and bits.detail == "lower at 3 of 4 thresholds"
    saving = (0.25 + 0.2 - 0.125 + 0.2) / 4  # 1 - H_causal / H_Grad-CAM per threshold
    assert bits.estimate.value == pytest.approx(saving)
    assert math.isnan(bits.estimate.low)
    all_lower = TransferResult(tables=(table1,))
    holds = {v.claim: v for v in claim_verdicts(None, None, all_lower)}
    assert holds["transfer_bits"].verdict is Verdict.HOLDS
    assert holds["table2"].verdict is Verdict.NOT_MEASURED


def test_a_verdict_round_trips_through_json() -> None:
    verdict = ClaimVerdict(
        "deletion_bits", DEFAULT, Estimate(0.1, math.nan, math.nan), Verdict.SMALLER, "e", "d"
    )
    payload = verdict.to_json()
    assert payload["paper"] == 0.15 and payload["unit"] == "percent"
    assert payload["verdict"] == "smaller" and payload["estimate"]["low"] is None
    back = ClaimVerdict.from_json(payload)
    assert back.verdict is Verdict.SMALLER and back.estimate.value == 0.1
    assert math.isnan(back.estimate.low) and back.detail == "d"


def test_a_table_with_a_network_near_chance_is_unreliable() -> None:
    table1 = _table("resnet18", Estimate(0.05, 0.02, 0.08), ((0.8, 0.6),))
    transfer = TransferResult(tables=(table1,))
    verdicts = {v.claim: v for v in claim_verdicts(None, None, transfer, near_chance=("resnet50",))}
    assert verdicts["table1"].verdict is Verdict.UNRELIABLE
    assert verdicts["table1"].detail.endswith("; near chance: resnet50")
    assert verdicts["table2"].verdict is Verdict.NOT_MEASURED  # no table: stays not measured
    assert verdicts["transfer_bits"].verdict is Verdict.HOLDS  # the ratios need no classifier


@pytest.mark.parametrize(
    ("run_name", "table1"), [("quick", "unreliable"), ("full-cpu", "not shown")]
)
def test_the_committed_verdicts_are_what_their_results_give(run_name: str, table1: str) -> None:
    """docs/results/<run>/claims.json (quoted by the README) is regenerated from the
    committed stage results and seed study, so the two cannot drift apart."""
    from pathlib import Path

    from causalcam.report import read_run
    from causalcam.report.sections import run_verdicts

    run = Path(__file__).resolve().parents[2] / "docs" / "results" / run_name
    stored = json.loads((run / "claims.json").read_text(encoding="utf-8"))["claims"]
    computed = [v.to_json() for v in run_verdicts(read_run(run))]
    assert computed == stored
    verdicts = {(c["claim"], c["method"]): c["verdict"] for c in stored}
    assert verdicts["deletion_accuracy", DEFAULT] != "not measured"  # the README's columns
    assert verdicts["table1", "causal"] == table1
