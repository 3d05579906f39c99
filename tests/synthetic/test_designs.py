"""Designs: labels, rates rho, independence at test, roles and interventions."""

from __future__ import annotations

import pytest
import torch

from causalcam.errors import InputError
from causalcam.synthetic import INTERVENTIONS, Design, default_designs, generate, intervene


@pytest.mark.parametrize("rho", [0.5, 0.8, 1.0])
def test_shortcut_rates(rho: float) -> None:
    data = generate(Design("shortcut", rho=rho), 1500, seed=0, split="train")
    glyph, labels = data.present["glyph"], data.labels
    assert torch.equal(data.present["lesion"], labels == 1)
    assert glyph[labels == 1].float().mean().item() == pytest.approx(rho, abs=0.05)
    assert glyph[labels == 0].float().mean().item() == pytest.approx(1 - rho, abs=0.05)


def test_shortcut_independent_at_test() -> None:
    data = generate(Design("shortcut", rho=1.0), 1500, seed=0, split="test")
    glyph, labels = data.present["glyph"].float(), data.labels
    assert glyph[labels == 1].mean().item() == pytest.approx(0.5, abs=0.06)
    assert glyph[labels == 0].mean().item() == pytest.approx(0.5, abs=0.06)
    assert torch.equal(data.explained, (labels == 1) & data.present["glyph"])


def test_shared_and_contrast_roles() -> None:
    shared = generate(Design("shared"), 300, seed=1, split="test")
    a, b = shared.labels == 1, shared.labels == 2
    assert torch.equal(shared.present["glyph"], a | b)
    assert torch.equal(shared.target[a | b], shared.labels[a | b])
    assert torch.equal(shared.contrast[a], torch.full_like(shared.contrast[a], 2))
    assert torch.equal(shared.cause[b], shared.masks["ring"][b])
    contrast = generate(Design("contrast"), 300, seed=1, split="test")
    p = contrast.labels == 1
    assert contrast.present["lesion"][p].all() and not contrast.present["rim"][p].any()
    assert contrast.present["rim"][~p].all()
    assert 0.35 < contrast.present["lesion"][~p].float().mean() < 0.65
    assert torch.equal(contrast.context, contrast.masks["rim"])  # where D would be


def test_seeding_and_splits() -> None:
    design = Design("shared")
    a, b = generate(design, 20, seed=5), generate(design, 20, seed=5)
    assert torch.equal(a.images, b.images) and torch.equal(a.labels, b.labels)
    assert not torch.equal(a.images, generate(design, 20, seed=5, split="test").images)


def test_interventions() -> None:
    data = generate(Design("shortcut", rho=0.95), 200, seed=0, split="test")
    for kind in INTERVENTIONS:
        changed = intervene(data, kind)
        assert torch.equal(changed.labels, data.labels)
        assert torch.equal(changed.masks["lesion"], data.masks["lesion"])
    assert torch.equal(intervene(data, "clean").images, data.images)
    assert not intervene(data, "context_removed").present["glyph"].any()
    alone = intervene(data, "context_alone")
    assert not alone.present["lesion"].any()
    assert torch.equal(alone.present["glyph"], data.labels == 1)
    assert torch.equal(intervene(data, "context_swapped").present["glyph"], data.labels == 0)
    with pytest.raises(InputError, match="intervention"):
        intervene(data, "shuffle")


@pytest.mark.parametrize(
    "pick", [torch.tensor([7, 2, 5]), torch.arange(12).flip(0)], ids=["part", "reordered"]
)
def test_interventions_on_a_subset(pick: torch.Tensor) -> None:
    """A subset re-renders its own scenes: intervening on it equals intervening on the whole
    set and taking the same images (also when the subset keeps every image, reordered)."""
    data = generate(Design("shared"), 12, seed=3, split="test")
    part = data.subset(pick)
    assert torch.equal(intervene(part, "clean").images, part.images)
    for kind in INTERVENTIONS:
        assert torch.equal(intervene(part, kind).images, intervene(data, kind).images[pick])
        assert torch.equal(intervene(part, kind).cause, data.cause[pick])
    assert torch.equal(data.subset(data.explained).scene.noise, data.scene.noise[data.explained])


def test_three_d_and_bad_designs() -> None:
    data = generate(Design("shared", size=32, ndim=3), 12, seed=0)
    assert data.images.shape == (12, 32, 32, 32)
    assert data.cause.shape == (12, 32, 32, 32)
    assert len(default_designs()) == 6
    assert [d.label for d in default_designs()][:2] == ["shortcut-0.5", "shortcut-0.8"]
    with pytest.raises(InputError, match="design"):
        Design("waterbirds")
    with pytest.raises(InputError, match="rho"):
        Design("shortcut", rho=1.5)
    assert Design.from_json(Design("shortcut", 0.8).to_json()) == Design("shortcut", 0.8)
