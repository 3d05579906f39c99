"""The ablation over training seeds (``causalcam.seed_study``): per-seed values come from
each network's own ablation, the pooled interval resamples the shared test images, the
spread and the "better" counts follow the mode's direction."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import Tensor

from causalcam.errors import InputError
from causalcam.evaluate import Network
from causalcam.preprocess import Preprocessing
from causalcam.report import build_report
from causalcam.seed_study import SeedStudy, run_seed_study
from causalcam.study import REFERENCE
from test_report import _synthetic_run
from test_study import SIZE, THRESHOLDS, VARIANTS, Tiny

H_VALUES = (0.2, 0.4, 0.6)


def tiny_network(seed: int) -> Network:
    torch.manual_seed(seed)
    return Network(Tiny().eval(), Preprocessing(size=SIZE), ("a", "b"))


def study_of(networks: list[Network], scans: tuple[Tensor, Tensor], out: Path) -> SeedStudy:
    images, labels = scans
    return run_seed_study(
        networks,
        out,
        images=images,
        labels=labels,
        variants=VARIANTS,
        thresholds=THRESHOLDS,
        h_values=H_VALUES,
        n_boot=40,
        target_layer="features",
        plots=False,
        progress=False,
    )


def test_per_seed_values_mean_spread_and_counts(
    scans: tuple[Tensor, Tensor], tmp_path: Path
) -> None:
    networks = [tiny_network(seed) for seed in (0, 1, 2)]
    study = study_of(networks, scans, tmp_path)
    assert study.models == [a.model for a in study.ablations] and len(study.ablations) == 3
    methods = {r["method"] for r in study.rows}
    assert REFERENCE not in methods and "gradcam++" in methods
    for row in study.rows:
        singles = [
            next(r for r in a.rows if r["mode"] == row["mode"] and r["method"] == row["method"])
            for a in study.ablations
        ]
        values = np.array([r["mean_diff"] for r in singles], dtype=np.float64)
        assert row["mean_diff_per_seed"] == pytest.approx(values.tolist(), nan_ok=True)
        finite = values[np.isfinite(values)]
        if finite.size:
            assert row["mean_diff"] == pytest.approx(finite.mean())
            assert row["mean_diff_min"] <= row["mean_diff"] <= row["mean_diff_max"]
            sign = 1 if row["mode"] == "deletion" else -1
            assert row["mean_diff_seeds_better"] == int((sign * finite > 0).sum())
    for name in ("seeds.csv", "seeds.json", "seeds.md"):
        assert (tmp_path / name).is_file()
    saved = json.loads((tmp_path / "seeds.json").read_text())
    assert saved["choice"]["method"].startswith("causal") and len(saved["models"]) == 3
    assert "Δacc per seed" in (tmp_path / "seeds.md").read_text()
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_dir()) == ["0", "1", "2"]


def test_copies_of_one_network_give_its_own_intervals(
    scans: tuple[Tensor, Tensor], tmp_path: Path
) -> None:
    """Seed-averaging identical networks changes nothing: same point values, zero spread,
    and the pooled bootstrap interval equals the single network's paired interval."""
    network = tiny_network(0)
    study = study_of([network, network], scans, tmp_path)
    single = study.ablations[0]
    for row in study.rows:
        own = next(
            r for r in single.rows if (r["mode"], r["method"]) == (row["mode"], row["method"])
        )
        for key in ("mean_diff", "mean_saving"):
            if math.isfinite(own[key]):
                assert row[key] == pytest.approx(own[key])
                assert row[f"{key}_sd"] == pytest.approx(0.0)
                assert row[f"{key}_lo"] == pytest.approx(own[f"{key}_lo"])
                assert row[f"{key}_hi"] == pytest.approx(own[f"{key}_hi"])


def test_needs_two_models(scans: tuple[Tensor, Tensor], tmp_path: Path) -> None:
    with pytest.raises(InputError, match="at least two trained models, got 1"):
        study_of([tiny_network(0)], scans, tmp_path)


def test_report_shows_the_seed_study(scans: tuple[Tensor, Tensor], tmp_path: Path) -> None:
    run = _synthetic_run(tmp_path / "run")
    study = study_of([tiny_network(0), tiny_network(1)], scans, run / "seeds")
    markdown = build_report(run).markdown.read_text()
    assert "## The ablation over training seeds" in markdown
    best = study.choice["method"]
    row = next(r for r in study.rows if r["mode"] == "deletion" and r["method"] == best)
    per_seed = " / ".join(f"{v:+.4f}" for v in row["mean_diff_per_seed"])
    assert f"| `{best}` | {per_seed} |" in markdown
    assert f"Best deletion variant over seeds: `{best}`" in markdown
