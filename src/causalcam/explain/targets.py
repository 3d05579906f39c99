"""Which class each map explains, and the logit-gradient vectors that produce it.

Every map's gradient at the target layer is linear in the vector ``g = dL/dz`` fed into
the logits, and for ``mse``/``bce`` ``g = g_0 - c t`` with ``g_0`` the gradient at
``t = 0`` (``mse_prob``: ``g = g_0 - c S t``, ``S`` the softmax Jacobian). So each map needs a
*combination* (basis key -> scalar coefficient) of a few basis vectors: ``e_P``, ``e_Q``,
``g0:<loss>``, ``softmax``, any user target ``t:<name>`` and ``S:<key>`` (``S`` times the
vector ``<key>``). Their number depends on the requested maps, never on the number of
classes ``N``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from ..errors import InputError
from .heads import Head
from .methods import (
    CAUSAL_TARGETS,
    loss_gradient_at_zero,
    loss_scale,
    softmax_jacobian_product,
)

Combination = dict[str, float]

E_P: Final = "e_P"
#: Grad-CAM's class score: ``e_P`` (softmax head), ``e_P - e_Q`` (sigmoid heads) or the
#: gradient of a grad-cam target; identical vectors share one VJP row.
SCORE: Final = "score"
E_Q: Final = "e_Q"
#: Finer-CAM's score: the gradient of :class:`FinerWeightedTarget` on the raw outputs.
FINER: Final = "finer"
SOFTMAX: Final = "softmax"
ClassSpec = int | Sequence[int] | Tensor | None


class ClassifierOutputTarget:
    """The logit of one class; like grad-cam's ``ClassifierOutputTarget``."""

    def __init__(self, category: int) -> None:
        self.category = int(category)

    def __call__(self, model_output: Tensor) -> Tensor:
        if model_output.ndim == 1:
            return model_output[self.category]
        return model_output[:, self.category]

    def __repr__(self) -> str:
        return f"ClassifierOutputTarget({self.category})"


class SemanticSegmentationTarget:
    """The summed logit of one class over a region of a dense output; grad-cam's
    ``SemanticSegmentationTarget(category, mask)``: ``sum_s mask(s) z_category(s)``.

    ``mask``: a numpy array or tensor (bool or float weights) with the spatial shape of one
    image's output, ``(H, W)`` for an output ``(N, H, W)`` (``(D, H, W)`` for volumes). Its
    ``category`` and ``mask`` also say which class and region the contrast and causal maps
    explain (docs/method.md, "Dense outputs")."""

    def __init__(self, category: int, mask: np.ndarray | Tensor) -> None:
        self.category = int(category)
        self.mask = torch.as_tensor(mask)

    def __call__(self, model_output: Tensor) -> Tensor:
        check_mask(self.mask, model_output, self)
        if not 0 <= self.category < model_output.shape[0]:
            raise InputError(
                f"{self!r}: category {self.category} is out of range for an output of "
                f"{model_output.shape[0]} classes"
            )
        weights = self.mask.to(device=model_output.device, dtype=model_output.dtype)
        return (model_output[self.category] * weights).sum()

    def __repr__(self) -> str:
        shape = tuple(self.mask.shape)
        return f"SemanticSegmentationTarget({self.category}, mask of shape {shape})"


def check_mask(mask: Tensor, output: Tensor, target: object) -> None:
    """An InputError naming the expected shape unless ``mask`` has the spatial shape of one
    image's dense ``output`` (N, *spatial)."""
    if output.ndim < 2:
        raise InputError(
            f"{target!r} needs a dense output, one (N, H, W) map of class scores per image; "
            f"the model returned {tuple(output.shape)} per image"
        )
    spatial = tuple(output.shape[1:])
    if tuple(mask.shape) != spatial:
        raise InputError(
            f"{target!r}: the mask has shape {tuple(mask.shape)}, but the model's output for "
            f"one image is {tuple(output.shape)}, so the mask must have shape {spatial}"
        )


