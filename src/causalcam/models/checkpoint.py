"""Checkpoints: a state dict plus everything needed to use and trust it.

A checkpoint file is a ``torch.save`` dict ``{"format", "version", "meta", "state_dict"}``
(and, for training runs, ``"train_state"``) holding only tensors and plain Python values,
so it loads with ``weights_only=True``. Written atomically; optionally stored in fp16.
"""

from __future__ import annotations

import os
import platform
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import metadata, resources
from pathlib import Path
from typing import Any

import torch
import torchvision
from torch import nn

from .._io import atomic_path
from ..errors import CheckpointError
from ..preprocess import Preprocessing
from .registry import build
from .volume import VolumeGrid

FORMAT = "causalcam-checkpoint"
VERSION = 1
MODEL_ASSETS = Path(str(resources.files("causalcam"))) / "assets" / "models"
#: the models shipped inside the package, by name: ResNet-18s trained on COVID-CT by
#: ``causalcam train``, at 224 px (``--recipe scratch --epochs 120``) and at 112 px
#: (``--recipe cpu``, the model of the ``quick`` profile); each file's metadata holds its
#: recipe, seed and metrics
BUNDLED_MODELS: dict[str, str] = {
    "resnet18-224": "resnet18_covidct_224.pt",
    "resnet18-112": "resnet18_covidct_112.pt",
}
#: the 3-D networks shipped inside the package, by name: ``small3d`` trained on generated
#: 32x32x32 volumes at 1 mm whose class is a planted lesion (``causalcam train-volumes``);
#: its metadata holds the input grid, the settings and the held-out metrics
BUNDLED_VOLUME_MODELS: dict[str, str] = {"small3d-lesion": "small3d_lesion_32.pt"}
#: the bundled model of ``default_model()``, ``--model default`` and the demo
DEFAULT_BUNDLED = "resnet18-224"
DEFAULT_MODEL = MODEL_ASSETS / BUNDLED_MODELS[DEFAULT_BUNDLED]


def library_versions() -> dict[str, str]:
    """Versions of Python and the libraries a checkpoint depends on."""
    versions = {
        "python": platform.python_version(),
        "torch": str(torch.__version__),
        "torchvision": str(torchvision.__version__),
    }
    for package in ("causalcam", "numpy"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "unknown"
    return versions


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class CheckpointMeta:
    """What a checkpoint is: architecture, class names, input preprocessing, how it was
    trained (recipe name, full config, seed), its metrics, data checksum and versions; a 3-D
    network's ``volume`` is the input grid (D, H, W) and voxel spacing it expects (``None``
    for a 2-D network, whose metadata has no such key)."""

    arch: str
    classes: list[str]
    preprocessing: Preprocessing = field(default_factory=Preprocessing)
    recipe: str = ""
    config: dict[str, Any] = field(default_factory=dict)
    seed: int | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    data_checksum: str | None = None
    epoch: int | None = None
    versions: dict[str, str] = field(default_factory=library_versions)
    created: str = field(default_factory=_now)
    volume: VolumeGrid | None = None

    def to_dict(self) -> dict[str, Any]:
        values = asdict(self)
        values["preprocessing"] = self.preprocessing.to_dict()
        del values["volume"]
        if self.volume is not None:
            values["volume"] = self.volume.to_dict()
        return values

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> CheckpointMeta:
        known = {key: values[key] for key in cls.__dataclass_fields__ if key in values}
        known["preprocessing"] = Preprocessing.from_dict(values["preprocessing"])
        known["classes"] = list(values["classes"])
        if values.get("volume") is not None:
            known["volume"] = VolumeGrid.from_dict(values["volume"])
        return cls(**known)


@dataclass
class LoadedModel:
    """A model in eval mode with its checkpoint metadata."""

    model: nn.Module
    meta: CheckpointMeta


def save_checkpoint(
    path: str | os.PathLike[str],
    model: nn.Module,
    meta: CheckpointMeta,
    half: bool = False,
    train_state: dict[str, Any] | None = None,
) -> Path:
    """Write ``model``'s state dict and ``meta`` atomically. ``half`` stores floating-point
    tensors in fp16 (they are restored to fp32 on loading); ``train_state`` (optimizer,
    scheduler, RNG states, history) is kept for resuming a run. Tensors are stored in the
    default (contiguous) memory layout."""
    state = {
        key: (value.detach().half() if half and value.is_floating_point() else value.detach())
        .cpu()
        .clone(memory_format=torch.contiguous_format)
        for key, value in model.state_dict().items()
    }
    payload: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "meta": meta.to_dict(),
        "state_dict": state,
    }
    if train_state is not None:
        payload["train_state"] = train_state
    with atomic_path(path) as temp:
        torch.save(payload, temp)
    return Path(path)


