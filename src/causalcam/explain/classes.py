"""Which classes one chunk explains: the head, P and Q, and the grad-cam targets' scores
(docs/method.md, "Targets" and "Heads")."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from ..errors import InputError
from .dense import DENSE_TARGETS_HINT, DenseOutput, dense_vectors, refused_head, region_weights
from .heads import LABEL_OFF, MULTILABEL_HEAD, SOFTMAX_HEAD, Head, choose_head, resolve_head
from .targets import (
    UNNAMED,
    ClassSpec,
    TargetScores,
    basis_vectors,
    choose_classes,
    class_indices,
    target_gradients,
)


@dataclass(frozen=True)
class Classes:
    """One chunk's head, class logits ``y`` (B, C), P and Q in class space, the grad-cam
    targets' score gradients (or None), what ``Explanation`` reports as P and Q and, for a
    dense output, the output and its region (``y``: the class logits summed over the
    region)."""

    head: Head
    y: Tensor
    p: Tensor
    q: Tensor
    score: Tensor | None
    reported_p: Tensor
    reported_q: Tensor
    dense: DenseOutput | None = None

    def vectors(
        self, keys: Sequence[str], custom: Mapping[str, Tensor], given: Mapping[str, Tensor]
    ) -> Tensor:
        """The basis vectors named by ``keys`` on the raw outputs: (M, B, N), or
        (M, B, N, *spatial) for a dense output (``targets.basis_vectors``,
        ``dense.dense_vectors``)."""
        if self.dense is None:
            return basis_vectors(keys, self.y, self.p, self.q, custom, self.head, given)
        return dense_vectors(keys, self.dense, (self.p, self.q), custom, given)


def explained_classes(
    z: Tensor,
    head_kind: str,
    needs_class: bool,
    target: ClassSpec,
    contrast: ClassSpec,
    targets: Sequence[object] | None,
) -> Classes:
    """Head, P, Q and the grad-cam targets' scores of raw outputs ``z`` (B, N);
    ``needs_class``: a requested map needs P itself (contrast and causal maps)."""
    if z.ndim > 2:
        return _dense_classes(z, head_kind, needs_class, contrast, targets)
    batch = z.shape[0]
    scores = None if targets is None else target_gradients(targets, z)
    kind = choose_head(head_kind, z, None).kind
    labels = z.shape[1] if kind == MULTILABEL_HEAD else 2 if kind != SOFTMAX_HEAD else None
    p_given = _named_classes(scores, needs_class, target, batch, labels or z.shape[1])
    label = None
    if kind == MULTILABEL_HEAD and p_given is not None:
        label = torch.where(p_given >= 0, p_given, z.detach().argmax(dim=1).cpu())
    head = choose_head(kind, z, label)
    y = head.class_logits(z.detach())
    score = None if scores is None else scores.gradients
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
        return Classes(head, y, p, q, score, reported, torch.full_like(p, LABEL_OFF))
    n_classes = y.shape[1]
    q_given = class_indices(contrast, "contrast class", batch, n_classes)
    p_internal = None if p_given is None else p_given.clamp_min(0)
    if head.sigmoid and p_internal is not None and q_given is None:
        q_given = 1 - p_internal
    p, q = choose_classes(y, p_internal, q_given)
    if scores is not None and needs_class:
        _check_binary_scores(head, scores, p)
    reported = p if p_given is None else p_given.to(p.device)
    return Classes(head, y, p, q, score, reported, q)


def _dense_classes(
    z: Tensor,
    head_kind: str,
    needs_class: bool,
    contrast: ClassSpec,
    targets: Sequence[object] | None,
) -> Classes:
    """A dense output's targets' scores and, when the targets name a region (P and a mask),
    P, Q (the runner-up of the logits summed over the region, or ``contrast``) and the
    region; contrast and causal maps (``needs_class``) refuse targets that name none."""
    if targets is None:
        raise InputError(
            f"the model's output is dense, {tuple(z.shape)} (B, N, *spatial): {DENSE_TARGETS_HINT}"
        )
    batch, n_classes = z.shape[:2]
    head = Head(resolve_head(head_kind, n_classes), n_classes)
    if needs_class and head.kind != SOFTMAX_HEAD:
        raise InputError(refused_head(head.kind, n_classes))
    region = region_weights(targets, z.detach(), needs_class)
    scores = target_gradients(targets, z)
    dense = DenseOutput(z.detach(), region, head.kind)
    if region is None:
        unnamed = torch.full((batch,), UNNAMED, dtype=torch.long, device=z.device)
        y = z.detach().flatten(2).sum(-1)
        p = scores.categories.to(z.device)
        return Classes(head, y, p, unnamed, scores.gradients, p, unnamed, dense)
    named = _named_classes(scores, True, None, batch, n_classes)
    assert named is not None
    y = dense.region_logits()
    q_given = class_indices(contrast, "contrast class", batch, n_classes)
    p, q = choose_classes(y, named, q_given)
    return Classes(head, y, p, q, scores.gradients, p, q, dense)


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
