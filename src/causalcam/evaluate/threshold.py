"""Threshold deletion and insertion with exact Huffman ratios (paper Sec. 4.1, docs/method.md).

For a map ``m`` (min-max normalised to [0, 1]) and a threshold ``tau``:

- ``deletion`` (the paper's naming) keeps the explanation: ``mask = [m > tau]``;
- ``insertion`` removes it: ``mask = [m <= tau]``.

The masked image ``mask * x`` is built on the 8-bit grey scan (removed pixels become 0),
then passed through each model's own preprocessing; the accuracy over the test set is
recorded per ``tau`` together with ``H = bits(mask * x) / bits(x)`` (exact Huffman lengths).

Maps are computed once per (source model, method); masked images for all thresholds are
streamed through large ``inference_mode`` batches; every (source, method, target, mode)
curve is stored atomically under ``out_dir`` keyed by a fingerprint of its inputs, so an
interrupted run resumes and an identical rerun computes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from ..errors import InputError
from ..explain import MapFn
from ..network import Network, as_network, eval_mode
from ..precision import ComputePlan, compute_plan, memory_format
from ..preprocess import to_model_input
from ..results import JsonForm, json_codec
from .huffman import huffman_bits, masked_bits, threshold_levels
from .settings import (
    EvaluationSettings,
)
from .store import (
    ResultStore,
    callable_identity,
    digest_of,
    model_fingerprint,
    pack_bool_rows,
    tensor_fingerprint,
    unpack_bool_rows,
)

_MAP_TOLERANCE = 1e-4
#: Version of the stored curves' keys: part of every curve's fingerprint, so curves stored
#: under another layout are computed again rather than misread.
CURVE_FORMAT = 2


def _floats(values: Sequence[float]) -> np.ndarray:
    return np.asarray(values, dtype=np.float64)


def _integers(values: Sequence[int]) -> np.ndarray:
    return np.asarray(values, dtype=np.int64)


@dataclass(frozen=True)
class Curve(JsonForm):
    """Per-image results of one (source, method, target, mode) threshold sweep.

    Attributes:
        source: the network whose maps made the masks.
        method: the map's method.
        target: the network that classified the masked images.
        mode: ``"deletion"`` or ``"insertion"``.
        thresholds: the thresholds ``(T,)``.
        correct: ``correct[j, i]``: the target's prediction on image ``i`` masked at
            ``thresholds[j]`` is right, ``(T, B)``.
        bits: ``bits[j, i]``: Huffman bits of that masked image, ``(T, B)``.
        original_bits: Huffman bits of each unmasked scan, ``(B,)``.
    """

    source: str
    method: str
    target: str
    mode: str
    thresholds: np.ndarray = field(metadata=json_codec(write=np.ndarray.tolist, read=_floats))
    correct: np.ndarray = field(metadata=json_codec(write=pack_bool_rows, read=unpack_bool_rows))
    bits: np.ndarray = field(metadata=json_codec(write=np.ndarray.tolist, read=_integers))
    original_bits: np.ndarray = field(metadata=json_codec(write=np.ndarray.tolist, read=_integers))

    @property
    def ratios(self) -> np.ndarray:
        """Per-image Huffman ratios ``H[j, i] = bits[j, i] / original_bits[i]``."""
        return self.bits / np.maximum(self.original_bits, 1)[None, :]

    @property
    def accuracy(self) -> np.ndarray:
        """Accuracy over the test set per threshold ``(T,)``."""
        return self.correct.mean(axis=1)

    @property
    def mean_h(self) -> np.ndarray:
        """Mean Huffman ratio over the test set per threshold ``(T,)``."""
        return self.ratios.mean(axis=1)

    def rows(self) -> list[dict[str, Any]]:
        """Tidy rows: one per threshold."""
        return [
            {
                "source": self.source,
                "method": self.method,
                "target": self.target,
                "mode": self.mode,
                "threshold": float(tau),
                "accuracy": float(acc),
                "huffman_ratio": float(h),
                "n_correct": int(count),
                "n_images": int(self.correct.shape[1]),
            }
            for tau, acc, h, count in zip(
                self.thresholds, self.accuracy, self.mean_h, self.correct.sum(axis=1), strict=True
            )
        ]


def validate_test_set(images: torch.Tensor, labels: torch.Tensor) -> None:
    """uint8 grey images ``(B, H, W)`` with ``B >= 1`` and matching integer labels ``(B,)``."""
    if not isinstance(images, torch.Tensor) or images.dtype != torch.uint8 or images.ndim != 3:
        shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        raise InputError(f"test images must be a uint8 tensor (B, H, W); got {shape}")
    if images.shape[0] == 0:
        raise InputError("the test set is empty: no images to evaluate")
    if labels.ndim != 1 or labels.shape[0] != images.shape[0] or labels.is_floating_point():
        raise InputError(
            f"labels must be integers of shape ({images.shape[0]},); got {labels.dtype} "
            f"{tuple(labels.shape)}"
        )


def check_networks(networks: Mapping[str, Network], image_size: tuple[int, int]) -> None:
    """All networks agree on class names (where known) and take ``image_size`` inputs."""
    named = {name: net.classes for name, net in networks.items() if net.classes is not None}
    if len(set(named.values())) > 1:
        listing = "; ".join(f"{name}: {list(classes)}" for name, classes in named.items())
        raise InputError(f"models disagree on classes: {listing}")
    for name, net in networks.items():
        if (net.preprocessing.size, net.preprocessing.size) != tuple(image_size):
            raise InputError(
                f"model {name!r} expects {net.preprocessing.size}x{net.preprocessing.size} "
                f"inputs but the test images are {image_size[0]}x{image_size[1]}"
            )


def compute_maps(
    network: Network,
    map_fn: MapFn,
    images: torch.Tensor,
    *,
    method: str = "method",
    batch_size: int = 32,
    progress: bool = False,
) -> torch.Tensor:
    """Maps of a network's images, computed in chunks and checked.

    Args:
        network: the network whose preprocessing turns the images into model inputs.
        map_fn: the map function, ``map_fn(inputs) -> (B, H, W)`` in [0, 1].
        images: uint8 grey images ``(B, H, W)``.
        method: the method's name, for the progress bar and errors.
        batch_size: images per call of ``map_fn``.
        progress: show a progress bar.

    Returns:
        The maps, float32 on the CPU, ``(B, H, W)``.

    Raises:
        InputError: ``map_fn`` returned no tensor, a wrong shape or values outside [0, 1].
    """
    chunks = []
    starts = range(0, images.shape[0], batch_size)
    for start in tqdm(starts, desc=f"maps {method}", disable=not progress, leave=False):
        batch = images[start : start + batch_size].to(network.device)
        maps = map_fn(to_model_input(batch, network.preprocessing))
        chunks.append(validate_maps(maps, batch.shape, method))
    return torch.cat(chunks)


def validate_maps(maps: Any, expected: torch.Size | tuple[int, ...], method: str) -> torch.Tensor:
    """Maps of shape ``expected`` (B, H, W), finite, in [0, 1]; returned as float32 on CPU."""
    if not isinstance(maps, torch.Tensor):
        raise InputError(f"method {method!r} returned {type(maps).__name__}, not a tensor")
    if tuple(maps.shape) != tuple(expected):
        raise InputError(
            f"method {method!r} returned maps of shape {tuple(maps.shape)}; "
            f"expected {tuple(expected)} (one map per image, at input resolution)"
        )
    maps = maps.detach().float().cpu()
    if not torch.isfinite(maps).all():
        raise InputError(f"method {method!r} returned maps containing NaN or infinity")
    low, high = float(maps.min()), float(maps.max())
    if low < -_MAP_TOLERANCE or high > 1 + _MAP_TOLERANCE:
        raise InputError(
            f"method {method!r} returned maps in [{low:.4g}, {high:.4g}]; "
            "maps must be min-max normalised to [0, 1]"
        )
    return maps.clamp_(0.0, 1.0)


def threshold_correct(
    network: Network,
    images: torch.Tensor,
    labels: torch.Tensor,
    levels: torch.Tensor,
    n_thresholds: int,
    mode: str,
    *,
    settings: EvaluationSettings | None = None,
    desc: str = "",
) -> np.ndarray:
    """``correct[j, i]`` for every threshold ``j`` and image ``i`` (bool ``(T, B)``).

    Jobs ``(j, i)`` are streamed in batches of ``settings.batch_size`` masked images: the
    mask is ``levels > j`` (deletion) or ``levels <= j`` (insertion), see
    ``threshold_levels``; ``settings`` (default: no progress bar) also set the precision and
    layout of the forward passes; ``desc`` labels the progress bar.
    """
    settings = settings or EvaluationSettings(progress=False)
    batch_size, progress = settings.batch_size, settings.progress
    device = network.device
    plan = compute_plan(device, settings.precision, settings.channels_last)
    images, labels, levels = images.to(device), labels.to(device), levels.to(device)
    n_images = images.shape[0]
    total = n_thresholds * n_images
    correct = torch.empty(total, dtype=torch.bool, device=device)
    with (
        eval_mode(network.model),
        memory_format(network.model, plan.channels_last),
        torch.inference_mode(),
        tqdm(total=total, desc=desc, disable=not progress) as bar,
    ):
        for start in range(0, total, batch_size):
            jobs = torch.arange(start, min(start + batch_size, total), device=device)
            taus, index = jobs // n_images, jobs % n_images
            band = levels[index]
            expanded = taus.view(-1, 1, 1).to(band.dtype)
            mask = band > expanded if mode == "deletion" else band <= expanded
            masked = images[index] * mask
            with plan.autocast():
                logits = network.model(plan.inputs(to_model_input(masked, network.preprocessing)))
            if start == 0:
                _check_logits(logits, labels, network)
            correct[start : start + jobs.shape[0]] = logits.argmax(dim=1) == labels[index]
            bar.update(int(jobs.shape[0]))
    return correct.view(n_thresholds, n_images).cpu().numpy()


def _check_logits(logits: torch.Tensor, labels: torch.Tensor, network: Network) -> None:
    if logits.ndim != 2:
        raise InputError(f"model returned shape {tuple(logits.shape)}; expected logits (B, N)")
    if int(labels.max()) >= logits.shape[1]:
        raise InputError(
            f"labels go up to {int(labels.max())} but the model has {logits.shape[1]} outputs"
        )
    if network.classes is not None and len(network.classes) != logits.shape[1]:
        raise InputError(
            f"model has {logits.shape[1]} outputs but names {len(network.classes)} classes"
        )


@dataclass(frozen=True)
class _Run:
    """Validated inputs of one sweep (the data, with its settings) and how results are
    keyed."""

    source: str
    networks: dict[str, Network]
    images: torch.Tensor
    labels: torch.Tensor
    settings: EvaluationSettings
    store: ResultStore
    fingerprints: dict[str, str]
    data_fingerprint: str
    original_bits: np.ndarray

    @property
    def thresholds(self) -> np.ndarray:
        return np.asarray(self.settings.thresholds, dtype=np.float64)

    def kind(self, what: str) -> str:
        """Store folder of ``what`` (``maps``, ``curves``): one per requested precision, so
        that fp32 and bf16 results do not replace each other."""
        precision = self.settings.precision
        return what if precision == "fp32" else f"{what}-{precision}"

    def plan(self, target: str) -> ComputePlan:
        """Precision and layout of ``target``'s forward passes."""
        device, settings = self.networks[target].device, self.settings
        return compute_plan(device, settings.precision, settings.channels_last)

    def _fingerprint(self, method: str, identity: Mapping[str, Any]) -> str:
        return digest_of(
            {
                "source": self.fingerprints[self.source],
                "preprocessing": self.networks[self.source].preprocessing.to_dict(),
                "method": method,
                "data": self.data_fingerprint,
                **identity,
            }
        )

    def method_maps(self, method: str, map_fn: MapFn, options: Mapping[str, Any]) -> _MethodMaps:
        """Maps a function computes; keyed by the method's options and the function."""
        identity = {"options": dict(options), "callable": callable_identity(map_fn)}
        return _MethodMaps(self, method, map_fn, self._fingerprint(method, identity))

    def given_maps(self, method: str, maps: torch.Tensor, key: Any) -> _MethodMaps:
        """Maps computed beforehand; keyed by ``key`` (the maps' bytes when ``None``)."""
        checked = validate_maps(maps, tuple(self.images.shape), method)
        identity = {"maps": key if key is not None else tensor_fingerprint(checked)}
        return _MethodMaps(self, method, None, self._fingerprint(method, identity), checked)

    def curve(self, maps: _MethodMaps, target: str, mode: str) -> Curve:
        """The stored curve if its fingerprint matches, else computed and stored."""
        plan = self.plan(target)
        keyed: dict[str, Any] = {
            "maps": maps.fingerprint,
            "target": self.fingerprints[target],
            "preprocessing": self.networks[target].preprocessing.to_dict(),
            "thresholds": self.thresholds.tolist(),
            "mode": mode,
            "precision": plan.precision,
            "format": CURVE_FORMAT,
        }
        key = digest_of(keyed)
        parts = (self.source, maps.method, target, mode)
        stored = self.store.load_json(self.kind("curves"), parts, key)
        if stored is not None:
            return Curve.from_json(stored)
        correct = threshold_correct(
            self.networks[target],
            self.images,
            self.labels,
            maps.levels(),
            len(self.settings.thresholds),
            mode,
            settings=self.settings,
            desc=f"{maps.method} {mode} {self.source}->{target}",
        )
        bits = maps.bits(mode)
        curve = Curve(*parts, self.thresholds, correct, bits, self.original_bits)
        self.store.save_json(self.kind("curves"), parts, key, curve.to_json())
        return curve


