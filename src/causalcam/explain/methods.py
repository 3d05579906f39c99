"""Method names, causal-map options and the formulas of ``docs/method.md``.

Everything here works on tensors that already exist: channel gradients ``a`` (B, K),
gradient tensors ``G`` (B, K, *S) and activations ``A`` (B, K, *S), ``S`` the layer's
spatial axes: (h, w) for images, (d, h, w) for volumes; "sum_hw" and "mean_hw" below run
over all of them. How they are obtained (one forward pass, one batched vector-Jacobian
product) is ``engine.py``'s job.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

import numpy as np
import torch
import torch.nn.functional as F
from threadpoolctl import ThreadpoolController
from torch import Tensor

from ..errors import InputError
from ..method_names import (
    CAUSAL,
    CONTRAST_NONE,
    CONTRAST_P,
    CONTRAST_PQ,
    DEFAULT_CAUSAL,
    GRADCAM_TERMS,
    LITERAL_CAUSAL,
    causal_variant_name,
)

#: The causal targets, in class-index order: name -> (coefficient of e_P, of e_Q).
CAUSAL_TARGETS: Final[Mapping[str, tuple[float, float]]] = MappingProxyType(
    {CONTRAST_PQ: (1.0, 1.0), CONTRAST_NONE: (0.0, 0.0), CONTRAST_P: (1.0, 0.0)}
)

#: ``mse``: MSE on the logits (the paper's literal ``L(y, t)``); ``bce``: BCE with logits;
#: ``mse_prob``: MSE on the softmax probabilities (a further reading: the "confidence" the
#: paper speaks of is a probability).
CAUSAL_LOSSES: Final[tuple[str, ...]] = ("mse", "bce", "mse_prob")
NORMALIZATIONS: Final[tuple[str, ...]] = ("none", "l1", "l2", "maxabs")
SIGNS: Final[tuple[str, ...]] = ("literal", "set")

#: Grad-CAM++ denominator guard, as in grad-cam 1.5.7 (``grad_cam_plusplus.py``).
GRADCAM_PP_EPS: Final = 1e-6

#: Interpolation of maps with 1, 2 or 3 spatial axes (``F.interpolate`` modes).
LINEAR_MODES: Final[Mapping[int, str]] = MappingProxyType(
    {1: "linear", 2: "bilinear", 3: "trilinear"}
)


def spatial_axes(tensor: Tensor, first: int = 2) -> tuple[int, ...]:
    """The axes of ``tensor`` from ``first`` on: its spatial axes (h, w) or (d, h, w) when
    the axes before ``first`` are batch and channel (and basis row)."""
    return tuple(range(first, tensor.ndim))


def per_map(values: Tensor, maps: Tensor) -> Tensor:
    """``values`` (B,) shaped to broadcast over a batch of maps (B, *S)."""
    return values.view(-1, *(1,) * (maps.ndim - 1))


def check_choice(what: str, value: object, allowed: tuple[str, ...]) -> str:
    """Return ``value`` if it is one of ``allowed``, else raise an InputError listing them."""
    if not isinstance(value, str) or value not in allowed:
        raise InputError(f"unknown {what} {value!r}; allowed: {', '.join(allowed)}")
    return value


@dataclass(frozen=True)
class CausalOptions:
    """One variant of the causal map (docs/method.md, "The causal map").

    ``loss``: the contrast loss (``mse``, ``bce`` or ``mse_prob``); ``normalize``: the
    normalisation ``n`` of contrast weights (``none``, ``l1``, ``l2``, ``maxabs``); ``sign``:
    ``literal`` (``w = -(a_G - n(a_PQ) + n(a_none) + n(a_P^t))``) or ``set``
    (``w = a_G + n(a_PQ) - n(a_none) - n(a_P^t)``); ``gradcam_term``: ``a_G`` is Grad-CAM's
    ``a_P`` (``logit``) or ``J^T (e_P - softmax(z))`` (``ce``).
    """

    loss: str = DEFAULT_CAUSAL["loss"]
    normalize: str = DEFAULT_CAUSAL["normalize"]
    sign: str = DEFAULT_CAUSAL["sign"]
    gradcam_term: str = "logit"

    def __post_init__(self) -> None:
        check_choice("causal loss", self.loss, CAUSAL_LOSSES)
        check_choice("causal normalisation", self.normalize, NORMALIZATIONS)
        check_choice("causal sign", self.sign, SIGNS)
        check_choice("causal Grad-CAM term", self.gradcam_term, GRADCAM_TERMS)

    @property
    def name(self) -> str:
        """The key of this variant's map, e.g. ``causal[mse,none,literal]``; a Grad-CAM term
        other than ``logit`` is a fourth part: ``causal[bce,none,set,ce]``."""
        return causal_variant_name(self.loss, self.normalize, self.sign, self.gradcam_term)

    def to_dict(self) -> dict[str, str]:
        """The options by field name (``loss``, ``normalize``, ``sign``, ``gradcam_term``)."""
        return dataclasses.asdict(self)

    @classmethod
    def parse(cls, name: str) -> CausalOptions:
        """Inverse of :attr:`name`; plain ``"causal"`` gives the default variant."""
        if name == CAUSAL:
            return cls()
        prefix, suffix = f"{CAUSAL}[", "]"
        parts = [p.strip() for p in name[len(prefix) : -len(suffix)].split(",")]
        if not (name.startswith(prefix) and name.endswith(suffix)) or len(parts) not in (3, 4):
            raise InputError(f"cannot read causal variant {name!r}; expected e.g. {cls().name!r}")
        term = parts[3] if len(parts) == 4 else GRADCAM_TERMS[0]
        return cls(loss=parts[0], normalize=parts[1], sign=parts[2], gradcam_term=term)

    @classmethod
    def literal(cls) -> CausalOptions:
        """The paper's literal reading (MSE on logits, no normalisation, Eq. 4's signs)."""
        return cls(**LITERAL_CAUSAL)

    @classmethod
    def grid_variants(cls) -> tuple[CausalOptions, ...]:
        """The grid of docs/method.md: loss (mse, bce) x normalisation x sign (16)."""
        return tuple(
            cls(loss, norm, sign)
            for loss in ("mse", "bce")
            for norm in NORMALIZATIONS
            for sign in SIGNS
        )

    @classmethod
    def further_variants(cls) -> tuple[CausalOptions, ...]:
        """Further readings of the paper (6): the loss on probabilities (``mse_prob`` x none,
        l2 x both signs) and Grad-CAM's term from the cross-entropy loss (on the literal
        reading and on ``bce, none, set``, the best single-network reading of the grid)."""
        on_probabilities = [
            cls("mse_prob", norm, sign) for norm in ("none", "l2") for sign in SIGNS
        ]
        through_loss = [
            dataclasses.replace(v, gradcam_term="ce")
            for v in (cls.literal(), cls("bce", "none", "set"))
        ]
        return (*on_probabilities, *through_loss)

    @classmethod
    def ablation_variants(cls) -> tuple[CausalOptions, ...]:
        """Every variant the ablation measures: :meth:`grid_variants` then
        :meth:`further_variants` (22 in all)."""
        return (*cls.grid_variants(), *cls.further_variants())


@dataclass(frozen=True)
class MethodRequest:
    """Method names as callers write them, read into one ``Explainer.explain`` call.

    ``causal`` names the default variant and ``causal[loss,normalize,sign]`` another; the
    call asks for ``methods`` with the causal ``variants`` (None: the default), and
    ``keys[name]`` is the key of the name's maps in the result.
    """

    methods: tuple[str, ...]
    variants: tuple[CausalOptions, ...] | None
    keys: Mapping[str, str]

    @classmethod
    def parse(cls, names: Sequence[str]) -> MethodRequest:
        """The call for ``names`` (duplicates asked once)."""
        parsed = {m: CausalOptions.parse(m) for m in names if m.startswith(CAUSAL)}
        others = tuple(dict.fromkeys(m for m in names if m not in parsed))
        keys = {m: parsed[m].name if m in parsed else m for m in names}
        return cls(
            methods=(*others, CAUSAL) if parsed else others,
            variants=tuple(dict.fromkeys(parsed.values())) or None,
            keys=MappingProxyType(keys),
        )


def loss_scale(loss: str, n_classes: int) -> float:
    """The factor ``c`` in ``dL/dz = g_0 - c t`` (``mse_prob``: ``dL/dz = c S (p - t)``):
    ``2/N`` for mean MSE (on logits or probabilities), ``1/N`` for mean BCE."""
    return {"mse": 2.0, "bce": 1.0, "mse_prob": 2.0}[loss] / n_classes


def loss_gradient_at_zero(loss: str, logits: Tensor) -> Tensor:
    """``g_0 = dL/dz`` at target ``t = 0``: ``(2/N) z`` (mse), ``(1/N) sigmoid(z)`` (bce),
    ``(2/N) S p`` (mse_prob; ``p = softmax(z)``, ``S = diag(p) - p p^T``)."""
    n = logits.shape[-1]
    if loss == "mse":
        return logits * loss_scale(loss, n)
    if loss == "mse_prob":
        return softmax_jacobian_product(logits, torch.softmax(logits, dim=-1)) * loss_scale(loss, n)
    return torch.sigmoid(logits) * loss_scale(loss, n)


def softmax_jacobian_product(logits: Tensor, vectors: Tensor) -> Tensor:
    """``S v`` with ``S = diag(p) - p p^T`` the (symmetric) Jacobian of ``p = softmax(z)``,
    for each row: ``p * v - p (p . v)``."""
    p = torch.softmax(logits, dim=-1)
    pv = p * vectors
    return pv - p * pv.sum(dim=-1, keepdim=True)


def normalise(weights: Tensor, how: str) -> Tensor:
    """The normalisation ``n`` of a channel-weight vector (B, K): divide by its l1, l2 or
    max-abs norm (``none``: unchanged). A zero vector stays zero."""
    if how == "none":
        return weights
    if how == "l1":
        norm = weights.abs().sum(dim=-1, keepdim=True)
    elif how == "l2":
        norm = weights.norm(dim=-1, keepdim=True)
    else:
        norm = weights.abs().amax(dim=-1, keepdim=True)
    return weights / norm.clamp_min(torch.finfo(weights.dtype).tiny)


def causal_weights(
    gradcam: Tensor, contrast: Mapping[str, Tensor], options: CausalOptions
) -> Tensor:
    """Causal channel weights (paper Eq. 3-4) from Grad-CAM's ``a_P`` and the contrast
    weights of the three causal targets::

        literal: w = -(a_P - n(a_PQ) + n(a_none) + n(a_P^t))
        set:     w =   a_P + n(a_PQ) - n(a_none) - n(a_P^t)
    """
    pq, none, p = (normalise(contrast[k], options.normalize) for k in CAUSAL_TARGETS)
    if options.sign == "literal":
        return -(gradcam - pq + none + p)
    return gradcam + pq - none - p


def gradcam_pp_weights(grads: Tensor, activations: Tensor) -> Tensor:
    """Grad-CAM++ channel weights (Chattopadhyay et al. Eq. 19, as in grad-cam 1.5.7)::

    alpha = g^2 / (2 g^2 + sum_hw(A) g^3 + eps)   (0 where g == 0)
    w[k]  = sum_hw alpha * ReLU(g)
    """
    g2 = grads * grads
    g3 = g2 * grads
    axes = spatial_axes(activations)
    sum_a = activations.sum(dim=axes, keepdim=True)
    alpha = g2 / (2 * g2 + sum_a * g3 + GRADCAM_PP_EPS)
    alpha = torch.where(grads != 0, alpha, torch.zeros_like(alpha))
    return (grads.clamp_min(0) * alpha).sum(dim=axes)


def raw_map(weights: Tensor, activations: Tensor) -> Tensor:
    """``ReLU(sum_k w[k] A[k])`` at layer resolution: (B, K) x (B, K, *S) -> (B, *S)."""
    return torch.einsum("bk,bk...->b...", weights, activations).clamp_min(0)


@functools.cache
def _blas() -> ThreadpoolController:
    """The process's thread pools, found once (finding them reads every loaded library)."""
    return ThreadpoolController()


