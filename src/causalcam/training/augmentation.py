"""Batched augmentation of grey uint8 tensors (on the GPU when there is one): random resized
crops with flips and rotation in one affine grid, brightness/contrast and gamma jitter,
erasing, Gaussian blur, and mixup/cutmix of a batch.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from .recipes import Recipe


def augment(images: torch.Tensor, recipe: Recipe, generator: torch.Generator) -> torch.Tensor:
    """Random resized crop (+ flip, rotation) of grey uint8 ``(B, H, W)`` to float ``(B, S, S)``
    in [0, 1], batched with one affine grid; then brightness/contrast jitter and erasing.

    A crop covers area fraction ``a ~ U(scale)`` with aspect ``r``, ``log r ~ U(log 3/4, log 4/3)``:
    half-widths (normalised) ``w = sqrt(a r)``, ``h = sqrt(a / r)`` (clipped to 1), centre
    uniform inside the image; output point ``(x, y)`` samples input
    ``(c_x + w (f x cos t - y sin t), c_y + h (f x sin t + y cos t))`` with flip ``f = +-1``.
    """
    b, device = images.shape[0], images.device

    def uniform(low: float, high: float) -> torch.Tensor:
        return torch.rand(b, generator=generator) * (high - low) + low

    area = uniform(*recipe.scale)
    ratio = uniform(math.log(3 / 4), math.log(4 / 3)).exp()
    w, h = (area * ratio).sqrt().clamp(max=1.0), (area / ratio).sqrt().clamp(max=1.0)
    cx, cy = uniform(-1, 1) * (1 - w), uniform(-1, 1) * (1 - h)
    angle = uniform(-recipe.rotate, recipe.rotate) * (math.pi / 180)
    flip = torch.where(torch.rand(b, generator=generator) < 0.5, -1.0, 1.0) if recipe.hflip else 1.0
    cos, sin = angle.cos(), angle.sin()
    theta = torch.stack(
        [
            torch.stack([w * flip * cos, -w * sin, cx], 1),
            torch.stack([h * flip * sin, h * cos, cy], 1),
        ],
        1,
    ).to(device)
    size = recipe.size
    grid = F.affine_grid(theta, [b, 1, size, size], align_corners=False)
    out = F.grid_sample(images.unsqueeze(1).float() / 255, grid, align_corners=False)[:, 0]
    if recipe.jitter > 0:
        contrast = uniform(1 - recipe.jitter, 1 + recipe.jitter).to(device).view(b, 1, 1)
        bright = uniform(-recipe.jitter, recipe.jitter).to(device).view(b, 1, 1) / 2
        mean = out.mean((1, 2), keepdim=True)
        out = ((out - mean) * contrast + mean + bright).clamp(0, 1)
    if recipe.erase > 0:
        out = _erase(out, recipe.erase, generator)
    # drawn after the others, so recipes without them keep their random streams
    if recipe.gamma > 0:
        exponent = uniform(-recipe.gamma, recipe.gamma).exp().to(device).view(b, 1, 1)
        out = out.clamp(0, 1).pow(exponent)
    if recipe.blur > 0:
        out = _blur(out, recipe.blur, generator)
    return out


def mix(
    images: torch.Tensor, labels: torch.Tensor, recipe: Recipe, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor, float]:
    """Mixup or cutmix of a batch with its own permutation: returns the mixed images, the
    partner labels and the weight ``lam`` of the original labels (1.0 when neither is on).

    Mixup: ``x = lam x_i + (1 - lam) x_j``, ``lam ~ Beta(a, a)``. Cutmix pastes a box of
    ``x_j`` covering ``1 - lam`` of the area; ``lam`` is corrected to the pasted area.
    """
    alphas = [(kind, a) for kind, a in (("mixup", recipe.mixup), ("cutmix", recipe.cutmix)) if a]
    if not alphas:
        return images, labels, 1.0
    rng = np.random.default_rng(int(torch.randint(2**31, (1,), generator=generator)))
    kind, alpha = alphas[int(rng.integers(len(alphas)))]
    lam = float(rng.beta(alpha, alpha))
    partner = torch.randperm(len(labels), generator=generator).to(labels.device)
    if kind == "mixup":
        return lam * images + (1 - lam) * images[partner], labels[partner], lam
    side = images.shape[-1]
    cut = round(side * math.sqrt(1 - lam))
    top, left = (int(v) for v in rng.integers(0, side - cut + 1, size=2))
    mixed = images.clone()
    mixed[..., top : top + cut, left : left + cut] = images[partner][
        ..., top : top + cut, left : left + cut
    ]
    return mixed, labels[partner], 1 - cut * cut / (side * side)


def _erase(images: torch.Tensor, probability: float, generator: torch.Generator) -> torch.Tensor:
    """Zero one random rectangle (2-25 % of the area) in a ``probability`` share of images."""
    b, s = images.shape[0], images.shape[-1]
    chosen = torch.rand(b, generator=generator) < probability
    side = (torch.rand(b, 2, generator=generator) * 0.35 + 0.15) * s
    corner = torch.rand(b, 2, generator=generator) * (s - side)
    coords = torch.arange(s, dtype=torch.float32)
    rows = (coords[None] >= corner[:, :1]) & (coords[None] < corner[:, :1] + side[:, :1])
    cols = (coords[None] >= corner[:, 1:]) & (coords[None] < corner[:, 1:] + side[:, 1:])
    mask = (rows[:, :, None] & cols[:, None, :] & chosen[:, None, None]).to(images.device)
    return images.masked_fill(mask, 0.0)


#: Largest blur sigma (output pixels) and the kernel radius that covers it (3 sigma).
BLUR_SIGMA = (0.3, 1.5)
_BLUR_RADIUS = math.ceil(3 * BLUR_SIGMA[1])


def _blur(images: torch.Tensor, probability: float, generator: torch.Generator) -> torch.Tensor:
    """A separable Gaussian blur of sigma ``~ U(BLUR_SIGMA)`` in a ``probability`` share of
    ``(B, S, S)`` images (the others unchanged), reflecting at the borders: scans cut from
    papers differ in sharpness and resolution."""
    b = images.shape[0]
    chosen = torch.rand(b, generator=generator) < probability
    sigma = torch.rand(b, generator=generator) * (BLUR_SIGMA[1] - BLUR_SIGMA[0]) + BLUR_SIGMA[0]
    taps = torch.arange(-_BLUR_RADIUS, _BLUR_RADIUS + 1, dtype=torch.float32)
    kernel = torch.exp(-(taps[None] ** 2) / (2 * sigma[:, None] ** 2))
    kernel = kernel / kernel.sum(1, keepdim=True)
    identity = (taps == 0).float().expand(b, -1)
    kernel = torch.where(chosen[:, None], kernel, identity).to(images)
    pad = (_BLUR_RADIUS, _BLUR_RADIUS)
    out = images.unsqueeze(0)  # (1, B, S, S): one group per image
    out = F.conv2d(F.pad(out, (*pad, 0, 0), mode="reflect"), kernel[:, None, None, :], groups=b)
    out = F.conv2d(F.pad(out, (0, 0, *pad), mode="reflect"), kernel[:, None, :, None], groups=b)
    return out[0]
