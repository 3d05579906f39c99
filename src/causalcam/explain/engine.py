"""The explainer: every map of docs/method.md from one forward pass and one batched VJP.

Cost per chunk of images: a forward pass under ``torch.no_grad()`` in which only the
layers after the target layer record a graph (see :class:`ActivationCapture`), then one
``torch.autograd.grad(z, L, grad_outputs=V, is_grads_batched=True)`` with ``V`` of shape
(M, B, N), where M counts the basis vectors the requested maps need (``targets.py``) and
does not grow with the number of classes N.

Precision and layout (``causalcam.precision``): the forward pass runs under the plan's
autocast (bf16/fp16) and in channels-last memory; with ``head_precision="fp32"`` (the
default) the layers after the target layer run in fp32 on the activations cast to fp32,
so the VJP and every map formula are computed in fp32.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import torch
from torch import Tensor, nn
from tqdm import tqdm

from ..errors import InputError
from ..models.architectures import known_reshape
from ..precision import ComputePlan, compute_plan, fp32_after, memory_format
from . import layers
from .heads import LABEL_OFF, MULTILABEL_HEAD, SOFTMAX_HEAD, Head, choose_head
from .methods import (
    ALL_METHODS,
    CAUSAL,
    CAUSAL_LOSSES,
    CAUSAL_TARGETS,
    CONTRAST_CE,
    GRADCAM,
    GRADCAM_PP,
    KNOWN_METHODS,
    CausalOptions,
    causal_weights,
    check_choice,
    eigen_map,
    flat_maps,
    gradcam_pp_weights,
    raw_map,
    to_input_size,
)
from .targets import (
    CE_COMBINATION,
    GRADCAM_CE_COMBINATION,
    SCORE,
    ClassSpec,
    Combination,
    TargetScores,
    basis_vectors,
    choose_classes,
    class_indices,
    combine,
    contrast_combination,
    custom_combination,
    target_gradients,
    unique_rows,
)

MapFn = Callable[[Tensor], Tensor]
#: Where the layers after the target layer (and so the VJP) compute: ``fp32`` always, or
#: ``forward``: in the forward pass's precision.
HEAD_PRECISIONS: tuple[str, ...] = ("fp32", "forward")


@dataclass(frozen=True)
class Explanation:
    """Result of :meth:`Explainer.explain` for a batch of B images.

    ``logits`` (B, N); ``predicted`` (B,) argmax; ``target`` (B,) the explained class P
    (the predicted class unless ``target_class`` was given); ``contrast`` (B,) class Q;
    ``maps`` name -> (B, H, W) in [0, 1] at input size; ``raw`` name -> (B, h, w) at layer
    resolution before normalisation and ``weights`` name -> channel weights (B, K) (both
    when ``return_raw``); ``layer`` the target layer's name.
    """

    logits: Tensor
    predicted: Tensor
    target: Tensor
    contrast: Tensor
    maps: dict[str, Tensor]
    raw: dict[str, Tensor] | None
    layer: str
    weights: dict[str, Tensor] | None = None


@dataclass
class _Plan:
    """What one call computes: linear maps as combinations of basis VJPs, the causal
    variants and whether Grad-CAM++ is needed."""

    linear: dict[str, Combination] = field(default_factory=dict)
    causal: tuple[CausalOptions, ...] = ()
    gradcam_pp: bool = False

    def keys(self) -> list[str]:
        """The basis vectors needed, in a fixed order."""
        keys = [SCORE] if self.gradcam_pp else []
        for combination in self.linear.values():
            keys.extend(k for k in combination if k not in keys)
        return keys


def _as_variants(causal: CausalOptions | Sequence[CausalOptions]) -> tuple[CausalOptions, ...]:
    variants = (causal,) if isinstance(causal, CausalOptions) else tuple(causal)
    if not variants or not all(isinstance(v, CausalOptions) for v in variants):
        raise InputError("causal must be a CausalOptions or a non-empty sequence of them")
    return variants


def _contrast_key(loss: str, target: str) -> str:
    return f"{target}[{loss}]"


def _gradcam_key(variant: CausalOptions) -> str:
    """The linear map holding the Grad-CAM term ``a_G`` of a causal variant."""
    return GRADCAM if variant.gradcam_term == "logit" else f"{GRADCAM}[{variant.gradcam_term}]"


def _make_plan(
    methods: Sequence[str],
    variants: tuple[CausalOptions, ...],
    contrast_loss: str,
    custom: Mapping[str, Tensor],
    n_classes: int,
) -> _Plan:
    plan = _Plan(gradcam_pp=GRADCAM_PP in methods)
    wanted = set(methods)
    if GRADCAM in wanted or CAUSAL in wanted:
        plan.linear[GRADCAM] = {SCORE: 1.0}
    for target in CAUSAL_TARGETS:
        if target in wanted:
            plan.linear[target] = contrast_combination(target, contrast_loss, n_classes)
    if CONTRAST_CE in wanted:
        plan.linear[CONTRAST_CE] = dict(CE_COMBINATION)
    if CAUSAL in wanted:
        plan.causal = variants
        if any(v.gradcam_term == "ce" for v in variants):
            plan.linear[f"{GRADCAM}[ce]"] = dict(GRADCAM_CE_COMBINATION)
        for loss in dict.fromkeys(v.loss for v in variants):
            for target in CAUSAL_TARGETS:
                plan.linear[_contrast_key(loss, target)] = contrast_combination(
                    target, loss, n_classes
                )
    for name in custom:
        plan.linear[f"contrast[{name}]"] = custom_combination(name, contrast_loss, n_classes)
    return plan


def batched_vjp(outputs: Tensor, leaf: Tensor, vectors: Tensor, layer: str) -> Tensor:
    """``d(sum_j V[m, b, j] z[b, j]) / dL`` for every m: (M, B, N) -> (M, *L.shape).

    One batched vector-Jacobian product; if an operation after the target layer does not
    support batching (vmap), falls back to M ordinary products on the retained graph.
    """
    grads: Tensor | None
    try:
        (grads,) = torch.autograd.grad(
            outputs,
            leaf,
            grad_outputs=vectors,
            is_grads_batched=True,
            retain_graph=True,
            allow_unused=True,
        )
    except RuntimeError:
        rows = [
            torch.autograd.grad(
                outputs, leaf, grad_outputs=v, retain_graph=True, allow_unused=True
            )[0]
            for v in vectors
        ]
        grads = None if any(r is None for r in rows) else torch.stack(rows)
    if grads is None:
        raise InputError(f"the model's output does not depend on target layer {layer!r}")
    return grads


ReshapeFn = Callable[[Tensor], Tensor]


@dataclass(frozen=True)
class _Request:
    """The options of one :meth:`Explainer.explain` call that every chunk shares."""

    methods: tuple[str, ...]
    variants: tuple[CausalOptions, ...]
    loss: str
    head: str
    eigen_smooth: bool
    return_raw: bool


@dataclass(frozen=True)
class _Classes:
    """One chunk's head, class logits ``y`` (B, C), P and Q in class space, the grad-cam
    targets' score gradients (or None) and what ``Explanation`` reports as P and Q."""

    head: Head
    y: Tensor
    p: Tensor
    q: Tensor
    score: Tensor | None
    reported_p: Tensor
    reported_q: Tensor


