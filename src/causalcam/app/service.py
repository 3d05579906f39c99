"""What ``causalcam serve`` does, without the web framework: explain an uploaded scan, mask it.

:class:`ExplainService` keeps models (the bundled one preloaded, others loaded from a folder on
request) and the last few uploads *in memory only*: an upload is written to a private
temporary folder just long enough to decode it, then deleted. Each result holds the scan at
the model's size, its maps, and the model's prediction; :meth:`ExplainService.masks` answers
the threshold slider with the deletion / insertion masks, their Huffman ratios
``H = bits(masked) / bits(scan)`` and the prediction on each masked scan.

A ``.zip`` upload is a DICOM series (its slices in any order). With a 3-D network (the bundled
``small3d-lesion`` or a 3-D checkpoint of the models folder) a NIfTI upload or a zipped series
is explained once, whole (:mod:`.volume`), and
:meth:`ExplainService.plane` answers the three planes' sliders.
"""

from __future__ import annotations

import io
import json
import re
import tempfile
import threading
import uuid
import zipfile
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch
from PIL import Image

from ..errors import InputError
from ..evaluate.huffman import huffman_bits, masked_bits
from ..explain import CausalOptions, Explainer, SemanticSegmentationTarget
from ..explain.layers import extract_outputs
from ..files import (
    DEFAULT_METHODS,
    Inputs,
    ModelSource,
    Reading,
    Scan,
    gather,
    load_model_source,
    map_statistics,
    model_sized,
    research_notice,
    short_notice,
)
from ..files.explain import parse_contrast_class
from ..files.segment import dense_classes, predicted_regions, prediction_of
from ..files.volume_inputs import WholeVolume, whole_volumes
from ..models import BUNDLED_VOLUME_MODELS, default_target_layer
from ..network import eval_mode
from ..preprocess import to_model_input
from ..viz import explanation_panel, figure_png, overlay, prediction_title
from .volume import PLANE_AXES, VolumeView, explain_whole, plane_images

BUNDLED = "default"
#: Largest upload accepted (bytes).
MAX_UPLOAD = 512 * 1024 * 1024
_KEEP = 8
#: Plain-text titles of the maps on the page (the figures use matplotlib's mathtext ones).
PAGE_TITLES: dict[str, str] = {
    "gradcam": "Grad-CAM",
    "gradcam++": "Grad-CAM++",
    "causal": "Causal map (C_P minus B_P)",
    "contrast_pq": "Contrast C_PQ: why P or Q?",
    "contrast_p": "Contrast C_P: why not P for sure?",
}
_T = TypeVar("_T")
_SAFE_SUFFIX = re.compile(r"(\.nii\.gz|\.[A-Za-z0-9]{1,8})$")


def png_bytes(array: np.ndarray) -> bytes:
    """A uint8 grey ``(H, W)`` or RGB ``(H, W, 3)`` array as PNG bytes."""
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


@dataclass
class SliceResult:
    """One explained scan: model-sized grey, maps in [0, 1], class probabilities; for a
    segmentation network, the explained ``region`` (bool, the output's shape), its class as
    ``predicted`` and the probabilities averaged over it."""

    grey: np.ndarray
    maps: dict[str, np.ndarray]
    probabilities: list[float]
    predicted: int
    contrast: int
    region: np.ndarray | None = None


@dataclass
class Upload:
    """A decoded upload: its scans (one, or one per slice) and results explained so far; or,
    with a 3-D network, ``volume``: the whole volume explained once (``scans`` empty)."""

    token: str
    name: str
    model: str
    causal: CausalOptions
    scans: list[Scan]
    results: dict[int, SliceResult] = field(default_factory=dict)
    volume: VolumeView | None = None
    segment: str | None = None


def _unzip_series(name: str, payload: bytes, folder: Path) -> Path:
    """The files of an uploaded zip (a DICOM series) in ``folder/series``, flattened: member
    paths are never used as they are, so nothing is written outside the folder."""
    target = folder / "series"
    target.mkdir()
    total = 0
    try:
        with zipfile.ZipFile(io.BytesIO(payload)) as archive:
            members = [m for m in archive.infolist() if not m.is_dir()]
            for number, member in enumerate(members):
                total += member.file_size
                if total > MAX_UPLOAD:
                    raise InputError(f"{name} unpacks to over {MAX_UPLOAD // 2**20} MiB")
                (target / f"{number:05d}.dcm").write_bytes(archive.read(member))
    except zipfile.BadZipFile as error:
        raise InputError(f"{name} is not a readable zip file ({error})") from None
    if total == 0:
        raise InputError(f"{name} holds no file: zip the slices of one DICOM series")
    return target


