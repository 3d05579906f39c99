"""Run folders with every stage's result, numbers made up: for checks of the report's
layout (tests/report) and of the seed study's section (tests/ablation)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from causalcam._io import atomic_write_json
from causalcam.evaluate.summary import choose_variant
from causalcam.results import STAGE_FORMAT, AblationRow, AblationTable, Estimate
from causalcam.viz import explanation_panel, save_figure

TARGETS = ("resnet34", "resnet50", "densenet121", "densenet169")


def stored(path: Path, result: dict[str, Any]) -> None:
    atomic_write_json(path, {"fingerprint": "test", "format": STAGE_FORMAT, "result": result})


def figure(path: Path) -> str:
    grey = (np.arange(48 * 48).reshape(48, 48) % 256).astype(np.uint8)
    save_figure(path, explanation_panel(grey, {"gradcam": grey / 255.0}, "synthetic"))
    return str(path.relative_to(path.parents[1]))


def synthetic_run(root: Path, with_transfer: bool = True) -> Path:
    """A run folder with every stage's result, numbers made up for layout checks."""
    figures = root / "figures"
    manifest = {
        "profile": {"name": "tiny", "description": "synthetic"},
        "seed": 3,
        "device": "cpu",
        "versions": {"torch": "x.y"},
        "hardware": {"platform": "test", "cpu_count": 2, "torch_threads": 2},
        "data": {"size": 48, "test_images": 8, "test_checksum": "abc123"},
        "stages": {"train": {"seconds": 12.5, "finished": "2026-01-01T00:00:00+00:00"}},
    }
    atomic_write_json(root / "manifest.json", manifest)
    results = root / "results"
    networks = [
        {
            "arch": a,
            "checkpoint": "x",
            "test_accuracy": 0.5 + i / 100,
            "val_accuracy": 0.6,
            "best_epoch": 1,
            "epochs": 2,
            "recipe": "cpu",
            "size": 48,
            "train_seconds": 3.0,
        }
        for i, a in enumerate(("resnet18", *TARGETS))
    ]
    stored(results / "train.json", {"networks": networks})
    summary = [
        {
            "source": "resnet18",
            "target": "resnet18",
            "method": m,
            "mode": mode,
            "statistic": "auc",
            "value": 0.61,
            "ci_low": 0.5,
            "ci_high": 0.7,
            "at": None,
        }
        for m in ("gradcam", "causal")
        for mode in ("deletion", "insertion")
    ]
    stored(
        results / "curves.json",
        {
            "source": "resnet18",
            "n_images": 8,
            "summary": summary,
            "curves": [],
            "figures": {
                "deletion": figure(figures / "deletion.png"),
                "insertion": figure(figures / "insertion.png"),
            },
        },
    )
    if with_transfer:
        table = {
            "source": "resnet18",
            "baseline": "gradcam",
            "challenger": "causal",
            "mode": "deletion",
            "targets": list(TARGETS),
            "thresholds": [0.1, 0.2],
            "huffman": [[0.9, 0.8], [0.7, 0.6]],
            "accuracy": [[[0.5, 0.75]] * 4, [[0.5, 0.5]] * 4],
            "wins": 4,
            "ties": 4,
            "cells": 8,
            "fewer_bits": 2,
            "n_images": 8,
        }
        stored(results / "transfer.json", {"tables": [table]})
    stored(results / "ablation.json", synthetic_ablation().to_json())
    stored(
        results / "qualitative.json",
        {
            "threshold": 0.3,
            "fig2": figure(figures / "fig2.png"),
            "fig3": [figure(figures / "fig3_1.png")],
        },
    )
    return root


def synthetic_ablation() -> AblationTable:
    """Grad-CAM and one causal variant, numbers made up."""
    budgets = (Estimate(0.75), Estimate(0.7))

    def row(mode: str, method: str, diff: float) -> AblationRow:
        if method == "gradcam":
            return AblationRow(mode, method, budgets=2, accuracy=budgets, auc=Estimate(0.7))
        return AblationRow(
            mode,
            method,
            options={"loss": "mse", "normalize": "l2", "sign": "set", "gradcam_term": "logit"},
            kept_at_tau=0.25,
            budgets=2,
            accuracy=tuple(Estimate(e.value + diff) for e in budgets),
            accuracy_diff=(Estimate(diff, diff - 0.1, diff + 0.1),) * 2,
            auc=Estimate(0.7 + diff),
            auc_diff=Estimate(diff),
            mean_diff=Estimate(diff, diff - 0.1, diff + 0.1),
            mean_saving=Estimate(0.12, 0.01, 0.2),
        )

    rows = tuple(
        row(mode, method, diff)
        for mode, diff in (("deletion", 0.05), ("insertion", -0.02))
        for method in ("gradcam", "causal[mse,l2,set]")
    )
    return AblationTable(
        model="resnet18",
        layer="layer4",
        n_images=8,
        chance=0.5,
        thresholds=(0.3, 0.5),
        h_values=(0.3, 0.5),
        rows=rows,
        choice=choose_variant(rows),
    )
