"""The reproduction study: every causal variant against Grad-CAM and Grad-CAM++ (issue 6).

Runs :func:`causalcam.study.run_ablation` on the COVID-CT test split with a trained
checkpoint (default: the embedded ResNet-18) and prints the ablation table and the chosen
default. Results are cached under ``--out``; an interrupted run resumes.

    # CPU profile (what docs/reproduction.md reports; ~40 min on a shared 2-core CPU)
    python benchmarks/ablation.py --out /tmp/causalcam-study --thresholds cpu
    # the paper's 71 thresholds, on a GPU
    python benchmarks/ablation.py --checkpoint runs/resnet18.pt --out runs/ablation \\
        --thresholds paper --device cuda
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from causalcam.evaluate import DEFAULT_THRESHOLDS
from causalcam.models.checkpoint import DEFAULT_MODEL
from causalcam.study import CPU_THRESHOLDS, run_ablation

PROFILES = {"cpu": CPU_THRESHOLDS, "paper": DEFAULT_THRESHOLDS}


def parse_thresholds(text: str) -> tuple[float, ...]:
    """``cpu``, ``paper`` or comma-separated values such as ``0.1,0.3,0.5``."""
    if text in PROFILES:
        return PROFILES[text]
    return tuple(float(part) for part in text.split(","))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--out", type=Path, required=True)
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
    result = run_ablation(
        args.checkpoint,
        args.out,
        data_root=args.data,
        thresholds=args.thresholds,
        n_boot=args.n_boot,
        seed=args.seed,
        device=args.device,
        progress=not args.no_progress,
    )
    print((args.out / "ablation.md").read_text())
    print(f"chosen: {result.choice['method']}  ({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
