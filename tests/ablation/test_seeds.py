"""The ablation over training seeds (``causalcam.ablation.seeds``): per-seed values come from
each network's own ablation, the pooled interval resamples the shared test images, the
spread and the "better" counts follow the mode's direction, the choice is the ablation's."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from test_measure import H_VALUES, halves_network, settings
from torch import Tensor

from causalcam.ablation import REFERENCE, SeedStudy, run_seed_study
from causalcam.errors import InputError
from causalcam.evaluate import Network
from causalcam.evaluate.summary import bootstrap_weights, budget_samples, choose_variant
from causalcam.report import build_report
from causalcam.results import SeedTable
from synthetic_runs import synthetic_run


def study_of(networks: list[Network], scans: tuple[Tensor, Tensor], out: Path) -> SeedStudy:
    images, labels = scans
    return run_seed_study(
        networks,
        out,
        images=images,
        labels=labels,
        plots=False,
        settings=settings(n_boot=40),
    )


@pytest.mark.filterwarnings("ignore:Mean of empty slice:RuntimeWarning")
def test_per_seed_values_mean_spread_and_counts(
    squares: tuple[Tensor, Tensor], tmp_path: Path
) -> None:
    networks = [halves_network(seed) for seed in (1, 2)]
    study = study_of(networks, squares, tmp_path)
    table = study.table
    assert table.models == tuple(a.table.model for a in study.ablations)
    methods = {r.method for r in table.rows}
    assert REFERENCE not in methods and "gradcam++" in methods
    for row in table.rows:
        singles = [a.table.row(row.mode, row.method) for a in study.ablations]
        values = np.array([r.mean_diff.value for r in singles])
        assert np.isfinite(values).all()  # the fixture reaches budgets in every seed
        spread = row.diff_over_seeds
        assert spread.per_seed == pytest.approx(values.tolist())
        assert row.mean_diff.value == pytest.approx(values.mean())
        assert spread.low == pytest.approx(values.min()) and spread.high == values.max()
        assert spread.sd == pytest.approx(values.std(ddof=1))
        sign = 1 if row.mode == "deletion" else -1
        assert spread.better == int((sign * values > 0).sum())
        assert row.budgets == min(r.budgets for r in singles)
        assert row.mean_diff.low <= row.mean_diff.high
    # the pooled interval: percentiles of the seed-averaged paired bootstrap replicates
    weights = bootstrap_weights(len(squares[1]), 40, 0)
    row = table.rows[-1]
    replicates = np.nanmean(  # a seed whose replicate shares no budget is left out
        [
            budget_samples(
                next(c for c in a.curves if (c.method, c.mode) == (row.method, row.mode)),
                next(c for c in a.curves if (c.method, c.mode) == (REFERENCE, row.mode)),
                H_VALUES,
                weights,
                chance=0.5,
            )
            for a in study.ablations
        ],
        axis=0,
    )
    low, high = np.nanpercentile(replicates[:, 0], [2.5, 97.5])
    assert (row.mean_diff.low, row.mean_diff.high) == pytest.approx((low, high))
    assert table.choice == choose_variant(table.rows)
    best = next(r for r in table.rows if (r.mode, r.method) == ("deletion", table.choice.method))
    assert table.choice.seeds == 2 and table.choice.seeds_better == best.diff_over_seeds.better
    for name in ("seeds.csv", "seeds.json", "seeds.md"):
        assert (tmp_path / name).is_file()
    saved = json.loads((tmp_path / "seeds.json").read_text())
    assert json.dumps(SeedTable.from_json(saved).to_json()) == json.dumps(saved)
    assert "Δacc per seed" in (tmp_path / "seeds.md").read_text()
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_dir()) == ["0", "1"]


def test_copies_of_one_network_give_its_own_intervals(
    squares: tuple[Tensor, Tensor], tmp_path: Path
) -> None:
    """Seed-averaging identical networks changes nothing: same point values, zero spread,
    and the pooled bootstrap interval equals the single network's paired interval."""
    network = halves_network()
    study = study_of([network, network], squares, tmp_path)
    single = study.ablations[0].table
    checked = 0
    for row in study.table.rows:
        own = single.row(row.mode, row.method)
        for pooled, alone, spread in (
            (row.mean_diff, own.mean_diff, row.diff_over_seeds),
            (row.mean_saving, own.mean_saving, row.saving_over_seeds),
        ):
            assert alone.finite  # the fixture gives every statistic a value
            assert pooled.value == pytest.approx(alone.value)
            assert spread.sd == pytest.approx(0.0)
            assert (pooled.low, pooled.high) == pytest.approx((alone.low, alone.high))
            checked += 1
    assert checked == 2 * len(study.table.rows) == 16


def test_needs_two_models(squares: tuple[Tensor, Tensor], tmp_path: Path) -> None:
    with pytest.raises(InputError, match="at least two trained models, got 1"):
        study_of([halves_network()], squares, tmp_path)


def test_report_shows_the_seed_study(squares: tuple[Tensor, Tensor], tmp_path: Path) -> None:
    run = synthetic_run(tmp_path / "run")
    study = study_of([halves_network(1), halves_network(2)], squares, run / "seeds")
    markdown = build_report(run).markdown.read_text()
    assert "## The ablation over training seeds" in markdown
    best = study.table.choice.method
    row = next(r for r in study.table.rows if r.mode == "deletion" and r.method == best)
    per_seed = " / ".join(f"{v:+.4f}" for v in row.diff_over_seeds.per_seed)
    assert f"| `{best}` | {per_seed} |" in markdown
    assert f"Best deletion variant over seeds: `{best}`" in markdown
    assert markdown == (run / "report.md").read_text()
    assert f"| `{best}` | {per_seed} |" in (run / "seeds" / "seeds.md").read_text()