@dataclass
class _MethodMaps:
    """One method's maps on the source: given, or computed by ``map_fn`` (or loaded) on first
    use, then shared by all targets and modes (threshold levels once, Huffman bits once per
    mode)."""

    run: _Run
    method: str
    map_fn: MapFn | None
    fingerprint: str
    _maps: torch.Tensor | None = None
    _levels: torch.Tensor | None = None
    _bits: dict[str, np.ndarray] = field(default_factory=dict)

    def maps(self) -> torch.Tensor:
        if self._maps is None:
            assert self.map_fn is not None, "maps given as tensors are set at construction"
            parts = (self.run.source, self.method)
            cached = self.run.store.load_tensors(self.run.kind("maps"), parts, self.fingerprint)
            if cached is not None and tuple(cached["maps"].shape) == tuple(self.run.images.shape):
                self._maps = cached["maps"]
            else:
                self._maps = compute_maps(
                    self.run.networks[self.run.source],
                    self.map_fn,
                    self.run.images,
                    method=self.method,
                    batch_size=self.run.settings.map_batch_size,
                    progress=self.run.settings.progress,
                )
                self.run.store.save_tensors(
                    self.run.kind("maps"), parts, self.fingerprint, {"maps": self._maps}
                )
        return self._maps

    def levels(self) -> torch.Tensor:
        if self._levels is None:
            n_taus = len(self.run.thresholds)
            level_type = torch.int16 if n_taus < 2**15 - 1 else torch.int32
            self._levels = threshold_levels(self.maps(), self.run.thresholds).to(level_type)
        return self._levels

    def bits(self, mode: str) -> np.ndarray:
        if mode not in self._bits:
            taus = self.run.thresholds
            self._bits[mode] = masked_bits(self.run.images, None, taus, mode, levels=self.levels())
        return self._bits[mode]