def read_checkpoint(path: str | os.PathLike[str], map_location: str = "cpu") -> dict[str, Any]:
    """The raw checkpoint dict, loaded with ``weights_only=True`` and checked for format."""
    file = Path(path)
    if not file.is_file():
        raise CheckpointError(f"checkpoint {file} does not exist")
    try:
        payload = torch.load(file, map_location=map_location, weights_only=True)
    except Exception as error:  # torch raises many types for corrupt or unsafe files
        raise CheckpointError(
            f"{file} is not a causalcam checkpoint: torch cannot load it as plain tensors "
            f"and values ({type(error).__name__})"
        ) from error
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{file} is not a causalcam checkpoint (no {FORMAT!r} marker)")
    if payload.get("version") != VERSION:
        raise CheckpointError(
            f"{file} has checkpoint version {payload.get('version')}, need {VERSION}"
        )
    return payload


def _check_expected(
    file: Path, meta: CheckpointMeta, arch: str | None, classes: int | list[str] | None
) -> None:
    if arch is not None and meta.arch != arch:
        raise CheckpointError(f"checkpoint {file} holds a {meta.arch}, not the expected {arch}")
    if isinstance(classes, int) and len(meta.classes) != classes:
        raise CheckpointError(
            f"checkpoint {file} has {len(meta.classes)} classes, expected {classes}"
        )
    if isinstance(classes, list) and meta.classes != classes:
        raise CheckpointError(f"checkpoint {file} has classes {meta.classes}, expected {classes}")


def load_checkpoint(
    path: str | os.PathLike[str],
    map_location: str = "cpu",
    expect_arch: str | None = None,
    expect_classes: int | list[str] | None = None,
) -> LoadedModel:
    """Rebuild the model of a checkpoint (fp32, eval mode) on ``map_location``.

    ``expect_arch`` / ``expect_classes`` (a count or the class names) make a mismatching
    checkpoint fail with :class:`CheckpointError` instead of being used silently.
    """
    file = Path(path)
    payload = read_checkpoint(file, map_location)
    try:
        meta = CheckpointMeta.from_dict(payload["meta"])
    except (KeyError, TypeError, ValueError) as error:
        raise CheckpointError(f"checkpoint {file} has malformed metadata: {error}") from error
    _check_expected(file, meta, expect_arch, expect_classes)
    model = build(meta.arch, num_classes=len(meta.classes))
    state = {
        key: value.float() if value.is_floating_point() else value
        for key, value in payload["state_dict"].items()
    }
    try:
        model.load_state_dict(state)
    except RuntimeError as error:
        first = str(error).splitlines()[0]
        raise CheckpointError(f"checkpoint {file} does not fit a {meta.arch}: {first}") from error
    return LoadedModel(model.to(map_location).eval(), meta)


def bundled_model(name: str = DEFAULT_BUNDLED, map_location: str = "cpu") -> LoadedModel:
    """A model shipped with causalcam, by name (:data:`BUNDLED_MODELS`,
    :data:`BUNDLED_VOLUME_MODELS`)."""
    files = BUNDLED_MODELS | BUNDLED_VOLUME_MODELS
    if name not in files:
        raise CheckpointError(f"no bundled model {name!r}; causalcam ships {', '.join(files)}")
    path = MODEL_ASSETS / files[name]
    if not path.is_file():
        raise CheckpointError(f"the embedded model {path} is missing from this install")
    arch = "small3d" if name in BUNDLED_VOLUME_MODELS else "resnet18"
    loaded = load_checkpoint(path, map_location, expect_arch=arch, expect_classes=2)
    if name in BUNDLED_VOLUME_MODELS and loaded.meta.volume is None:
        raise CheckpointError(f"the embedded 3-D model {path} records no input grid")
    return loaded


def default_model(map_location: str = "cpu") -> LoadedModel:
    """The default bundled ResNet-18 trained on COVID-CT by ``causalcam train`` (see its
    metadata for the recipe and measured metrics)."""
    return bundled_model(DEFAULT_BUNDLED, map_location)


def export_checkpoint(
    src: str | os.PathLike[str], dest: str | os.PathLike[str], half: bool = True
) -> Path:
    """Copy a checkpoint's model and metadata (not its training state) to ``dest``, in fp16
    by default: how a trained ``best.pt`` becomes a small, shippable model file."""
    loaded = load_checkpoint(src)
    return save_checkpoint(dest, loaded.model, loaded.meta, half=half)
