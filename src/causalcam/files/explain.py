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

from ..data.cache import eval_resize, prepare
from ..errors import DataError, InputError
from ..explain import Explainer, Explanation
from ..medical.volumes import VolumeWriter
from ..models.volume import volume_input
from ..network import Network, eval_mode
from ..preprocess import to_model_input
from .inputs import Inputs, Reading, Scan, Skipped, gather
from .outputs import ExplainRun, ImageWriter, unique_name, write_summary
from .segment import check_segment, dense_classes, predicted_regions, region_skip_reason
from .settings import ExplainSettings
from .source import ModelSource
from .volume_explain import VolumeOptions, explain_volume_list
from .volume_inputs import whole_volumes

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


def scan_label(scan: Scan) -> str:
    """How a skipped scan is listed: its file, and its slice where it is one of a volume."""
    return str(scan.source) if scan.volume is None else f"{scan.source} (slice {scan.index})"


def parse_contrast_class(
    value: str | None, classes: Sequence[str], option: str = "--contrast-class"
) -> int | None:
    """A class index or a class name -> index (``None`` keeps the engine's default);
    ``option`` names the option in the error."""
    if value is None:
        return None
    if value in classes:
        return list(classes).index(value)
    if value.lstrip("-").isdigit() and 0 <= int(value) < len(classes):
        return int(value)
    raise InputError(
        f"{option} {value!r} is neither a class name nor an index; classes are "
        + ", ".join(f"{i}={name}" for i, name in enumerate(classes))
    )


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
    settings: ExplainSettings | None = None,
    *,
    true_classes: Mapping[Path, str] | None = None,
) -> ExplainRun:
    """Explain every image in ``inputs`` with ``source`` and write panels, overlays, JSON.

    Files that cannot be read are skipped and listed (``run.skipped``, the JSON's
    ``skipped``). With a 3-D network (``source.volume`` set) every NIfTI file and DICOM series
    is explained whole (:mod:`causalcam.files.volume_explain`) and its maps are written as
    NIfTI on the source grid.

    Args:
        inputs: image, DICOM and NIfTI files and folders (searched recursively).
        source: a :class:`ModelSource` or a :class:`~causalcam.network.Network` (such as
            :func:`causalcam.load_model` returns).
        out_dir: the output folder.
        settings: how to explain (:class:`ExplainSettings`; ``None``: the defaults).
        true_classes: image path -> class name, where known: shown in the panel titles and
            recorded in the JSON.

    Returns:
        The records written and the summary's path.

    Raises:
        InputError: an unknown method or contrast class.
    """
    source = as_source(source)
    target = (settings or ExplainSettings()).device or torch.device("cpu")
    model = source.model.to(target)
    chosen = (settings or ExplainSettings()).resolved(model)
    found = gather(inputs, chosen.reading)
    contrast = parse_contrast_class(chosen.contrast_class, source.classes)
    segment = parse_contrast_class(chosen.segment, source.classes, "--segment")
    run = ExplainRun(Path(out_dir), Path(out_dir) / "explanations.json")
    if source.volume is not None:
        return _explain_whole(found, source, run, chosen, (contrast, segment))
    prep = source.preprocessing
    blank = torch.zeros(1, *((3,) if prep.rgb else ()), prep.size, prep.size, dtype=torch.uint8)
    example = to_model_input(blank.to(target), prep)
    check_segment(segment, dense_classes(model, example), source.description)
    names: list[str] = []
    writer = ImageWriter(list(source.classes), chosen.methods, chosen.save_npy)
    volumes = VolumeWriter(run.out_dir, chosen.methods, prep.size, eval_resize(prep.size))
    with (
        eval_mode(model),
        Explainer(model, target_layer=chosen.target_layer, precision=chosen.precision) as explainer,
        tqdm(
            total=found.expected, desc="explaining", unit="image", disable=not chosen.progress
        ) as bar,
    ):
        for scans in found.batches(BATCH_SIZE):
            images = model_sized(scans, prep.size, prep.rgb)
            inputs = to_model_input(images.to(target), prep)
            batch, targets = scans, None
            if segment is not None:
                regions = predicted_regions(model, inputs, segment)
                reason = region_skip_reason(source.classes[segment])
                found.skipped.extend(Skipped(scan_label(scans[i]), reason) for i in regions.missing)
                bar.update(len(regions.missing))
                if not regions.kept:
                    continue
                batch, targets = [scans[i] for i in regions.kept], regions.present
                images, inputs = images[regions.kept], inputs[regions.kept]
            explanation = explainer.explain(
                inputs,
                methods=chosen.methods,
                contrast_class=contrast,
                causal=chosen.causal,
                targets=targets,
            )
            for index, scan in enumerate(batch):
                folder = run.out_dir / unique_name(scan.name, names)
                truth = (true_classes or {}).get(scan.source)
                record = writer.write(folder, scan.source, truth, images[index], explanation, index)
                run.records.append({**record, **scan.facts})
                if scan.volume is not None:
                    maps = _maps_of(explanation, index, chosen.methods)
                    volumes.add(scan.index, found.volumes[scan.volume], maps)
                bar.update(1)
    run.skipped = [s.to_dict() for s in found.skipped]
    write_summary(run, source, chosen, found, volumes.written)
    return run


def _explain_whole(
    found: Inputs,
    source: ModelSource,
    run: ExplainRun,
    chosen: ExplainSettings,
    classes: tuple[int | None, int | None],
) -> ExplainRun:
    """:func:`explain_files` with a 3-D network: each volume whole (:mod:`.volume_explain`);
    ``classes``: the contrast class and the segmented class, where given."""
    if chosen.reading.slices is not None:
        raise InputError("--slices cuts volumes for a 2-D network; a 3-D network reads them whole")
    layer = str(chosen.target_layer)  # resolved: the model's default where none was named
    contrast, segment = classes
    grid = source.volume
    assert grid is not None
    example = volume_input(torch.zeros(1, *grid.shape), grid).to(chosen.device or "cpu")
    check_segment(segment, dense_classes(source.model, example), source.description)
    options = VolumeOptions(
        chosen.methods, layer, contrast, chosen.causal, chosen.precision, segment
    )
    with tqdm(desc="explaining", unit="volume", disable=not chosen.progress) as bar:
        volumes = explain_volume_list(
            whole_volumes(found, chosen.reading.window), source, run, options, bar, found.skipped
        )
    run.skipped = [s.to_dict() for s in found.skipped]
    write_summary(run, source, chosen, found, volumes)
    return run


def _maps_of(explanation: Explanation, index: int, methods: Sequence[str]) -> dict[str, np.ndarray]:
    """Image ``index``'s maps of ``methods`` as float32 arrays."""
    return {m: explanation.maps[m][index].detach().float().cpu().numpy() for m in methods}
