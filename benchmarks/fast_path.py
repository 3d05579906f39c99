"""The fast path: memory layout and precision of explaining and of the threshold evaluation.

Three modes, timed in the same run with interleaved rounds (median of ``--rounds``):

- ``fp32 contiguous``: the path before channels-last (``channels_last=False``, fp32);
- ``fp32 channels-last``: today's default;
- ``bf16 channels-last``: ``precision="bf16"`` (autocast; maps from an fp32 head and VJP).

For each: a plain ``torch.no_grad()`` forward pass of the batch, all six maps of one
``Explainer.explain`` call, and the threshold evaluation's classification of masked scans
(``threshold_correct``: ``--images`` scans x ``--thresholds`` thresholds, deletion).
Ratios are against the fp32 contiguous plain forward (maps) and the fp32 contiguous
evaluation (throughput). Targets on a CPU with AVX-512 BF16 or AMX: all maps with bf16
<= 0.5x and with the fp32 default <= 0.85x a plain fp32 contiguous forward; evaluation
throughput >= 2x with bf16 and >= 1.3x with the fp32 default.

Run: ``.venv/bin/python benchmarks/fast_path.py [--rounds 3] [--json out.json]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torchvision
from torch import Tensor, nn

from causalcam.evaluate import EvaluationSettings, Network
from causalcam.evaluate.threshold import threshold_correct
from causalcam.explain import PAPER_MAPS, Explainer
from causalcam.precision import ComputePlan, bf16_supported, compute_plan, memory_format

MODES: dict[str, tuple[str, bool]] = {
    "fp32 contiguous": ("fp32", False),
    "fp32 channels-last": ("fp32", True),
    "bf16 channels-last": ("bf16", True),
}
TARGETS = {
    "maps, fp32 channels-last / forward fp32 contiguous": ("<=", 0.85),
    "maps, bf16 channels-last / forward fp32 contiguous": ("<=", 0.5),
    "evaluation speed-up, fp32 channels-last": (">=", 1.3),
    "evaluation speed-up, bf16 channels-last": (">=", 2.0),
}


def model_with_statistics(name: str, classes: int) -> nn.Module:
    """A randomly initialised torchvision model whose BatchNorm layers hold realistic running
    statistics (a few training-mode passes over random scans), in eval mode."""
    torch.manual_seed(0)
    model = getattr(torchvision.models, name)(weights=None, num_classes=classes)
    model.train()
    with torch.no_grad():
        for _ in range(2):
            model(torch.randn(8, 3, 224, 224))
    return model.eval()


def scans(count: int) -> tuple[Tensor, Tensor, str]:
    """COVID-CT test scans at 224 px, or random ones when the data set is absent."""
    try:
        from causalcam.data import load_split

        images, labels = load_split("test", size=224)
        return images[:count], labels[:count], "COVID-CT test split"
    except Exception as error:  # the timing does not depend on pixel values
        generator = torch.Generator().manual_seed(0)
        images = torch.randint(0, 256, (count, 224, 224), dtype=torch.uint8, generator=generator)
        return images, torch.randint(0, 2, (count,)), f"random scans ({type(error).__name__})"


def runs(
    model: nn.Module,
    images: Tensor,
    labels: Tensor,
    thresholds: int,
    batch: int,
    modes: dict[str, tuple[str, bool]],
    folding: bool,
) -> dict[str, Callable[[Tensor], object]]:
    """The timed functions: (kind, mode) -> fn(x); ``folding`` adds the maps with BatchNorm
    folded (``Explainer(fold_batchnorm=True)``)."""
    network = Network(model)
    levels = torch.randint(0, thresholds + 1, images.shape, generator=torch.Generator())
    table: dict[str, Callable[[Tensor], object]] = {}
    for mode, (precision, layout) in modes.items():
        plan = compute_plan("cpu", precision, layout)
        explainer = Explainer(model, precision=precision, channels_last=layout)
        if folding:
            folded = Explainer(
                model, precision=precision, channels_last=layout, fold_batchnorm=True
            )
            table[f"maps folded|{mode}"] = lambda x, e=folded: e.explain(x, methods=PAPER_MAPS)

        def forward(x: Tensor, plan: ComputePlan = plan) -> object:
            with memory_format(model, plan.channels_last), torch.no_grad(), plan.autocast():
                return model(plan.inputs(x))

        settings = EvaluationSettings(
            batch_size=batch, progress=False, precision=precision, channels_last=layout
        )

        def evaluate(_x: Tensor, settings: EvaluationSettings = settings) -> object:
            return threshold_correct(
                network, images, labels, levels, thresholds, "deletion", settings=settings
            )

        table[f"forward|{mode}"] = forward
        table[f"maps|{mode}"] = lambda x, e=explainer: e.explain(x, methods=PAPER_MAPS)
        table[f"evaluation|{mode}"] = evaluate
    return table


def interleaved_times(
    table: dict[str, Callable[[Tensor], object]], x: Tensor, rounds: int
) -> dict[str, list[float]]:
    """Seconds of every round per run; every round times all runs in turn after one warm-up
    call, so a change in the (shared) machine's load hits all of them alike."""
    for fn in table.values():
        fn(x[:2])
    times: dict[str, list[float]] = {key: [] for key in table}
    for _ in range(rounds):
        for key, fn in table.items():
            start = time.perf_counter()
            fn(x)
            times[key].append(time.perf_counter() - start)
    return times


