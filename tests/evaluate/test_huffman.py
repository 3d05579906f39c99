"""Exact Huffman code lengths against the dahuffman package's real encodings."""

from __future__ import annotations

import collections
import math
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from dahuffman import HuffmanCodec
from PIL import Image

from causalcam.errors import InputError
from causalcam.evaluate import huffman_bits, huffman_bits_from_histograms, huffman_ratio
from causalcam.evaluate.huffman import masked_bits, threshold_levels

REPO = Path(__file__).resolve().parents[2]


def dahuffman_bits(image: np.ndarray) -> tuple[int, int]:
    """(sum of count x code length, bytes of the encoded stream) of dahuffman's code for the
    image's own histogram. Its end-of-file symbol is set to a symbol of the image, so no
    extra symbol enters the code; a trailing partial byte is padded."""
    pixels = image.ravel().tolist()
    frequencies = collections.Counter(pixels)
    codec = HuffmanCodec.from_frequencies(frequencies, eof=pixels[0])
    table = codec.get_code_table()
    bits = sum(count * table[symbol][0] for symbol, count in frequencies.items())
    return bits, len(codec.encode(pixels))


def random_images() -> list[np.ndarray]:
    rng = np.random.default_rng(7)
    return [
        rng.integers(0, 256, size=(40, 50), dtype=np.uint8),  # ~uniform, 256 symbols
        rng.integers(0, 3, size=(33, 17), dtype=np.uint8),  # three symbols
        np.clip(rng.normal(120, 30, size=(64, 64)), 0, 255).astype(np.uint8),
        (rng.geometric(0.2, size=(31, 29)) % 256).astype(np.uint8),  # very skewed
        np.minimum(rng.zipf(1.6, size=(50, 40)), 255).astype(np.uint8),
    ]


@pytest.mark.parametrize("index", range(5))
def test_random_images_match_dahuffman(index: int) -> None:
    image = random_images()[index]
    bits, encoded_bytes = dahuffman_bits(image)
    ours = int(huffman_bits(image[None])[0])
    assert ours == bits
    assert encoded_bytes == math.ceil(bits / 8)


def test_batch_is_vectorised_per_image() -> None:
    rng = np.random.default_rng(3)
    batch = rng.integers(0, 256, size=(6, 24, 24), dtype=np.uint8)
    batch[1] = 9  # constant
    batch[2] = rng.integers(0, 2, size=(24, 24)) * 255  # two symbols
    batch[4] = np.minimum(rng.zipf(1.4, size=(24, 24)), 255)
    ours = huffman_bits(torch.from_numpy(batch))
    assert ours.dtype == np.int64 and ours.shape == (6,)
    expected = [dahuffman_bits(image)[0] for image in batch]
    expected[1] = 24 * 24  # one symbol: 1 bit per pixel (dahuffman would give a 0-bit code)
    assert ours.tolist() == expected


def test_constant_and_two_symbol_images() -> None:
    constant = np.full((1, 10, 7), 200, dtype=np.uint8)
    assert huffman_bits(constant).tolist() == [70]
    two = np.zeros((1, 10, 7), dtype=np.uint8)
    two[0, :3] = 1
    assert huffman_bits(two).tolist() == [70] == [dahuffman_bits(two[0])[0]]


def test_histogram_entry_point_and_empty_rows() -> None:
    histograms = np.array([[5, 0, 0], [0, 0, 0], [1, 1, 2], [3, 3, 3]])
    # [1,1,2]: merge 1+1=2, then 2+2=4 -> 6 bits; [3,3,3]: 6 + 9 = 15 bits
    assert huffman_bits_from_histograms(histograms).tolist() == [5, 0, 6, 15]
    with pytest.raises(InputError, match="non-negative"):
        huffman_bits_from_histograms(np.array([[1, -1]]))


def real_scans(count: int) -> list[np.ndarray]:
    root = Path(os.environ.get("CAUSALCAM_DATA", REPO.parent / "shared" / "covid-ct"))
    files = sorted((root / "CT_COVID").glob("*.png"))[:count] if root.is_dir() else []
    if not files:
        pytest.skip(f"COVID-CT scans not found under {root}")
    scans = []
    for path in files:
        with Image.open(path) as image:
            scans.append(np.asarray(image.convert("L").resize((224, 224))))
    return scans


def test_real_ct_scans_match_dahuffman() -> None:
    scans = real_scans(2)
    ours = huffman_bits(np.stack(scans))
    for scan, bits in zip(scans, ours, strict=True):
        expected, encoded_bytes = dahuffman_bits(scan)
        assert bits == expected
        assert encoded_bytes == math.ceil(expected / 8)


def test_masked_bits_equal_bits_of_masked_images() -> None:
    rng = np.random.default_rng(5)
    images = rng.integers(0, 256, size=(4, 20, 20), dtype=np.uint8)
    maps = torch.rand(4, 20, 20)
    maps[0, :5] = 0.3  # ties exactly at a threshold
    thresholds = np.array([0.1, 0.3, 0.5, 0.9])
    for mode, keep in (("deletion", maps.double() > 0.3), ("insertion", maps.double() <= 0.3)):
        bits = masked_bits(images, maps, thresholds, mode)
        assert bits.shape == (4, 4)
        explicit = images * keep.numpy()
        np.testing.assert_array_equal(bits[1], huffman_bits(explicit.astype(np.uint8)))


def test_huffman_ratio() -> None:
    image = np.random.default_rng(1).integers(0, 256, size=(2, 16, 16), dtype=np.uint8)
    masked = image.copy()
    masked[:, :8] = 0
    ratio = huffman_ratio(masked, image)
    np.testing.assert_allclose(ratio, huffman_bits(masked) / huffman_bits(image))
    assert np.all(ratio < 1)
    np.testing.assert_allclose(huffman_ratio(image, image), 1.0)


def test_rejects_non_uint8_and_wrong_rank() -> None:
    with pytest.raises(InputError, match="uint8"):
        huffman_bits(np.zeros((1, 4, 4), dtype=np.float32))
    with pytest.raises(InputError, match=r"\(B, H, W\)"):
        huffman_bits(np.zeros((4, 4), dtype=np.uint8))


def test_threshold_levels_decide_exactly_as_float64() -> None:
    values = np.float32([0.1, 0.2, 0.3, 0.7, 0.8])
    near = np.concatenate([values, np.nextafter(values, 0), np.nextafter(values, 1)])
    maps = torch.from_numpy(np.concatenate([near, np.float32([0.0, 1.0])]))
    taus = np.round(0.1 + 0.01 * np.arange(71), 2)
    expected = (maps.double().numpy()[:, None] > taus[None, :]).sum(axis=1)
    assert threshold_levels(maps, taus).tolist() == expected.tolist()
    assert threshold_levels(maps.double(), taus).tolist() == expected.tolist()
