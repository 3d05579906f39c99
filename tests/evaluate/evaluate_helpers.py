"""Hand-built models whose accuracy under masking is known exactly (shared test helpers)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from causalcam.evaluate import Curve
from causalcam.preprocess import Preprocessing

SIZE = 16
IDENTITY = Preprocessing(size=SIZE, mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0))


class BrightSpotModel(nn.Module):
    """Class 1 iff some pixel of channel 0 exceeds 0.5 (inputs are grey / 255):
    logits ``(0.5 - max, max - 0.5)``. Counts the images it sees; can fail on demand."""

    def __init__(self) -> None:
        super().__init__()
        self.offset = nn.Parameter(torch.tensor(0.5))
        self.seen = 0
        self.fail_after: int | None = None

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        if self.fail_after is not None and self.seen >= self.fail_after:
            raise KeyboardInterrupt("simulated interruption")
        self.seen += inputs.shape[0]
        peak = inputs[:, 0].flatten(1).max(dim=1).values
        return torch.stack([self.offset - peak, peak - self.offset], dim=1)


def spot_data(columns: list[int | None]) -> tuple[torch.Tensor, torch.Tensor]:
    """Dim images (grey 10 + a texture); ``None``: class 0, else a bright pixel (200) in that
    column, class 1."""
    images = torch.full((len(columns), SIZE, SIZE), 10, dtype=torch.uint8)
    images[:, ::3, ::2] = 40
    labels = torch.zeros(len(columns), dtype=torch.long)
    for index, column in enumerate(columns):
        if column is not None:
            images[index, index % SIZE, column] = 200
            labels[index] = 1
    return images, labels


def column_ramp(inputs: torch.Tensor) -> torch.Tensor:
    """Map ``m(y, x) = x / (W - 1)`` for every image, whatever it shows."""
    batch, _, height, width = inputs.shape
    ramp = torch.linspace(0.0, 1.0, width)
    return ramp.view(1, 1, width).expand(batch, height, width).clone()


def make_table_curve(method: str, target: str, h: list[float], accuracy: list[float]) -> Curve:
    """A deletion curve of source ``r18`` at thresholds 0.1, 0.2, ... with exactly these mean H
    and accuracies (10 images; bits out of 1000)."""
    n_images = 10
    correct = np.array([[i < round(a * n_images) for i in range(n_images)] for a in accuracy])
    return Curve(
        source="r18",
        method=method,
        target=target,
        mode="deletion",
        thresholds=np.round(0.1 + 0.1 * np.arange(len(h)), 2),
        correct=correct,
        bits=np.repeat(np.rint(np.array(h) * 1000).astype(np.int64)[:, None], n_images, axis=1),
        original_bits=np.full(n_images, 1000, dtype=np.int64),
    )