class FinerWeightedTarget:
    """Finer-CAM's score, like grad-cam's ``FinerWeightedTarget``: the softmax-weighted mean
    of ``z_main - alpha z_j`` over the comparison classes ``j``."""

    def __init__(self, main_category: int, comparison_categories: Sequence[int], alpha: float):
        self.main_category = int(main_category)
        self.comparison_categories = [int(c) for c in comparison_categories]
        self.alpha = alpha

    def __call__(self, model_output: Tensor) -> Tensor:
        prob = torch.softmax(model_output, dim=-1)
        main = model_output[..., self.main_category]
        weights = [prob[..., j] for j in self.comparison_categories]
        terms = [
            w * (main - self.alpha * model_output[..., j])
            for w, j in zip(weights, self.comparison_categories, strict=True)
        ]
        return sum(terms, torch.zeros_like(main)) / (sum(weights, torch.zeros_like(main)) + 1e-9)

    def __repr__(self) -> str:
        return (
            f"FinerWeightedTarget({self.main_category}, {self.comparison_categories}, {self.alpha})"
        )


@dataclass(frozen=True)
class FinerOptions:
    """Finer-CAM's settings (grad-cam's ``FinerCAM`` call): ``alpha`` the comparison strength,
    ``comparison_categories`` the positions, in the order of closeness to the explained
    class's logit, of the classes it is compared with (position 0 is the class itself)."""

    alpha: float = 1.0
    comparison_categories: tuple[int, ...] = (1, 2, 3)


def finer_targets(z: Tensor, p: Tensor, options: FinerOptions) -> list[FinerWeightedTarget]:
    """grad-cam's Finer-CAM targets: the classes sorted by ``|z_j - z_P|`` (numpy's sort, as
    grad-cam's), compared with those at ``options.comparison_categories``."""
    outputs = z.detach().cpu().numpy()
    n_classes = outputs.shape[-1]
    if n_classes < 2:
        raise InputError("finercam compares classes: it needs a model with at least 2 outputs")
    positions = [c for c in options.comparison_categories if c < n_classes]
    explained = outputs[np.arange(len(outputs)), p.cpu().numpy()]
    order = np.argsort(np.abs(outputs - explained[:, None]), axis=-1)
    return [
        FinerWeightedTarget(int(row[0]), [int(row[c]) for c in positions], options.alpha)
        for row in order
    ]


#: ``Explanation.target`` of an image whose grad-cam target names no class.
UNNAMED: Final = -1


@dataclass(frozen=True)
class TargetScores:
    """What grad-cam style targets ask for: ``gradients`` (B, N) of each image's score
    ``target_b(z_b)`` with respect to its raw outputs ``z_b``; ``categories`` (B,) the class
    each target names (``UNNAMED`` where it names none); ``unnamed`` the first such target."""

    gradients: Tensor
    categories: Tensor
    unnamed: object | None


def target_category(target: object) -> int | None:
    """A target's integer ``.category`` (int, numpy integer or one-element tensor), or None."""
    category = getattr(target, "category", None)
    if isinstance(category, Tensor) and category.numel() == 1 and not category.is_floating_point():
        return int(category.item())
    if isinstance(category, bool) or not isinstance(category, int | np.integer):
        return None
    return int(category)


