"""Agreement of the fast path with fp32 on the COVID-CT test split and the bundled model.

For every map of ``PAPER_MAPS``, the maps of a mode are compared with the fp32
contiguous maps (the path before channels-last) image by image: median and minimum Pearson
correlation, and the fraction of pixels whose mask at tau = 0.5 (``map > 0.5``) differs.
Modes: ``fp32 channels-last`` (the default), ``bf16`` (autocast forward, layers after the
target layer and the VJP in fp32: the default for bf16) and ``bf16, bf16 head`` (the VJP
through the head in bf16 too, to show which gradient precision keeps maps faithful).
Predictions: the fraction of identical predicted classes.

Threshold deletion/insertion curves (``--curve-methods``, thresholds ``--thresholds``): the
fp32 curves (fp32 maps, fp32 classification) against the bf16 ones (bf16 maps, bf16
classification); per threshold, is the bf16 accuracy inside fp32's 95% percentile bootstrap
interval over test images? Curves are cached under ``$CAUSALCAM_CACHE`` (reruns resume).

Writes ``agreement.json``, ``maps.csv``, ``curves.csv`` and ``agreement.md`` to ``--out``
(default ``docs/results/precision``).
Run: ``.venv/bin/python benchmarks/precision_agreement.py [--bundled resnet18-112]``.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from causalcam._io import atomic_write_text, cache_dir
from causalcam.data import load_split
from causalcam.evaluate import EvaluationSettings, evaluate_maps
from causalcam.evaluate.store import model_fingerprint
from causalcam.explain import PAPER_MAPS, Explainer
from causalcam.models import BUNDLED_MODELS, bundled_model, default_target_layer
from causalcam.models.checkpoint import DEFAULT_BUNDLED
from causalcam.network import Network, as_network
from causalcam.precision import bf16_supported
from causalcam.preprocess import to_model_input

#: name -> Explainer keywords; the first is the reference.
MAP_MODES: dict[str, dict[str, Any]] = {
    "fp32 contiguous": {"precision": "fp32", "channels_last": False},
    "fp32 channels-last": {"precision": "fp32", "channels_last": True},
    "bf16": {"precision": "bf16", "channels_last": True},
    "bf16, bf16 head": {"precision": "bf16", "channels_last": True, "head_precision": "forward"},
}
TAU = 0.5


def explain_all(
    network: Network, images: Tensor, options: dict[str, Any], batch: int
) -> tuple[dict[str, Tensor], Tensor, float]:
    """Maps of every method and the logits for all scans in one mode, and the seconds."""
    layer = default_target_layer(network.model)
    parts: dict[str, list[Tensor]] = {m: [] for m in PAPER_MAPS}
    logits = []
    with Explainer(network.model, target_layer=layer, chunk_size=batch, **options) as explainer:
        explainer.explain(to_model_input(images[:2], network.preprocessing))  # warm-up
        started = time.perf_counter()
        for start in range(0, images.shape[0], batch):
            inputs = to_model_input(images[start : start + batch], network.preprocessing)
            result = explainer.explain(inputs, methods=PAPER_MAPS)
            logits.append(result.logits)
            for method in PAPER_MAPS:
                parts[method].append(result.maps[method].float())
    seconds = time.perf_counter() - started
    return {m: torch.cat(p) for m, p in parts.items()}, torch.cat(logits), seconds


def pearson(a: Tensor, b: Tensor) -> Tensor:
    """Per-image Pearson correlation of (B, H, W) maps; 1 where both maps are constant and
    equal, 0 where only one is constant."""
    x, y = a.flatten(1).double(), b.flatten(1).double()
    x, y = x - x.mean(1, keepdim=True), y - y.mean(1, keepdim=True)
    denominator = (x.norm(dim=1) * y.norm(dim=1)).clamp_min(1e-300)
    r = (x * y).sum(1) / denominator
    both_constant = (x.norm(dim=1) == 0) & (y.norm(dim=1) == 0)
    return torch.where(both_constant, torch.ones_like(r), r)


def map_rows(reference: dict[str, Tensor], maps: dict[str, dict[str, Tensor]]) -> list[dict]:
    rows = []
    for mode, by_method in maps.items():
        for method in PAPER_MAPS:
            ref, got = reference[method], by_method[method]
            r = pearson(ref, got)
            flipped = ((ref > TAU) != (got > TAU)).float().flatten(1).mean(1)
            rows.append(
                {
                    "mode": mode,
                    "method": method,
                    "median_pearson": float(r.median()),
                    "min_pearson": float(r.min()),
                    "mask_pixels_differing": float(flipped.mean()),
                    "max_abs_difference": float((ref - got).abs().max()),
                }
            )
    return rows


def curve_rows(
    models: dict[str, Network],
    images: Tensor,
    labels: Tensor,
    maps: dict[str, dict[str, Tensor]],
    methods: list[str],
    thresholds: list[float],
    n_boot: int,
) -> list[dict]:
    """Per (method, mode): thresholds whose bf16 accuracy lies in fp32's bootstrap interval."""
    network = models["bundled"]
    curves = {}
    for precision, mode in (("fp32", "fp32 contiguous"), ("bf16", "bf16")):
        model = model_fingerprint(network.model)
        for curve in evaluate_maps(
            models,
            {m: maps[mode][m] for m in methods},
            images,
            labels,
            source="bundled",
            cache_keys={m: {"agreement": mode, "method": m, "model": model} for m in methods},
            settings=EvaluationSettings(
                thresholds=tuple(thresholds),
                out_dir=cache_dir() / "precision_agreement",
                precision=precision,
                channels_last=precision != "fp32",
                progress=False,
            ),
        ):
            curves[(precision, curve.method, curve.mode)] = curve
    rng = np.random.default_rng(0)
    draws = rng.integers(0, images.shape[0], (n_boot, images.shape[0]))
    rows = []
    for method in methods:
        for curve_mode in ("deletion", "insertion"):
            ref, got = curves[("fp32", method, curve_mode)], curves[("bf16", method, curve_mode)]
            boot = ref.correct[:, draws].mean(axis=2)
            low, high = np.percentile(boot, [2.5, 97.5], axis=1)
            inside = (got.accuracy >= low - 1e-12) & (got.accuracy <= high + 1e-12)
            rows.append(
                {
                    "method": method,
                    "curve": curve_mode,
                    "thresholds": len(thresholds),
                    "inside_fp32_interval": int(inside.sum()),
                    "max_accuracy_difference": float(np.abs(got.accuracy - ref.accuracy).max()),
                    "max_mean_h_difference": float(np.abs(got.mean_h - ref.mean_h).max()),
                    "per_image_results_identical": float((got.correct == ref.correct).mean()),
                }
            )
    return rows


