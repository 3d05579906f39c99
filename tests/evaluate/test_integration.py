"""The evaluation against a naive re-implementation, on a torchvision ResNet-18 with real
Grad-CAM maps (real COVID-CT scans when available)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torchvision.models import resnet18

from causalcam.evaluate import EvaluationSettings, Network, huffman_bits, run_deletion_insertion
from causalcam.explain import map_function
from causalcam.preprocess import Preprocessing, to_model_input

SIZE = 64
REPO = Path(__file__).resolve().parents[2]


def scans(count: int) -> torch.Tensor:
    samples = sorted((REPO / "src" / "causalcam" / "assets" / "samples").glob("*.png"))
    if not samples:
        pytest.skip("bundled sample scans are missing")
    from PIL import Image

    images = []
    for index in range(count):
        with Image.open(samples[index % len(samples)]) as image:
            grey = image.convert("L").resize((SIZE, SIZE))
        array = np.asarray(grey)
        images.append(np.roll(array, 7 * index, axis=1))  # distinct images
    return torch.from_numpy(np.stack(images))


def test_matches_naive_masking_loop(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = resnet18(num_classes=2).eval()
    images = scans(4)
    labels = torch.tensor([0, 1, 1, 0])
    network = Network(model, Preprocessing(size=SIZE))
    gradcam = map_function(model, "gradcam")
    thresholds = (0.2, 0.45, 0.7)
    curves = run_deletion_insertion(
        {"r18": network},
        {"gradcam": gradcam},
        images,
        labels,
        source="r18",
        settings=EvaluationSettings(
            thresholds=thresholds, out_dir=tmp_path, batch_size=5, progress=False
        ),
    )
    maps = gradcam(to_model_input(images)).double()
    with torch.inference_mode():
        for curve in curves:
            for row, tau in enumerate(thresholds):
                keep = maps > tau if curve.mode == "deletion" else maps <= tau
                masked = images * keep
                predicted = model(to_model_input(masked)).argmax(dim=1)
                np.testing.assert_array_equal(curve.correct[row], (predicted == labels).numpy())
                np.testing.assert_array_equal(curve.bits[row], huffman_bits(masked))


def test_unmasked_accuracy_of_the_bundled_model_matches_its_training_metrics(
    real_root: Path,
) -> None:
    """The trainer's test pipeline and the evaluation's (load_split + threshold masking with
    an all-ones map, which keeps every pixel) count the same correct scans."""
    from causalcam.data import load_split
    from causalcam.models import default_model

    bundled = default_model()
    images, labels = load_split("test", size=bundled.meta.preprocessing.size, root=real_root)
    keep_all = lambda x: torch.ones(x.shape[0], x.shape[-2], x.shape[-1])  # noqa: E731
    (curve,) = run_deletion_insertion(
        {"m": bundled}, {"all": keep_all}, images, labels, source="m",
        settings=EvaluationSettings(thresholds=(0.5,), modes=("deletion",), progress=False),
    )  # fmt: skip
    expected = round(bundled.meta.metrics["test"]["accuracy"] * labels.numel())
    # another CPU may flip the one scan nearest the decision boundary, not more
    assert abs(int(curve.correct.sum()) - expected) <= 1, (int(curve.correct.sum()), expected)
