"""Speed of the explanation engine against a plain forward pass and the grad-cam package.

224x224 inputs, batch 32, randomly initialised (weights=None) ResNet-18, DenseNet-121,
EfficientNet-B0, ConvNeXt-T and ViT-B/16 with 2 classes and a 1000-class ResNet-18, each at
its default target layer (ViT: the last block's ``ln_1``, tokens reshaped to a grid for
causalcam and grad-cam alike). Times: medians of 3 interleaved rounds after a warm-up:

(a) a plain ``torch.no_grad()`` forward pass
(b) the grad-cam package's GradCAM
(c) its GradCAMPlusPlus
(d) the paper's way: a forward pass with the full graph, then Grad-CAM plus the three
    contrast losses, one ``backward`` each (4 backward passes), and the causal map
(e) causalcam: Grad-CAM, Grad-CAM++, the three contrast maps and the causal map, one call

Targets: (e)/(a) <= 1.25 and (e)/(b) <= 0.6; 1000 classes: (e)/(a) <= 1.3; ViT-B/16 (the
VJP runs through the last block): (e)/(a) <= 1.6. The paper's way (d) is timed for CNNs only.
Run: ``.venv/bin/python benchmarks/explain_speed.py [--quick]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
import torchvision
from pytorch_grad_cam import GradCAM as PackageGradCAM
from pytorch_grad_cam import GradCAMPlusPlus as PackageGradCAMPlusPlus
from torch import Tensor, nn

from causalcam.explain import PAPER_MAPS, Explainer
from causalcam.models import default_target_layer
from causalcam.models.architectures import known_reshape

CASES: tuple[tuple[str, int], ...] = (
    ("resnet18", 2),
    ("densenet121", 2),
    ("resnet18", 1000),
    ("efficientnet_b0", 2),
    ("convnext_tiny", 2),
    ("vit_b_16", 2),
)
TARGETS = {"(e)/(a)": 1.25, "(e)/(b)": 0.6}
TARGET_1000 = 1.3
TARGET_VIT = 1.6


def interleaved_medians(
    runs: dict[str, Callable[[Tensor], object]], x: Tensor, warm_up: Tensor, repeats: int
) -> dict[str, float]:
    """Median wall time of each run over ``repeats`` rounds. Every round times all runs
    in turn, so a change in the load of the (shared) machine hits them alike; one round
    on the small ``warm_up`` batch comes first."""
    for fn in runs.values():
        fn(warm_up)
    times: dict[str, list[float]] = {key: [] for key in runs}
    for _ in range(repeats):
        for key, fn in runs.items():
            start = time.perf_counter()
            fn(x)
            times[key].append(time.perf_counter() - start)
    return {key: statistics.median(values) for key, values in times.items()}


def paper_way(model: nn.Module, layer: nn.Module, x: Tensor) -> Tensor:
    """Grad-CAM plus the three contrast losses (MSE to e_P + e_Q, 0, e_P), one backward
    pass each on a full graph, then the causal map ``-(a_P - a_PQ + a_none + a_P^t)``."""
    store: dict[str, Tensor] = {}

    def hook(_m: nn.Module, _i: object, out: Tensor) -> None:
        store["A"] = out
        out.register_hook(lambda g: store.__setitem__("grad", g))

    handle = layer.register_forward_hook(hook)
    try:
        z = model(x)
    finally:
        handle.remove()
    n = z.shape[1]
    top2 = z.detach().topk(2, dim=1).indices
    e_p, e_q = F.one_hot(top2[:, 0], n).float(), F.one_hot(top2[:, 1], n).float()
    weights = []
    losses = [
        z.gather(1, top2[:, :1]).sum(),
        *(
            sum(F.mse_loss(z[b], t[b]) for b in range(len(z)))
            for t in (e_p + e_q, torch.zeros_like(e_p), e_p)
        ),
    ]
    for loss in losses:
        model.zero_grad()
        loss.backward(retain_graph=True)
        weights.append(store["grad"].mean(dim=(2, 3)))
    w = -(weights[0] - weights[1] + weights[2] + weights[3])
    cam = torch.einsum("bk,bkhw->bhw", w, store["A"].detach()).clamp_min(0)
    return F.interpolate(cam[:, None], size=x.shape[-2:], mode="bilinear")


def measure(name: str, classes: int, batch: int, repeats: int, only: str) -> dict[str, float]:
    torch.manual_seed(0)
    model = getattr(torchvision.models, name)(weights=None, num_classes=classes).eval()
    if isinstance(model, torchvision.models.VisionTransformer):
        nn.init.normal_(model.heads.head.weight, std=0.02)  # torchvision zero-initialises it
        only = only.replace("d", "")
    layer_name = default_target_layer(model)
    layer = model.get_submodule(layer_name)
    reshape = known_reshape(model, layer_name)
    x = torch.randn(batch, 3, 224, 224)

    def forward(inputs: Tensor) -> Tensor:
        with torch.no_grad():
            return model(inputs)

    explainer = Explainer(model, target_layer=layer_name)
    with (
        PackageGradCAM(model=model, target_layers=[layer], reshape_transform=reshape) as cam,
        PackageGradCAMPlusPlus(
            model=model, target_layers=[layer], reshape_transform=reshape
        ) as campp,
    ):
        runs: dict[str, Callable[[Tensor], object]] = {
            "(a)": forward,
            "(b)": lambda inputs: cam(input_tensor=inputs, targets=None),
            "(c)": lambda inputs: campp(input_tensor=inputs, targets=None),
            "(d)": lambda inputs: paper_way(model, layer, inputs),
            "(e)": lambda inputs: explainer.explain(inputs, methods=PAPER_MAPS),
        }
        chosen = {key: fn for key, fn in runs.items() if key[1] in only}
        return interleaved_medians(chosen, x, x[:2], repeats)


def ratio(t: dict[str, float], top: str, bottom: str) -> float | None:
    """``t[top] / t[bottom]`` when both runs were timed."""
    return t[top] / t[bottom] if top in t and bottom in t else None


def table(rows: list[tuple[str, dict[str, float]]]) -> str:
    head = "| model | (a) forward | (b) grad-cam GradCAM | (c) grad-cam GradCAM++ |"
    head += " (d) paper's way | (e) causalcam, 5 maps | (e)/(a) | (e)/(b) | (d)/(e) |"
    lines = [head, "|" + "---|" * 9]
    for label, t in rows:
        cells = [f"{t[k]:.2f} s" if k in t else "-" for k in ("(a)", "(b)", "(c)", "(d)", "(e)")]
        ratios = [ratio(t, "(e)", "(a)"), ratio(t, "(e)", "(b)"), ratio(t, "(d)", "(e)")]
        cells += ["-" if r is None else f"{r:.2f}" for r in ratios]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 round instead of 3")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=None, help="rounds (default 3, quick 1)")
    parser.add_argument(
        "--models",
        default="resnet18:2,densenet121:2,resnet18:1000",
        help="comma-separated name:classes among " + ", ".join(f"{n}:{c}" for n, c in CASES),
    )
    parser.add_argument("--only", default="abcde", help="which runs, e.g. 'ae'")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    repeats = args.rounds or (1 if args.quick else 3)
    wanted = args.models.split(",")
    load = os.getloadavg()
    rows = []
    for name, classes in (c for c in CASES if f"{c[0]}:{c[1]}" in wanted):
        times = measure(name, classes, args.batch, repeats, args.only)
        rows.append((f"{name}, {classes} classes", times))
        print(
            f"{name} ({classes} classes): " + ", ".join(f"{k} {v:.3f}s" for k, v in times.items())
        )
    print()
    print(table(rows))
    print()
    print(
        f"batch {args.batch}, 224x224, {args.threads} threads, median of {repeats}; "
        f"load average before {load[0]:.2f}, after {os.getloadavg()[0]:.2f} "
        f"on {os.cpu_count()} CPUs; torch {torch.__version__}"
    )
    for label, t in rows:
        limits = {"(a)": TARGET_1000 if "1000" in label else TARGETS["(e)/(a)"]}
        if label.startswith("vit"):
            limits = {"(a)": TARGET_VIT}
        elif "1000" not in label:
            limits["(b)"] = TARGETS["(e)/(b)"]
        checks = [(f"(e)/{k}", ratio(t, "(e)", k), limit) for k, limit in limits.items()]
        verdict = ", ".join(
            f"{k} {v:.2f} {'<=' if v <= lim else '>'} {lim}" for k, v, lim in checks if v
        )
        print(f"{label}: {verdict}")


if __name__ == "__main__":
    main()
