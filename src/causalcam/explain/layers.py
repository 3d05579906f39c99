"""Target layers, the activation capture hook, logits extraction and model-state care."""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import Tensor, nn

from ..errors import InputError
from ..models.architectures import transformer_layer

#: Automatic target layers, tried in order: ResNet-like, then DenseNet.
KNOWN_LAYERS: tuple[str, ...] = ("layer4", "features.norm5")
#: Keys of a dict output that hold the logits.
LOGIT_KEYS: tuple[str, ...] = ("logits", "out")
#: The input and layer shapes of images (2 spatial axes) and volumes (3), by tensor rank.
SHAPES: dict[int, str] = {4: "(B, C, H, W)", 5: "(B, C, D, H, W)"}
LAYER_SHAPES: dict[int, str] = {4: "(B, K, h, w)", 5: "(B, K, d, h, w)"}


def module_names(model: nn.Module) -> dict[str, nn.Module]:
    """Every named submodule (the root excluded) by dotted name."""
    return {name: module for name, module in model.named_modules() if name}


def resolve_layer(model: nn.Module, layer: str | nn.Module) -> tuple[str, nn.Module]:
    """``(dotted name, module)`` for a name or a submodule of ``model``; a name that does
    not exist raises an InputError suggesting the closest names."""
    names = module_names(model)
    if isinstance(layer, nn.Module):
        for name, module in names.items():
            if module is layer:
                return name, module
        raise InputError(
            f"target layer {type(layer).__name__} is not a submodule of the model "
            f"({type(model).__name__})"
        )
    if layer in names:
        return layer, names[layer]
    close = difflib.get_close_matches(layer, list(names), n=5, cutoff=0.5)
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    raise InputError(f"the model has no layer named {layer!r}{hint}")


def known_layer(model: nn.Module) -> str | None:
    """``layer4`` (ResNet-like), ``features.norm5`` (DenseNet) or the first norm of the last
    transformer block (torchvision, timm and Hugging Face ViT, Swin) when the model has it."""
    transformer = transformer_layer(model)
    if transformer is not None:
        return transformer
    names = module_names(model)
    return next((name for name in KNOWN_LAYERS if name in names), None)


def last_spatial_layer(model: nn.Module, example: Tensor) -> str:
    """Name of the last module to finish with an output of the input's rank (4-D for images,
    5-D for volumes) and more than one pixel, found by a dry run of ``example`` under
    ``torch.no_grad()``; of nested modules returning the same tensor (a container and its
    last child) the innermost is chosen."""
    names = {module: name for name, module in model.named_modules() if name}
    found: list[tuple[str, Tensor]] = []
    rank = example.ndim

    def record(module: nn.Module, _inputs: Any, output: Any) -> None:
        if isinstance(output, Tensor) and output.ndim == rank and output[0, 0].numel() > 1:
            found.append((names[module], output))

    handles = [module.register_forward_hook(record) for module in names]
    try:
        with torch.no_grad():
            model(example)
    finally:
        for handle in handles:
            handle.remove()
    if not found:
        raise InputError(
            f"cannot choose a target layer for {type(model).__name__}: no module returns a "
            f"{rank}-D {LAYER_SHAPES.get(rank, '')} tensor; pass target_layer"
        )
    last = found[-1][1]
    return next(name for name, output in found if output is last)


def first_convolution(model: nn.Module) -> tuple[str, nn.Conv2d | nn.Conv3d] | None:
    """The model's first 2-D or 3-D convolution and its name, if it has one: its
    ``in_channels`` and rank are what the model's inputs must have."""
    for name, module in model.named_modules():
        if isinstance(module, nn.Conv2d | nn.Conv3d):
            return name or type(model).__name__, module
    return None


def check_input_shape(first: tuple[str, nn.Conv2d | nn.Conv3d] | None, inputs: Tensor) -> None:
    """Raise an InputError unless ``inputs`` is 4-D (B, C, H, W) or 5-D (B, C, D, H, W) and,
    where the model has a first convolution, of its rank and channel count."""
    if inputs.ndim not in SHAPES:
        raise InputError(
            f"inputs must have shape {' or '.join(SHAPES.values())}, got {inputs.ndim}-D "
            f"{tuple(inputs.shape)}"
        )
    if first is None:
        return
    name, conv = first
    rank = len(conv.kernel_size) + 2
    if inputs.ndim != rank:
        kind = "an image" if rank == 4 else "a volume"
        raise InputError(
            f"the model's first convolution {name!r} is a {type(conv).__name__}: it expects "
            f"{kind} batch {SHAPES[rank]}, got {inputs.ndim}-D {tuple(inputs.shape)}"
        )
    if inputs.shape[1] != conv.in_channels:
        raise InputError(
            f"inputs have {inputs.shape[1]} channels but the model's first convolution "
            f"{name!r} expects {conv.in_channels}"
        )


