"""How long a reproduce profile's protocol takes once its networks are trained, from a sample.

Runs every stage of ``--profile`` (default ``full-cpu``) on the first ``--limit`` test scans
per class, with untrained copies of the profile's networks at its input size standing in for
the trained ones (the cost of explaining, masking and classifying does not depend on the
weights), and scales each stage's time to the whole test split (203 scans). Training is not
timed: it is what ``make five`` reports per network and epoch. Note ``uptime`` beside the
numbers: only a quiet machine gives the budget.
Run: ``.venv/bin/python benchmarks/protocol_budget.py --data ../shared/covid-ct [--limit 10]``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import tempfile
from pathlib import Path

import torch

from causalcam import models
from causalcam.data import CLASSES
from causalcam.preprocess import Preprocessing
from causalcam.reproduce import PROFILES, RunSettings, reproduce

TEST_SCANS = 203


def stand_ins(run: Path, archs: tuple[str, ...], size: int) -> None:
    """Untrained ``RUN/models/<arch>`` checkpoints that the train stage takes as trained."""
    for arch in archs:
        folder = run / "models" / arch
        folder.mkdir(parents=True, exist_ok=True)
        torch.manual_seed(0)
        model = models.build(arch, num_classes=len(CLASSES))
        meta = models.CheckpointMeta(arch, list(CLASSES), Preprocessing(size=size))
        models.save_checkpoint(folder / "best.pt", model, meta)
        recipe = {"epochs": 0, "name": "untrained", "size": size}
        metrics = {"test": {"accuracy": 0.5}, "val": {"accuracy": 0.5}, "recipe": recipe}
        (folder / "metrics.json").write_text(json.dumps(metrics))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="full-cpu", choices=list(PROFILES))
    parser.add_argument("--limit", type=int, default=10, help="test scans per class")
    parser.add_argument("--data", type=Path, default=None, help="COVID-CT root")
    parser.add_argument("--precision", default="bf16")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    profile = dataclasses.replace(PROFILES[args.profile], limit=args.limit, bundled=None)
    with tempfile.TemporaryDirectory(prefix="causalcam-budget-") as folder:
        run = Path(folder)
        stand_ins(run, profile.archs, profile.size)
        settings = RunSettings(precision=args.precision, progress=False)
        reproduce(run, profile, data_root=args.data, settings=settings)
        manifest = json.loads((run / "manifest.json").read_text())
    scans = manifest["data"]["test_images"]
    scale = TEST_SCANS / scans
    print(f"profile {args.profile}, {scans} test scans, load {os.getloadavg()}")
    total = 0.0
    for name, stage in manifest["stages"].items():
        if name == "train" or "seconds" not in stage:
            continue
        scaled = stage["seconds"] * scale
        total += scaled
        print(f"{name:>12}: {stage['seconds']:7.1f} s -> {scaled / 60:6.1f} min for 203 scans")
    print(f"{'total':>12}: {total / 60:.1f} min for 203 scans (training not included)")


if __name__ == "__main__":
    main()