def _read_upload(
    name: str, payload: bytes, reading: Reading, read: Callable[[Inputs, Reading], list[_T]]
) -> list[_T]:
    """``read(found, reading)`` on a private temporary copy of the upload, deleted at once (a
    ``.zip`` is a DICOM series, unpacked); an input the reader skipped is an
    :class:`InputError` naming the upload."""
    suffix = _SAFE_SUFFIX.search(name)
    extension = suffix.group(1).lower() if suffix else ""
    with tempfile.TemporaryDirectory(prefix="causalcam-upload-") as folder:
        path = Path(folder) / ("upload" + extension)
        if extension == ".zip":
            path = _unzip_series(name, payload, Path(folder))
        else:
            path.write_bytes(payload)
        found = gather([path], reading)
        items = read(found, reading)
    if found.skipped:
        reason = found.skipped[0].reason.replace(str(path), name)
        separator = " " if reason.startswith(("is ", "has ")) else ": "
        raise InputError(f"{name}{separator}{reason}")
    if not items:
        raise InputError(f"{name} holds no image causalcam can read")
    return items


def _decode(name: str, payload: bytes, reading: Reading) -> list[Scan]:
    """Scans of an uploaded file (2-D network: one per image or slice)."""
    return _read_upload(name, payload, reading, lambda found, _: list(found.scans()))


def _decode_whole(name: str, payload: bytes, reading: Reading) -> WholeVolume:
    """The uploaded NIfTI volume or zipped DICOM series read whole (3-D network)."""
    volumes = _read_upload(
        name, payload, reading, lambda found, r: list(whole_volumes(found, r.window))
    )
    return volumes[0]