class Explainer:
    """Explanation maps of a classifier at one target layer (docs/method.md).

    ``target_layer``: a dotted module name, a submodule, or None for automatic (ResNet
    ``layer4``, DenseNet ``features.norm5``, the last block of a torchvision or timm ViT or
    Swin, else the last module with a 4-D output, found by a dry run on the first call).
    ``reshape_transform``: grad-cam's function turning the layer's output (and, the same
    way, its gradient) into (B, K, h, w), e.g. ViT tokens to a grid; None uses the known
    one for ViT/Swin layers. Usable as a context manager; every call registers its hook
    only for its own forward pass and restores the model's train/eval flags,
    ``requires_grad`` flags and the grad mode exactly, also on error.

    ``precision``: ``fp32`` (default), ``bf16``, ``fp16`` (CUDA) or ``auto`` for the forward
    pass (``causalcam.precision``; unsupported requests fall back to fp32 with a warning);
    ``channels_last``: channels-last memory (None: the device's default, on for CPU and
    CUDA); ``head_precision``: ``fp32`` (default: the layers after the target layer and the
    VJP in fp32) or ``forward`` (in the forward pass's precision).
    """

    def __init__(
        self,
        model: nn.Module,
        target_layer: str | nn.Module | None = None,
        chunk_size: int = 64,
        reshape_transform: ReshapeFn | None = None,
        *,
        precision: str = "fp32",
        channels_last: bool | None = None,
        head_precision: str = "fp32",
    ) -> None:
        if not isinstance(model, nn.Module):
            raise InputError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        if not isinstance(chunk_size, int) or chunk_size < 1:
            raise InputError(f"chunk_size must be a positive integer, got {chunk_size!r}")
        if reshape_transform is not None and not callable(reshape_transform):
            raise InputError("reshape_transform must be a function tensor -> (B, K, h, w)")
        self.model = model
        self.chunk_size = chunk_size
        self.precision = check_choice("precision", precision, ("fp32", "bf16", "fp16", "auto"))
        self.channels_last = channels_last
        self.head_precision = check_choice("head precision", head_precision, HEAD_PRECISIONS)
        choice = target_layer if target_layer is not None else layers.known_layer(model)
        self._layer: tuple[str, nn.Module] | None = (
            None if choice is None else layers.resolve_layer(model, choice)
        )
        self._reshape = reshape_transform
        if reshape_transform is None and self._layer is not None:
            self._reshape = known_reshape(model, self._layer[0])
        self._in_channels = layers.input_channels(model)

    def __enter__(self) -> Explainer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Nothing to undo: each call cleans up after itself."""

    @property
    def layer_name(self) -> str | None:
        """The target layer's dotted name (None until an automatic choice is made)."""
        return None if self._layer is None else self._layer[0]

    def explain(
        self,
        inputs: Tensor,
        methods: Sequence[str] = ALL_METHODS,
        target_class: ClassSpec = None,
        contrast_class: ClassSpec = None,
        causal: CausalOptions | Sequence[CausalOptions] | None = None,
        return_raw: bool = False,
        *,
        contrast_loss: str | None = None,
        contrast_targets: Mapping[str, Tensor] | None = None,
        targets: Sequence[object] | None = None,
        head: str = "auto",
        eigen_smooth: bool = False,
        progress: bool = False,
    ) -> Explanation:
        """Maps for a batch ``inputs`` (B, C, H, W) of normalised images.

        ``methods``: names from ``KNOWN_METHODS``; ``target_class``/``contrast_class``: P
        and Q per image (int, sequence or (B,) tensor; default argmax and runner-up);
        ``causal``: one variant or a sequence (maps keyed by ``variant.name``, plain
        ``"causal"`` = the first; default ``CausalOptions()``); ``contrast_loss``: loss of
        the ``contrast_*`` maps (``mse``/``bce``/``mse_prob``, default the first causal
        variant's); ``contrast_targets``: extra contrast maps ``contrast[name]`` for user
        target vectors t, (N,) or (B, N); ``targets``: grad-cam style targets, one callable
        ``target(outputs_b) -> scalar`` per image, instead of ``target_class``; ``head``:
        ``auto``, ``softmax``, ``binary`` or ``multilabel`` (docs/method.md);
        ``eigen_smooth``: grad-cam's first-principal-component maps.
        Results are on ``inputs``' device; batches are processed ``chunk_size`` at a time.
        """
        self._check_inputs(inputs)
        methods = tuple(dict.fromkeys(check_choice("method", m, KNOWN_METHODS) for m in methods))
        variants = _as_variants(CausalOptions() if causal is None else causal)
        loss = check_choice("contrast loss", contrast_loss or variants[0].loss, CAUSAL_LOSSES)
        custom = dict(contrast_targets or {})
        if not methods and not custom:
            raise InputError(f"no maps requested: name methods from {', '.join(KNOWN_METHODS)}")
        batch = inputs.shape[0]
        if targets is not None:
            targets = list(targets)
            if target_class is not None:
                raise InputError("give either targets or target_class, not both")
            if len(targets) != batch:
                raise InputError(f"got {len(targets)} targets for a batch of {batch} images")
        request = _Request(methods, variants, loss, head, eigen_smooth, return_raw)
        compute = self.plan(inputs.device)
        with memory_format(self.model, compute.channels_last):
            parts = [
                self._explain_chunk(
                    compute,
                    inputs[start : start + self.chunk_size],
                    request,
                    self._chunk_spec(target_class, start, batch),
                    self._chunk_spec(contrast_class, start, batch),
                    {k: self._chunk_target(t, start, batch) for k, t in custom.items()},
                    None if targets is None else targets[start : start + self.chunk_size],
                )
                for start in self._starts(batch, progress)
            ]
        return _concatenate(parts, return_raw)

    def plan(self, default: torch.device | str = "cpu") -> ComputePlan:
        """The precision and layout a call runs with on the model's device (``default``
        for a model without parameters); warns when a precision falls back to fp32."""
        device = _model_device(self.model, torch.device(default))
        return compute_plan(device, self.precision, self.channels_last)

    def _starts(self, batch: int, progress: bool) -> Iterator[int]:
        starts = range(0, batch, self.chunk_size)
        yield from tqdm(starts, desc="explain", unit="chunk", disable=not progress)

    def _chunk_spec(self, spec: ClassSpec, start: int, batch: int) -> ClassSpec:
        if isinstance(spec, int) or spec is None:
            return spec
        values = spec if isinstance(spec, Tensor) else torch.as_tensor(list(spec))
        if values.numel() == 1:
            return values
        if values.numel() != batch:
            raise InputError(f"got {values.numel()} class indices for a batch of {batch} images")
        return values.reshape(-1)[start : start + self.chunk_size]

    def _chunk_target(self, target: Tensor, start: int, batch: int) -> Tensor:
        if target.ndim == 2 and target.shape[0] == batch:
            return target[start : start + self.chunk_size]
        if target.ndim == 1:
            return target.unsqueeze(0)
        raise InputError(
            f"a contrast target must have shape (N,) or ({batch}, N), got {tuple(target.shape)}"
        )

    def _check_inputs(self, inputs: Tensor) -> None:
        if not isinstance(inputs, Tensor):
            raise InputError(f"inputs must be a torch.Tensor, got {type(inputs).__name__}")
        if inputs.ndim != 4:
            raise InputError(
                f"inputs must have shape (B, C, H, W), got {inputs.ndim}-D {tuple(inputs.shape)}"
            )
        if inputs.shape[0] == 0:
            raise InputError("inputs is an empty batch (B = 0)")
        if not inputs.is_floating_point():
            raise InputError(f"inputs must be a float tensor, got dtype {inputs.dtype}")
        if self._in_channels is not None and inputs.shape[1] != self._in_channels:
            raise InputError(
                f"inputs have {inputs.shape[1]} channels but the model's first convolution "
                f"expects {self._in_channels}"
            )
        if not bool(torch.isfinite(inputs).all()):
            raise InputError("inputs contain NaN or infinite values")

    def _target(self, example: Tensor) -> tuple[str, nn.Module]:
        if self._layer is None:
            name = layers.last_spatial_layer(self.model, example[:1])
            self._layer = layers.resolve_layer(self.model, name)
        return self._layer

    def _forward(self, inputs: Tensor, plan: ComputePlan) -> tuple[Tensor, Tensor, Tensor, str]:
        """One forward pass: raw outputs z, leaf L and activations A (B, K, h, w) at the
        target layer (after ``reshape_transform``); z and A as float32."""
        name, module = self._target(inputs)
        capture = layers.ActivationCapture(name, reshaped=self._reshape is not None)
        with ExitStack() as stack, torch.no_grad(), plan.autocast(), ExitStack() as head:
            if self.head_precision == "fp32" and _float32_model(self.model):
                cast = fp32_after(module, plan, head)
                if cast is not None:
                    stack.callback(cast.remove)
            stack.callback(module.register_forward_hook(capture).remove)
            output = self.model(inputs)
        logits = _widened(layers.extract_logits(output))
        leaf, activations = capture.results()
        activations = _widened(activations)
        if not logits.requires_grad:
            raise InputError(f"the model's output does not depend on target layer {name!r}")
        return logits, leaf, self._reshaped(activations, name), name

    def _reshaped(self, tensor: Tensor, name: str) -> Tensor:
        """``reshape_transform`` applied to activations (B, ...) or gradients (M, B, ...)."""
        if self._reshape is None:
            return tensor
        out = self._reshape(tensor)
        if not isinstance(out, Tensor) or out.ndim != 4:
            shape = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
            raise InputError(
                f"reshape_transform of target layer {name!r} must return (B, K, h, w), got {shape}"
            )
        return out

    def _classes(
        self, z: Tensor, request: _Request, target: ClassSpec, contrast: ClassSpec, targets: Any
    ) -> _Classes:
        """Head, P, Q and the grad-cam targets' scores of one chunk (docs/method.md)."""
        batch = z.shape[0]
        scores = None if targets is None else target_gradients(targets, z)
        wanted = _needs_classes(request.methods)
        kind = choose_head(request.head, z, None).kind
        labels = z.shape[1] if kind == MULTILABEL_HEAD else 2 if kind != SOFTMAX_HEAD else None
        p_given = _named_classes(scores, wanted, target, batch, labels or z.shape[1])
        label = None
        if kind == MULTILABEL_HEAD and p_given is not None:
            label = torch.where(p_given >= 0, p_given, z.detach().argmax(dim=1).cpu())
        head = choose_head(kind, z, label)
        y = head.class_logits(z.detach())
        if kind == MULTILABEL_HEAD:
            if contrast is not None:
                raise InputError(
                    'a multi-label explanation contrasts label P with "P off"; '
                    "contrast_class does not apply"
                )
            ones = torch.ones(batch, dtype=torch.long)
            p, q = choose_classes(y, ones, 1 - ones)
            reported = head.label if p_given is None else p_given
            assert reported is not None
            return _Classes(head, y, p, q, _score(scores), reported, torch.full_like(p, LABEL_OFF))
        n_classes = y.shape[1]
        q_given = class_indices(contrast, "contrast class", batch, n_classes)
        p_internal = None if p_given is None else p_given.clamp_min(0)
        if head.sigmoid and p_internal is not None and q_given is None:
            q_given = 1 - p_internal
        p, q = choose_classes(y, p_internal, q_given)
        if scores is not None and wanted:
            _check_binary_scores(head, scores, p)
        reported = p if p_given is None else p_given.to(p.device)
        return _Classes(head, y, p, q, _score(scores), reported, q)

    def _explain_chunk(
        self,
        compute: ComputePlan,
        inputs: Tensor,
        request: _Request,
        target_class: ClassSpec,
        contrast_class: ClassSpec,
        custom: dict[str, Tensor],
        targets: list[object] | None,
    ) -> Explanation:
        with layers.preserved_state(self.model), torch.inference_mode(False):
            x = compute.inputs(inputs)
            logits, leaf, activations, name = self._forward(x, compute)
            c = self._classes(logits, request, target_class, contrast_class, targets)
            plan = _make_plan(request.methods, request.variants, request.loss, custom, c.y.shape[1])
            keys = plan.keys()
            vectors = basis_vectors(keys, c.y, c.p, c.q, custom, c.head, c.score)
            unique, rows = unique_rows(vectors)
            grads = _widened(batched_vjp(logits, leaf, unique, name))
            grads = self._reshaped(grads.flatten(0, 1), name)
            grads = grads.unflatten(0, (unique.shape[0], -1))
            del leaf
            weights = _weights(plan, request.methods, keys, rows, grads, activations)
        with torch.no_grad():
            size = (inputs.shape[-2], inputs.shape[-1])
            raw, maps = _render(weights, activations, size, inputs.device, request.eigen_smooth)
        logits = logits.detach().to(inputs.device)
        return Explanation(
            logits=logits,
            predicted=c.head.predicted(logits),
            target=c.reported_p.to(inputs.device),
            contrast=c.reported_q.to(inputs.device),
            maps=maps,
            raw={k: r.to(inputs.device) for k, r in raw.items()} if request.return_raw else None,
            layer=name,
            weights=(
                {k: w.to(inputs.device) for k, w in weights.items()} if request.return_raw else None
            ),
        )


