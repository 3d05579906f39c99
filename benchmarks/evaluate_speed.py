"""Speed of the evaluation: Huffman bits and threshold deletion/insertion overhead.

Prints two ratios:

1. Huffman: seconds for the exact Huffman bits of ``203 x 71`` masked 224x224 scans, both via
   explicit masked images (``huffman_bits``) and via the evaluation's path (``masked_bits``,
   all thresholds from one histogram per image). Target: <= 2 s.
2. Evaluation overhead: total ``run_deletion_insertion`` time divided by
   (number of images the models saw x per-image time of a plain batched inference forward of
   the same model, measured in the same run). Target: <= 1.15.

Usage: ``python benchmarks/evaluate_speed.py [--images 32] [--every 7] [--device cuda]``.
Uses the COVID-CT test split when it is available, random scans otherwise.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models import resnet18

from causalcam.evaluate import (
    DEFAULT_THRESHOLDS,
    EvaluationSettings,
    Network,
    huffman_bits,
    run_deletion_insertion,
)
from causalcam.evaluate.huffman import masked_bits
from causalcam.preprocess import to_model_input


class CountingModel(nn.Module):
    """Wraps a model; counts the images it classifies and the seconds spent inside it."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner
        self.seen = 0
        self.seconds = 0.0

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        start = time.perf_counter()
        self.seen += inputs.shape[0]
        outputs = self.inner(inputs)
        _synchronise(inputs.device)
        self.seconds += time.perf_counter() - start
        return outputs


def test_scans(count: int) -> tuple[torch.Tensor, torch.Tensor, str]:
    """The first ``count`` COVID-CT test scans, or random ones when the data set is absent."""
    try:
        from causalcam.data import load_split

        images, labels = load_split("test")
        return images[:count], labels[:count], "COVID-CT test split"
    except Exception as error:  # no data here: the timing does not depend on pixel values
        generator = torch.Generator().manual_seed(0)
        images = torch.randint(0, 256, (count, 224, 224), dtype=torch.uint8, generator=generator)
        labels = torch.randint(0, 2, (count,), generator=generator)
        return images, labels, f"random scans ({type(error).__name__})"


def cam_like_maps(count: int, seed: int = 0) -> torch.Tensor:
    """Smooth maps like upsampled 7x7 CAMs, min-max normalised."""
    generator = torch.Generator().manual_seed(seed)
    coarse = torch.rand(count, 1, 7, 7, generator=generator)
    maps = F.interpolate(coarse, size=(224, 224), mode="bilinear", align_corners=False)[:, 0]
    low = maps.flatten(1).min(1).values.view(-1, 1, 1)
    high = maps.flatten(1).max(1).values.view(-1, 1, 1)
    return (maps - low) / (high - low)