def eigen_map(terms: Tensor) -> Tensor:
    """grad-cam's ``get_2d_projection``: ``ReLU`` of the projection of the centred terms
    ``T[k]`` (rows: pixels; NaN read as 0) on their first right singular vector, per image.
    The SVD runs in numpy in the terms' dtype (LAPACK's ``gesdd``) on grad-cam's layout and
    the projection is rounded to float32, as grad-cam's is, so the arbitrary sign of the
    singular vector is the one grad-cam picks. grad-cam asks for the full ``V`` (K x K); the
    reduced one has the same first row and costs a fifth at ResNet-18's ``layer4``. The BLAS
    runs on one thread: for matrices this small its threads cost up to a hundred times the
    work on a busy CPU. ``terms`` may stack the terms of several maps along the batch axis:
    each image's SVD is its own."""
    batch = terms.detach().cpu().contiguous().numpy()  # grad-cam's layout: the sign follows it
    batch = np.where(np.isnan(batch), 0, batch)
    projections = []
    with _blas().limit(limits=1, user_api="blas"):  # small SVDs: threads only cost here
        for image in batch:
            rows = image.reshape(image.shape[0], -1).transpose()
            centred = rows - rows.mean(axis=0)
            _, _, vt = np.linalg.svd(centred, full_matrices=False)
            projections.append(centred @ vt[0, :])
    maps = torch.from_numpy(np.stack(projections).astype(np.float32))
    return maps.view(terms.shape[0], *terms.shape[2:]).to(terms).clamp_min(0)


