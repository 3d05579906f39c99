"""Speed of a ResNet-18 training epoch at 224 px in three compute modes, same run.

One epoch of :mod:`causalcam.training`'s own loop (batched augmentation, forward, loss,
backward, AdamW step, EMA update) over 425 synthetic uint8 scans (the size of COVID-CT's
training split), with the ``scratch`` recipe (batch 16, 224 px):

(a) fp32, contiguous memory (the path before channels-last and autocast)
(b) fp32, channels-last
(c) bf16 autocast, channels-last (fp32 master weights)

The modes are interleaved round by round, so a change in the load of the shared machine
hits them alike; the time of each is the median over rounds, after one warm-up step each.
Target on a CPU with AVX-512 BF16 or AMX: (a)/(c) >= 2. Note ``uptime`` beside the numbers.
Run: ``.venv/bin/python benchmarks/train_speed.py [--images 425] [--rounds 1]``.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import statistics
import time

import torch
from tqdm import tqdm

from causalcam.precision import bf16_supported, compute_plan
from causalcam.training import RECIPES, TrainConfig
from causalcam.training.loop import TrainingData, init_state, train_epoch

MODES: dict[str, tuple[str, bool]] = {
    "(a) fp32 contiguous": ("fp32", False),
    "(b) fp32 channels-last": ("fp32", True),
    "(c) bf16 channels-last": ("bf16", True),
}


def epoch_seconds(
    precision: str, channels_last: bool, data: TrainingData, steps: int, warm_up: bool
) -> float:
    """Wall time of one training epoch in a fresh run state (after one warm-up step)."""
    recipe = RECIPES["scratch"]
    plan = compute_plan("cpu", precision, channels_last)
    config = TrainConfig(arch="resnet18", recipe="scratch", seed=0)
    state = init_state(config, recipe, steps * 2, None, plan)
    bar = tqdm(disable=True)
    if warm_up:
        few = dataclasses.replace(data, train=(data.train[0][:16], data.train[1][:16]))
        train_epoch(state, few, recipe, torch.Generator().manual_seed(1), bar)
    started = time.perf_counter()
    train_epoch(state, data, recipe, torch.Generator().manual_seed(0), bar)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=425)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    generator = torch.Generator().manual_seed(0)
    side = RECIPES["scratch"].train_resize
    images = torch.randint(
        0, 256, (args.images, side, side), dtype=torch.uint8, generator=generator
    )
    labels = torch.arange(args.images) % 2
    empty = (images[:0], labels[:0])
    data = TrainingData(train=(images, labels), val=empty, test=empty, checksum="synthetic")
    steps = math.ceil(args.images / RECIPES["scratch"].batch_size)
    print(f"load average before: {os.getloadavg()}; bf16 native: {bf16_supported('cpu')}")
    times: dict[str, list[float]] = {mode: [] for mode in MODES}
    for round_ in range(args.rounds):
        for mode, (precision, channels_last) in MODES.items():
            seconds = epoch_seconds(precision, channels_last, data, steps, warm_up=round_ == 0)
            times[mode].append(seconds)
            print(f"round {round_ + 1} {mode}: {seconds:.1f} s", flush=True)
    medians = {mode: statistics.median(values) for mode, values in times.items()}
    base = medians["(a) fp32 contiguous"]
    print(
        f"\nResNet-18 training epoch, {args.images} images at 224 px, batch 16, "
        f"{args.threads} threads, median of {args.rounds} round(s)"
    )
    print("| mode | s/epoch | images/s | speed-up vs (a) |\n|---|---|---|---|")
    for mode, seconds in medians.items():
        print(f"| {mode} | {seconds:.1f} | {args.images / seconds:.1f} | {base / seconds:.2f}x |")
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
