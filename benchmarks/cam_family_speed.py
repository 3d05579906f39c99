"""Speed of pytorch-grad-cam's CAM family in causalcam, against the six-map call and grad-cam.

Randomly initialised torchvision ResNet-18 (2 classes, batch-norm statistics from two
train-mode passes) at ``layer4``, times as medians of interleaved rounds after a warm-up:

(a) a plain ``torch.no_grad()`` forward pass of the batch
(e) ``Explainer.explain``: the six maps of the paper (``PAPER_MAPS``)
(f) ``Explainer.explain``: every method from the one pass (``ONE_PASS_METHODS``: the six,
    contrast_ce, HiResCAM, Grad-CAM element-wise, XGrad-CAM, LayerCAM, Eigen-CAM,
    EigenGrad-CAM, Finer-CAM, Random CAM) in one call
(s) grad-cam's ``ScoreCAM`` (16 masked inputs per forward, its default)
(t) causalcam's Score-CAM, fp32 (``chunk_size`` masked inputs per forward)
(u) causalcam's Score-CAM, ``precision="bf16"`` (where the CPU or GPU supports bf16)
(r) causalcam's ``ROADCombined`` and (q) grad-cam's (``metrics_speed.py``'s smooth maps)

Targets: (f)/(e) <= 1.15; (t)/(s) <= 1; (u)/(s) < (t)/(s); (r)/(q) <= 0.5. Score-CAM costs
one forward pass per channel and image (512 per image at ResNet-18's ``layer4``): it is timed on
``--score-batch`` images. bf16 agreement with fp32 Score-CAM is measured as in
``precision_agreement.py`` (per-image Pearson r, pixels whose mask at tau = 0.5 differs).

Run: ``.venv/bin/python benchmarks/cam_family_speed.py [--size 112 --batch 8 --rounds 3]
[--record docs/results/benchmarks/cam_family_speed.json]`` (the record is the docs' table).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import torch
import torchvision
from pytorch_grad_cam import ScoreCAM as PackageScoreCAM
from torch import Tensor, nn

from causalcam.explain import ONE_PASS_METHODS, PAPER_MAPS, Explainer
from causalcam.precision import bf16_supported
from metrics_speed import metric_timing, smooth_maps

TAU = 0.5


def model_with_statistics(classes: int, size: int) -> nn.Module:
    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None, num_classes=classes).train()
    with torch.no_grad():
        for _ in range(2):
            model(torch.randn(8, 3, size, size))
    return model.eval()


def interleaved_medians(
    runs: dict[str, Callable[[], object]], repeats: int
) -> tuple[dict[str, float], dict[str, object]]:
    """Median wall time of each run over ``repeats`` rounds (every round times all runs in
    turn, after one warm-up call each) and each run's last result."""
    results = {key: fn() for key, fn in runs.items()}
    times: dict[str, list[float]] = {key: [] for key in runs}
    for _ in range(repeats):
        for key, fn in runs.items():
            start = time.perf_counter()
            results[key] = fn()
            times[key].append(time.perf_counter() - start)
    return {key: statistics.median(v) for key, v in times.items()}, results


def pearson(a: Tensor, b: Tensor) -> Tensor:
    x, y = a.flatten(1).double(), b.flatten(1).double()
    x, y = x - x.mean(1, keepdim=True), y - y.mean(1, keepdim=True)
    return (x * y).sum(1) / (x.norm(dim=1) * y.norm(dim=1)).clamp_min(1e-300)


def family_times(
    explainer: Explainer, model: nn.Module, x: Tensor, rounds: int
) -> dict[str, float]:
    """(a), (e), (f) in interleaved rounds."""

    def forward() -> Tensor:
        with torch.no_grad():
            return model(x)

    times, _ = interleaved_medians(
        {
            "(a)": forward,
            "(e)": lambda: explainer.explain(x, methods=PAPER_MAPS),
            "(f)": lambda: explainer.explain(x, methods=ONE_PASS_METHODS),
        },
        rounds,
    )
    return times


def score_times(
    model: nn.Module, xs: Tensor, chunk: int, rounds: int
) -> tuple[dict[str, float], dict[str, str]]:
    """(s), (t) and, where bf16 runs natively, (u); with the agreement of (t) with grad-cam's
    maps and of (u) with (t)."""
    fp32 = Explainer(model, target_layer="layer4", chunk_size=chunk)
    with PackageScoreCAM(model=model, target_layers=[model.layer4]) as package:
        package.batch_size = 16
        runs: dict[str, Callable[[], object]] = {
            "(s)": lambda: package(input_tensor=xs, targets=None),
            "(t)": lambda: fp32.explain(xs, methods=("scorecam",)).maps["scorecam"],
        }
        if bf16_supported("cpu"):
            low = Explainer(model, target_layer="layer4", chunk_size=chunk, precision="bf16")
            runs["(u)"] = lambda: low.explain(xs, methods=("scorecam",)).maps["scorecam"]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            times, results = interleaved_medians(runs, rounds)
    theirs = torch.from_numpy(results["(s)"])  # type: ignore[arg-type]
    ours = results["(t)"]
    assert isinstance(ours, Tensor)
    agreement = {"(t)": f"max difference to grad-cam's maps {(ours - theirs).abs().max():.1e}"}
    if "(u)" in results:
        low_maps = results["(u)"]
        assert isinstance(low_maps, Tensor)
        r = pearson(ours, low_maps)
        flipped = ((ours > TAU) != (low_maps > TAU)).float().mean()
        agreement["(u)"] = (
            f"against fp32: median r {float(r.median()):.5f}, min r {float(r.min()):.5f}, "
            f"mask at 0.5 differs {100 * float(flipped):.2f}%"
        )
    return times, agreement


