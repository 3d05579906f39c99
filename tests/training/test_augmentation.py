"""Batched augmentation on tensors (causalcam.training.augmentation)."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from causalcam.training import (
    RECIPES,
    Recipe,
    augment,
    mix,
)


def test_augment_shapes_range_and_determinism() -> None:
    images = torch.randint(0, 256, (6, 40, 40), dtype=torch.uint8)
    recipe = RECIPES["scratch"]
    small = type(recipe)(**{**recipe.__dict__, "size": 24})
    first = augment(images, small, torch.Generator().manual_seed(3))
    again = augment(images, small, torch.Generator().manual_seed(3))
    other = augment(images, small, torch.Generator().manual_seed(4))
    assert first.shape == (6, 24, 24) and first.dtype == torch.float32
    assert float(first.min()) >= 0 and float(first.max()) <= 1
    assert torch.equal(first, again) and not torch.equal(first, other)


def test_augment_identity_when_crop_is_whole_image() -> None:
    ramp = torch.arange(32, dtype=torch.uint8).repeat(32, 1)[None] * 8
    plain = type(RECIPES["he2020"])(name="t", size=32, scale=(1.0, 1.0), hflip=False)
    out = augment(ramp, plain, torch.Generator().manual_seed(0))
    # aspect ratio jitter stretches slightly, but the image stays a left-to-right ramp
    assert torch.all(out[0, :, 1:] >= out[0, :, :-1] - 1e-6)
    assert abs(float(out.mean()) - float(ramp.float().mean() / 255)) < 0.05


def test_gamma_jitter_keeps_black_white_and_order() -> None:
    ramp = torch.arange(32, dtype=torch.uint8).repeat(32, 1)[None].repeat(4, 1, 1) * 8
    plain = type(RECIPES["he2020"])(name="t", size=32, scale=(1.0, 1.0), hflip=False)
    graded = dataclasses.replace(plain, gamma=0.5)
    base = augment(ramp, plain, torch.Generator().manual_seed(0))
    out = augment(ramp, graded, torch.Generator().manual_seed(0))
    assert float(out.min()) >= 0 and float(out.max()) <= 1
    assert torch.all(out[:, :, 1:] >= out[:, :, :-1] - 1e-6)  # still a left-to-right ramp
    assert not torch.allclose(out, base)  # the exponents moved the grey levels
    # the crop is drawn before the exponent: the same pixels, reshaped grey levels
    assert torch.equal(out == 0, base == 0)


def test_blur_spreads_an_impulse_and_keeps_flat_images() -> None:
    from causalcam.training.augmentation import BLUR_SIGMA, _blur

    impulse = torch.zeros(3, 21, 21)
    impulse[:, 10, 10] = 1.0
    out = _blur(impulse, 1.0, torch.Generator().manual_seed(0))
    assert out.sum((1, 2)) == pytest.approx([1.0] * 3, abs=1e-5)  # mass is kept
    assert torch.allclose(out, out.flip(1), atol=1e-6) and torch.allclose(out, out.flip(2))
    assert torch.all(out[:, 10, 10] < 1.0)  # spread over the neighbours
    peak = 1 / (2 * torch.pi * BLUR_SIGMA[1] ** 2)  # the widest kernel's centre value
    assert torch.all(out[:, 10, 10] > peak * 0.9)
    flat = torch.full((2, 16, 16), 0.4)
    assert torch.allclose(_blur(flat, 1.0, torch.Generator()), flat, atol=1e-6)
    noise = torch.rand(8, 16, 16, generator=torch.Generator().manual_seed(1))
    assert torch.equal(_blur(noise, 0.0, torch.Generator()), noise)  # none chosen: unchanged


def test_mixup_and_cutmix_weights_and_determinism() -> None:
    images = torch.rand(6, 16, 16)
    labels = torch.tensor([0, 1, 0, 1, 0, 1])
    same, kept, lam = mix(images, labels, Recipe(name="t"), torch.Generator().manual_seed(0))
    assert same is images and kept is labels and lam == 1.0
    mixup = Recipe(name="t", mixup=0.4)
    mixed, partner, lam = mix(images, labels, mixup, torch.Generator().manual_seed(1))
    again, _, lam_again = mix(images, labels, mixup, torch.Generator().manual_seed(1))
    assert torch.equal(mixed, again) and lam == lam_again and 0.05 < lam < 0.95
    # each mixed image is lam * itself + (1 - lam) * an image carrying the partner label
    for i in range(6):
        rest = (mixed[i] - lam * images[i]) / (1 - lam)
        j = int((images - rest).abs().amax((1, 2)).argmin())
        assert torch.allclose(images[j], rest, atol=1e-4) and labels[j] == partner[i]
    cutmix = Recipe(name="t", cutmix=1.0)
    for seed in range(5):
        cut, partner, lam = mix(images, labels, cutmix, torch.Generator().manual_seed(seed))
        box = (cut != images).any(0)  # the pasted square (images differ everywhere)
        assert float(box.float().mean()) == pytest.approx(1 - lam, abs=1e-6)
        if box.any():
            rows, cols = torch.nonzero(box, as_tuple=True)
            side = int(rows.max() - rows.min()) + 1
            assert int(box.sum()) == side**2 == (int(cols.max() - cols.min()) + 1) ** 2
