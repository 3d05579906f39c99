"""Explain image files with a model and write what a person looks at: panels, overlays, JSON.

:func:`explain_files` is the function behind ``causalcam explain`` (and, on the bundled
sample scans, :func:`causalcam.files.run_demo`). For each image it writes, in its own folder
under ``out_dir``:

- ``panel.png``: the image and one overlay per method (the paper's Fig. 2c-h),
- ``overlay_<method>.png``: each map over the image at the model's input size,
- ``<method>.npy``: the raw float32 map in [0, 1] (on request),

and ``explanations.json`` beside them: model, classes, and per image the prediction, the class
probabilities, the contrast class and statistics of every map. Images keep their colour for
a model with ``rgb`` preprocessing (your own photo classifier) and become grey for the others
(the CT models).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from .. import models
from ..data.cache import eval_resize, prepare
from ..errors import DataError, InputError
from ..explain import CausalOptions, Explainer, Explanation
from ..medical.volumes import VolumeWriter
from ..method_names import METHOD_NAMES, PAPER_METHODS
from ..network import Network, eval_mode
from ..preprocess import to_model_input
from .inputs import Inputs, Reading, Scan, gather
from .outputs import ExplainRun, ImageWriter, RunSettings, unique_name, write_summary
from .source import ModelSource
from .volume_explain import VolumeOptions, explain_volume_list
from .volume_inputs import whole_volumes

DEFAULT_METHODS: tuple[str, ...] = PAPER_METHODS
#: Images explained in one pass of the engine (and one chunk of the sharded run).
BATCH_SIZE = 8


def collect_images(inputs: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """The files :func:`explain_files` reads (images, DICOM, NIfTI): folders expanded
    recursively and sorted, READMEs and other non-images left out
    (:mod:`causalcam.files.inputs`)."""
    return gather(inputs).files()


def load_images(
    inputs: Iterable[str | os.PathLike[str]],
    size: int,
    reading: Reading | None = None,
    rgb: bool = False,
) -> torch.Tensor:
    """Decode image, DICOM or NIfTI files (one image per slice) and apply the evaluation
    preprocessing (:func:`model_sized`): uint8 ``(B, size, size)``, or ``(B, 3, size, size)``
    with ``rgb``; :class:`DataError` names the first unreadable file."""
    found = gather(inputs, reading or Reading())
    scans = list(found.scans())
    if found.skipped:
        raise DataError(f"{found.skipped[0].file}: {found.skipped[0].reason}")
    return model_sized(scans, size, rgb)


def model_sized(scans: Sequence[Scan], size: int, rgb: bool = False) -> torch.Tensor:
    """Decoded scans -> the evaluation preprocessing: shorter side ``round(size * 256 / 224)``,
    centre crop ``size``; uint8 grey ``(B, size, size)`` (colour images by their luminance),
    or with ``rgb`` uint8 ``(B, 3, size, size)`` (grey images repeated in each channel)."""
    resize = eval_resize(size)
    mode = "RGB" if rgb else "L"
    images = np.stack(
        [prepare(Image.fromarray(scan.pixels).convert(mode), resize, size) for scan in scans]
    )
    tensor = torch.from_numpy(images)
    return tensor.permute(0, 3, 1, 2).contiguous() if rgb else tensor


def parse_contrast_class(value: str | None, classes: Sequence[str]) -> int | None:
    """A class index or a class name -> index (``None`` keeps the engine's default)."""
    if value is None:
        return None
    if value in classes:
        return list(classes).index(value)
    if value.lstrip("-").isdigit() and 0 <= int(value) < len(classes):
        return int(value)
    raise InputError(
        f"--contrast-class {value!r} is neither a class name nor an index; classes are "
        + ", ".join(f"{i}={name}" for i, name in enumerate(classes))
    )


def check_methods(methods: Sequence[str]) -> tuple[str, ...]:
    """Validate method names against :data:`METHOD_NAMES` (order kept, no repeats)."""
    unknown = [m for m in methods if m not in METHOD_NAMES]
    if unknown:
        raise InputError(
            f"unknown method(s) {', '.join(unknown)}; choose from {', '.join(METHOD_NAMES)}"
        )
    if not methods:
        raise InputError("choose at least one method")
    return tuple(dict.fromkeys(methods))


def as_source(model: ModelSource | Network) -> ModelSource:
    """A :class:`ModelSource`; a :class:`~causalcam.network.Network` (e.g. from
    :func:`causalcam.load_model`) is described by its model's class name."""
    if isinstance(model, ModelSource):
        return model
    name = type(model.model).__name__
    return ModelSource.from_network(model, name, f"{name} given in Python")


def explain_files(
    inputs: Iterable[str | os.PathLike[str]],
    source: ModelSource | Network,
    out_dir: str | os.PathLike[str],
    methods: Sequence[str] = DEFAULT_METHODS,
    target_layer: str | None = None,
    contrast_class: str | None = None,
    causal: CausalOptions | None = None,
    save_npy: bool = False,
    device: torch.device | None = None,
    progress: bool = True,
    true_classes: Mapping[Path, str] | None = None,
    reading: Reading | None = None,
    precision: str = "fp32",
) -> ExplainRun:
    """Explain every image in ``inputs`` with ``source`` and write panels, overlays, JSON.

    ``source``: a :class:`ModelSource` or a :class:`~causalcam.network.Network` (such as
    :func:`causalcam.load_model` returns). Files that cannot be read are skipped and listed
    (``run.skipped``, the JSON's ``skipped``); ``reading`` sets the DICOM/NIfTI window, plane
    and slices (:mod:`causalcam.files.inputs`). ``true_classes`` (image path -> class name),
    when known, is shown in the panel titles and recorded in the JSON; ``precision``: the
    forward pass's (``Explainer``). With a 3-D network (``source.volume`` set) every NIfTI
    file and DICOM series is explained whole (:mod:`causalcam.files.volume_explain`) and its
    maps are written as NIfTI on the source grid."""
    source = as_source(source)
    chosen = check_methods(methods)
    found = gather(inputs, reading or Reading())
    contrast = parse_contrast_class(contrast_class, source.classes)
    target = device or torch.device("cpu")
    model = source.model.to(target)
    layer = target_layer or models.default_target_layer(model)
    run = ExplainRun(Path(out_dir), Path(out_dir) / "explanations.json")
    if source.volume is not None:
        whole = VolumeOptions(chosen, layer, contrast, causal, precision)
        return _explain_whole(found, source, run, whole, (reading or Reading(), progress))
    names: list[str] = []
    options = causal or CausalOptions()
    writer = ImageWriter(list(source.classes), chosen, save_npy)
    prep = source.preprocessing
    volumes = VolumeWriter(run.out_dir, chosen, prep.size, eval_resize(prep.size))
    with (
        eval_mode(model),
        Explainer(model, target_layer=layer, precision=precision) as explainer,
        tqdm(total=found.expected, desc="explaining", unit="image", disable=not progress) as bar,
    ):
        for batch in found.batches(BATCH_SIZE):
            images = model_sized(batch, prep.size, prep.rgb)
            explanation = explainer.explain(
                to_model_input(images.to(target), prep),
                methods=chosen,
                contrast_class=contrast,
                causal=options,
            )
            for index, scan in enumerate(batch):
                folder = run.out_dir / unique_name(scan.name, names)
                truth = (true_classes or {}).get(scan.source)
                record = writer.write(folder, scan.source, truth, images[index], explanation, index)
                run.records.append({**record, **scan.facts})
                if scan.volume is not None:
                    maps = _maps_of(explanation, index, chosen)
                    volumes.add(scan.index, found.volumes[scan.volume], maps)
                bar.update(1)
    run.skipped = [s.to_dict() for s in found.skipped]
    settings = RunSettings(layer, chosen, causal, reading)
    write_summary(run, source, settings, found, volumes.written)
    return run


def _explain_whole(
    found: Inputs,
    source: ModelSource,
    run: ExplainRun,
    options: VolumeOptions,
    how: tuple[Reading, bool],
) -> ExplainRun:
    """:func:`explain_files` with a 3-D network: each volume whole (:mod:`.volume_explain`)."""
    reading, progress = how
    if reading.slices is not None:
        raise InputError("--slices cuts volumes for a 2-D network; a 3-D network reads them whole")
    with tqdm(desc="explaining", unit="volume", disable=not progress) as bar:
        volumes = explain_volume_list(
            whole_volumes(found, reading.window), source, run, options, bar
        )
    run.skipped = [s.to_dict() for s in found.skipped]
    settings = RunSettings(options.layer, options.methods, options.causal, reading)
    write_summary(run, source, settings, found, volumes)
    return run


def _maps_of(explanation: Explanation, index: int, methods: Sequence[str]) -> dict[str, np.ndarray]:
    """Image ``index``'s maps of ``methods`` as float32 arrays."""
    return {m: explanation.maps[m][index].detach().float().cpu().numpy() for m in methods}
