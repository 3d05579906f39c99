"""The explainer: every map of docs/method.md from one forward pass and one batched VJP.

Images (B, C, H, W) and volumes (B, C, D, H, W) take the same path: every formula runs
over the target layer's spatial axes, whatever their number (``methods.py``).

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
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import torch
from torch import Tensor, nn
from tqdm import tqdm

from ..errors import InputError
from ..method_names import CAUSAL, METHOD_NAMES, PAPER_MAPS
from ..models.architectures import known_reshape
from ..precision import (
    ComputePlan,
    compute_plan,
    convert_channels_last,
    fp32_after,
    memory_format,
)
from . import layers
from .classes import Classes, explained_classes
from .folding import FoldCache
from .method_table import METHODS, Needs, Pass, basis_keys, compute_terms, linear_needs
from .methods import CAUSAL_LOSSES, CausalOptions, check_choice
from .render import render
from .score_cam import linear_score, masked_scores, target_score
from .targets import (
    FINER,
    SCORE,
    ClassSpec,
    FinerOptions,
    basis_vectors,
    custom_combination,
    finer_targets,
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
    ``maps`` name -> (B, H, W) in [0, 1] at input size ((B, D, H, W) for volumes); ``raw``
    name -> (B, h, w) (or (B, d, h, w)) at layer resolution before normalisation and
    ``weights`` name -> channel weights (B, K) of the methods that weigh channels (both
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


def _as_variants(causal: CausalOptions | Sequence[CausalOptions]) -> tuple[CausalOptions, ...]:
    variants = (causal,) if isinstance(causal, CausalOptions) else tuple(causal)
    if not variants or not all(isinstance(v, CausalOptions) for v in variants):
        raise InputError("causal must be a CausalOptions or a non-empty sequence of them")
    return variants


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
    finer: FinerOptions
    seed: int


@dataclass(frozen=True)
class _Chunk:
    """One chunk's share of a call: its first image's index, P, Q, user contrast targets
    and grad-cam targets."""

    start: int
    target: ClassSpec
    contrast: ClassSpec
    custom: dict[str, Tensor]
    targets: list[object] | None


class Explainer:
    """Explanation maps of a classifier at one target layer (docs/method.md).

    ``target_layer``: a dotted module name, a submodule, or None for automatic (ResNet
    ``layer4``, DenseNet ``features.norm5``, the last block of a torchvision or timm ViT or
    Swin, else the last module with an output of the input's rank, found by a dry run on the
    first call). ``reshape_transform``: grad-cam's function turning the layer's output (and,
    the same way, its gradient) into (B, K, h, w) (volumes: (B, K, d, h, w)), e.g. ViT
    tokens to a grid; None uses the known
    one for ViT/Swin layers. Usable as a context manager; every call registers its hook
    only for its own forward pass and restores the model's train/eval flags,
    ``requires_grad`` flags and the grad mode exactly, also on error.

    ``precision``: ``fp32`` (default), ``bf16``, ``fp16`` (CUDA) or ``auto`` for the forward
    pass (``causalcam.precision``; unsupported requests fall back to fp32 with a warning);
    ``channels_last``: channels-last memory (None: the device's default, on for CPU and
    CUDA); ``head_precision``: ``fp32`` (default: the layers after the target layer and the
    VJP in fp32) or ``forward`` (in the forward pass's precision); ``fold_batchnorm``:
    explain with a copy of the model whose batch norms are folded into the preceding
    convolutions (``folding.py``; the model itself is never changed; off by default: the
    copy and its dry runs cost more than they save on small calls).
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
        fold_batchnorm: bool = False,
    ) -> None:
        if not isinstance(model, nn.Module):
            raise InputError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        if not isinstance(chunk_size, int) or chunk_size < 1:
            raise InputError(f"chunk_size must be a positive integer, got {chunk_size!r}")
        if reshape_transform is not None and not callable(reshape_transform):
            raise InputError("reshape_transform must be a function tensor -> (B, K, h, w)")
        self.model = model
        self.fold_batchnorm = fold_batchnorm
        self._folded = FoldCache()
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
        self._first_conv = layers.first_convolution(model)

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
    def explained_model(self) -> nn.Module:
        """The model calls explain with: the model itself, or the copy with its batch norms
        folded (``fold_batchnorm``) of the last call."""
        folded = self._folded.model
        return folded if self.fold_batchnorm and folded is not None else self.model

    @property
    def layer_name(self) -> str | None:
        """The target layer's dotted name (None until an automatic choice is made)."""
        return None if self._layer is None else self._layer[0]

    def explain(
        self,
        inputs: Tensor,
        methods: Sequence[str] = PAPER_MAPS,
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
        finer: FinerOptions | None = None,
        seed: int = 0,
        progress: bool = False,
    ) -> Explanation:
        """Maps for a batch ``inputs`` (B, C, H, W) of normalised images, or (B, C, D, H, W)
        of volumes for a network of 3-D convolutions (maps (B, D, H, W), resized
        trilinearly).

        ``methods``: names from ``METHOD_NAMES`` (default: the paper's six maps,
        ``PAPER_MAPS``; each is an entry of ``method_table.METHODS``);
        ``target_class``/``contrast_class``: P and Q per image (int, sequence or (B,)
        tensor; default argmax and runner-up);
        ``causal``: one variant or a sequence (maps keyed by ``variant.name``, plain
        ``"causal"`` = the first; default ``CausalOptions()``); ``contrast_loss``: loss of
        the ``contrast_*`` maps (``mse``/``bce``/``mse_prob``, default the first causal
        variant's); ``contrast_targets``: extra contrast maps ``contrast[name]`` for user
        target vectors t, (N,) or (B, N); ``targets``: grad-cam style targets, one callable
        ``target(outputs_b) -> scalar`` per image, instead of ``target_class``; ``head``:
        ``auto``, ``softmax``, ``binary`` or ``multilabel`` (docs/method.md);
        ``eigen_smooth``: grad-cam's first-principal-component maps; ``finer``: Finer-CAM's
        ``alpha`` and comparison classes; ``seed``: Random CAM's weights.
        Score-CAM (``scorecam``) costs one forward pass per channel of the target layer
        and image, ``chunk_size`` masked inputs at a time (``score_cam.py``).
        Results are on ``inputs``' device; batches are processed ``chunk_size`` at a time.
        """
        self._check_inputs(inputs)
        methods = tuple(dict.fromkeys(check_choice("method", m, METHOD_NAMES) for m in methods))
        variants = _as_variants(CausalOptions() if causal is None else causal)
        loss = check_choice("contrast loss", contrast_loss or variants[0].loss, CAUSAL_LOSSES)
        custom = dict(contrast_targets or {})
        if not methods and not custom:
            raise InputError(f"no maps requested: name methods from {', '.join(METHOD_NAMES)}")
        batch = inputs.shape[0]
        if targets is not None:
            targets = list(targets)
            if target_class is not None:
                raise InputError("give either targets or target_class, not both")
            if len(targets) != batch:
                raise InputError(f"got {len(targets)} targets for a batch of {batch} images")
        finer = finer or FinerOptions()
        request = _Request(methods, variants, loss, head, eigen_smooth, return_raw, finer, seed)
        compute = self.plan(inputs.device)
        model = self._explained_model(compute, inputs)
        with memory_format(model, compute.channels_last):
            parts = [
                self._explain_chunk(
                    model,
                    compute,
                    inputs[start : start + self.chunk_size],
                    request,
                    _Chunk(
                        start,
                        self._chunk_spec(target_class, start, batch),
                        self._chunk_spec(contrast_class, start, batch),
                        {k: self._chunk_target(t, start, batch) for k, t in custom.items()},
                        None if targets is None else targets[start : start + self.chunk_size],
                    ),
                )
                for start in self._starts(batch, progress)
            ]
        return _concatenate(parts, return_raw)

    def _explained_model(self, compute: ComputePlan, inputs: Tensor) -> nn.Module:
        """The model itself, or its copy with batch norms folded (``fold_batchnorm``)."""
        example = compute.inputs(inputs[:2])
        name, _ = self._target(example)
        if not self.fold_batchnorm:
            return self.model
        folded = self._folded.get(self.model, example, name)
        if folded is not self.model and compute.channels_last:
            convert_channels_last(folded)  # our copy: converted once, kept
        return folded

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
        layers.check_input_shape(self._first_conv, inputs)
        if inputs.shape[0] == 0:
            raise InputError("inputs is an empty batch (B = 0)")
        if not inputs.is_floating_point():
            raise InputError(f"inputs must be a float tensor, got dtype {inputs.dtype}")
        if not bool(torch.isfinite(inputs).all()):
            raise InputError("inputs contain NaN or infinite values")

    def _target(self, example: Tensor) -> tuple[str, nn.Module]:
        if self._layer is None:
            name = layers.last_spatial_layer(self.model, example[:1])
            self._layer = layers.resolve_layer(self.model, name)
        return self._layer

    def _forward(
        self, model: nn.Module, inputs: Tensor, plan: ComputePlan
    ) -> tuple[Tensor, Tensor, Tensor, str]:
        """One forward pass: raw outputs z, leaf L and activations A (B, K, *S) at the
        target layer (after ``reshape_transform``); z and A as float32."""
        name, _ = self._target(inputs)
        module = model.get_submodule(name)
        reshaped = self._reshape is not None
        capture = layers.ActivationCapture(name, reshaped=reshaped, rank=inputs.ndim)
        with ExitStack() as stack, torch.no_grad(), plan.autocast(), ExitStack() as after_layer:
            if self.head_precision == "fp32" and _float32_model(model):
                cast = fp32_after(module, plan, after_layer)
                if cast is not None:
                    stack.callback(cast.remove)
            stack.callback(module.register_forward_hook(capture).remove)
            output = model(inputs)
        logits = _widened(layers.extract_logits(output))
        leaf, activations = capture.results()
        activations = _widened(activations)
        if not logits.requires_grad:
            raise InputError(f"the model's output does not depend on target layer {name!r}")
        return logits, leaf, self._reshaped(activations, name, inputs.ndim), name

    def _reshaped(self, tensor: Tensor, name: str, rank: int) -> Tensor:
        """``reshape_transform`` applied to activations (B, ...) or gradients (M, B, ...);
        its result must have the inputs' ``rank``."""
        if self._reshape is None:
            return tensor
        out = self._reshape(tensor)
        if not isinstance(out, Tensor) or out.ndim != rank:
            shape = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
            raise InputError(
                f"reshape_transform of target layer {name!r} must return "
                f"{layers.LAYER_SHAPES[rank]}, got {shape}"
            )
        return out

    def _explain_chunk(
        self,
        model: nn.Module,
        compute: ComputePlan,
        inputs: Tensor,
        request: _Request,
        chunk: _Chunk,
    ) -> Explanation:
        with layers.preserved_state(model), torch.inference_mode(False):
            x = compute.inputs(inputs)
            logits, leaf, activations, name = self._forward(model, x, compute)
            needs_class = any(METHODS[m].needs_class for m in request.methods)
            c = explained_classes(
                logits, request.head, needs_class, chunk.target, chunk.contrast, chunk.targets
            )
            settings = Needs(request.variants, request.loss, c.y.shape[1])
            linear = linear_needs(request.methods, settings)
            linear.update(
                {
                    f"contrast[{k}]": custom_combination(k, request.loss, c.y.shape[1])
                    for k in chunk.custom
                }
            )
            keys = basis_keys(linear)
            given = {} if c.score is None else {SCORE: c.score}
            if FINER in keys:
                given[FINER] = self._finer_score(logits, c.p, chunk.targets, request.finer)
            grads, rows = None, {}
            if keys:
                vectors = basis_vectors(keys, c.y, c.p, c.q, chunk.custom, c.head, given)
                unique, index = unique_rows(vectors)
                grads = _widened(batched_vjp(logits, leaf, unique, name))
                grads = self._reshaped(grads.flatten(0, 1), name, inputs.ndim)
                grads = grads.unflatten(0, (unique.shape[0], -1))
                rows = dict(zip(keys, index, strict=True))
            del leaf
            data = Pass(activations, grads, rows, linear, settings, chunk.start, request.seed)
            if any(METHODS[m].forwards for m in request.methods):
                data.masked_scores = self._masked_scores(model, compute, x, activations, c, chunk)
            terms = compute_terms(request.methods, data)
        size = tuple(inputs.shape[2:])
        raw, maps = render(terms, activations, size, inputs.device, request.eigen_smooth)
        logits = logits.detach().to(inputs.device)
        weights = {
            k: t.weights.to(inputs.device) for k, t in terms.items() if t.weights is not None
        }
        return Explanation(
            logits=logits,
            predicted=c.head.predicted(logits),
            target=c.reported_p.to(inputs.device),
            contrast=c.reported_q.to(inputs.device),
            maps=maps,
            raw={k: r.to(inputs.device) for k, r in raw.items()} if request.return_raw else None,
            layer=name,
            weights=weights if request.return_raw else None,
        )

    def _finer_score(
        self, z: Tensor, p: Tensor, targets: list[object] | None, options: FinerOptions
    ) -> Tensor:
        """Finer-CAM's score gradient: of the given targets, else of grad-cam's Finer-CAM
        targets built from the logits (``targets.finer_targets``)."""
        chosen = targets if targets is not None else finer_targets(z, p, options)
        return target_gradients(chosen, z).gradients

    def _masked_scores(
        self,
        model: nn.Module,
        compute: ComputePlan,
        x: Tensor,
        activations: Tensor,
        c: Classes,
        chunk: _Chunk,
    ) -> Callable[[], Tensor]:
        """Score-CAM's masked forward passes (``score_cam.py``), run when asked for."""
        if chunk.targets is not None:
            score = target_score(chunk.targets)
        else:
            vectors = basis_vectors([SCORE], c.y, c.p, c.q, {}, c.head)[0]
            score = linear_score(vectors)

        def forward(batch: Tensor) -> Tensor:
            with torch.no_grad(), compute.autocast():
                return layers.extract_logits(model(compute.inputs(batch)))

        return lambda: masked_scores(forward, x, activations, score, self.chunk_size)


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
    class for one method (volumes: (B, C, D, H, W) -> (B, D, H, W)). ``method`` may name a
    causal variant (``causal[bce,l2,set]``); ``precision``/``channels_last`` as for
    :class:`Explainer`; other keyword ``options`` go to :meth:`Explainer.explain` (e.g.
    ``contrast_loss``). A precision resolving to bf16 or fp16 is part of the function's
    ``fingerprint`` (cached evaluation results keep apart)."""
    if method.startswith(f"{CAUSAL}["):
        causal, method = CausalOptions.parse(method), CAUSAL
    check_choice("method", method, METHOD_NAMES)
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
