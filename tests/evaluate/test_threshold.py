"""Threshold deletion/insertion on models whose accuracy under masking is known exactly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from evaluate_helpers import IDENTITY, SIZE, BrightSpotModel, column_ramp

from causalcam.errors import InputError
from causalcam.evaluate import (
    DEFAULT_THRESHOLDS,
    EvaluationSettings,
    Network,
    as_network,
    evaluate_maps,
    huffman_bits,
    run_deletion_insertion,
    transference_table,
)
from causalcam.preprocess import Preprocessing

RAMP = torch.linspace(0.0, 1.0, SIZE)  # float32, as the map function returns it


def reverse_ramp(inputs: torch.Tensor) -> torch.Tensor:
    return 1.0 - column_ramp(inputs)


def keep_mask(mode: str, tau: float, reverse: bool = False) -> np.ndarray:
    """(H, W) mask of the column ramp at ``tau`` computed independently of the library."""
    ramp = (1.0 - RAMP if reverse else RAMP).double().numpy()
    kept_columns = ramp > tau if mode == "deletion" else ramp <= tau
    return np.broadcast_to(kept_columns, (SIZE, SIZE))


def expected_correct(
    images: torch.Tensor, labels: torch.Tensor, mode: str, scale: float, reverse: bool = False
) -> np.ndarray:
    """Bright-spot rule on explicitly masked images: class 1 iff max(grey * scale / 255) > 0.5."""
    rows = []
    for tau in DEFAULT_THRESHOLDS:
        masked = images.numpy() * keep_mask(mode, tau, reverse)
        predicted = (masked.reshape(len(images), -1).max(axis=1) * scale / 255.0) > 0.5
        rows.append(predicted == labels.numpy().astype(bool))
    return np.array(rows)


@pytest.mark.parametrize("mode", ["deletion", "insertion"])
def test_accuracy_and_bits_match_explicit_masking(
    spot_network: Network, spot_set: tuple[torch.Tensor, torch.Tensor], mode: str
) -> None:
    images, labels = spot_set
    (curve,) = run_deletion_insertion(
        {"spot": spot_network},
        {"ramp": column_ramp},
        images,
        labels,
        source="spot",
        settings=EvaluationSettings(modes=(mode,), progress=False),
    )
    np.testing.assert_array_equal(curve.correct, expected_correct(images, labels, mode, 1.0))
    for row, tau in enumerate(DEFAULT_THRESHOLDS):
        masked = torch.from_numpy((images.numpy() * keep_mask(mode, tau)).astype(np.uint8))
        np.testing.assert_array_equal(curve.bits[row], huffman_bits(masked))
    np.testing.assert_array_equal(curve.original_bits, huffman_bits(images))
    assert curve.thresholds.tolist() == list(DEFAULT_THRESHOLDS)
    # at tau = 0.1: the 4 dark images are right; spots in columns 3, 6, 8, 12, 15 (c / 15 > 0.1)
    # survive deletion, only column 1's spot survives insertion
    assert curve.accuracy[0] == pytest.approx(0.9 if mode == "deletion" else 0.5)


def test_each_target_uses_its_own_preprocessing(
    spot_network: Network, spot_set: tuple[torch.Tensor, torch.Tensor]
) -> None:
    images, labels = spot_set
    bright = Preprocessing(size=SIZE, mean=(0.0, 0.0, 0.0), std=(0.25, 0.25, 0.25))
    models = {"spot": spot_network, "bright": Network(BrightSpotModel(), bright)}
    curves = run_deletion_insertion(
        models,
        {"gradcam": reverse_ramp, "causal": column_ramp},
        images,
        labels,
        source="spot",
        settings=EvaluationSettings(
            targets=("spot", "bright"), modes=("deletion",), progress=False
        ),
    )
    assert [(c.method, c.target) for c in curves] == [
        ("gradcam", "spot"),
        ("gradcam", "bright"),
        ("causal", "spot"),
        ("causal", "bright"),
    ]
    for curve in curves:
        scale = 4.0 if curve.target == "bright" else 1.0
        reverse = curve.method == "gradcam"
        expected = expected_correct(images, labels, "deletion", scale, reverse)
        np.testing.assert_array_equal(curve.correct, expected)
    # masks (and so bits) depend on the source's maps only, not on the target
    np.testing.assert_array_equal(curves[0].bits, curves[1].bits)

    table = transference_table(curves, source="spot", thresholds=(0.1, 0.3, 0.5))
    assert table.targets == ("bright",)
    rows = [0, 20, 40]  # tau = 0.1, 0.3, 0.5 among the default thresholds
    sweeps = [expected_correct(images, labels, "deletion", 4.0, rev) for rev in (True, False)]
    expected_acc = [[sweep[row].mean() for sweep in sweeps] for row in rows]
    np.testing.assert_allclose(table.accuracy[:, 0, :], expected_acc)
    np.testing.assert_allclose(table.huffman[:, 0], [curves[0].mean_h[j] for j in rows])
    assert table.cells == 3
    assert table.wins == int((table.accuracy[..., 1] > table.accuracy[..., 0]).sum())


class CountingRamp:
    """A map function that counts its calls."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, inputs: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return column_ramp(inputs)


