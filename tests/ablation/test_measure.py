"""The ablation study (``causalcam.ablation.measure``): tables computed from the curves, one explain
pass, caching, the choice rule. A small hand-built network that classifies bright squares
by the half they lie in (``Halves``) on 16 px scans keeps it fast and makes every statistic
finite: its curves reach the matched budgets and Grad-CAM's accuracy lies above chance."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import Tensor, nn

import causalcam.evaluate.threshold as threshold_module
from causalcam.ablation import (
    AblationResult,
    AblationSettings,
    explain_all,
    explain_methods,
    identical_groups,
    run_ablation,
)
from causalcam.evaluate import Curve, EvaluationSettings, Network
from causalcam.evaluate.summary import accuracy_at_h, choose_variant, paired_budget_stats
from causalcam.explain import CausalOptions, map_function
from causalcam.preprocess import Preprocessing, to_model_input
from causalcam.results import AblationRow, AblationTable, Estimate

SIZE = 16
VARIANTS = (
    CausalOptions("mse", "none", "literal"),
    CausalOptions("bce", "l2", "set"),
    CausalOptions("mse", "maxabs", "set"),
)
THRESHOLDS = tuple(round(0.1 * k, 2) for k in range(1, 10))
H_VALUES = (0.3, 0.45, 0.65, 0.8)  # deletion reaches the first two, insertion the others


def settings(n_boot: int, store: Path | None = None) -> AblationSettings:
    """The tests' ablation: few variants, thresholds and budgets, the features layer."""
    return AblationSettings(
        variants=VARIANTS,
        h_values=H_VALUES,
        n_boot=n_boot,
        target_layer="features",
        evaluation=EvaluationSettings(thresholds=THRESHOLDS, out_dir=store, progress=False),
    )


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