def run_deletion_insertion(
    models: Mapping[str, Network | nn.Module | Any],
    methods: Mapping[str, MapFn],
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    source: str,
    settings: EvaluationSettings | None = None,
    method_options: Mapping[str, Mapping[str, Any]] | None = None,
) -> list[Curve]:
    """Threshold deletion/insertion curves of every method's maps (from ``source``) on every
    target model of ``settings`` (default: the source itself, i.e. within-network
    evaluation).

    A convenience over :func:`evaluate_maps`, which takes the maps themselves.

    Args:
        models: the networks by name (``Network``, checkpoint or ``nn.Module``).
        methods: map functions by name, computed on ``source``'s preprocessed inputs.
        images: uint8 grey test scans ``(B, H, W)``.
        labels: their integer labels ``(B,)``.
        source: the model whose maps are evaluated.
        settings: thresholds, modes, targets, store, batch sizes, precision
            (default :class:`EvaluationSettings`).
        method_options: per method name, options that enter the cache fingerprint: name or
            describe a variant there when its options change.

    Returns:
        One :class:`Curve` per (method, mode, target), in that nesting order.

    Raises:
        InputError: no methods, an unknown model name, bad images, labels or maps.
    """
    if not methods:
        raise InputError("no methods to evaluate")
    run = _prepare(models, images, labels, source, settings or EvaluationSettings())
    options = method_options or {}
    prepared = [run.method_maps(m, fn, options.get(m, {})) for m, fn in methods.items()]
    return _sweep(run, prepared)


