"""torchcam's Average Drop and Increase in Confidence (Chattopadhyay et al. 2018, the
Grad-CAM++ paper), as ``torchcam.metrics.ClassificationMetric`` computes them.

With ``p_c(x)`` the score of the explained class ``c`` (the softmax probability by default,
torchcam's ``logits_fn=partial(torch.softmax, dim=-1)``) and ``E(x)`` the map at input size:

    drop(x)     = max(0, p_c(x) - p_c(E(x) * x)) / (p_c(x) + 1e-7)
    increase(x) = 1[p_c(x) < p_c(E(x) * x)]

averaged over the images. These are *relative* changes of a probability, unlike grad-cam's
``DropInConfidence`` / ``IncreaseInConfidence`` (absolute change of the target's score, a
logit by default), hence the names ``RelativeConfidenceChange``, ``average_drop`` and
``increase_in_confidence``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import numpy as np
import torch
from torch import Tensor, nn

from ..errors import InputError
from ..explain.methods import check_choice
from ..network import eval_mode
from ..results.metrics import RelativeConfidenceResult
from .checks import check_inputs, check_maps, model_outputs

#: What the class score is: ``softmax`` probabilities (the metric's definition) or raw ``logits``.
SCORES: Final[tuple[str, ...]] = ("softmax", "logits")
#: torchcam's guard in the denominator.
DROP_EPS: Final = 1e-7


class RelativeConfidenceChange:
    """Average Drop and Increase in Confidence of maps (torchcam's ``ClassificationMetric``).

    Settings: ``scores`` (``softmax`` or ``logits``), ``batch_size``. Call with the inputs
    (B, C, H, W), the maps (B, H, W), the explained classes (None: the predicted ones) and
    the model; returns a :class:`~causalcam.results.metrics.RelativeConfidenceResult`.
    """

    def __init__(self, scores: str = "softmax", batch_size: int = 64) -> None:
        self.scores = check_choice("score", scores, SCORES)
        self.batch_size = batch_size

    def __call__(
        self,
        input_tensor: Tensor,
        cams: np.ndarray | Tensor,
        classes: Sequence[int] | Tensor | None,
        model: nn.Module,
        method: str = "",
    ) -> RelativeConfidenceResult:
        check_inputs(input_tensor)
        maps = check_maps(cams, input_tensor).to(input_tensor.device)
        with eval_mode(model):
            clean = model_outputs(model, input_tensor, self.batch_size)
            masked = model_outputs(model, maps.unsqueeze(1) * input_tensor, self.batch_size)
        return self.from_outputs(clean, masked, classes, method)

    def from_outputs(
        self,
        clean: Tensor,
        masked: Tensor,
        classes: Sequence[int] | Tensor | None,
        method: str = "",
    ) -> RelativeConfidenceResult:
        """The result from the model's outputs (B, N) on the inputs and on the inputs times
        their maps (so the clean forward pass can be shared with other metrics)."""
        scores, after_all = (self._scores(o) for o in (clean, masked))
        if classes is None:
            index = scores.argmax(dim=-1)
        else:
            index = torch.as_tensor(classes, device=scores.device).reshape(-1).long()
            if index.numel() != scores.shape[0]:
                raise InputError(
                    f"got {index.numel()} classes for a batch of {scores.shape[0]} images"
                )
            if bool(((index < 0) | (index >= scores.shape[1])).any()):
                raise InputError(f"a class index is outside 0..{scores.shape[1] - 1}")
        before = scores.gather(1, index.unsqueeze(1)).squeeze(1)
        after = after_all.gather(1, index.unsqueeze(1)).squeeze(1)
        drop = torch.relu(before - after).div(before + DROP_EPS)
        return RelativeConfidenceResult(
            drops=tuple(float(d) for d in drop),
            increases=tuple(bool(i) for i in before < after),
            method=method,
        )

    def _scores(self, outputs: Tensor) -> Tensor:
        return torch.softmax(outputs, dim=-1) if self.scores == "softmax" else outputs