def road_times(images: int, size: int, rounds: int) -> dict[str, float]:
    """(r) causalcam's ROADCombined and (q) grad-cam's on ``images`` smooth maps."""
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(images, 3, size, size, generator=generator)
    timing = metric_timing(x, smooth_maps(images, size), rounds)
    return {"(r)": timing.ours, "(q)": timing.peer}


def record_rows(
    times: dict[str, float], agreement: dict[str, str], args: argparse.Namespace
) -> list[list[object]]:
    """The record's rows: each comparison that ran, with its times, ratio and target."""
    family = f"every one-pass method ({len(ONE_PASS_METHODS)} maps) in one call"
    six = f"the six-map call ({args.batch} images)"
    score = f"grad-cam's ScoreCAM ({args.score_batch} image(s))"
    specs = [
        ("(f)", "(e)", family, six, "<= 1.15"),
        ("(t)", "(s)", "Score-CAM, fp32", score, "<= 1"),
        ("(u)", "(s)", 'Score-CAM, precision="bf16"', score, "below fp32's"),
        ("(r)", "(q)", "ROADCombined", f"grad-cam's ({args.road_images} image(s))", "<= 0.5"),
    ]
    return [
        [
            what,
            times[top],
            against,
            times[bottom],
            times[top] / times[bottom],
            target,
            agreement.get(top, ""),
        ]
        for top, bottom, what, against, target in specs
        if top in times and bottom in times
    ]


COLUMNS = [
    {"name": "causalcam"},
    {"name": "time", "format": "{:.2f} s"},
    {"name": "against"},
    {"name": "its time", "format": "{:.2f} s"},
    {"name": "time ratio", "format": "{:.2f}"},
    {"name": "target"},
    {"name": "agreement"},
]


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--batch", type=int, default=32, help="images of (a), (e), (f)")
    parser.add_argument("--score-batch", type=int, default=2, help="images of (s), (t), (u)")
    parser.add_argument("--chunk", type=int, default=64, help="Score-CAM masked inputs/forward")
    parser.add_argument("--road-images", type=int, default=1, help="images of (r), (q)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--only", default="family,score,road", help="family, score, road")
    parser.add_argument("--record", type=Path, help="also write the benchmark record here")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    before = uptime_load()
    model = model_with_statistics(2, args.size)
    x = torch.randn(args.batch, 3, args.size, args.size, generator=torch.Generator().manual_seed(1))
    times: dict[str, float] = {}
    agreement: dict[str, str] = {}
    if "family" in args.only:
        times |= family_times(Explainer(model, target_layer="layer4"), model, x, args.rounds)
    if "score" in args.only:
        found, agreement = score_times(model, x[: args.score_batch], args.chunk, args.rounds)
        times |= found
    if "road" in args.only:
        times |= road_times(args.road_images, args.size, args.rounds)
    measured_on = (
        f"ResNet-18 (2 classes) {args.size}x{args.size}, {args.threads} thread(s), "
        f"Score-CAM {args.chunk} masked inputs per forward, medians of {args.rounds} "
        f"interleaved rounds; load average (uptime) before {before}, after {uptime_load()} "
        f"on {os.cpu_count()} CPUs; torch {torch.__version__}"
    )
    rows = record_rows(times, agreement, args)
    for row in rows:
        print(" | ".join(str(v) if not isinstance(v, float) else f"{v:.3f}" for v in row))
    print(measured_on)
    if args.record is not None:
        words = argv if argv is not None else sys.argv[1:]
        command = "python benchmarks/cam_family_speed.py " + " ".join(words)
        record = {
            "title": "The CAM family, Score-CAM and ROAD against the six-map call and grad-cam",
            "command": command.replace(f" --record {args.record}", ""),
            "measured_on": measured_on,
            "columns": COLUMNS,
            "rows": rows,
        }
        args.record.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    return times


def uptime_load() -> str:
    """The 1, 5 and 15 minute load averages, as ``uptime`` prints them."""
    return ", ".join(f"{v:.2f}" for v in os.getloadavg())


if __name__ == "__main__":
    main()