class ExplainService:
    """Models, uploads and the two operations of the page (thread-safe)."""

    def __init__(self, models_dir: Path | None = None, device: torch.device | None = None) -> None:
        self.device = device or torch.device("cpu")
        self.models_dir = models_dir
        self._models: dict[str, ModelSource] = {BUNDLED: load_model_source(BUNDLED, self.device)}
        self._uploads: OrderedDict[str, Upload] = OrderedDict()
        self._classes: dict[str, int | None] = {}
        self._lock = threading.Lock()

    def model_names(self) -> list[str]:
        """``"default"``, the bundled 3-D networks and the ``.pt`` files of the models folder
        (relative names)."""
        found = []
        if self.models_dir is not None and self.models_dir.is_dir():
            found = sorted(
                str(p.relative_to(self.models_dir)) for p in self.models_dir.rglob("*.pt")
            )
        return [BUNDLED, *BUNDLED_VOLUME_MODELS, *found]

    def model(self, name: str) -> ModelSource:
        if name not in self.model_names():
            raise InputError(f"model {name!r} is not the bundled one nor in the models folder")
        if name not in self._models:
            spec = name if name in BUNDLED_VOLUME_MODELS else None
            if spec is None:
                assert self.models_dir is not None
                spec = str(self.models_dir / name)
            self._models[name] = load_model_source(spec, self.device)
        return self._models[name]

    def upload(
        self,
        name: str,
        payload: bytes,
        model: str = BUNDLED,
        causal: CausalOptions | None = None,
        reading: Reading | None = None,
        segment: str | None = None,
    ) -> Upload:
        """Decode an uploaded file (nothing kept on disk) and explain its middle slice, or,
        with a 3-D network, the whole volume. ``segment``: for a segmentation network, the
        class (name or index) whose region the maps explain (default: the class predicted
        over the most pixels other than the first, background)."""
        if len(payload) > MAX_UPLOAD:
            raise InputError(f"{name} is over {MAX_UPLOAD // 2**20} MiB")
        if not payload:
            raise InputError(f"{name} is empty")
        source = self.model(model)  # a bad model is reported before decoding
        causal = causal or CausalOptions()
        if segment is not None:
            if source.volume is not None or self._dense(model) is None:
                raise InputError(f"model {model} is a classifier: it has no regions to choose")
            parse_contrast_class(segment, source.classes, "segment")
        if source.volume is not None:
            volume = _decode_whole(name, payload, reading or Reading())
            with self._lock:
                view = explain_whole(volume, source, causal)
            upload = Upload(uuid.uuid4().hex, name, model, causal, [], volume=view)
        else:
            scans = _decode(name, payload, reading or Reading())
            upload = Upload(uuid.uuid4().hex, name, model, causal, scans, segment=segment)
            self.result(upload, len(scans) // 2)
        with self._lock:
            self._uploads[upload.token] = upload
            while len(self._uploads) > _KEEP:
                self._uploads.popitem(last=False)
        return upload

    def get(self, token: str) -> Upload:
        with self._lock:
            upload = self._uploads.get(token)
        if upload is None:
            raise InputError("this scan is no longer held by the server; drop it in again")
        return upload

    def result(self, upload: Upload, index: int) -> SliceResult:
        """The explanation of slice ``index`` (computed once)."""
        if upload.volume is not None:
            raise InputError(
                f"{upload.name} was explained whole by a 3-D network: it has planes, not slices"
            )
        if not 0 <= index < len(upload.scans):
            raise InputError(f"slice {index} is outside 0..{len(upload.scans) - 1}")
        if index in upload.results:
            return upload.results[index]
        source = self.model(upload.model)
        grey = model_sized([upload.scans[index]], source.preprocessing.size)
        inputs = to_model_input(grey.to(self.device), source.preprocessing)
        dense = self._dense(upload.model) is not None  # outside the lock: it may take it
        with self._lock, Explainer(source.model, default_target_layer(source.model)) as explainer:
            targets = self._region(upload, source, inputs, index) if dense else None
            explanation = explainer.explain(
                inputs, methods=DEFAULT_METHODS, causal=upload.causal, targets=targets
            )
        decision = prediction_of(explanation, 0)
        result = SliceResult(
            grey[0].numpy(),
            {m: explanation.maps[m][0].detach().float().cpu().numpy() for m in DEFAULT_METHODS},
            decision.probabilities,
            decision.predicted,
            decision.contrast,
            None if targets is None else targets[0].mask.numpy().astype(bool),
        )
        upload.results[index] = result
        return result

    def _dense(self, model: str) -> int | None:
        """How many class maps a segmentation network gives (``None``: a classifier)."""
        if model not in self._classes:
            source = self.model(model)
            size = source.preprocessing.size
            blank = torch.zeros(1, *((3,) if source.preprocessing.rgb else ()), size, size)
            example = to_model_input(blank.to(torch.uint8).to(self.device), source.preprocessing)
            with self._lock:
                self._classes[model] = dense_classes(source.model, example)
        return self._classes[model]

    def _region(
        self, upload: Upload, source: ModelSource, inputs: torch.Tensor, index: int
    ) -> list[SemanticSegmentationTarget]:
        """A segmentation network's target for slice ``index``: the pixels it assigns to the
        upload's class (default: its largest region)."""
        category = parse_contrast_class(upload.segment, source.classes, "segment")
        regions = predicted_regions(source.model, inputs, category).present
        if not regions:
            assert category is not None  # the largest region is never empty
            raise InputError(
                f"no pixel of slice {index} is predicted as {source.classes[category]}: "
                "choose another class"
            )
        return regions

    def masks(self, upload: Upload, index: int, method: str, threshold: float) -> dict[str, Any]:
        """Deletion keeps ``map > tau``, insertion ``map <= tau``; H and prediction of each."""
        if method not in DEFAULT_METHODS:
            raise InputError(f"method {method!r}: choose from {', '.join(DEFAULT_METHODS)}")
        if not 0.0 <= threshold <= 1.0:
            raise InputError(f"threshold {threshold} is outside [0, 1]")
        result = self.result(upload, index)
        source = self.model(upload.model)
        values = result.maps[method]
        kept = {"deletion": values > threshold, "insertion": values <= threshold}
        masked = np.stack([np.where(kept[mode], result.grey, 0) for mode in kept]).astype(np.uint8)
        original = int(huffman_bits(result.grey[None])[0])
        maps = torch.from_numpy(values)[None]
        bits = {
            mode: int(masked_bits(result.grey[None], maps, np.array([threshold]), mode)[0, 0])
            for mode in kept
        }
        inputs = to_model_input(torch.from_numpy(masked).to(self.device), source.preprocessing)
        with self._lock, torch.no_grad(), eval_mode(source.model):
            probabilities = torch.softmax(extract_outputs(source.model(inputs)).float().cpu(), 1)
        if result.region is not None:  # a segmentation network: the mean over the region
            probabilities = probabilities[:, :, torch.from_numpy(result.region)].mean(-1)
        out: dict[str, Any] = {"threshold": threshold, "method": method}
        for row, mode in enumerate(kept):
            predicted = int(probabilities[row].argmax())
            out[mode] = {
                "H": bits[mode] / max(original, 1),
                "kept_fraction": float(kept[mode].mean()),
                "predicted_class": source.classes[predicted],
                "confidence": float(probabilities[row, predicted]),
                "image": masked[row],
            }
        return out

    def plane(self, upload: Upload, plane: str, index: int) -> dict[str, Any]:
        """Slice ``index`` of ``plane`` of a volume explained by a 3-D network: the grey slice
        and each map's overlay (arrays; the server encodes them)."""
        if upload.volume is None:
            raise InputError(f"{upload.name} was not explained by a 3-D network: it has no planes")
        return plane_images(upload.volume, plane, index)

    def _prediction(
        self, upload: Upload, kind: str, found: SliceResult | VolumeView
    ) -> dict[str, Any]:
        """The JSON fields a slice and a volume share: token, model, reading, prediction."""
        classes = self.model(upload.model).classes
        described = {
            "token": upload.token,
            "kind": kind,
            "model": upload.model,
            "causal": upload.causal.to_dict(),
            "predicted_class": classes[found.predicted],
            "probabilities": dict(zip(classes, found.probabilities, strict=True)),
            "contrast_class": classes[found.contrast],
            "methods": [{"name": m, "title": PAGE_TITLES[m]} for m in DEFAULT_METHODS],
        }
        if isinstance(found, SliceResult) and found.region is not None:
            described["region"] = {
                "class": classes[found.predicted],
                "share": float(found.region.mean()),
                "classes": list(classes),
            }
        return described

    def describe_volume(self, upload: Upload) -> dict[str, Any]:
        """The JSON of a volume explained by a 3-D network: prediction and the middle slice of
        every plane (images as arrays; the server encodes them)."""
        view = upload.volume
        assert view is not None
        return {
            **self._prediction(upload, "volume", view),
            "facts": view.facts,
            "planes": {
                plane: self.plane(upload, plane, view.slices(plane) // 2) for plane in PLANE_AXES
            },
        }

    def describe(self, upload: Upload, index: int) -> dict[str, Any]:
        """The JSON of one explained slice (images as arrays; the server encodes them); of the
        volume (:meth:`describe_volume`) with a 3-D network."""
        if upload.volume is not None:
            return self.describe_volume(upload)
        result = self.result(upload, index)
        return {
            **self._prediction(upload, "slices", result),
            "slice": index,
            "slices": len(upload.scans),
            "facts": upload.scans[index].facts,
            "scan": result.grey,
            "overlays": {m: overlay(result.grey, result.maps[m]) for m in DEFAULT_METHODS},
        }

    def panel_png(self, upload: Upload, index: int) -> bytes:
        """The paper-style panel (Fig. 2c-h) of one slice as PNG bytes."""
        result = self.result(upload, index)
        classes = self.model(upload.model).classes
        title = prediction_title(
            classes[result.predicted], result.probabilities[result.predicted], None, upload.name
        )
        figure = explanation_panel(result.grey, result.maps, title)
        figure.supxlabel(short_notice(), fontsize=7, color="#8a4b00")
        return figure_png(figure)

    def maps_zip(self, upload: Upload, index: int) -> bytes:
        """A zip of every map (.npy, float32), its overlay (.png) and a JSON summary."""
        result = self.result(upload, index)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for method, values in result.maps.items():
                array = io.BytesIO()
                np.save(array, values.astype(np.float32))
                archive.writestr(f"{method}.npy", array.getvalue())
                archive.writestr(f"overlay_{method}.png", png_bytes(overlay(result.grey, values)))
            archive.writestr("scan.png", png_bytes(result.grey))
            summary = {
                k: v
                for k, v in self.describe(upload, index).items()
                if k not in ("scan", "overlays")
            }
            summary["maps"] = {m: map_statistics(v) for m, v in result.maps.items()}
            summary["notice"] = research_notice()
            archive.writestr("explanation.json", json.dumps(summary, indent=2))
        return buffer.getvalue()