def evaluate_maps(
    models: Mapping[str, Network | nn.Module | Any],
    maps: Mapping[str, torch.Tensor],
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    source: str,
    settings: EvaluationSettings | None = None,
    cache_keys: Mapping[str, Any] | None = None,
) -> list[Curve]:
    """Threshold deletion/insertion curves of maps computed beforehand (e.g. every method
    and causal variant from one ``Explainer.explain`` pass).

    Args:
        models: the networks by name (``Network``, checkpoint or ``nn.Module``).
        maps: per method, maps ``(B, H, W)`` in [0, 1] of ``source`` on ``images``.
        images: uint8 grey test scans ``(B, H, W)``.
        labels: their integer labels ``(B,)``.
        source: the model whose maps these are.
        settings: as for :func:`run_deletion_insertion`.
        cache_keys: per method, a JSON-serialisable description of how its maps were made
            (model, layer, options); the curves are cached by it, or by the maps' bytes
            where a method has no key.

    Returns:
        One :class:`Curve` per (method, mode, target), in that nesting order.

    Raises:
        InputError: no maps, an unknown model name, bad images, labels or maps.
    """
    if not maps:
        raise InputError("no maps to evaluate")
    run = _prepare(models, images, labels, source, settings or EvaluationSettings())
    keys = cache_keys or {}
    prepared = [run.given_maps(m, values, keys.get(m)) for m, values in maps.items()]
    return _sweep(run, prepared)