class Halves(nn.Module):
    """Three features of the grey level ``g`` (``g``, ``relu(g - 0.5)``, ``relu(g - 0.25)``;
    target ``features``); each class scores its own half of the image against the other
    with seeded positive weights per feature."""

    def __init__(self, seed: int) -> None:
        super().__init__()
        preprocessing = Preprocessing(size=SIZE)
        mean, std = torch.tensor(preprocessing.mean), torch.tensor(preprocessing.std)
        self.features = nn.Sequential(nn.Conv2d(3, 3, 1), nn.ReLU())
        weight = (std / 3).repeat(3, 1)  # undoes the normalisation: the grey level in [0, 1]
        with torch.no_grad():
            self.features[0].weight.copy_(weight.view(3, 3, 1, 1))
            offsets = torch.tensor([0.0, 0.5, 0.25])
            self.features[0].bias.copy_((weight * mean / std).sum(1) - offsets)
        left = torch.zeros(SIZE, SIZE)
        left[:, : SIZE // 2] = 1
        self.register_buffer("halves", torch.stack([left, 1 - left]))
        generator = torch.Generator().manual_seed(seed)
        self.head = nn.Parameter(0.5 + 1.5 * torch.rand(2, 3, generator=generator))

    def forward(self, x: Tensor) -> Tensor:
        per_half = torch.einsum("bkhw,chw->bck", self.features(x), self.halves) / SIZE**2
        own = (per_half * self.head).sum(-1)
        return 8 * (own - own.flip(-1))


def halves_network(seed: int = 2) -> Network:
    return Network(Halves(seed).eval(), Preprocessing(size=SIZE), ("a", "b"))


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
        plots=False,
        settings=settings(n_boot=30),
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
    # plain "causal" is the default variant, also next to other variants
    named, _ = explain_methods(
        network, scans[0], ["causal", VARIANTS[0].name], target_layer="features"
    )
    default = map_function(network.model, "causal", target_layer="features")(inputs)
    torch.testing.assert_close(named["causal"], default, atol=1e-5, rtol=0)
    torch.testing.assert_close(named[VARIANTS[0].name], maps[VARIANTS[0].name], atol=1e-6, rtol=0)


def _first_crossing(h: np.ndarray, acc: np.ndarray, level: float) -> float:
    """Slow reference: the smallest H at which the piecewise-linear curve reaches ``level``."""
    points = sorted(zip(h.tolist(), acc.tolist(), strict=True))
    for k, (x, y) in enumerate(points):
        if y >= level:
            if k == 0:
                return x
            x0, y0 = points[k - 1]
            return x0 + (level - y0) / (y - y0) * (x - x0)
    return math.nan


def _reference_saving(curve: Curve, ref: Curve, chance: float) -> float:
    """Slow reference of the mean bits saving over :data:`H_VALUES` (above ``chance``)."""
    savings = []
    for h in H_VALUES:
        level = float(accuracy_at_h(ref.mean_h, ref.accuracy, [h])[0])
        if not level > chance:
            continue
        mine = _first_crossing(curve.mean_h, curve.accuracy, level)
        theirs = _first_crossing(ref.mean_h, ref.accuracy, level)
        if math.isfinite(mine) and math.isfinite(theirs):
            savings.append(1 - mine / theirs)
    return float(np.mean(savings)) if savings else math.nan


def test_table_is_computed_from_the_curves(squares: tuple[Tensor, Tensor], tmp_path: Path) -> None:
    result = _run(halves_network(), squares, tmp_path)
    table = result.table
    methods = ["gradcam", "gradcam++", *(v.name for v in VARIANTS)]
    assert [(r.mode, r.method) for r in table.rows] == [
        (mode, m) for mode in ("deletion", "insertion") for m in methods
    ]
    assert table.chance == 0.5 and table.h_values == H_VALUES
    curves = {(c.mode, c.method): c for c in result.curves}
    maps, _ = explain_all(halves_network(), squares[0], VARIANTS, target_layer="features")
    for row in table.rows:
        curve, ref = curves[(row.mode, row.method)], curves[(row.mode, "gradcam")]
        acc = accuracy_at_h(curve.mean_h, curve.accuracy, H_VALUES)
        ref_acc = accuracy_at_h(ref.mean_h, ref.accuracy, H_VALUES)
        np.testing.assert_allclose([e.value for e in row.accuracy], acc, equal_nan=True)
        values = maps[row.method].numpy()
        assert row.kept_at_tau == pytest.approx((values > 0.5).mean())
        assert row.zero_maps == pytest.approx((values.reshape(16, -1).max(1) == 0).mean())
        if row.method == "gradcam":
            assert row.budgets == int(np.isfinite(acc).sum()) == 2
            assert not row.accuracy_diff and not row.mean_diff.finite
            continue
        diffs = np.array([e.value for e in row.accuracy_diff])
        np.testing.assert_allclose(diffs, acc - ref_acc, equal_nan=True)
        finite = diffs[np.isfinite(diffs)]
        assert row.budgets == finite.size >= 1
        assert row.mean_diff.value == pytest.approx(finite.mean())
        assert row.mean_diff.low <= row.mean_diff.high
        saving = _reference_saving(curve, ref, table.chance)
        if row.mode == "deletion":  # Grad-CAM's deletion accuracy lies above chance
            assert math.isfinite(saving)
        np.testing.assert_allclose(row.mean_saving.value, saving, equal_nan=True)
    # the fixture tells the methods apart: not every difference is zero
    assert any(abs(r.mean_diff.value) > 0.05 for r in table.rows if r.mean_diff.finite)


def test_outputs_written_and_choice_follows_the_rule(
    squares: tuple[Tensor, Tensor], tmp_path: Path
) -> None:
    table = _run(halves_network(), squares, tmp_path).table
    stored = json.loads((tmp_path / "ablation.json").read_text())
    assert json.dumps(AblationTable.from_json(stored).to_json()) == json.dumps(stored)
    assert stored["choice"]["method"] == table.choice.method
    header = (tmp_path / "ablation.csv").read_text().splitlines()[0].split(",")
    assert {"mode", "method", "loss", "mean_diff", "auc_diff_lo", "acc@H=0.3"} <= set(header)
    text = (tmp_path / "ablation.md").read_text()
    assert all(text.count(f"| `{v.name}`") == 2 for v in VARIANTS)  # deletion and insertion
    causal = [r for r in table.rows if r.mode == "deletion" and r.method.startswith("causal")]
    best = max(causal, key=lambda r: (r.budgets, r.mean_diff.value, r.mean_saving.value))
    assert all(math.isfinite(r.mean_diff.value) for r in causal)
    assert table.choice.method == best.method
    assert table.choice.deletion_mean_diff == best.mean_diff
    assert table.choice.beats_gradcam == (best.mean_diff.low > 0)
    insertion = table.row("insertion", best.method).mean_diff
    assert table.choice.insertion_mean_diff == insertion
    assert table.choice.insertion_agrees == (insertion.value < 0)
    assert f"Best deletion variant: `{best.method}`" in text


def test_rerun_loads_every_curve_from_the_cache(
    squares: tuple[Tensor, Tensor],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first = _run(halves_network(), squares, tmp_path)

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a cached curve was recomputed")

    monkeypatch.setattr(threshold_module, "threshold_correct", refuse)
    second = _run(halves_network(), squares, tmp_path)
    assert json.dumps(second.table.to_json()) == json.dumps(first.table.to_json())
    for a, b in zip(first.curves, second.curves, strict=True):
        np.testing.assert_array_equal(a.correct, b.correct)
    with pytest.raises(AssertionError, match="recomputed"):  # another network: other curves
        _run(halves_network(seed=1), squares, tmp_path)


def test_networks_share_a_store_and_a_reproduce_run_gives_its_curves_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, isolated_cache: Path
) -> None:
    """``store``: the ablation of a network evaluated by ``causalcam reproduce`` (its ablation
    stage) reads that run's curves instead of computing them again, whatever its out_dir."""
    from causalcam.data.fake import write_fake_dataset
    from causalcam.reproduce import RunSettings, get_profile, reproduce
    from causalcam.reproduce.context import load_test_set

    data = write_fake_dataset(
        tmp_path / "covid-ct", counts={"train": (2, 2), "val": (2, 2), "test": (4, 4)}
    )
    run = tmp_path / "run"
    reproduce(
        run,
        "tiny",
        data_root=data,
        settings=RunSettings(progress=False),
        log=len,
        stop_after="ablation",
    )
    profile = get_profile("tiny")
    test = load_test_set(profile.size, profile.limit, data)
    stored = json.loads((run / "results" / "ablation.json").read_text())["result"]

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a cached curve was recomputed")

    monkeypatch.setattr(threshold_module, "threshold_correct", refuse)
    again = run_ablation(
        run / "models" / "resnet18" / "best.pt",
        tmp_path / "seed0",
        images=test.images,
        labels=test.labels,
        plots=False,
        settings=AblationSettings(
            n_boot=profile.n_boot,
            evaluation=EvaluationSettings(
                thresholds=profile.ablation_thresholds, out_dir=run / "eval", progress=False
            ),
        ),
    )
    assert [r.to_json() for r in again.table.rows] == stored["rows"]
    assert not (tmp_path / "seed0" / "eval").exists()


def test_several_networks_keep_their_curves_in_one_store(
    squares: tuple[Tensor, Tensor], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    images, labels = squares

    def ablate(seed: int) -> AblationResult:
        out = tmp_path / f"seed{seed}"
        return run_ablation(
            halves_network(seed),
            out,
            images=images,
            labels=labels,
            plots=False,
            settings=settings(n_boot=0, store=tmp_path / "store"),
        )

    first = [json.dumps(ablate(seed).table.to_json()) for seed in (1, 2)]

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a cached curve was recomputed")

    monkeypatch.setattr(threshold_module, "threshold_correct", refuse)
    again = [json.dumps(ablate(seed).table.to_json()) for seed in (1, 2)]
    assert again == first  # neither network overwrote the other's curves


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
    diff, saving = paired_budget_stats(better, ref, [0.2, 0.4, 0.6], n_boot=50)
    assert diff.value == pytest.approx(0.25)
    # Grad-CAM's accuracy at H = 0.2, 0.4, 0.6 is 0.25, 0.375, 0.5; the better curve reaches
    # them at H = 0.2 (its first point), 0.2 and 0.2: savings 0, 0.5, 2/3.
    assert saving.value == pytest.approx((0 + 0.5 + 2 / 3) / 3)
    same, _ = paired_budget_stats(ref, ref, [0.2, 0.4, 0.6], n_boot=50)
    assert (same.value, same.low, same.high) == (0.0, 0.0, 0.0)
    # with chance at 0.375, only H = 0.6 (Grad-CAM 0.5 > 0.375) counts for the saving
    floored_diff, floored = paired_budget_stats(
        better, ref, [0.2, 0.4, 0.6], n_boot=50, chance=0.375
    )
    assert floored.value == pytest.approx(2 / 3)
    assert floored_diff.value == pytest.approx(0.25)  # the accuracy difference is unchanged
    _, nowhere = paired_budget_stats(better, ref, [0.2, 0.4, 0.6], n_boot=20, chance=0.5)
    assert math.isnan(nowhere.value)  # Grad-CAM never exceeds chance


def test_choice_prefers_budget_coverage_then_accuracy_then_bits() -> None:
    def row(method: str, budgets: int, diff: float, saving: float = 0.0) -> AblationRow:
        return AblationRow(
            "deletion",
            method,
            budgets=budgets,
            mean_diff=Estimate(diff, diff - 0.01, diff + 0.01),
            mean_saving=Estimate(saving),
        )

    rows = [
        row("gradcam++", 5, 0.5),
        row("causal[mse,none,literal]", 2, 0.3),
        row("causal[bce,l2,set]", 5, -0.02),
        row("causal[bce,l1,set]", 5, 0.04),
        row("causal[bce,maxabs,set]", 5, 0.04, saving=0.1),
        AblationRow("insertion", "causal[bce,maxabs,set]", mean_diff=Estimate(-0.1)),
    ]
    choice = choose_variant(rows)
    assert choice.method == "causal[bce,maxabs,set]"
    assert choice.beats_gradcam and choice.insertion_agrees
    assert choice.seeds is None
    rows[1] = row("causal[mse,none,literal]", 5, 0.01)
    rows[2] = row("causal[bce,l2,set]", 6, -0.5)  # one more budget outweighs accuracy
    chosen = choose_variant(rows)
    assert chosen.method == "causal[bce,l2,set]" and not chosen.beats_gradcam
    assert not chosen.insertion_agrees  # no insertion row: nothing agrees
