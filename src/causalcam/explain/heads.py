"""Classifier heads: how a model's raw outputs become the class logits every map reads.

A *head* turns the raw output ``z`` (B, N) into class logits ``y`` (B, C) and back
(docs/method-heads.md, "Heads"):

- ``softmax``: N >= 2 mutually exclusive classes, ``y = z``; P and Q are class indices.
- ``binary``: one sigmoid logit (N = 1), read as the two logits ``y = [0, z]``
  (``softmax(y)[1] = sigmoid(z)``); P in {0, 1}, Q = 1 - P.
- ``multilabel``: N independent sigmoid labels; label ``l`` is the binary problem
  ``y = [0, z_l]`` with P = "l on" (1) and Q = "l off" (0).

Grad-CAM's class score is ``y_P`` for ``softmax`` and the margin ``y_P - y_Q`` (``+-z``,
grad-cam's ``BinaryClassifierOutputTarget``) for the two sigmoid heads. Vectors in class
space map back to raw outputs with :meth:`Head.lift`, so the VJP runs from ``z``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import torch
import torch.nn.functional as F
from torch import Tensor

from ..errors import InputError
from .methods import check_choice

SOFTMAX_HEAD: Final = "softmax"
BINARY_HEAD: Final = "binary"
MULTILABEL_HEAD: Final = "multilabel"
#: ``auto``: ``binary`` for one output logit, else ``softmax``.
HEADS: Final[tuple[str, ...]] = ("auto", SOFTMAX_HEAD, BINARY_HEAD, MULTILABEL_HEAD)
#: ``Explanation.contrast`` of a multi-label explanation: Q is "label P off", not a label.
LABEL_OFF: Final = -1


def resolve_head(head: str, n_outputs: int) -> str:
    """The head for a model with ``n_outputs`` logits; impossible pairs are InputErrors."""
    check_choice("head", head, HEADS)
    if head == "auto":
        return BINARY_HEAD if n_outputs == 1 else SOFTMAX_HEAD
    if head == BINARY_HEAD and n_outputs != 1:
        raise InputError(
            f'head="binary" needs one output logit, the model has {n_outputs}; use '
            '"softmax" or "multilabel"'
        )
    if head == SOFTMAX_HEAD and n_outputs < 2:
        raise InputError(
            'head="softmax" needs N >= 2 class logits, the model has 1; a single logit is '
            'a sigmoid: use head="binary" (or "auto")'
        )
    return head


@dataclass(frozen=True)
class Head:
    """A resolved head with the chosen label (``multilabel``: the explained label l)."""

    kind: str
    n_outputs: int
    label: Tensor | None = None

    @property
    def sigmoid(self) -> bool:
        """Binary or multi-label: every class pair is one logit against zero."""
        return self.kind != SOFTMAX_HEAD

    def class_logits(self, z: Tensor) -> Tensor:
        """``y`` (B, C) from the raw outputs ``z`` (B, N)."""
        if self.kind == SOFTMAX_HEAD:
            return z
        column = z if self.label is None else z.gather(1, self.label[:, None].to(z.device))
        return torch.cat([torch.zeros_like(column), column], dim=1)

    def lift(self, vectors: Tensor) -> Tensor:
        """Class-space vectors (..., B, C) to raw-output vectors (..., B, N): ``H^T v``."""
        if self.kind == SOFTMAX_HEAD:
            return vectors
        second = vectors[..., 1:]
        if self.label is None:
            return second
        shape = (*([1] * (vectors.ndim - 2)), -1, 1)
        index = self.label.to(vectors.device).view(shape).expand_as(second)
        lifted = vectors.new_zeros(*vectors.shape[:-1], self.n_outputs)
        return lifted.scatter(-1, index, second)

    def score(self, p: Tensor, q: Tensor, n_classes: int, like: Tensor) -> Tensor:
        """Grad-CAM's class-score vector in class space: ``e_P``, or ``e_P - e_Q``."""
        vector = F.one_hot(p, n_classes).to(like.dtype)
        return vector - F.one_hot(q, n_classes).to(like.dtype) if self.sigmoid else vector

    def predicted(self, z: Tensor) -> Tensor:
        """Predicted class (softmax, binary: ``z > 0``) or top label (multilabel) (B,)."""
        if self.kind == BINARY_HEAD:
            return (z[:, 0] > 0).long()
        return z.argmax(dim=1)


def choose_head(kind: str, z: Tensor, label: Tensor | None) -> Head:
    """A :class:`Head` for raw outputs ``z``; ``multilabel`` explains ``label`` per image
    (default: the top-scoring label)."""
    kind = resolve_head(kind, z.shape[1])
    if kind != MULTILABEL_HEAD:
        return Head(kind, z.shape[1])
    chosen = z.detach().argmax(dim=1) if label is None else label.to(z.device)
    return Head(kind, z.shape[1], chosen)
