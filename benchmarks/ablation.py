"""The reproduction study: every causal variant against Grad-CAM and Grad-CAM++.

Runs :func:`causalcam.ablation.measure.run_ablation` on the COVID-CT test split with a trained
checkpoint (default: the default bundled ResNet-18, 224 px) and prints the ablation table and
the chosen default. With several ``--checkpoint`` (the same network trained with different seeds) it
runs :func:`causalcam.ablation.seeds.run_seed_study` instead: the ablation on each, then every
variant summarised over the seeds. Results are cached under ``--out``; an interrupted run
resumes.

    # CPU profile on the 112 px model (what the README reports; ~12 min on an idle 2-core CPU)
    python benchmarks/ablation.py --out /tmp/causalcam-study --thresholds cpu \\
        --checkpoint src/causalcam/assets/models/resnet18_covidct_112.pt
    # three training seeds (causalcam train --seed 1 / --seed 2 made the other two)
    python benchmarks/ablation.py --out /tmp/causalcam-seeds --thresholds cpu \\
        --checkpoint src/causalcam/assets/models/resnet18_covidct_112.pt \\
        --checkpoint runs/resnet18-cpu-s1/best.pt --checkpoint runs/resnet18-cpu-s2/best.pt
    # the paper's 71 thresholds, on a GPU
    python benchmarks/ablation.py --checkpoint runs/resnet18.pt --out runs/ablation \\
        --thresholds paper --device cuda
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from causalcam.ablation import CPU_THRESHOLDS, AblationSettings, run_ablation, run_seed_study
from causalcam.evaluate import EvaluationSettings
from causalcam.models.checkpoint import DEFAULT_MODEL
from causalcam.reproduce import PROFILES as RUN_PROFILES

#: named threshold grids: ``cpu`` and each reproduce profile's ablation grid
PROFILES = {"cpu": CPU_THRESHOLDS} | {
    name: profile.ablation_thresholds for name, profile in RUN_PROFILES.items()
}


def parse_thresholds(text: str) -> tuple[float, ...]:
    """A name of :data:`PROFILES` (``cpu``, ``paper``, ``full-cpu``, ...) or comma-separated
    values such as ``0.1,0.3,0.5``."""
    if text in PROFILES:
        return PROFILES[text]
    return tuple(float(part) for part in text.split(","))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, action="append", help="repeat for a seed study")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument(
        "--store",
        type=Path,
        default=None,
        help="curve cache shared by the networks (default: OUT/<network>/eval); a reproduce "
        "run's eval folder gives its ablation stage's curves back",
    )
    parser.add_argument("--data", type=Path, default=None, help="COVID-CT root")
    parser.add_argument("--thresholds", type=parse_thresholds, default=CPU_THRESHOLDS)
    parser.add_argument("--n-boot", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default=None)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    start = time.perf_counter()
    checkpoints = args.checkpoint or [DEFAULT_MODEL]
    settings = AblationSettings(
        n_boot=args.n_boot,
        seed=args.seed,
        evaluation=EvaluationSettings(
            thresholds=args.thresholds, out_dir=args.store, progress=not args.no_progress
        ),
    )
    options = {"data_root": args.data, "device": args.device, "settings": settings}
    if len(checkpoints) > 1:
        study = run_seed_study(checkpoints, args.out, **options)
        print((args.out / "seeds.md").read_text())
        chosen = study.table.choice.method
    else:
        chosen = run_ablation(checkpoints[0], args.out, **options).table.choice.method
        print((args.out / "ablation.md").read_text())
    print(f"chosen: {chosen}  ({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