def target_gradients(targets: Sequence[object], outputs: Tensor) -> TargetScores:
    """Evaluate each target on its image's raw outputs (a 1-D tensor, as grad-cam does; a
    dense output's (N, *spatial) map for segmentation networks) and
    differentiate the per-image scalar with respect to them: exact for any differentiable
    target, linear or not. A target that is not callable, returns no scalar or does not
    depend on the outputs raises an InputError naming it."""
    if len(targets) != outputs.shape[0]:
        raise InputError(f"got {len(targets)} targets for a batch of {outputs.shape[0]} images")
    rows = []
    with torch.enable_grad():
        for target, row in zip(targets, outputs.detach(), strict=True):
            leaf = row.clone().requires_grad_()
            if not callable(target):
                raise InputError(f"target {target!r} is not callable (target(model_output))")
            try:
                value = target(leaf)
            except InputError:
                raise
            except Exception as error:
                raise InputError(
                    f"target {target!r} failed on one image's outputs of shape "
                    f"{tuple(row.shape)}: {error}"
                ) from error
            if not isinstance(value, Tensor) or value.numel() != 1:
                shape = tuple(value.shape) if isinstance(value, Tensor) else type(value).__name__
                raise InputError(
                    f"target {target!r} returned {shape} for one image's outputs of shape "
                    f"{tuple(row.shape)}; Grad-CAM needs one scalar score per image"
                )
            (grad,) = torch.autograd.grad(value.sum(), leaf, allow_unused=True)
            if grad is None:
                raise InputError(f"target {target!r} does not depend on the model's outputs")
            rows.append(grad)
    named = [target_category(t) for t in targets]
    unnamed = next((t for t, c in zip(targets, named, strict=True) if c is None), None)
    categories = torch.tensor([UNNAMED if c is None else c for c in named], dtype=torch.long)
    return TargetScores(torch.stack(rows), categories, unnamed)


def class_indices(spec: ClassSpec, what: str, batch: int, n_classes: int) -> Tensor | None:
    """Validate a per-image class argument (int, sequence or (B,) tensor) -> long (B,) CPU."""
    if spec is None:
        return None
    if isinstance(spec, Tensor):
        if spec.is_floating_point() or spec.is_complex():
            raise InputError(f"{what} must hold integer class indices, got dtype {spec.dtype}")
        values = spec.detach().to("cpu", torch.long).reshape(-1)
    elif isinstance(spec, int):
        values = torch.tensor([spec])
    else:
        values = torch.tensor([int(v) for v in spec], dtype=torch.long)
    if values.numel() == 1:
        values = values.expand(batch)
    if values.numel() != batch:
        raise InputError(f"{what} has {values.numel()} entries for a batch of {batch} images")
    bad = (values < 0) | (values >= n_classes)
    if bool(bad.any()):
        raise InputError(
            f"{what} {int(values[bad][0])} is out of range for a model with {n_classes} classes"
        )
    return values.clone()


def choose_classes(
    logits: Tensor, target: Tensor | None, contrast: Tensor | None
) -> tuple[Tensor, Tensor]:
    """Explained class P (target, else argmax) and contrast class Q (given, else the
    runner-up logit among the classes other than P); Q == P is an InputError."""
    device = logits.device
    p = logits.argmax(dim=1) if target is None else target.to(device)
    if contrast is None:
        masked = logits.detach().clone()
        masked.scatter_(1, p.unsqueeze(1), float("-inf"))
        q = masked.argmax(dim=1)
    else:
        q = contrast.to(device)
        clash = q == p
        if bool(clash.any()):
            index = int(clash.nonzero()[0, 0])
            raise InputError(
                f"contrast class equals the explained class ({int(p[index])}) for image {index}"
            )
    return p, q


def loss_combination(loss: str, n_classes: int, target: Mapping[str, float]) -> Combination:
    """``dL/dz`` at ``t = sum_key coefficient * key`` as ``g_0 - c t`` (``g_0 - c S t`` for
    ``mse_prob``, whose loss is taken on the probabilities)."""
    c = loss_scale(loss, n_classes)
    prefix = "S:" if loss == "mse_prob" else ""
    combination = {f"g0:{loss}": 1.0}
    for key, coefficient in target.items():
        if coefficient:
            combination[prefix + key] = -c * coefficient
    return combination


def contrast_combination(target: str, loss: str, n_classes: int) -> Combination:
    """``dL/dz`` at a causal target ``t = alpha e_P + beta e_Q``."""
    alpha, beta = CAUSAL_TARGETS[target]
    return loss_combination(loss, n_classes, {E_P: alpha, E_Q: beta})