def test_interrupted_run_resumes_and_rerun_computes_nothing(
    tmp_path: Path, spot_set: tuple[torch.Tensor, torch.Tensor]
) -> None:
    images, labels = spot_set
    model = BrightSpotModel()
    network = Network(model, IDENTITY)
    maps = CountingRamp()
    methods = {"a": maps, "b": reverse_ramp}
    thresholds = DEFAULT_THRESHOLDS[:20]
    per_curve = len(thresholds) * len(images)

    def run() -> list:
        return run_deletion_insertion(
            {"spot": network},
            methods,
            images,
            labels,
            source="spot",
            settings=EvaluationSettings(
                thresholds=thresholds, out_dir=tmp_path, batch_size=16, progress=False
            ),
        )

    model.fail_after = 2 * per_curve + 32  # dies inside the third curve
    with pytest.raises(KeyboardInterrupt):
        run()
    done = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.json"))
    assert done == ["curves/spot/a/spot/deletion.json", "curves/spot/a/spot/insertion.json"]
    assert not list(tmp_path.rglob("*.tmp"))

    model.fail_after, model.seen = None, 0
    resumed = run()
    assert model.seen == 2 * per_curve  # only the two missing curves (method b) ran
    assert maps.calls == 1  # method a's maps were cached on disk before the interruption

    model.seen = 0
    again = run()
    assert model.seen == 0 and maps.calls == 1
    for first, second in zip(resumed, again, strict=True):
        np.testing.assert_array_equal(first.correct, second.correct)
        np.testing.assert_array_equal(first.bits, second.bits)

    with torch.no_grad():
        model.offset.fill_(0.9)  # new weights: a new fingerprint, everything recomputed
    model.seen = 0
    run()
    assert model.seen == 4 * per_curve


def test_maps_as_tensors_give_the_map_functions_curves_and_cache_by_key(
    tmp_path: Path, spot_set: tuple[torch.Tensor, torch.Tensor]
) -> None:
    images, labels = spot_set
    model = BrightSpotModel()
    network = Network(model, IDENTITY)
    inputs = images.float().div(255).unsqueeze(1).expand(-1, 3, -1, -1)
    maps = {"a": column_ramp(inputs), "b": reverse_ramp(inputs)}
    settings = EvaluationSettings(thresholds=DEFAULT_THRESHOLDS[:10], progress=False)
    from_functions = run_deletion_insertion(
        {"spot": network},
        {"a": column_ramp, "b": reverse_ramp},
        images,
        labels,
        source="spot",
        settings=settings,
    )
    keys = {"a": {"maps": "ramp"}, "b": {"maps": "reverse ramp"}}

    def run(values: dict[str, torch.Tensor], cache_keys: dict | None = keys) -> list:
        return evaluate_maps(
            {"spot": network}, values, images, labels, source="spot", cache_keys=cache_keys,
            settings=settings.replace(out_dir=tmp_path),
        )  # fmt: skip

    from_tensors = run(maps)
    assert [(c.method, c.mode) for c in from_tensors] == [
        (c.method, c.mode) for c in from_functions
    ]
    for ours, theirs in zip(from_tensors, from_functions, strict=True):
        np.testing.assert_array_equal(ours.correct, theirs.correct)
        np.testing.assert_array_equal(ours.bits, theirs.bits)
    per_curve = 10 * len(images)
    model.seen = 0
    run(maps)
    assert model.seen == 0  # same keys: every curve from the cache
    run({"a": maps["b"], "b": maps["b"]}, {"a": {"maps": "another"}, "b": keys["b"]})
    assert model.seen == 2 * per_curve  # a new key for "a": its two curves recomputed
    model.seen = 0
    run(maps, None)  # without keys the maps' bytes are the key
    assert model.seen == 4 * per_curve
    model.seen = 0
    run({"a": maps["a"].clone(), "b": maps["b"].clone()}, None)
    assert model.seen == 0
    with pytest.raises(InputError, match="method 'a' returned maps of shape"):
        run({"a": maps["a"][:2]})
    with pytest.raises(InputError, match="no maps to evaluate"):
        run({})


