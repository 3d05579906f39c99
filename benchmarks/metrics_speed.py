"""Speed of ROAD against pytorch-grad-cam 1.5.7, measured in the same run.

Prints two same-run ratios (grad-cam's seconds / causalcam's), each the median of
``--repeats`` timings:

1. Imputation: the noisy linear imputation of ``--images`` 224x224 images at every ROAD
   percentile (10..90, most and least relevant first: 18 masks per image) from smooth,
   CAM-like maps (a random 7x7 grid upsampled bilinearly); causalcam builds each system
   vectorised and solves ``--batch`` images per sparse factorisation, grad-cam builds a
   ``lil_matrix`` entry by entry and calls ``spsolve`` per image. Also checks that the two
   imputations agree within 1e-4 with the noise at 0. Target: >= 2x.
2. The metric: ``ROADCombined`` (both averages over the 9 percentiles) on an untrained
   torchvision ResNet-18 (weights=None), the same maps and targets. Target: >= 2x.

Usage: ``python benchmarks/metrics_speed.py [--images 4] [--repeats 3] [--threads 1]``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from pytorch_grad_cam.metrics.road import NoisyLinearImputer
from pytorch_grad_cam.metrics.road import ROADCombined as PeerROADCombined
from torchvision.models import resnet18

from causalcam.explain import ClassifierOutputTarget
from causalcam.metrics import ROAD_PERCENTILES, ROADCombined, impute
from causalcam.metrics.perturbation import percentile_keep


@dataclass(frozen=True)
class Timing:
    what: str
    ours: float
    peer: float

    @property
    def ratio(self) -> float:
        return self.peer / self.ours


def smooth_maps(count: int, size: int, seed: int = 0) -> torch.Tensor:
    """CAM-like maps in [0, 1]: a random 7x7 grid upsampled bilinearly to ``size``."""
    grid = torch.rand(count, 1, 7, 7, generator=torch.Generator().manual_seed(seed))
    maps = F.interpolate(grid, size=(size, size), mode="bilinear", align_corners=False)[:, 0]
    low = maps.amin(dim=(1, 2), keepdim=True)
    high = maps.amax(dim=(1, 2), keepdim=True)
    return (maps - low) / (high - low)


def _median_seconds(run: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def imputation_timing(images: torch.Tensor, maps: torch.Tensor, batch: int, repeats: int) -> Timing:
    masks = [percentile_keep(m, p) for p in ROAD_PERCENTILES for m in (maps, 1 - maps)]
    peer = NoisyLinearImputer(noise=0.0)

    def ours() -> list[torch.Tensor]:
        return [impute(images, keep, noise=0.0, batch_size=batch) for keep in masks]

    def theirs() -> list[torch.Tensor]:
        return [
            torch.stack([peer(images[b], keep[b].float()) for b in range(len(images))])
            for keep in masks
        ]

    difference = max(float((a - b).abs().max()) for a, b in zip(ours(), theirs(), strict=True))
    print(f"imputation: largest difference to grad-cam with noise 0: {difference:.2e}")
    if difference > 1e-4:
        raise SystemExit("the imputations disagree")
    return Timing(
        "imputation (18 masks/image)",
        _median_seconds(ours, repeats),
        _median_seconds(theirs, repeats),
    )


def metric_timing(images: torch.Tensor, maps: torch.Tensor, repeats: int) -> Timing:
    model = resnet18(weights=None, num_classes=2).eval()
    targets = [ClassifierOutputTarget(0) for _ in range(len(images))]
    cams = maps.numpy()
    ours = ROADCombined()
    theirs = PeerROADCombined()
    return Timing(
        "ROADCombined on ResNet-18",
        _median_seconds(lambda: ours(images, cams, targets, model), repeats),
        _median_seconds(lambda: theirs(images, cams, targets, model), repeats),
    )


def main(argv: Sequence[str] | None = None) -> list[Timing]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=4)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--batch", type=int, default=16, help="images per sparse solve")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--skip-metric", action="store_true", help="time the imputation only")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    generator = torch.Generator().manual_seed(1)
    images = torch.randn(args.images, 3, args.size, args.size, generator=generator)
    maps = smooth_maps(args.images, args.size)
    timings = [imputation_timing(images, maps, args.batch, args.repeats)]
    if not args.skip_metric:
        timings.append(metric_timing(images, maps, args.repeats))
    for t in timings:
        print(
            f"{t.what}: causalcam {t.ours:.2f} s, grad-cam {t.peer:.2f} s, "
            f"ratio {t.ratio:.2f}x ({args.images} images at {args.size} px, median of "
            f"{args.repeats})"
        )
    print(f"numpy {np.__version__}, torch {torch.__version__}, threads {args.threads}")
    return timings


if __name__ == "__main__":
    main()