def extract_logits(output: Any) -> Tensor:
    """The (B, N) logits from a model output: a tensor, a dict with key ``logits``/``out``,
    or a tuple/list with exactly one 2-D tensor."""
    if isinstance(output, Tensor):
        logits = output
    elif isinstance(output, dict):
        key = next((k for k in LOGIT_KEYS if k in output), None)
        if key is None:
            raise InputError(
                f"the model returned a dict with keys {sorted(map(str, output))}; expected "
                f"one of {', '.join(LOGIT_KEYS)} to hold the logits"
            )
        logits = output[key]
    elif isinstance(getattr(output, "logits", None), Tensor):  # e.g. Hugging Face outputs
        logits = output.logits
    elif isinstance(output, tuple | list):
        candidates = [o for o in output if isinstance(o, Tensor) and o.ndim == 2]
        if len(candidates) != 1:
            raise InputError(
                f"the model returned a {type(output).__name__} of {len(output)} items with "
                f"{len(candidates)} 2-D tensors; cannot tell which are the logits"
            )
        logits = candidates[0]
    else:
        raise InputError(f"the model returned {type(output).__name__}, not a logits tensor")
    if not isinstance(logits, Tensor) or logits.ndim != 2:
        shape = tuple(logits.shape) if isinstance(logits, Tensor) else type(logits).__name__
        raise InputError(f"expected logits of shape (B, N) from the model, got {shape}")
    return logits


class ActivationCapture:
    """Forward hook on the target layer that starts the autograd graph there.

    The model runs under ``torch.no_grad()``; when the layer finishes, the hook turns
    grad mode on, makes a leaf ``L = output.detach().requires_grad_()`` and returns the
    copy ``R = L.clone()`` to the rest of the network (a returned leaf would break an
    in-place op such as DenseNet's ReLU after ``norm5``). After the forward, ``R`` holds
    what the following layers left in it (post-ReLU for DenseNet): those are the
    activations ``A``; gradients are taken with respect to ``L``.
    """

    def __init__(self, name: str, reshaped: bool = False, rank: int = 4) -> None:
        self.name = name
        self.reshaped = reshaped
        self.rank = rank
        self.leaf: Tensor | None = None
        self.output: Tensor | None = None
        self.calls = 0

    def __call__(self, _module: nn.Module, _inputs: Any, output: Any) -> Tensor:
        self.calls += 1
        if self.calls > 1:
            raise InputError(
                f"target layer {self.name!r} runs more than once per forward pass (a shared "
                "module); choose a layer that runs once"
            )
        if not isinstance(output, Tensor) or (output.ndim != self.rank and not self.reshaped):
            shape = tuple(output.shape) if isinstance(output, Tensor) else type(output).__name__
            raise InputError(
                f"target layer {self.name!r} must output a {LAYER_SHAPES[self.rank]} tensor "
                f"for {self.rank}-D inputs, got {shape}; for token or channels-last outputs "
                "pass reshape_transform"
            )
        torch.set_grad_enabled(True)
        self.leaf = output.detach().requires_grad_()
        self.output = self.leaf.clone()
        return self.output

    def results(self) -> tuple[Tensor, Tensor]:
        """``(L, A)``: the leaf to differentiate against and the activations."""
        if self.leaf is None or self.output is None:
            raise InputError(f"target layer {self.name!r} was not called by the forward pass")
        return self.leaf, self.output.detach()


@contextmanager
def preserved_state(model: nn.Module) -> Iterator[None]:
    """Put ``model`` in eval mode with frozen parameters for the block (only the target
    layer's activations need gradients), then restore every module's ``training`` flag,
    every parameter's ``requires_grad`` and the grad mode exactly, even on error."""
    training = [(module, module.training) for module in model.modules()]
    requires = [(param, param.requires_grad) for param in model.parameters()]
    grad_mode = torch.is_grad_enabled()
    try:
        model.eval()
        for param, _ in requires:
            param.requires_grad_(False)
        yield
    finally:
        torch.set_grad_enabled(grad_mode)
        for module, flag in training:
            module.training = flag
        for param, flag in requires:
            param.requires_grad_(flag)