def test_changed_thresholds_recompute(tmp_path: Path, spot_network: Network, spot_set) -> None:
    images, labels = spot_set
    settings = EvaluationSettings(modes=("deletion",), out_dir=tmp_path, progress=False)
    run_deletion_insertion(
        {"spot": spot_network}, {"r": column_ramp}, images, labels, source="spot", settings=settings
    )
    model = spot_network.model
    assert isinstance(model, BrightSpotModel)
    model.seen = 0
    (curve,) = run_deletion_insertion(
        {"spot": spot_network},
        {"r": column_ramp},
        images,
        labels,
        source="spot",
        settings=settings.replace(thresholds=(0.5, 0.2)),
    )
    assert model.seen == 2 * len(images)
    assert curve.thresholds.tolist() == [0.2, 0.5]


def _run(models, methods, images, labels, source, **settings):
    chosen = EvaluationSettings(progress=False, **settings)
    return run_deletion_insertion(models, methods, images, labels, source=source, settings=chosen)


def test_bad_maps_are_rejected(spot_network: Network, spot_set) -> None:
    images, labels = spot_set
    models = {"spot": spot_network}

    def nan_maps(inputs: torch.Tensor) -> torch.Tensor:
        maps = column_ramp(inputs)
        maps[0, 0, 0] = float("nan")
        return maps

    with pytest.raises(InputError, match=r"'nanny'.*NaN"):
        _run(models, {"nanny": nan_maps}, images, labels, source="spot")
    with pytest.raises(InputError, match=r"'small'.*shape \(10, 8, 8\)"):
        _run(models, {"small": lambda x: column_ramp(x)[:, :8, :8]}, images, labels, source="spot")
    with pytest.raises(InputError, match=r"'raw'.*min-max"):
        _run(models, {"raw": lambda x: 3 * column_ramp(x)}, images, labels, source="spot")


@pytest.mark.parametrize("thresholds", [[0.1, 1.2], [-0.1], [float("nan")], []])
def test_bad_thresholds(spot_network: Network, spot_set, thresholds: list[float]) -> None:
    images, labels = spot_set
    with pytest.raises(InputError, match="threshold"):
        _run(
            {"spot": spot_network},
            {"r": column_ramp},
            images,
            labels,
            source="spot",
            thresholds=thresholds,
        )


def test_empty_test_set(spot_network: Network) -> None:
    images = torch.zeros((0, SIZE, SIZE), dtype=torch.uint8)
    labels = torch.zeros(0, dtype=torch.long)
    with pytest.raises(InputError, match="empty"):
        _run({"spot": spot_network}, {"r": column_ramp}, images, labels, source="spot")


def test_models_disagreeing_on_classes(spot_network: Network, spot_set) -> None:
    images, labels = spot_set
    other = Network(BrightSpotModel(), IDENTITY, ("bright", "dark"))
    with pytest.raises(InputError, match="disagree on classes"):
        _run(
            {"spot": spot_network, "other": other},
            {"r": column_ramp},
            images,
            labels,
            source="spot",
            targets=["other"],
        )


def test_other_bad_inputs(spot_network: Network, spot_set) -> None:
    images, labels = spot_set
    models = {"spot": spot_network}
    methods = {"r": column_ramp}
    with pytest.raises(InputError, match="unknown model"):
        _run(models, methods, images, labels, source="spot", targets=["nope"])
    with pytest.raises(InputError, match="modes"):
        _run(models, methods, images, labels, source="spot", modes=["both"])
    with pytest.raises(InputError, match="expects 16x16"):
        _run(models, methods, images[:, :8, :8], labels, source="spot")
    with pytest.raises(InputError, match="uint8"):
        _run(models, methods, images.float(), labels, source="spot")
    with pytest.raises(InputError, match="labels go up to 5"):
        _run(models, methods, images, labels * 5, source="spot")


def test_networks_from_checkpoints_and_bad_models(spot_set) -> None:
    images, labels = spot_set

    class Meta:
        preprocessing = IDENTITY
        classes = ("dark", "bright")

    class Loaded:
        model = BrightSpotModel()
        meta = Meta()

    network = as_network(Loaded())
    assert network.preprocessing == IDENTITY and network.classes == ("dark", "bright")
    (curve,) = _run(
        {"ckpt": Loaded()}, {"r": column_ramp}, images, labels, source="ckpt", modes=["deletion"]
    )
    assert curve.target == "ckpt"
    with pytest.raises(InputError, match="cannot evaluate a str"):
        as_network("resnet18")
    three = Network(BrightSpotModel(), IDENTITY, ("a", "b", "c"))
    with pytest.raises(InputError, match="2 outputs but names 3 classes"):
        _run({"three": three}, {"r": column_ramp}, images, labels, source="three")
