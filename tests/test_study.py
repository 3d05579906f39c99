"""The ablation study (``causalcam.study``): tables computed from the curves, one explain
pass, caching, the choice rule. A tiny seeded CNN on random 16 px scans keeps it fast."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import Tensor, nn

import causalcam.evaluate.threshold as threshold_module
from causalcam.evaluate import Curve, Network
from causalcam.evaluate.summary import accuracy_at_h
from causalcam.evaluate.tables import jsonable
from causalcam.explain import CausalOptions, map_function
from causalcam.preprocess import Preprocessing, to_model_input
from causalcam.study import (
    AblationResult,
    choose_default,
    explain_all,
    identical_groups,
    map_sanity,
    paired_budget_stats,
    run_ablation,
)

SIZE = 16
VARIANTS = (
    CausalOptions("mse", "none", "literal"),
    CausalOptions("bce", "l2", "set"),
    CausalOptions("mse", "maxabs", "set"),
)
THRESHOLDS = (0.2, 0.4, 0.6, 0.8)


class Tiny(nn.Module):
    """conv-relu-conv-relu (target ``features``), global pooling, linear."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 6, 3, padding=1), nn.ReLU(), nn.Conv2d(6, 8, 3, padding=1), nn.ReLU()
        )
        self.fc = nn.Linear(8, 2)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(self.features(x).mean(dim=(-2, -1)))


@pytest.fixture
def network() -> Network:
    torch.manual_seed(0)
    return Network(Tiny().eval(), Preprocessing(size=SIZE), ("a", "b"))


def _run(network: Network, scans: tuple[Tensor, Tensor], out: Path) -> AblationResult:
    images, labels = scans
    return run_ablation(
        network,
        out,
        images=images,
        labels=labels,
        variants=VARIANTS,
        thresholds=THRESHOLDS,
        h_values=(0.2, 0.4, 0.6),
        n_boot=30,
        target_layer="features",
        plots=False,
        progress=False,
    )


def test_one_explain_pass_gives_each_methods_own_maps(
    network: Network, scans: tuple[Tensor, Tensor]
) -> None:
    maps, layer = explain_all(network, scans[0], VARIANTS, target_layer="features", batch_size=5)
    assert layer == "features"
    inputs = to_model_input(scans[0], network.preprocessing)
    for name in ("gradcam", "gradcam++", *(v.name for v in VARIANTS)):
        expected = map_function(network.model, name, target_layer="features")(inputs)
        torch.testing.assert_close(maps[name], expected, atol=1e-5, rtol=0)


def test_table_is_computed_from_the_curves(
    network: Network, scans: tuple[Tensor, Tensor], tmp_path: Path
) -> None:
    result = _run(network, scans, tmp_path)
    methods = ["gradcam", "gradcam++", *(v.name for v in VARIANTS)]
    assert [(r["mode"], r["method"]) for r in result.rows] == [
        (mode, m) for mode in ("deletion", "insertion") for m in methods
    ]
    curves = {(c.mode, c.method): c for c in result.curves}
    maps, _ = explain_all(network, scans[0], VARIANTS, target_layer="features")
    kept = map_sanity(maps)
    for row in result.rows:
        curve, ref = curves[(row["mode"], row["method"])], curves[(row["mode"], "gradcam")]
        acc = accuracy_at_h(curve.mean_h, curve.accuracy, result.h_values)
        ref_acc = accuracy_at_h(ref.mean_h, ref.accuracy, result.h_values)
        got = [row[f"acc@H={h:g}"] for h in result.h_values]
        np.testing.assert_allclose(got, acc, equal_nan=True)
        assert row["kept@tau=0.5"] == pytest.approx(kept[row["method"]]["kept_at_tau"])
        if row["method"] == "gradcam":
            assert row["budgets"] == int(np.isfinite(acc).sum())
            continue
        diffs = np.array([row[f"diff@H={h:g}"] for h in result.h_values])
        np.testing.assert_allclose(diffs, acc - ref_acc, equal_nan=True)
        finite = diffs[np.isfinite(diffs)]
        assert row["budgets"] == finite.size
        if finite.size:
            assert row["mean_diff"] == pytest.approx(finite.mean())
            assert row["mean_diff_lo"] <= row["mean_diff"] + 1e-12 <= row["mean_diff_hi"] + 2e-12


