"""Numeric precision and memory layout of forward passes.

``precision`` names what a forward pass computes in: ``"fp32"`` (exact, the default for
explaining and evaluating), ``"bf16"`` (autocast to bfloat16 where the device has native
support: CPUs with AVX-512 BF16 or AMX, CUDA devices with bf16), ``"fp16"`` (autocast to
float16, CUDA only) or ``"auto"`` (bf16 where supported, else fp32). A request the device
cannot serve well falls back to fp32 with a :class:`PrecisionWarning`.

Channels-last memory (NHWC; NDHWC for 3-D convolutions and volumes) speeds up convolutions
on CPUs and GPUs; :func:`memory_format` converts a model for the duration of a call and
restores each parameter's layout after.
:func:`fp32_after` runs the layers after a target layer in
fp32, so that gradients taken there (the explanation maps) are fp32 even when the layers
before it ran in bf16 or fp16.
"""

from __future__ import annotations

import contextlib
import functools
import warnings
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from torch.utils.hooks import RemovableHandle

from .errors import InputError

PRECISIONS: tuple[str, ...] = ("fp32", "bf16", "fp16", "auto")
_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}
_CPU_BF16_FLAGS = ("avx512_bf16", "amx_bf16")
#: The channels-last layout of a tensor by rank: images and 2-D kernels, volumes and 3-D ones.
_CHANNELS_LAST = {4: torch.channels_last, 5: torch.channels_last_3d}


def to_channels_last(x: torch.Tensor) -> torch.Tensor:
    """``x`` in channels-last memory if it is 4-D (``channels_last``) or 5-D
    (``channels_last_3d``); other tensors unchanged."""
    layout = _CHANNELS_LAST.get(x.ndim)
    return x if layout is None else x.contiguous(memory_format=layout)


class PrecisionWarning(UserWarning):
    """A precision was requested that the device does not support well; fp32 is used."""


@dataclass(frozen=True)
class ComputePlan:
    """What a forward pass on ``device`` runs with: ``precision`` as resolved (``"fp32"``,
    ``"bf16"`` or ``"fp16"``) and whether inputs and model use channels-last memory."""

    device: torch.device
    precision: str = "fp32"
    channels_last: bool = False

    @property
    def dtype(self) -> torch.dtype | None:
        """The autocast dtype, or None for plain fp32."""
        return _DTYPES.get(self.precision)

    def autocast(self) -> contextlib.AbstractContextManager[object]:
        """The autocast context of this plan (a no-op context for fp32)."""
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.dtype)

    def inputs(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` on the plan's device, channels-last when the plan says so (4-D and 5-D)."""
        x = x.to(self.device)
        return to_channels_last(x) if self.channels_last else x


@functools.lru_cache(maxsize=1)
def _cpu_flags() -> frozenset[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith("flags"):
            return frozenset(line.split(":", 1)[1].split())
    return frozenset()


#: The CPU's widest vector extensions that decide its speed here, widest first.
_VECTOR_EXTENSIONS = ("amx_bf16", "avx512_bf16", "avx512f", "avx2")


def cpu_vector_extensions() -> str:
    """The widest of :data:`_VECTOR_EXTENSIONS` this CPU has (``"none"`` without any): what a
    run's manifest records beside its time."""
    return next((flag for flag in _VECTOR_EXTENSIONS if flag in _cpu_flags()), "none")


def bf16_supported(device: torch.device | str) -> bool:
    """Whether ``device`` runs bfloat16 natively (CPU: AVX-512 BF16 or AMX; CUDA: bf16)."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        return any(flag in _cpu_flags() for flag in _CPU_BF16_FLAGS)
    return False


def resolve_precision(precision: str, device: torch.device | str) -> str:
    """The precision actually used for ``precision`` on ``device``: ``"fp32"``, ``"bf16"``
    or ``"fp16"``; unsupported requests fall back to fp32 with a PrecisionWarning."""
    if precision not in PRECISIONS:
        raise InputError(f"unknown precision {precision!r}; choose from {', '.join(PRECISIONS)}")
    device = torch.device(device)
    if precision == "auto":
        return "bf16" if bf16_supported(device) else "fp32"
    if precision == "bf16" and not bf16_supported(device):
        _fallback(f"bfloat16 is not supported natively on {device.type} here")
        return "fp32"
    if precision == "fp16" and device.type != "cuda":
        _fallback(f"float16 autocast is only used on CUDA, not on {device.type}")
        return "fp32"
    return precision


def _fallback(reason: str) -> None:
    warnings.warn(f"{reason}; computing in fp32 instead", PrecisionWarning, stacklevel=3)


def channels_last_default(device: torch.device | str) -> bool:
    """Channels-last is the default layout on CPU and CUDA (measured faster for CNNs)."""
    return torch.device(device).type in ("cpu", "cuda")


def compute_plan(
    device: torch.device | str, precision: str = "fp32", channels_last: bool | None = None
) -> ComputePlan:
    """A :class:`ComputePlan` for ``device``; ``channels_last=None`` takes the default."""
    device = torch.device(device)
    layout = channels_last_default(device) if channels_last is None else channels_last
    return ComputePlan(device, resolve_precision(precision, device), bool(layout))


@contextlib.contextmanager
def memory_format(model: nn.Module, channels_last: bool) -> Iterator[nn.Module]:
    """Run ``model`` with channels-last 4-D and 5-D parameters; every parameter and buffer gets
    back the exact tensor it had on exit, also after an error. For inference: updates
    made to the parameters inside the context are not kept."""
    if not channels_last:
        yield model
        return
    tensors = [t for t in (*model.parameters(), *model.buffers()) if t.ndim in _CHANNELS_LAST]
    saved = [(t, t.data) for t in tensors]
    try:
        for t in tensors:
            t.data = to_channels_last(t.data)
        yield model
    finally:
        for t, data in saved:
            t.data = data


def convert_channels_last(model: nn.Module) -> None:
    """Put ``model``'s 4-D and 5-D parameters and buffers in channels-last memory, in place
    (for a model the caller owns, e.g. its own copy)."""
    for t in (*model.parameters(), *model.buffers()):
        t.data = to_channels_last(t.data)


def fp32_after(module: nn.Module, plan: ComputePlan, stack: ExitStack) -> RemovableHandle | None:
    """A forward hook that runs everything after ``module`` in fp32: it casts the module's
    output to float32 and turns autocast off until ``stack`` closes. None (no hook) for an
    fp32 plan. Registered first, so hooks registered later see the float32 output."""
    if plan.dtype is None:
        return None

    def hook(_module: nn.Module, _inputs: object, output: object) -> object:
        if not isinstance(output, torch.Tensor) or not output.is_floating_point():
            return None
        stack.enter_context(torch.autocast(device_type=plan.device.type, enabled=False))
        return output.float()

    return module.register_forward_hook(hook, prepend=True)
