"""Your own classifier: a torchvision or timm architecture with a state dict you trained, or a
model built by your own code.

:func:`load_model` is what ``causalcam explain --arch NAME --weights FILE`` (or
``--factory package.module:function``) runs, and the way to do the same from Python::

    network = causalcam.load_model("resnet50", "my_weights.pth", labels="labels.txt")

Weights are read from a local file only: ``.pth``/``.pt`` with ``torch.load(weights_only=True)``
or ``.safetensors`` (extra ``models``). The ``module.`` prefix of DistributedDataParallel, the
``model.`` prefix of Lightning modules and the ``_orig_mod.`` prefix of ``torch.compile`` are
stripped where that makes the keys fit, and a ``{"state_dict": ...}`` wrapper (Lightning
checkpoints) is opened. A state dict that does not fit the architecture is refused with one
sentence naming the first key at fault and its shapes.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import torch
import torchvision
from torch import nn

from ..errors import CheckpointError, InputError
from ..extras import require
from ..network import Network
from ..preprocess import IMAGENET_MEAN, IMAGENET_STD, Preprocessing
from .checkpoint import FORMAT as CHECKPOINT_FORMAT
from .registry import SEGMENTATION_ARCHS, available, head_name, segmentation_network

#: Prefixes that wrappers add to every key: DistributedDataParallel, Lightning, torch.compile.
WRAPPER_PREFIXES: tuple[str, ...] = ("module.", "model.", "_orig_mod.")
#: The training-only auxiliary head of torchvision's segmentation networks (``aux_loss``).
AUXILIARY_HEAD = "aux_classifier."
#: An architecture name with this prefix is looked up in timm only (``timm/resnet50``).
TIMM_PREFIX = "timm/"

StateDict = dict[str, torch.Tensor]


def read_state_dict(path: str | os.PathLike[str]) -> StateDict:
    """The tensors of a weights file: ``.safetensors``, or anything else through
    ``torch.load(weights_only=True)``, a ``{"state_dict": ...}`` wrapper opened."""
    file = Path(path).expanduser()
    if not file.is_file():
        raise CheckpointError(f"weights file {file} does not exist")
    if file.suffix == ".safetensors":
        safetensors = require("safetensors.torch", f"reading {file.name}")
        try:
            return dict(safetensors.load_file(str(file), device="cpu"))
        except Exception as error:  # safetensors raises its own error types
            raise CheckpointError(f"cannot read weights file {file}: {error}") from error
    try:
        payload = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many types for corrupt or unsafe files
        raise CheckpointError(
            f"cannot read weights file {file} as plain tensors ({type(error).__name__}); "
            "save the model's state_dict() with torch.save"
        ) from error
    if isinstance(payload, dict) and payload.get("format") == CHECKPOINT_FORMAT:
        raise CheckpointError(
            f"{file} is a causalcam checkpoint: pass it as --model (load_checkpoint in Python)"
        )
    if isinstance(payload, dict) and isinstance(payload.get("state_dict"), dict):
        payload = payload["state_dict"]
    if not isinstance(payload, dict) or not payload:
        raise CheckpointError(f"{file} holds no state dict (a dict of tensors)")
    stray = next((k for k, v in payload.items() if not isinstance(v, torch.Tensor)), None)
    if stray is not None:
        raise CheckpointError(f"{file} is not a state dict: its entry {stray!r} is no tensor")
    return {str(k): v for k, v in payload.items()}


def strip_wrappers(state: Mapping[str, torch.Tensor], expected: Sequence[str]) -> StateDict:
    """``state`` with the wrapper prefixes (:data:`WRAPPER_PREFIXES`) removed where that makes
    more of its keys match ``expected`` (keys outside the prefix are then dropped) or where
    every key has the prefix (``module._orig_mod.`` comes off in two steps)."""
    wanted = set(expected)
    best = dict(state)
    improved = True
    while improved:
        improved = False
        for prefix in WRAPPER_PREFIXES:
            candidate = {k[len(prefix) :]: v for k, v in best.items() if k.startswith(prefix)}
            gain = len(wanted & candidate.keys()) - len(wanted & best.keys())
            if gain > 0 or (gain == 0 and candidate and len(candidate) == len(best)):
                best, improved = candidate, True
    return best


def _shape(value: torch.Tensor) -> str:
    return "(" + ", ".join(str(n) for n in value.shape) + ")"


def misfit(state: Mapping[str, torch.Tensor], model: nn.Module, what: str) -> str | None:
    """One sentence on the first key of ``model``'s state dict that ``state`` lacks or holds in
    another shape (else its first key the model has no place for); ``None`` when it fits."""
    own = model.state_dict()
    problems = [
        f"{key} is {_shape(state[key])} in the weights but {_shape(value)} in {what}"
        if key in state
        else f"{key} of {what} is missing from the weights"
        for key, value in own.items()
        if key not in state or state[key].shape != value.shape
    ]
    problems += [
        f"the weights hold {key}, which {what} has no place for" for key in state if key not in own
    ]
    if not problems:
        return None
    more = f" ({len(problems) - 1} more key(s) differ)" if len(problems) > 1 else ""
    return problems[0] + more


def fit_state(model: nn.Module, state: Mapping[str, torch.Tensor], name: str, what: str) -> None:
    """Load ``state`` (read from the file ``name``) into ``model`` (a ``what``, named in
    errors), wrapper prefixes stripped, and the auxiliary head of torchvision's segmentation
    networks (used in training only) dropped where the model has none; :class:`CheckpointError`
    names the first key at fault."""
    own = list(model.state_dict())
    stripped = strip_wrappers(state, own)
    if not any(key.startswith(AUXILIARY_HEAD) for key in own):
        stripped = {k: v for k, v in stripped.items() if not k.startswith(AUXILIARY_HEAD)}
    problem = misfit(stripped, model, what)
    if problem is not None:
        raise CheckpointError(f"{name} does not fit {what}: {problem}")
    model.load_state_dict(stripped)


def _timm_name(arch: str) -> str | None:
    """The timm model name ``arch`` stands for, or ``None`` when torchvision has it."""
    if not arch.startswith(TIMM_PREFIX) and arch in available():
        return None
    name = arch.removeprefix(TIMM_PREFIX)
    timm = require("timm", f"the architecture {arch!r} (not a torchvision model)")
    if not timm.is_model(name):
        raise InputError(
            f"unknown architecture {arch!r}: neither a torchvision nor a timm model name"
        )
    return name


def build_arch(arch: str, num_classes: int | None = None) -> nn.Module:
    """A randomly initialised torchvision (else timm) classifier ``arch``; never downloads.
    ``num_classes`` ``None`` keeps the architecture's own head (ImageNet's 1000 classes)."""
    if arch in SEGMENTATION_ARCHS:
        return segmentation_network(arch, num_classes)
    classes = {} if num_classes is None else {"num_classes": num_classes}
    timm_name = _timm_name(arch)
    if timm_name is None:
        return torchvision.models.get_model(arch, weights=None, **classes)
    timm = require("timm", f"the architecture {arch!r}")
    return timm.create_model(timm_name, pretrained=False, **classes)


def head_classes(arch: str, state: Mapping[str, torch.Tensor]) -> int | None:
    """How many classes the output layer of ``arch`` has in ``state`` (``None`` if unknown)."""
    try:
        with torch.device("meta"):  # the layout alone: no memory, no initialisation
            model = build_arch(arch)
    except (NotImplementedError, RuntimeError):  # RegNets copy data while they initialise
        model = build_arch(arch)
    try:
        key = head_name(model) + ".weight"
    except InputError:  # no nn.Linear head (SqueezeNet): --num-classes or --labels tell
        return None
    stripped = strip_wrappers(state, list(model.state_dict()))
    return int(stripped[key].shape[0]) if key in stripped else None


def read_labels(labels: str | os.PathLike[str] | Sequence[str]) -> tuple[str, ...]:
    """Class names from a list, or a text file with one name a line (blank lines skipped)."""
    if isinstance(labels, str | os.PathLike):
        file = Path(labels).expanduser()
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise InputError(f"cannot read the labels file {file}: {error}") from error
        names = tuple(line.strip() for line in text.splitlines() if line.strip())
        if not names:
            raise InputError(f"the labels file {file} holds no class names")
        return names
    return tuple(str(name) for name in labels)


def import_factory(spec: str) -> Callable[[], nn.Module]:
    """``"package.module:function"`` -> that function, imported with the working directory on
    ``sys.path`` (so a module beside you is found)."""
    module_name, _, function_name = spec.partition(":")
    if not module_name or not function_name.isidentifier():
        raise InputError(f"--factory {spec!r}: expected package.module:function")
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise InputError(f"--factory {spec}: cannot import {module_name} ({error})") from error
    function = getattr(module, function_name, None)
    if not callable(function):
        raise InputError(f"--factory {spec}: {module_name} has no function {function_name}")
    return function


def _class_count(
    given: int | None, names: tuple[str, ...] | None, found: int | None, source: str
) -> int | None:
    """The number of classes that ``--num-classes``, the labels and the weights agree on."""
    counts = [
        ("--num-classes says", given),
        ("the labels name", len(names) if names is not None else None),
        (f"the output layer of {source} has", found),
    ]
    known = [(what, n) for what, n in counts if n is not None]
    if len({n for _, n in known}) > 1:
        raise InputError(
            "the number of classes disagrees: " + ", ".join(f"{what} {n}" for what, n in known)
        )
    count = known[0][1] if known else None
    if count is not None and count < 1:
        raise InputError(f"--num-classes must be at least 1, got {count}")
    return count


def default_preprocessing(model: nn.Module) -> Preprocessing:
    """RGB input; timm's recorded mean, std and input size for a timm model, else
    ImageNet's mean and std at 224 px."""
    config = getattr(model, "pretrained_cfg", None) or {}
    mean = tuple(float(v) for v in config.get("mean", IMAGENET_MEAN))
    std = tuple(float(v) for v in config.get("std", IMAGENET_STD))
    size = int(config.get("input_size", (3, 224, 224))[-1])
    if len(mean) != 3 or len(std) != 3:
        mean, std = IMAGENET_MEAN, IMAGENET_STD
    return Preprocessing(size=size, mean=mean, std=std, rgb=True)