def huffman_timings(images: torch.Tensor) -> dict[str, float]:
    """Seconds for 203 x 71 masked scans: explicit images vs the evaluation's histogram path."""
    scans = images.repeat((203 + len(images) - 1) // len(images), 1, 1)[:203]
    maps = cam_like_maps(203)
    taus = np.asarray(DEFAULT_THRESHOLDS)
    explicit_s, explicit = 0.0, []
    for tau in taus:  # masked images are built outside the timed region
        masked = (scans * (maps.double() > tau)).numpy()
        start = time.perf_counter()
        explicit.append(huffman_bits(masked))
        explicit_s += time.perf_counter() - start
    start = time.perf_counter()
    fast = masked_bits(scans, maps, taus, "deletion")
    fast_s = time.perf_counter() - start
    assert np.array_equal(np.stack(explicit), fast), "the two Huffman paths disagree"
    return {"explicit": explicit_s, "masked_bits": fast_s}


def plain_forward_seconds(
    model: nn.Module, images: torch.Tensor, network: Network, batch: int, repeats: int
) -> float:
    """Per-image seconds of a plain batched inference forward (median of ``repeats``)."""
    inputs = images[:batch].to(network.device)
    if inputs.shape[0] < batch:
        inputs = inputs.repeat((batch + inputs.shape[0] - 1) // inputs.shape[0], 1, 1)[:batch]
    times = []
    with torch.inference_mode():
        for _ in range(repeats):
            _synchronise(network.device)
            start = time.perf_counter()
            model(to_model_input(inputs, network.preprocessing)).argmax(1).cpu()
            _synchronise(network.device)
            times.append(time.perf_counter() - start)
    return float(np.median(times)) / batch


def _synchronise(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def method_functions(model: nn.Module) -> dict[str, Callable[[torch.Tensor], torch.Tensor]]:
    """Grad-CAM and the causal map from causalcam.explain."""
    from causalcam.explain import map_function

    return {
        name: map_function(model, name, target_layer="inner.layer4")
        for name in ("gradcam", "causal")
    }


def evaluation_timing(
    args: argparse.Namespace, images: torch.Tensor, labels: torch.Tensor
) -> dict[str, float]:
    device = torch.device(args.device)
    torch.manual_seed(0)
    model = CountingModel(resnet18(num_classes=2)).to(device).eval()
    network = Network(model)
    thresholds = DEFAULT_THRESHOLDS[:: args.every]
    per_image_before = plain_forward_seconds(model, images, network, args.batch_size, 5)
    model.seen, model.seconds = 0, 0.0
    with tempfile.TemporaryDirectory() as out_dir:
        start = time.perf_counter()
        run_deletion_insertion(
            {"resnet18": network},
            method_functions(model),
            images,
            labels,
            source="resnet18",
            settings=EvaluationSettings(
                thresholds=thresholds,
                out_dir=Path(out_dir),
                batch_size=args.batch_size,
                progress=False,
            ),
        )
        _synchronise(device)
        total = time.perf_counter() - start
        forwards, in_model = model.seen, model.seconds
        start = time.perf_counter()
        run_deletion_insertion(
            {"resnet18": network},
            method_functions(model),
            images,
            labels,
            source="resnet18",
            settings=EvaluationSettings(
                thresholds=thresholds, out_dir=Path(out_dir), progress=False
            ),
        )
        rerun = time.perf_counter() - start
    per_image_after = plain_forward_seconds(model, images, network, args.batch_size, 5)
    per_image = (per_image_before + per_image_after) / 2
    return {
        "thresholds": len(thresholds),
        "forwards": forwards,
        "total_s": total,
        "per_image_ms": 1000 * per_image,
        "ratio": total / (forwards * per_image),
        "in_model": in_model / total,
        "images_per_s": forwards / total,
        "rerun_s": rerun,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=32, help="test scans in the timing run")
    parser.add_argument("--every", type=int, default=7, help="use every n-th default threshold")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--huffman-only", action="store_true", help="skip the evaluation run")
    args = parser.parse_args()
    images, labels, origin = test_scans(args.images)
    print(f"data: {origin}; device: {args.device}; torch threads: {torch.get_num_threads()}")
    huff = huffman_timings(images)
    if args.huffman_only:
        print(f"huffman_bits {huff['explicit']:.2f} s, masked_bits {huff['masked_bits']:.2f} s")
        return
    timing = evaluation_timing(args, images, labels)
    workload = f"{len(images)} scans x {timing['thresholds']} thresholds x 2 modes x 2 methods"
    rows = [
        ("Huffman bits, 203 x 71 masked scans, `huffman_bits`", f"{huff['explicit']:.2f} s", ""),
        (
            "Huffman bits, 203 x 71 masked scans, `masked_bits`",
            f"{huff['masked_bits']:.2f} s",
            "<= 2 s",
        ),
        (f"evaluation of {workload}", f"{timing['total_s']:.1f} s", ""),
        ("images classified (maps included)", f"{timing['forwards']}", ""),
        ("plain batched forward, per image", f"{timing['per_image_ms']:.2f} ms", ""),
        (
            "evaluation / (images classified x per-image forward)",
            f"{timing['ratio']:.3f}",
            "<= 1.15",
        ),
        ("share of evaluation time spent inside the model", f"{timing['in_model']:.3f}", ""),
        ("evaluation throughput", f"{timing['images_per_s']:.1f} images/s", ""),
        ("identical rerun (everything cached)", f"{timing['rerun_s']:.2f} s", ""),
    ]
    print("\n| measurement | value | target |\n|---|---:|---:|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
