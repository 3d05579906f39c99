"""A volume explained whole by a 3-D network, for ``causalcam serve``.

The upload is read whole and explained once through the engine's volume path
(:func:`causalcam.files.volume_explain.explain_volume`: resampled onto the network's grid,
spacing taken into account). The page shows the volume and each map *on the network's grid*
(what the network saw) in the axial, coronal and sagittal planes, one slice of one plane per
request (:func:`plane_images`), so an answer stays the size of a few grid slices whatever the
size of the source volume.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import InputError
from ..explain import CausalOptions, Explainer
from ..files import DEFAULT_METHODS, ModelSource
from ..files.volume_explain import VolumeOptions, explain_volume
from ..files.volume_inputs import WholeVolume
from ..models import default_target_layer
from ..network import eval_mode
from ..viz import overlay
from ..viz.volumes import VIEW_PLANES, plane_slice

#: The axis of a ``(D, H, W)`` volume each plane's slices count along.
PLANE_AXES: dict[str, int] = dict(zip(VIEW_PLANES, (0, 1, 2), strict=True))


@dataclass
class VolumeView:
    """One explained volume on the network's grid: ``grey`` uint8 ``(D, H, W)``, ``maps`` in
    [0, 1] on the same grid, class probabilities and the source's JSON ``facts``."""

    grey: np.ndarray
    maps: dict[str, np.ndarray]
    probabilities: list[float]
    predicted: int
    contrast: int
    facts: dict[str, Any] = field(default_factory=dict)

    def slices(self, plane: str) -> int:
        """How many slices ``plane`` has."""
        if plane not in PLANE_AXES:
            raise InputError(f"unknown plane {plane!r}; choose from {', '.join(VIEW_PLANES)}")
        return int(self.grey.shape[PLANE_AXES[plane]])


def explain_whole(volume: WholeVolume, source: ModelSource, causal: CausalOptions) -> VolumeView:
    """``volume`` explained once by the 3-D network of ``source`` (every default method)."""
    grid = source.volume
    if grid is None:
        raise InputError(f"model {source.arch} is not a 3-D network")
    options = VolumeOptions(DEFAULT_METHODS, default_target_layer(source.model), causal=causal)
    with (
        eval_mode(source.model),
        Explainer(source.model, target_layer=options.layer) as explainer,
    ):
        placed, explanation = explain_volume(explainer, volume, grid, options)
    probabilities = explanation.logits[0].detach().float().cpu().softmax(dim=0)
    grey = np.clip(np.rint(placed.grey.numpy() * 255.0), 0, 255).astype(np.uint8)
    maps = {m: explanation.maps[m][0].detach().float().cpu().numpy() for m in DEFAULT_METHODS}
    facts = {**volume.facts, "grid": list(grey.shape)}
    return VolumeView(
        grey,
        maps,
        probabilities.tolist(),
        int(explanation.predicted[0]),
        int(explanation.contrast[0]),
        facts,
    )


def plane_images(view: VolumeView, plane: str, index: int) -> dict[str, Any]:
    """Slice ``index`` of ``plane``: the grey slice and each map over it (arrays, as viewed:
    coronal and sagittal with superior at the top)."""
    count = view.slices(plane)
    if not 0 <= index < count:
        raise InputError(f"{plane} slice {index} is outside 0..{count - 1}")
    grey = np.ascontiguousarray(plane_slice(view.grey, plane, index))
    overlays = {
        method: overlay(grey, np.ascontiguousarray(plane_slice(values, plane, index)))
        for method, values in view.maps.items()
    }
    return {"plane": plane, "index": index, "slices": count, "scan": grey, "overlays": overlays}