def custom_combination(name: str, loss: str, n_classes: int) -> Combination:
    """``dL/dz`` for a user target vector registered as ``t:<name>``."""
    return loss_combination(loss, n_classes, {f"t:{name}": 1.0})


#: ICIP 2020 "why P, rather than Q?": cross-entropy with class Q, ``softmax(z) - e_Q``.
CE_COMBINATION: Final[Mapping[str, float]] = {SOFTMAX: 1.0, E_Q: -1.0}

#: Grad-CAM's weight through the loss: minus the cross-entropy gradient of class P,
#: ``e_P - softmax(z)`` (``CausalOptions(gradcam_term="ce")``).
GRADCAM_CE_COMBINATION: Final[Mapping[str, float]] = {E_P: 1.0, SOFTMAX: -1.0}


def basis_vectors(
    keys: Sequence[str],
    logits: Tensor,
    p: Tensor,
    q: Tensor,
    custom: Mapping[str, Tensor],
    head: Head,
    given: Mapping[str, Tensor] | None = None,
) -> Tensor:
    """Stack the basis vectors named by ``keys`` into ``V`` of shape (M, B, N) on the raw
    outputs: class-space vectors (``logits`` (B, C) are the head's class logits) lifted by
    the head; ``given`` raw-space vectors by key (``SCORE``: the gradient of grad-cam
    targets, ``FINER``: of Finer-CAM's targets) are used as they are."""
    z = logits.detach()
    n = z.shape[1]

    def vector(key: str) -> Tensor:
        if key.startswith("S:"):
            return softmax_jacobian_product(z, vector(key[2:]))
        if key == SCORE:
            return head.score(p, q, n, z)
        if key == E_P:
            return F.one_hot(p, n).to(z.dtype)
        if key == E_Q:
            return F.one_hot(q, n).to(z.dtype)
        if key == SOFTMAX:
            return torch.softmax(z, dim=1)
        if key.startswith("g0:"):
            return loss_gradient_at_zero(key[3:], z)
        target = custom[key[2:]]
        if target.shape[-1] != n:
            raise InputError(
                f"contrast target {key[2:]!r} has {target.shape[-1]} entries for {n} classes"
            )
        return target.to(device=z.device, dtype=z.dtype).expand_as(z)

    rows = []
    for key in keys:
        if given is not None and key in given:
            rows.append(given[key].to(device=z.device, dtype=z.dtype))
        else:
            rows.append(head.lift(vector(key)[None])[0])
    return torch.stack(rows)


def unique_rows(vectors: Tensor) -> tuple[Tensor, list[int]]:
    """Drop repeated rows of ``V`` (M, B, N): ``(unique rows, index of each row in them)``,
    so a score equal to ``e_P`` costs no extra VJP vector. Rows equal up to rounding (a few
    units in the last place of each image's largest entry: a softmax target's autograd gradient and
    the engine's ``S e_P``) count as one."""
    kept: list[Tensor] = []
    index = []
    ulps = 4 * torch.finfo(vectors.dtype).eps if vectors.is_floating_point() else 0.0

    def same(a: Tensor, b: Tensor) -> bool:
        scale = torch.maximum(a.abs().amax(dim=-1), b.abs().amax(dim=-1))
        return bool(((a - b).abs().amax(dim=-1) <= ulps * scale).all())

    for row in vectors:
        found = next((i for i, k in enumerate(kept) if same(k, row)), None)
        if found is None:
            kept.append(row)
            found = len(kept) - 1
        index.append(found)
    return torch.stack(kept), index


def combine(combination: Mapping[str, float], basis: Mapping[str, Tensor]) -> Tensor:
    """``sum_key coefficient * basis[key]`` (any shape); a single key with coefficient 1 is
    ``basis[key]`` itself."""
    if len(combination) == 1:
        ((key, coefficient),) = combination.items()
        if coefficient == 1.0:
            return basis[key]
    terms = [basis[key] * coefficient for key, coefficient in combination.items()]
    total = terms[0]
    for term in terms[1:]:
        total = total + term
    return total