def _needs_classes(methods: tuple[str, ...]) -> bool:
    """Whether a map needs the explained class P itself (not only a score)."""
    return any(m not in (GRADCAM, GRADCAM_PP) for m in methods)


def _score(scores: TargetScores | None) -> Tensor | None:
    return None if scores is None else scores.gradients


def _named_classes(
    scores: TargetScores | None, wanted: bool, target: ClassSpec, batch: int, n_classes: int
) -> Tensor | None:
    """P per image from ``target_class`` or the targets' categories; a target naming no
    class is refused when a map needs P (contrast and causal maps)."""
    if scores is None:
        return class_indices(target, "target class", batch, n_classes)
    if scores.unnamed is not None:
        if wanted:
            raise InputError(
                f"target {scores.unnamed!r} names no class (no integer .category): contrast "
                "and causal maps need the explained class P; give target_class instead"
            )
        return scores.categories
    return class_indices(scores.categories, "target .category", batch, n_classes)


def _check_binary_scores(head: Head, scores: TargetScores, p: Tensor) -> None:
    """On a single-logit head a target naming class P must score ``+z`` for P = 1 and
    ``-z`` for P = 0 (``BinaryClassifierOutputTarget``); anything else is ambiguous."""
    if head.kind == SOFTMAX_HEAD or head.label is not None:
        return
    sign = torch.sign(scores.gradients[:, 0]).to(p.device)
    bad = sign != (2 * p - 1)
    if bool(bad.any()):
        index = int(bad.nonzero()[0, 0])
        raise InputError(
            f"target for image {index} names class {int(p[index])} of a single-logit (sigmoid) "
            "model but does not score it (class 1: +z, class 0: -z); use "
            "BinaryClassifierOutputTarget(class) or target_class"
        )


