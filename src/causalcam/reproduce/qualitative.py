"""The qualitative stage: Fig. 2c-h for one NonCOVID scan and Fig. 3 for two COVID scans,
including the rule that picks the Fig. 3 scans (:func:`_fig3_choices`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from .. import models
from ..data import CLASSES
from ..evaluate import (
    huffman_ratio,
)
from ..explain import Explainer
from ..method_names import CAUSAL, GRADCAM, PAPER_METHODS, method_label
from ..network import Network, eval_mode
from ..preprocess import to_model_input
from ..results import QualitativeResult
from ..viz import MaskedView, explanation_panel, keep_mask, masked_panel, save_figure
from .context import RunContext, TestSet


def stage_qualitative(
    ctx: RunContext, networks: Mapping[str, Network], test: TestSet
) -> QualitativeResult:
    """Fig. 2c-h for one NonCOVID scan; Fig. 3 for two COVID scans (masked confidences)."""
    network = networks[ctx.profile.archs[0]]
    maps, probs = _all_maps(network, test)
    fig2 = None
    negatives = torch.nonzero((probs.argmax(1) == test.labels) & (test.labels == 1)).flatten()
    if negatives.numel():
        i = int(negatives[0])
        prediction = _class_title(network, int(probs[i].argmax()), float(probs[i].max()))
        title = f"{test.names[i]}: {prediction}, true {CLASSES[1]}"
        figure = explanation_panel(test.images[i], {m: v[i] for m, v in maps.items()}, title)
        fig2 = _save(ctx, "fig2_panel.png", figure)
    fig3 = _fig3_panels(ctx, network, test, maps, probs)
    return QualitativeResult(ctx.profile.qualitative_threshold, fig2, tuple(fig3))


def _fig3_panels(
    ctx: RunContext,
    network: Network,
    test: TestSet,
    maps: Mapping[str, torch.Tensor],
    probs: torch.Tensor,
) -> list[str]:
    """Scans masked by Grad-CAM's and the causal map's pixels above the threshold, titled with
    the network's class and confidence on each masked image and its Huffman ratio."""
    tau = ctx.profile.qualitative_threshold
    keep = {m: _masked(test.images, maps[m], tau) for m in (GRADCAM, CAUSAL)}
    masked_probs = {m: _probabilities(network, images) for m, images in keep.items()}
    ratios = {m: huffman_ratio(images, test.images) for m, images in keep.items()}
    panels = []
    for number, i in enumerate(_fig3_choices(test, probs.argmax(1), masked_probs), start=1):
        views = [
            MaskedView(
                f"{label} mask (> {tau:.2f})",
                keep[m][i],
                _class_name(network, int(masked_probs[m][i].argmax())),
                float(masked_probs[m][i].max()),
                float(ratios[m][i]),
            )
            for m, label in ((m, method_label(m)) for m in (GRADCAM, CAUSAL))
        ]
        unmasked = _class_title(network, int(probs[i].argmax()), float(probs[i].max()))
        title = f"{test.names[i]}: true {CLASSES[int(test.labels[i])]}, {unmasked} unmasked"
        figure = masked_panel(test.images[i], views, title)
        panels.append(_save(ctx, f"fig3_{number}.png", figure))
    return panels


def _all_maps(network: Network, test: TestSet) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    layer = models.default_target_layer(network.model)
    with Explainer(network.model, target_layer=layer) as explainer:
        inputs = to_model_input(test.images.to(network.device), network.preprocessing)
        result = explainer.explain(inputs, methods=PAPER_METHODS)
    probs = torch.softmax(result.logits.detach().float().cpu(), dim=1)
    return {m: result.maps[m].detach().cpu() for m in PAPER_METHODS}, probs


def _masked(images: torch.Tensor, maps: torch.Tensor, tau: float) -> torch.Tensor:
    return torch.stack(
        [torch.from_numpy(keep_mask(x, m, tau)) for x, m in zip(images, maps, strict=True)]
    )


def _probabilities(network: Network, images: torch.Tensor) -> torch.Tensor:
    with eval_mode(network.model), torch.inference_mode():
        inputs = to_model_input(images.to(network.device), network.preprocessing)
        return torch.softmax(network.model(inputs).float().cpu(), dim=1)


def _fig3_choices(
    test: TestSet, predicted: torch.Tensor, masked: Mapping[str, torch.Tensor]
) -> list[int]:
    """COVID scans classified correctly from both masks: the one where the causal mask gains
    most confidence over Grad-CAM's (Fig. 3a), and the one where they are closest (Fig. 3b)."""
    covid = (test.labels == 0) & (predicted == 0)
    both = covid & (masked[GRADCAM].argmax(1) == 0) & (masked[CAUSAL].argmax(1) == 0)
    pool = torch.nonzero(both if both.any() else covid).flatten()
    if pool.numel() == 0:
        return []
    gain = masked[CAUSAL][pool, 0] - masked[GRADCAM][pool, 0]
    first = int(pool[int(gain.argmax())])
    second = int(pool[int(gain.abs().argmin())])
    return [first] if first == second else [first, second]


def _class_name(network: Network, index: int) -> str:
    classes = network.classes or tuple(CLASSES)
    return classes[index]


def _class_title(network: Network, index: int, confidence: float) -> str:
    return f"predicted {_class_name(network, index)} ({100 * confidence:.1f}%)"


def _save(ctx: RunContext, name: str, figure: Any) -> str:
    path = save_figure(ctx.figures / name, figure)
    return str(path.relative_to(ctx.run_dir))