def _prepare(
    models: Mapping[str, Network | nn.Module | Any],
    images: torch.Tensor,
    labels: torch.Tensor,
    source: str,
    settings: EvaluationSettings,
) -> _Run:
    """Validated inputs of one sweep."""
    networks = {name: as_network(model) for name, model in models.items()}
    targets = list(settings.targets) if settings.targets is not None else [source]
    missing = [name for name in [source, *targets] if name not in networks]
    if missing:
        raise InputError(f"unknown model name(s) {missing}; known: {sorted(networks)}")
    validate_test_set(images, labels)
    used = {name: networks[name] for name in dict.fromkeys([source, *targets])}
    check_networks(used, (images.shape[1], images.shape[2]))
    images, labels = images.cpu(), labels.cpu().long()
    run = _Run(
        source=source,
        networks=used,
        images=images,
        labels=labels,
        settings=settings.replace(targets=tuple(targets)),
        store=ResultStore(settings.out_dir),
        fingerprints={name: model_fingerprint(net.model) for name, net in used.items()},
        data_fingerprint=tensor_fingerprint(images, labels),
        original_bits=huffman_bits(images),
    )
    for target in targets:  # an unknown precision fails before any work
        run.plan(target)
    return run


def _sweep(run: _Run, prepared: Sequence[_MethodMaps]) -> list[Curve]:
    targets, modes = run.settings.targets or (run.source,), run.settings.modes
    return [
        run.curve(maps, target, mode) for maps in prepared for mode in modes for target in targets
    ]


class EvaluateMaps(Protocol):
    """The call shape of :func:`evaluate_maps` (a stand-in may share the images among
    processes, e.g. :func:`causalcam.distributed.sharded_evaluate_maps`)."""

    def __call__(
        self,
        models: Mapping[str, Network | nn.Module | Any],
        maps: Mapping[str, torch.Tensor],
        images: torch.Tensor,
        labels: torch.Tensor,
        *,
        source: str,
        settings: EvaluationSettings | None = None,
        cache_keys: Mapping[str, Any] | None = None,
    ) -> list[Curve]: ...