def _render(
    weights: dict[str, Tensor],
    activations: Tensor,
    size: tuple[int, int],
    device: torch.device,
    eigen_smooth: bool = False,
) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
    """Raw layer-resolution maps and normalised input-size maps (flat maps are zeros); a
    weight tensor shared by two names (``causal`` and its variant's name) is rendered once."""
    done: dict[int, tuple[Tensor, Tensor]] = {}
    magnitudes = activations.abs()
    for w in weights.values():
        if id(w) not in done:
            r = eigen_map(w, activations) if eigen_smooth else raw_map(w, activations)
            flat = flat_maps(r, w, activations, magnitudes)
            done[id(w)] = (r, to_input_size(r, size, flat).to(device))
    raw = {k: done[id(w)][0] for k, w in weights.items()}
    maps = {k: done[id(w)][1] for k, w in weights.items()}
    return raw, maps


def _weights(
    plan: _Plan,
    methods: tuple[str, ...],
    keys: list[str],
    rows: list[int],
    grads: Tensor,
    activations: Tensor,
) -> dict[str, Tensor]:
    """Channel weights (B, K) of every requested map, in the order of ``methods``;
    ``grads[rows[i]]`` is the gradient of basis vector ``keys[i]``."""
    with torch.no_grad():
        means = grads.mean(dim=(-2, -1))
        basis = {key: means[row] for key, row in zip(keys, rows, strict=True)}
        linear = {name: combine(c, basis) for name, c in plan.linear.items()}
        weights: dict[str, Tensor] = {}
        for method in methods:
            if method == GRADCAM_PP:
                weights[method] = gradcam_pp_weights(grads[rows[keys.index(SCORE)]], activations)
            elif method == CAUSAL:
                for variant in plan.causal:
                    contrast = {t: linear[_contrast_key(variant.loss, t)] for t in CAUSAL_TARGETS}
                    gradcam_term = linear[_gradcam_key(variant)]
                    weights[variant.name] = causal_weights(gradcam_term, contrast, variant)
                weights[CAUSAL] = weights[plan.causal[0].name]
            else:
                weights[method] = linear[method]
        for name in plan.linear:
            if name.startswith("contrast["):
                weights[name] = linear[name]
    return weights