def to_csv(rows: list[dict]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def to_markdown(payload: dict[str, Any]) -> str:
    lines = [
        "| map | mode | median Pearson r | min r | pixels whose mask at tau=0.5 differs |",
        "|---|---|---:|---:|---:|",
    ]
    for row in payload["maps"]:
        if row["mode"] == "fp32 contiguous":
            continue
        lines.append(
            f"| {row['method']} | {row['mode']} | {row['median_pearson']:.5f} | "
            f"{row['min_pearson']:.5f} | {100 * row['mask_pixels_differing']:.3f}% |"
        )
    lines.append("")
    lines.append("| mode | predictions identical to fp32 contiguous | seconds for all maps |")
    lines.append("|---|---:|---:|")
    for mode, info in payload["predictions"].items():
        lines.append(f"| {mode} | {100 * info['identical']:.2f}% | {info['seconds']:.1f} |")
    if payload["curves"]:
        lines += [
            "",
            "| map | curve | bf16 accuracy inside fp32's 95% bootstrap interval | "
            "max accuracy difference | max mean-H difference | per-image results identical |",
            "|---|---|---:|---:|---:|---:|",
        ]
        for row in payload["curves"]:
            lines.append(
                f"| {row['method']} | {row['curve']} | {row['inside_fp32_interval']}/"
                f"{row['thresholds']} thresholds | {row['max_accuracy_difference']:.4f} | "
                f"{row['max_mean_h_difference']:.4f} | "
                f"{100 * row['per_image_results_identical']:.2f}% |"
            )
    lines += ["", payload["context"]]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/results/precision"))
    parser.add_argument("--limit", type=int, default=None, help="first N test scans only")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--curve-methods", default="gradcam,gradcam++,causal")
    parser.add_argument("--thresholds", default="0.10:0.70:0.15", help="start:stop:step")
    parser.add_argument("--n-boot", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--bundled", choices=list(BUNDLED_MODELS), default=DEFAULT_BUNDLED, help="the model"
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if not bf16_supported("cpu"):
        raise SystemExit("this CPU has no native bf16: nothing to compare (bf16 falls back)")
    network = as_network(bundled_model(args.bundled))
    images, labels = load_split("test", size=network.preprocessing.size)
    if args.limit:
        images, labels = images[: args.limit], labels[: args.limit]
    load_before = os.getloadavg()
    maps, predictions = {}, {}
    reference_logits = None
    for mode, options in MAP_MODES.items():
        maps[mode], logits, seconds = explain_all(network, images, options, args.batch)
        reference_logits = logits if reference_logits is None else reference_logits
        same = (logits.argmax(1) == reference_logits.argmax(1)).float().mean()
        predictions[mode] = {"identical": float(same), "seconds": seconds}
        print(f"{mode}: maps in {seconds:.1f} s, predictions identical {float(same):.4f}")
    start, stop, step = (float(v) for v in args.thresholds.split(":"))
    thresholds = [round(start + step * i, 4) for i in range(round((stop - start) / step) + 1)]
    methods = [m for m in args.curve_methods.split(",") if m]
    curves = curve_rows(
        {"bundled": network}, images, labels, maps, methods, thresholds, args.n_boot
    )
    context = (
        f"COVID-CT test split ({images.shape[0]} scans, {network.preprocessing.size} px), "
        f"bundled ResNet-18, target layer layer4; {args.threads} threads; thresholds "
        f"{args.thresholds}; load average before {load_before[0]:.2f}, after "
        f"{os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs; torch {torch.__version__}"
    )
    payload = {
        "maps": map_rows(maps["fp32 contiguous"], maps),
        "predictions": predictions,
        "curves": curves,
        "context": context,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out / "agreement.json", json.dumps(payload, indent=2) + "\n")
    atomic_write_text(args.out / "maps.csv", to_csv(payload["maps"]))
    if curves:
        atomic_write_text(args.out / "curves.csv", to_csv(curves))
    atomic_write_text(args.out / "agreement.md", to_markdown(payload))
    print(to_markdown(payload))


if __name__ == "__main__":
    main()
