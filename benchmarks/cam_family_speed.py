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

Targets: (f)/(e) <= 1.15; (t)/(s) <= 1; (u)/(s) < (t)/(s). Score-CAM costs one forward
pass per channel and image (512 per image at ResNet-18's ``layer4``): it is timed on
``--score-batch`` images. bf16 agreement with fp32 Score-CAM is measured as in
``precision_agreement.py`` (per-image Pearson r, pixels whose mask at tau = 0.5 differs).

Run: ``.venv/bin/python benchmarks/cam_family_speed.py [--size 112 --batch 8 --rounds 3]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import warnings
from collections.abc import Callable

import torch
import torchvision
from pytorch_grad_cam import ScoreCAM as PackageScoreCAM
from torch import Tensor, nn

from causalcam.explain import ONE_PASS_METHODS, PAPER_MAPS, Explainer
from causalcam.precision import bf16_supported

TARGETS = {"(f)/(e)": 1.15, "(t)/(s)": 1.0}
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--batch", type=int, default=32, help="images of (a), (e), (f)")
    parser.add_argument("--score-batch", type=int, default=2, help="images of (s), (t), (u)")
    parser.add_argument("--chunk", type=int, default=64, help="Score-CAM masked inputs/forward")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--only", default="family,score", help="family, score or both")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    load = os.getloadavg()
    model = model_with_statistics(2, args.size)
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(args.batch, 3, args.size, args.size, generator=generator)
    xs = x[: args.score_batch]
    explainer = Explainer(model, target_layer="layer4")
    times: dict[str, float] = {}

    if "family" in args.only:

        def forward() -> Tensor:
            with torch.no_grad():
                return model(x)

        family, _ = interleaved_medians(
            {
                "(a)": forward,
                "(e)": lambda: explainer.explain(x, methods=PAPER_MAPS),
                "(f)": lambda: explainer.explain(x, methods=ONE_PASS_METHODS),
            },
            args.rounds,
        )
        times.update(family)

    agreement = ""
    if "score" in args.only:
        fp32 = Explainer(model, target_layer="layer4", chunk_size=args.chunk)
        with PackageScoreCAM(model=model, target_layers=[model.layer4]) as package:
            package.batch_size = 16
            runs: dict[str, Callable[[], object]] = {
                "(s)": lambda: package(input_tensor=xs, targets=None),
                "(t)": lambda: fp32.explain(xs, methods=("scorecam",)).maps["scorecam"],
            }
            bf16 = bf16_supported("cpu")
            if bf16:
                low = Explainer(
                    model, target_layer="layer4", chunk_size=args.chunk, precision="bf16"
                )
                runs["(u)"] = lambda: low.explain(xs, methods=("scorecam",)).maps["scorecam"]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                score, results = interleaved_medians(runs, max(1, args.rounds - 1))
        times.update(score)
        theirs = torch.from_numpy(results["(s)"])  # type: ignore[arg-type]
        ours = results["(t)"]
        assert isinstance(ours, Tensor)
        agreement = (
            f"fp32 Score-CAM vs grad-cam's: max |difference| {(ours - theirs).abs().max():.1e}"
        )
        if bf16:
            low_maps = results["(u)"]
            assert isinstance(low_maps, Tensor)
            r = pearson(ours, low_maps)
            flipped = ((ours > TAU) != (low_maps > TAU)).float().mean()
            agreement += (
                f"; bf16 vs fp32: median Pearson r {float(r.median()):.5f}, min "
                f"{float(r.min()):.5f}, mask pixels differing at tau 0.5: {float(flipped):.4f}"
            )
        else:
            agreement += "; bf16: not supported by this CPU (no AVX-512 BF16/AMX), not timed"

    print("| run | time |")
    print("|---|---|")
    for key, value in times.items():
        print(f"| {key} | {value:.3f} s |")
    print()
    for top, bottom in (
        ("(f)", "(e)"),
        ("(e)", "(a)"),
        ("(f)", "(a)"),
        ("(t)", "(s)"),
        ("(u)", "(s)"),
    ):
        if top in times and bottom in times:
            value = times[top] / times[bottom]
            target = TARGETS.get(f"{top}/{bottom}")
            note = f" (target <= {target})" if target else ""
            print(f"{top}/{bottom} = {value:.2f}{note}")
    if agreement:
        print(agreement)
    print(
        f"ResNet-18 {args.size}x{args.size}, batch {args.batch} (Score-CAM {args.score_batch}, "
        f"{args.chunk} masked inputs per forward), {args.threads} threads, median of rounds; "
        f"load average before {load[0]:.2f}, after {os.getloadavg()[0]:.2f} on "
        f"{os.cpu_count()} CPUs; torch {torch.__version__}"
    )


if __name__ == "__main__":
    main()