def flat_maps(
    raw: Tensor, weights: Tensor, activations: Tensor, magnitudes: Tensor | None = None
) -> Tensor:
    """Which raw maps (B,) are constant up to the rounding error of their own weighted sum.

    A map whose span ``max - min`` is at most ``sqrt(K) eps max_hw sum_k |w[k] A[k]|`` (``eps``
    the dtype's machine epsilon, ``K`` channels) carries no spatial information that
    arithmetic can resolve: min-max stretching would turn rounding noise into a map. The
    bound scales with ``w`` and ``A``, so a real map scaled by 1e-12 is still a map (unlike
    grad-cam's ``/ (max + 1e-7)``, which flattens every map below ~1e-7). ``magnitudes``:
    ``activations.abs()`` when already computed.
    """
    absolute = activations.abs() if magnitudes is None else magnitudes
    magnitude = torch.einsum("bk,bk...->b...", weights.abs(), absolute).flatten(1)
    eps = torch.finfo(raw.dtype).eps
    tolerance = magnitude.amax(dim=1) * eps * math.sqrt(max(weights.shape[-1], 1))
    flat = raw.flatten(1)
    return flat.amax(dim=1) - flat.amin(dim=1) <= tolerance


def minmax(maps: Tensor, flat: Tensor | None = None) -> Tensor:
    """Min-max normalise each map of a (B, *S) batch (S: (h, w) or (d, h, w)) to [0, 1]; a
    constant map, or one marked in ``flat`` (B,) bool, becomes all zeros (never NaN, never
    stretched noise)."""
    low, high = torch.aminmax(maps.flatten(1), dim=1)
    span = high - low
    keep = span > 0
    if flat is not None:
        keep = keep & ~flat.view(-1)
    # (m - low) / span as a product with the per-map reciprocal, in place (0: all zeros)
    scale = torch.where(keep, 1 / span.clamp_min(torch.finfo(maps.dtype).tiny), 0.0)
    return (maps - per_map(low, maps)).mul_(per_map(scale, maps)).clamp_(0, 1)


def upsample(maps: Tensor, size: tuple[int, ...]) -> Tensor:
    """Linear resize (``align_corners=False``) of (B, *S) maps to ``size``: bilinear for
    (B, h, w) maps, trilinear for (B, d, h, w) volumes."""
    mode = LINEAR_MODES[len(size)]
    up = F.interpolate(maps.unsqueeze(1), size=size, mode=mode, align_corners=False)
    return up.squeeze(1)


def to_input_size(raw: Tensor, size: tuple[int, ...], flat: Tensor | None = None) -> Tensor:
    """Min-max normalise raw (B, *S) maps, upsample them to ``size`` and normalise again
    (grad-cam's order: normalising first keeps float32 resizing exact to ~1e-7 where a map
    varies little around a large level); maps marked in ``flat`` (see :func:`flat_maps`)
    become zeros."""
    return minmax(upsample(minmax(raw, flat), size), flat)
