"""The method table: every explanation method as one entry (docs/engine.md, "Methods").

An entry (:class:`Method`) names the method, says what it needs from the pass (the linear
gradients: combinations of the basis vectors of the one batched VJP, ``targets.py``) and
holds the function that turns the pass into the method's map terms, its formula in the
function's docstring. Adding a method is adding an entry here and its name in
``causalcam.method_names``.

Notation of the formulas: ``A`` the activations (B, K, h, w) at the target layer, ``G`` the
gradient of the explained score with respect to them, ``a = mean_hw G`` its channel means,
sums over ``k`` (channels) and ``hw`` (pixels; for a volume (B, K, d, h, w), ``hw`` stands
for every voxel: the formulas are per channel and hold unchanged). A method gives either
channel weights ``w`` (map ``ReLU(sum_k w_k A_k)``) or per-pixel terms ``T`` (map
``ReLU(sum_k T_k)``), or terms to project (map ``ReLU(T v_1)``, ``v_1`` their first
principal direction).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Final

import torch
from torch import Tensor

from ..errors import InputError
from ..method_names import (
    CAUSAL,
    CONTRAST_CE,
    EIGENCAM,
    EIGENGRADCAM,
    FINERCAM,
    GRADCAM,
    GRADCAM_ELEMENTWISE,
    GRADCAM_PP,
    HIRESCAM,
    LAYERCAM,
    METHOD_NAMES,
    RANDOMCAM,
    SCORECAM,
    XGRADCAM,
)
from .methods import (
    CAUSAL_TARGETS,
    CausalOptions,
    causal_weights,
    gradcam_pp_weights,
    spatial_axes,
)
from .targets import (
    CE_COMBINATION,
    FINER,
    GRADCAM_CE_COMBINATION,
    SCORE,
    Combination,
    combine,
    contrast_combination,
)

#: XGrad-CAM's guard against a zero activation sum, as in grad-cam 1.5.7.
XGRADCAM_EPS: Final = 1e-7


@dataclass(frozen=True)
class Needs:
    """What an entry's ``needs`` reads: the causal variants, the contrast maps' loss and
    the number of classes of the head."""

    variants: tuple[CausalOptions, ...]
    loss: str
    n_classes: int


@dataclass(frozen=True)
class MapTerms:
    """A method's map before rendering: channel ``weights`` (B, K) or per-pixel ``terms``
    (B, K, *S); ``projected``: the map is the first principal component of the terms
    whatever ``eigen_smooth`` says (Eigen-CAM)."""

    weights: Tensor | None = None
    terms: Tensor | None = None
    projected: bool = False

    def summands(self, activations: Tensor) -> Tensor:
        """The terms ``T`` (B, K, *S) whose channel sum is the map (``w_k A_k`` for weights)."""
        if self.terms is not None:
            return self.terms
        assert self.weights is not None
        return self.weights.view(*self.weights.shape, *(1,) * (activations.ndim - 2)) * activations


@dataclass
class Pass:
    """What one chunk's forward pass and batched VJP give the methods: ``activations`` A;
    ``grads`` (M, B, K, *S) the gradients of the unique basis vectors, ``rows[key]`` the
    row of each basis key; ``linear`` name -> combination of basis keys (the entries'
    needs); ``needs`` the call's settings; ``first_image`` the index of the chunk's first
    image in the call and ``seed`` (Random CAM); ``masked_scores`` (Score-CAM) the class
    scores of the inputs masked by each channel, (B, K)."""

    activations: Tensor
    grads: Tensor | None
    rows: Mapping[str, int]
    linear: Mapping[str, Combination]
    needs: Needs
    first_image: int = 0
    seed: int = 0
    masked_scores: Callable[[], Tensor] | None = None
    _means: dict[str, Tensor] = field(default_factory=dict)
    _tensors: dict[str, Tensor] = field(default_factory=dict)
    _products: dict[str, Tensor] = field(default_factory=dict)
    _mean_basis: dict[str, Tensor] | None = None

    def _basis(self, mean: bool) -> dict[str, Tensor]:
        assert self.grads is not None
        rows = self.grads.mean(dim=spatial_axes(self.grads, 3)) if mean else self.grads
        return {key: rows[row] for key, row in self.rows.items()}

    def channel(self, name: str) -> Tensor:
        """The channel means ``a`` (B, K) of linear gradient ``name``."""
        if name not in self._means:
            if self._mean_basis is None:
                self._mean_basis = self._basis(True)
            self._means[name] = combine(self.linear[name], self._mean_basis)
        return self._means[name]

    def gradient(self, name: str) -> Tensor:
        """The gradient tensor ``G`` (B, K, *S) of linear gradient ``name``."""
        if name not in self._tensors:
            self._tensors[name] = combine(self.linear[name], self._basis(False))
        return self._tensors[name]

    def product(self, name: str) -> Tensor:
        """``G * A`` (B, K, *S) of linear gradient ``name``, computed once for every method
        that reads it."""
        if name not in self._products:
            self._products[name] = self.gradient(name) * self.activations
        return self._products[name]


NeedsFn = Callable[[Needs], dict[str, Combination]]
MapFn = Callable[[Pass], dict[str, MapTerms]]


def _no_needs(_needs: Needs) -> dict[str, Combination]:
    return {}


def _score_needs(_needs: Needs) -> dict[str, Combination]:
    return {GRADCAM: {SCORE: 1.0}}


@dataclass(frozen=True)
class Method:
    """One entry of the method table: ``name`` (a ``causalcam.method_names`` name),
    ``needs`` (the linear gradients it reads, by name), ``compute`` (pass -> map terms by
    output name; its docstring is the formula), ``needs_class``: the map needs the explained
    class P itself (refuses grad-cam targets that name none), ``forwards``: it runs further
    forward passes (Score-CAM)."""

    name: str
    compute: MapFn
    needs: NeedsFn = _score_needs
    needs_class: bool = False
    forwards: bool = False

    @property
    def formula(self) -> str:
        """The method's formula (its function's docstring)."""
        return self.compute.__doc__ or ""


def gradcam(data: Pass) -> dict[str, MapTerms]:
    """Grad-CAM (Selvaraju et al. 2017): ``w_k = mean_hw G_k``."""
    return {GRADCAM: MapTerms(weights=data.channel(GRADCAM))}


def gradcam_pp(data: Pass) -> dict[str, MapTerms]:
    """Grad-CAM++ (Chattopadhyay et al. 2018, Eq. 19, as grad-cam 1.5.7)::

    alpha = G^2 / (2 G^2 + sum_hw(A) G^3 + 1e-6)   (0 where G == 0)
    w_k   = sum_hw alpha_k ReLU(G_k)
    """
    weights = gradcam_pp_weights(data.gradient(GRADCAM), data.activations)
    return {GRADCAM_PP: MapTerms(weights=weights)}


def _contrast(target: str) -> tuple[NeedsFn, MapFn]:
    def needs(settings: Needs) -> dict[str, Combination]:
        return {target: contrast_combination(target, settings.loss, settings.n_classes)}

    def compute(data: Pass) -> dict[str, MapTerms]:
        return {target: MapTerms(weights=data.channel(target))}

    alpha, beta = CAUSAL_TARGETS[target]
    compute.__doc__ = (
        f"Contrast map (Prabhushankar et al. 2020) of target t = {alpha:g} e_P + {beta:g} e_Q: "
        "``w_k = mean_hw dL(z, t)/dA_k`` with the call's contrast loss L."
    )
    return needs, compute


def _contrast_key(loss: str, target: str) -> str:
    return f"{target}[{loss}]"


def _gradcam_key(variant: CausalOptions) -> str:
    """The linear gradient holding the Grad-CAM term ``a_G`` of a causal variant."""
    return GRADCAM if variant.gradcam_term == "logit" else f"{GRADCAM}[{variant.gradcam_term}]"


def _causal_needs(settings: Needs) -> dict[str, Combination]:
    linear: dict[str, Combination] = {GRADCAM: {SCORE: 1.0}}
    if any(v.gradcam_term == "ce" for v in settings.variants):
        linear[f"{GRADCAM}[ce]"] = dict(GRADCAM_CE_COMBINATION)
    for loss in dict.fromkeys(v.loss for v in settings.variants):
        for target in CAUSAL_TARGETS:
            linear[_contrast_key(loss, target)] = contrast_combination(
                target, loss, settings.n_classes
            )
    return linear


def causal(data: Pass) -> dict[str, MapTerms]:
    """The causal map (paper Eq. 3-4) of each variant, ``n`` its normalisation::

    literal: w = -(a_G - n(a_PQ) + n(a_none) + n(a_P^t))
    set:     w =   a_G + n(a_PQ) - n(a_none) - n(a_P^t)

    keyed by the variant's name; plain ``causal`` is the first variant.
    """
    out: dict[str, MapTerms] = {}
    for variant in data.needs.variants:
        contrast = {t: data.channel(_contrast_key(variant.loss, t)) for t in CAUSAL_TARGETS}
        weights = causal_weights(data.channel(_gradcam_key(variant)), contrast, variant)
        out[variant.name] = MapTerms(weights=weights)
    out[CAUSAL] = out[data.needs.variants[0].name]
    return out


def _contrast_ce_needs(_needs: Needs) -> dict[str, Combination]:
    return {CONTRAST_CE: dict(CE_COMBINATION)}


def contrast_ce(data: Pass) -> dict[str, MapTerms]:
    """ICIP 2020's "why P, rather than Q?": ``w_k = mean_hw dCE(z, Q)/dA_k``, the gradient
    of ``softmax(z) - e_Q``."""
    return {CONTRAST_CE: MapTerms(weights=data.channel(CONTRAST_CE))}


def hirescam(data: Pass) -> dict[str, MapTerms]:
    """HiResCAM (Draelos & Carin 2020): ``T_k = G_k * A_k`` (the gradient kept per pixel)."""
    return {HIRESCAM: MapTerms(terms=data.product(GRADCAM))}


def gradcam_elementwise(data: Pass) -> dict[str, MapTerms]:
    """Grad-CAM element-wise (grad-cam's ``GradCAMElementWise``): ``T_k = ReLU(G_k * A_k)``."""
    return {GRADCAM_ELEMENTWISE: MapTerms(terms=data.product(GRADCAM).clamp_min(0))}


def xgradcam(data: Pass) -> dict[str, MapTerms]:
    """XGrad-CAM (Fu et al. 2020): ``w_k = sum_hw G_k A_k / (sum_hw A_k + 1e-7)``."""
    a = data.activations
    axes = spatial_axes(a)
    total = a.sum(dim=axes, keepdim=True)
    weights = (data.product(GRADCAM) / (total + XGRADCAM_EPS)).sum(dim=axes)
    return {XGRADCAM: MapTerms(weights=weights)}


def layercam(data: Pass) -> dict[str, MapTerms]:
    """LayerCAM (Jiang et al. 2021): ``T_k = ReLU(G_k) * A_k``."""
    return {LAYERCAM: MapTerms(terms=data.gradient(GRADCAM).clamp_min(0) * data.activations)}


def eigencam(data: Pass) -> dict[str, MapTerms]:
    """Eigen-CAM (Muhammad & Yeasin 2020): ``ReLU`` of the activations' first principal
    component, ``T = A`` projected (no gradient; the sign is LAPACK's, as grad-cam's)."""
    return {EIGENCAM: MapTerms(terms=data.activations, projected=True)}


def eigengradcam(data: Pass) -> dict[str, MapTerms]:
    """EigenGrad-CAM (grad-cam's ``EigenGradCAM``): ``T = G * A`` projected on its first
    principal component."""
    return {EIGENGRADCAM: MapTerms(terms=data.product(GRADCAM), projected=True)}


def _finer_needs(_needs: Needs) -> dict[str, Combination]:
    return {FINERCAM: {FINER: 1.0}}


def finercam(data: Pass) -> dict[str, MapTerms]:
    """Finer-CAM (Zhang et al. 2025, grad-cam's ``FinerCAM`` over Grad-CAM): Grad-CAM of the
    score ``sum_j p_j (z_P - alpha z_j) / (sum_j p_j + 1e-9)`` over the comparison classes
    ``j`` (the classes whose logits are closest to ``z_P``, ``p = softmax(z)``); with
    grad-cam targets, Grad-CAM of those: ``w_k = mean_hw G_k``."""
    return {FINERCAM: MapTerms(weights=data.channel(FINERCAM))}


def randomcam(data: Pass) -> dict[str, MapTerms]:
    """Random CAM (grad-cam's ``RandomCAM``, the baseline): ``w_k ~ U(-1, 1)``, drawn per image
    from a generator seeded with the call's ``seed`` and the image's index in the call."""
    batch, channels = data.activations.shape[:2]
    rows = []
    for index in range(data.first_image, data.first_image + batch):
        generator = torch.Generator().manual_seed(data.seed * 1_000_003 + index)
        rows.append(torch.rand(channels, generator=generator, dtype=torch.float64) * 2 - 1)
    weights = torch.stack(rows).to(data.activations)
    return {RANDOMCAM: MapTerms(weights=weights)}


def scorecam(data: Pass) -> dict[str, MapTerms]:
    """Score-CAM (Wang et al. 2020, as grad-cam 1.5.7): ``w = softmax_k(s_k)``, ``s_k`` the
    explained score of the input masked by channel k's activation map, upsampled bilinearly
    (``align_corners=True``) to the input and min-max scaled to [0, 1] (``/ (max - min +
    1e-8)``). Costs one forward pass per channel and image (512 for ResNet-18's
    ``layer4``), batched ``chunk_size`` at a time."""
    if data.masked_scores is None:
        raise InputError("Score-CAM needs the masked forward passes")
    weights = torch.softmax(data.masked_scores(), dim=-1).to(data.activations)
    return {SCORECAM: MapTerms(weights=weights)}


def _table() -> dict[str, Method]:
    contrasts = {
        target: Method(target, compute, needs, needs_class=True)
        for target, (needs, compute) in ((t, _contrast(t)) for t in CAUSAL_TARGETS)
    }
    entries = [
        Method(GRADCAM, gradcam),
        Method(GRADCAM_PP, gradcam_pp),
        *contrasts.values(),
        Method(CAUSAL, causal, _causal_needs, needs_class=True),
        Method(CONTRAST_CE, contrast_ce, _contrast_ce_needs, needs_class=True),
        Method(HIRESCAM, hirescam),
        Method(GRADCAM_ELEMENTWISE, gradcam_elementwise),
        Method(XGRADCAM, xgradcam),
        Method(LAYERCAM, layercam),
        Method(EIGENCAM, eigencam, _no_needs),
        Method(EIGENGRADCAM, eigengradcam),
        Method(FINERCAM, finercam, _finer_needs),
        Method(RANDOMCAM, randomcam, _no_needs),
        Method(SCORECAM, scorecam, _no_needs, forwards=True),
    ]
    table = {entry.name: entry for entry in entries}
    assert tuple(table) == METHOD_NAMES, "the method table and METHOD_NAMES disagree"
    return table


#: Every method by name, in the order of ``METHOD_NAMES``.
METHODS: Final[Mapping[str, Method]] = _table()


def linear_needs(methods: tuple[str, ...], settings: Needs) -> dict[str, Combination]:
    """The linear gradients the requested methods read, by name (shared names merge)."""
    linear: dict[str, Combination] = {}
    for name in methods:
        linear.update(METHODS[name].needs(settings))
    return linear


def basis_keys(linear: Mapping[str, Combination]) -> list[str]:
    """The basis vectors the linear gradients need, in a fixed order."""
    keys: list[str] = []
    for combination in linear.values():
        keys.extend(k for k in combination if k not in keys)
    return keys


def compute_terms(methods: tuple[str, ...], data: Pass) -> dict[str, MapTerms]:
    """Every requested method's map terms by output name, in the order of ``methods``,
    then the user's contrast targets (``contrast[name]``)."""
    with torch.no_grad():
        out: dict[str, MapTerms] = {}
        for name in methods:
            out.update(METHODS[name].compute(data))
        for name in data.linear:
            if name.startswith("contrast["):
                out[name] = MapTerms(weights=data.channel(name))
    return out