def load_model(
    arch: str | None = None,
    weights: str | os.PathLike[str] | None = None,
    *,
    factory: str | Callable[[], nn.Module] | None = None,
    num_classes: int | None = None,
    labels: str | os.PathLike[str] | Sequence[str] | None = None,
    preprocessing: Preprocessing | None = None,
) -> Network:
    """Your own classifier as a :class:`~causalcam.network.Network`, in eval mode on the CPU.

    Args:
        arch: a torchvision classification model name (``"resnet50"``) or a timm one
            (``"convnext_tiny"``; ``"timm/resnet50"`` picks timm's where both have the name).
        weights: a state dict file for it (``.pth``/``.pt``/``.safetensors``); with
            ``factory``, loaded into the factory's model. Without weights an ``arch`` has
            random weights.
        factory: instead of ``arch``, a function returning the model, or its
            ``"package.module:function"`` name (imported from the working directory).
        num_classes: the classes of the output layer; by default counted in the labels or
            read from the weights' output layer.
        labels: class names, or a text file with one name a line.
        preprocessing: input size, mean, std and colour; by default RGB with timm's recorded
            values for a timm model, else ImageNet's at 224 px.

    Returns:
        The model with its preprocessing and class names (``None`` without labels).

    Raises:
        InputError: an unknown architecture, a bad factory, labels or class count.
        CheckpointError: weights that cannot be read or do not fit the architecture.
    """
    if (arch is None) == (factory is None):
        raise InputError("give an architecture name or a factory, not both or neither")
    names = read_labels(labels) if labels is not None else None
    state = read_state_dict(weights) if weights is not None else None
    if arch is not None:
        found = head_classes(arch, state) if state is not None else None
        model = build_arch(arch, _class_count(num_classes, names, found, "the weights"))
        what = arch
    else:
        model, what = _from_factory(factory)
        _class_count(num_classes, names, _outputs(model), what)
    if state is not None:
        fit_state(model, state, Path(str(weights)).name, what)
    chosen = preprocessing or default_preprocessing(model)
    return Network(model.eval(), chosen, names)


def _from_factory(factory: str | Callable[[], nn.Module] | None) -> tuple[nn.Module, str]:
    """The factory's model and how errors name it."""
    make = import_factory(factory) if isinstance(factory, str) else factory
    what = f"the model of {factory}" if isinstance(factory, str) else "the factory's model"
    if make is None:
        raise InputError("give an architecture name or a factory")
    model = make()
    if not isinstance(model, nn.Module):
        raise InputError(f"{what} is a {type(model).__name__}, not a torch.nn.Module")
    return model, what


def _outputs(model: nn.Module) -> int | None:
    """Output features of the model's last ``nn.Linear`` (``None`` without one)."""
    try:
        head = model.get_submodule(head_name(model))
    except InputError:
        return None
    return int(head.out_features) if isinstance(head, nn.Linear) else None