def _widened(tensor: Tensor) -> Tensor:
    """bf16/fp16 tensors as float32 (map formulas run in fp32); others unchanged."""
    return tensor.float() if tensor.dtype in (torch.bfloat16, torch.float16) else tensor


def _float32_model(model: nn.Module) -> bool:
    """Whether the model's parameters are float32 (a head in fp32 needs fp32 weights)."""
    param = next(model.parameters(), None)
    return param is None or param.dtype == torch.float32


def _model_device(model: nn.Module, default: torch.device) -> torch.device:
    param = next(model.parameters(), None)
    return default if param is None else param.device


def _concatenate(parts: list[Explanation], return_raw: bool) -> Explanation:
    if len(parts) == 1:
        return parts[0]

    def cat(dicts: list[dict[str, Tensor]]) -> dict[str, Tensor]:
        return {k: torch.cat([d[k] for d in dicts]) for k in dicts[0]}

    return Explanation(
        logits=torch.cat([p.logits for p in parts]),
        predicted=torch.cat([p.predicted for p in parts]),
        target=torch.cat([p.target for p in parts]),
        contrast=torch.cat([p.contrast for p in parts]),
        maps=cat([p.maps for p in parts]),
        raw=cat([p.raw for p in parts if p.raw is not None]) if return_raw else None,
        layer=parts[0].layer,
        weights=cat([p.weights for p in parts if p.weights is not None]) if return_raw else None,
    )