def test_outputs_written_and_choice_follows_the_rule(
    network: Network, scans: tuple[Tensor, Tensor], tmp_path: Path
) -> None:
    result = _run(network, scans, tmp_path)
    stored = json.loads((tmp_path / "ablation.json").read_text())
    assert stored["choice"]["method"] == result.choice["method"]
    assert len(stored["rows"]) == len(result.rows)
    header = (tmp_path / "ablation.csv").read_text().splitlines()[0].split(",")
    assert {"mode", "method", "loss", "mean_diff", "auc_diff_lo"} <= set(header)
    text = (tmp_path / "ablation.md").read_text()
    assert all(f"`{v.name}`" in text for v in VARIANTS)
    deletion = [r for r in result.rows if r["mode"] == "deletion" and r["method"] != "gradcam"]
    causal = [r for r in deletion if r["method"].startswith("causal")]
    top = max(r["budgets"] for r in causal)
    finite = [
        r for r in causal if r["budgets"] == top and math.isfinite(r.get("mean_diff", math.nan))
    ]
    if finite:
        assert result.choice["deletion_mean_diff"] == max(r["mean_diff"] for r in finite)
    assert result.choice["beats_gradcam"] == (result.choice["deletion_mean_diff_ci"][0] > 0)


def test_rerun_loads_every_curve_from_the_cache(
    network: Network,
    scans: tuple[Tensor, Tensor],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first = _run(network, scans, tmp_path)

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a cached curve was recomputed")

    monkeypatch.setattr(threshold_module, "threshold_correct", refuse)
    second = _run(network, scans, tmp_path)
    assert json.dumps(jsonable(second.rows)) == json.dumps(jsonable(first.rows))
    for a, b in zip(first.curves, second.curves, strict=True):
        np.testing.assert_array_equal(a.correct, b.correct)


def test_identical_maps_are_grouped_under_the_first_name() -> None:
    a, b = torch.zeros(2, 4, 4), torch.ones(2, 4, 4)
    groups = identical_groups({"x": a, "y": b, "z": a.clone(), "w": b * 0.5})
    assert groups == {"x": "x", "y": "y", "z": "x", "w": "w"}


def _curve(method: str, h: list[float], correct: list[list[int]]) -> Curve:
    matrix = np.array(correct, dtype=bool)
    original = np.full(matrix.shape[1], 1000, dtype=np.int64)
    bits = np.repeat(np.array(h)[:, None] * 1000, matrix.shape[1], axis=1).astype(np.int64)
    return Curve(
        "m", method, "m", "deletion", np.linspace(0.1, 0.9, len(h)), matrix, bits, original
    )


def test_paired_budget_stats_against_hand_computed_values() -> None:
    ref = _curve("gradcam", [0.2, 0.6], [[1, 0, 0, 0], [1, 1, 0, 0]])  # acc 0.25 -> 0.5
    better = _curve("causal", [0.2, 0.6], [[1, 1, 0, 0], [1, 1, 1, 0]])  # acc 0.5 -> 0.75
    stats = paired_budget_stats(better, ref, [0.2, 0.4, 0.6], n_boot=50)
    assert stats["mean_diff"] == pytest.approx(0.25)
    # Grad-CAM's accuracy at H = 0.2, 0.4, 0.6 is 0.25, 0.375, 0.5; the better curve reaches
    # them at H = 0.2 (its first point), 0.2 and 0.2: savings 0, 0.5, 2/3.
    assert stats["mean_saving"] == pytest.approx((0 + 0.5 + 2 / 3) / 3)
    same = paired_budget_stats(ref, ref, [0.2, 0.4, 0.6], n_boot=50)
    assert (same["mean_diff"], same["mean_diff_lo"], same["mean_diff_hi"]) == (0.0, 0.0, 0.0)
    # with chance at 0.375, only H = 0.6 (Grad-CAM 0.5 > 0.375) counts for the saving
    floored = paired_budget_stats(better, ref, [0.2, 0.4, 0.6], n_boot=50, chance=0.375)
    assert floored["mean_saving"] == pytest.approx(2 / 3)
    assert floored["mean_diff"] == pytest.approx(0.25)  # the accuracy difference is unchanged
    nowhere = paired_budget_stats(better, ref, [0.2, 0.4, 0.6], n_boot=20, chance=0.5)
    assert math.isnan(nowhere["mean_saving"])  # Grad-CAM never exceeds chance


def test_choice_prefers_budget_coverage_then_accuracy() -> None:
    def row(method: str, budgets: int, diff: float, mode: str = "deletion") -> dict[str, object]:
        return {
            "mode": mode,
            "method": method,
            "budgets": budgets,
            "mean_diff": diff,
            "mean_diff_lo": diff - 0.01,
            "mean_diff_hi": diff + 0.01,
            "mean_saving": 0.0,
        }

    rows = [
        row("gradcam++", 5, 0.5),
        row("causal[mse,none,literal]", 2, 0.3),
        row("causal[bce,l2,set]", 5, -0.02),
        row("causal[bce,l1,set]", 5, 0.04),
        row("causal[bce,l1,set]", 5, -0.1, mode="insertion"),
    ]
    choice = choose_default(rows)
    assert choice["method"] == "causal[bce,l1,set]"
    assert choice["beats_gradcam"] and choice["insertion_agrees"]
