"""Speed of the explanation engine on volumes against a plain forward pass and grad-cam.

torchvision's r3d_18 (weights=None, 400 classes, batch-norm statistics from two train-mode
passes) at ``layer4`` on a (2, 3, 16, 112, 112) batch of clips. Times: medians of
interleaved rounds after a warm-up:

(a) a plain ``torch.no_grad()`` forward pass (the model as built)
(b) the grad-cam package's GradCAM on the volume (its 3-D path: scipy ``zoom`` resizing)
(e) causalcam: the six maps of the paper (``PAPER_MAPS``), one call
(f) causalcam: every method from the one pass (``ONE_PASS_METHODS``), one call

Targets: (e)/(a) <= 1.3 and (e)/(b) < 1 (faster than grad-cam's Grad-CAM alone).
Run: ``.venv/bin/python benchmarks/volume_speed.py [--rounds 3 --batch 2 --frames 16]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
from pytorch_grad_cam import GradCAM as PackageGradCAM
from torch import Tensor, nn
from torchvision.models import video

from causalcam.explain import ONE_PASS_METHODS, PAPER_MAPS, Explainer
from causalcam.precision import cpu_vector_extensions

TARGETS = {"(e)/(a)": 1.3, "(e)/(b)": 1.0}
RATIOS = (("(e)", "(a)"), ("(f)", "(a)"), ("(e)", "(b)"), ("(f)", "(b)"))


def r3d_with_statistics(shape: tuple[int, ...]) -> nn.Module:
    torch.manual_seed(0)
    model = video.r3d_18(weights=None).train()
    with torch.no_grad():
        for _ in range(2):
            model(torch.randn(*shape))
    return model.eval()


def interleaved_medians(runs: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Median wall time of each run over ``repeats`` rounds (every round times all runs in
    turn, after one warm-up call each)."""
    for fn in runs.values():
        fn()
    times: dict[str, list[float]] = {key: [] for key in runs}
    for _ in range(repeats):
        for key, fn in runs.items():
            start = time.perf_counter()
            fn()
            times[key].append(time.perf_counter() - start)
    return {key: statistics.median(v) for key, v in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--size", type=int, default=112)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--record", type=Path, help="also write the benchmark record here")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    load = os.getloadavg()
    shape = (args.batch, 3, args.frames, args.size, args.size)
    model = r3d_with_statistics(shape)
    x = torch.randn(*shape, generator=torch.Generator().manual_seed(1))
    explainer = Explainer(model, target_layer="layer4")

    def forward() -> Tensor:
        with torch.no_grad():
            return model(x)

    with PackageGradCAM(model=model, target_layers=[model.layer4]) as cam:
        times = interleaved_medians(
            {
                "(a)": forward,
                "(b)": lambda: cam(input_tensor=x, targets=None),
                "(e)": lambda: explainer.explain(x, methods=PAPER_MAPS),
                "(f)": lambda: explainer.explain(x, methods=ONE_PASS_METHODS),
            },
            args.rounds,
        )
    print("| run | time |")
    print("|---|---|")
    for key, value in times.items():
        print(f"| {key} | {value:.3f} s |")
    print()
    for top, bottom in RATIOS:
        target = TARGETS.get(f"{top}/{bottom}")
        note = f" (target {'<=' if bottom == '(a)' else '<'} {target})" if target else ""
        print(f"{top}/{bottom} = {times[top] / times[bottom]:.2f}{note}")
    measured_on = (
        f"{os.cpu_count()}-core x86-64 CPU ({cpu_vector_extensions()}), {args.threads} threads, "
        f"load average {load[0]:.2f} before and {os.getloadavg()[0]:.2f} after, torch "
        f"{torch.__version__.split('+')[0]}; medians of {args.rounds} interleaved rounds after a "
        "warm-up"
    )
    print(measured_on)
    if args.record is not None:
        write_record(args, times, measured_on)


def write_record(args: argparse.Namespace, times: dict[str, float], measured_on: str) -> None:
    """The docs' table (``docs/results/benchmarks/volume_speed.json``, whose title and columns
    it keeps) from one run: times (a), (b), (e), (f) and the first three ratios."""
    words = sys.argv[1:]
    at = words.index("--record")
    command = " ".join(["python benchmarks/volume_speed.py", *words[:at], *words[at + 2 :]])
    row = [
        "r3d_18 (weights=None), 400 classes",
        *(times[key] for key in ("(a)", "(b)", "(e)", "(f)")),
        *(times[top] / times[bottom] for top, bottom in RATIOS[:3]),
    ]
    record = json.loads(args.record.read_text(encoding="utf-8")) if args.record.is_file() else {}
    record.update(command=command, measured_on=measured_on, rows=[row])
    args.record.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