def summarise(
    seconds: dict[str, float], batch: int, evaluated: int
) -> tuple[list[dict[str, object]], dict[str, float]]:
    """Rows per mode (images/s, ratios) and the four target ratios."""
    base_forward = seconds["forward|fp32 contiguous"]
    base_eval = seconds["evaluation|fp32 contiguous"]
    rows: list[dict[str, object]] = []
    for mode in MODES:
        rows.append(
            {
                "mode": mode,
                "forward_images_per_s": batch / seconds[f"forward|{mode}"],
                "maps_images_per_s": batch / seconds[f"maps|{mode}"],
                "evaluation_images_per_s": evaluated / seconds[f"evaluation|{mode}"],
                "forward_vs_fp32_contiguous": seconds[f"forward|{mode}"] / base_forward,
                "maps_vs_fp32_contiguous_forward": seconds[f"maps|{mode}"] / base_forward,
                "evaluation_speedup": base_eval / seconds[f"evaluation|{mode}"],
            }
        )
    by_mode = {str(row["mode"]): row for row in rows}
    ratios = {
        "maps, fp32 channels-last / forward fp32 contiguous": float(
            by_mode["fp32 channels-last"]["maps_vs_fp32_contiguous_forward"]  # type: ignore[arg-type]
        ),
        "maps, bf16 channels-last / forward fp32 contiguous": float(
            by_mode["bf16 channels-last"]["maps_vs_fp32_contiguous_forward"]  # type: ignore[arg-type]
        ),
        "evaluation speed-up, fp32 channels-last": float(
            by_mode["fp32 channels-last"]["evaluation_speedup"]  # type: ignore[arg-type]
        ),
        "evaluation speed-up, bf16 channels-last": float(
            by_mode["bf16 channels-last"]["evaluation_speedup"]  # type: ignore[arg-type]
        ),
    }
    return rows, ratios


def markdown(rows: list[dict[str, object]], ratios: dict[str, float]) -> str:
    lines = [
        "| mode | forward (img/s) | all maps (img/s) | evaluation (img/s) | forward / fp32 "
        "contiguous | all maps / fp32 contiguous forward | evaluation speed-up |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row['mode']} | {row['forward_images_per_s']:.1f} | {row['maps_images_per_s']:.1f}"
            f" | {row['evaluation_images_per_s']:.1f} | {row['forward_vs_fp32_contiguous']:.2f}"
            f" | {row['maps_vs_fp32_contiguous_forward']:.2f} | {row['evaluation_speedup']:.2f}x |"
        )
    lines.append("")
    for name, value in ratios.items():
        sign, limit = TARGETS[name]
        met = value <= limit if sign == "<=" else value >= limit
        lines.append(f"- {name}: {value:.2f} (target {sign} {limit}: {'met' if met else 'missed'})")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="resnet18", help="torchvision classification model")
    parser.add_argument("--classes", type=int, default=2)
    parser.add_argument("--batch", type=int, default=32, help="images per explain/forward call")
    parser.add_argument("--images", type=int, default=16, help="scans in the evaluation")
    parser.add_argument("--thresholds", type=int, default=8, help="thresholds in the evaluation")
    parser.add_argument("--eval-batch", type=int, default=64, help="masked images per forward")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument(
        "--folding", action="store_true", help="also time the maps with BatchNorm folded"
    )
    parser.add_argument("--modes", default=",".join(MODES), help="comma-separated modes")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if not bf16_supported("cpu"):
        print("warning: this CPU has no native bf16; the bf16 mode falls back to fp32")
    model = model_with_statistics(args.model, args.classes)
    images, labels, origin = scans(args.images)
    x = torch.randn(args.batch, 3, 224, 224)
    load_before = os.getloadavg()
    modes = {m: MODES[m] for m in args.modes.split(",")}
    table = runs(model, images, labels, args.thresholds, args.eval_batch, modes, args.folding)
    times = interleaved_times(table, x, args.rounds)
    load_after = os.getloadavg()
    seconds = {key: statistics.median(values) for key, values in times.items()}
    fastest = {key: min(values) for key, values in times.items()}
    for mode in modes:
        if f"maps folded|{mode}" in seconds:
            folded, plain = seconds[f"maps folded|{mode}"], seconds[f"maps|{mode}"]
            base = seconds[f"forward|{mode}"]
            print(
                f"{mode}: maps {folded / base:.2f}x the forward with BatchNorm folded, "
                f"{plain / base:.2f}x without (folded / unfolded {folded / plain:.2f})"
            )
    if set(modes) != set(MODES):
        for key, value in seconds.items():
            print(f"{key}: {value:.3f} s")
        loads = f"before {load_before[0]:.2f}, after {load_after[0]:.2f}"
        print(f"batch {args.batch}, load average {loads}")
        return
    rows, ratios = summarise(seconds, args.batch, args.images * args.thresholds)
    best_rows, best_ratios = summarise(fastest, args.batch, args.images * args.thresholds)
    print("Medians of the rounds:\n")
    print(markdown(rows, ratios))
    print("\nFastest round of each run (least disturbed by other load):\n")
    print(markdown(best_rows, best_ratios))
    context = (
        f"{args.model} ({args.classes} classes), 224x224, maps batch {args.batch}, evaluation "
        f"{args.images} scans ({origin}) x {args.thresholds} thresholds in batches of "
        f"{args.eval_batch}, {args.threads} threads, median of {args.rounds} interleaved rounds; "
        f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f} on "
        f"{os.cpu_count()} CPUs; torch {torch.__version__}"
    )
    print(f"\n{context}")
    if args.json is not None:
        payload = {
            "rows": rows,
            "ratios": ratios,
            "fastest_rows": best_rows,
            "fastest_ratios": best_ratios,
            "seconds": times,
            "context": context,
        }
        args.json.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