def map_function(
    model: nn.Module,
    method: str = CAUSAL,
    target_layer: str | nn.Module | None = None,
    causal: CausalOptions | None = None,
    chunk_size: int = 64,
    *,
    precision: str = "fp32",
    channels_last: bool | None = None,
    **options: Any,
) -> MapFn:
    """A function ``inputs (B, C, H, W) -> maps (B, H, W) in [0, 1]`` of the predicted
    class for one method. ``method`` may name a causal variant (``causal[bce,l2,set]``);
    ``precision``/``channels_last`` as for :class:`Explainer`; other keyword ``options`` go
    to :meth:`Explainer.explain` (e.g. ``contrast_loss``). A precision resolving to bf16 or
    fp16 is part of the function's ``fingerprint`` (cached evaluation results keep apart)."""
    if method.startswith(f"{CAUSAL}["):
        causal, method = CausalOptions.parse(method), CAUSAL
    check_choice("method", method, KNOWN_METHODS)
    explainer = Explainer(
        model,
        target_layer=target_layer,
        chunk_size=chunk_size,
        precision=precision,
        channels_last=channels_last,
    )
    variant = causal or CausalOptions()

    def explain_maps(inputs: Tensor) -> Tensor:
        with explainer:
            result = explainer.explain(inputs, methods=(method,), causal=variant, **options)
        return result.maps[method]

    resolved = explainer.plan().precision if precision != "fp32" else "fp32"
    if resolved != "fp32":
        explain_maps.fingerprint = f"precision={resolved}"  # type: ignore[attr-defined]
    return explain_maps
