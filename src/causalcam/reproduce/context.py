"""What the stages and the one-off commands share: the run context, the test set, networks
loaded from checkpoints and deletion/insertion curves cached in an evaluation store.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from .. import models
from ..ablation import cache_keys, explain_methods
from ..data import CLASSES
from ..data.cache import cached_split, eval_resize, first_per_class
from ..distributed import current
from ..distributed.evaluate import sharded_curves
from ..evaluate import Curve, EvaluationSettings, evaluate_maps
from ..explain import MapFn, map_function
from ..network import Network, as_network
from .profiles import Profile


@dataclass(frozen=True)
class TestSet:
    """The (possibly reduced) test split at one resolution."""

    images: torch.Tensor
    labels: torch.Tensor
    names: list[str]
    checksum: str


@dataclass(frozen=True)
class RunSettings:
    """How a run computes (what it computes is its profile).

    Attributes:
        seed: of every training run and bootstrap.
        device: where the networks run (``None``: the CPU).
        precision: of the masked-image classifications of the curves, transfer and RISE
            stages (maps come from one fp32 explain pass; training keeps its recipe's; the
            ablation and the qualitative figures stay fp32).
        progress: show progress bars.
        committed: a folder of committed results of the same profile (such as
            ``docs/results/full-cpu``): a stage computed there from the same inputs is copied
            into the run instead of being computed again.
    """

    seed: int = 0
    device: torch.device | None = None
    precision: str = "fp32"
    progress: bool = True
    committed: Path | None = None


@dataclass
class RunContext:
    """Everything the stages share: the run folder, the profile, the data and the settings
    (their precision resolved for the device, :func:`causalcam.precision.resolve_precision`)."""

    run_dir: Path
    profile: Profile
    data_root: Path | None
    settings: RunSettings
    log: Callable[[str], None]

    @property
    def device(self) -> torch.device:
        """Where the networks run (the CPU unless the settings name a device)."""
        return self.settings.device or torch.device("cpu")

    @property
    def results(self) -> Path:
        return self.run_dir / "results"

    @property
    def figures(self) -> Path:
        return self.run_dir / "figures"

    def evaluation(self, thresholds: Sequence[float], **changes: Any) -> EvaluationSettings:
        """The stages' evaluation settings: curves kept in the run's ``eval`` store, with the
        run's progress bars and precision; ``changes`` set the other fields."""
        fields: dict[str, Any] = {
            "progress": self.settings.progress,
            "precision": self.settings.precision,
        }
        return EvaluationSettings(
            thresholds=tuple(thresholds), out_dir=self.run_dir / "eval", **(fields | changes)
        )


def load_test_set(size: int, limit: int | None = None, root: Path | None = None) -> TestSet:
    """The test split at ``size`` (evaluation preprocessing), first ``limit`` per class."""
    split = cached_split("test", eval_resize(size), size, root)
    keep = first_per_class(split.labels, limit, len(CLASSES))
    names = [split.names[i] for i in keep.tolist()]
    return TestSet(split.images[keep], split.labels[keep], names, split.checksum)


def load_network(path: Path, device: torch.device) -> Network:
    """A checkpoint as an evaluation :class:`Network` on ``device``."""
    loaded = models.load_checkpoint(path, map_location=str(device))
    return as_network(loaded)


def method_functions(
    network: Network, methods: Sequence[str], precision: str = "fp32"
) -> dict[str, MapFn]:
    """A map function per method name (``causal[loss,normalize,sign]`` names a causal variant)."""
    layer = models.default_target_layer(network.model)
    return {
        m: map_function(network.model, m, target_layer=layer, precision=precision) for m in methods
    }


def source_curves(
    networks: Mapping[str, Network],
    test: TestSet,
    source: str,
    methods: Sequence[str],
    settings: EvaluationSettings,
) -> list[Curve]:
    """Deletion/insertion curves of ``source``'s maps (every method from one fp32 explain
    pass), cached in the store ``settings.out_dir``.

    Under torchrun the test images are shared among the processes (maps explained per
    chunk).

    Args:
        networks: the networks by name (the source and the targets of ``settings``).
        test: the test set.
        source: the network whose maps are evaluated.
        methods: the methods (``causal[...]`` names a causal variant).
        settings: thresholds, modes, targets, store and precision of the evaluation.

    Returns:
        One curve per (method, mode, target).
    """
    if current().distributed:
        return _sharded_curves(networks, test, source, methods, settings)
    maps, layer = source_maps(networks[source], test, methods)
    return evaluate_maps(
        networks,
        maps,
        test.images,
        test.labels,
        source=source,
        settings=settings,
        cache_keys=cache_keys(networks[source], layer, methods),
    )


def _sharded_curves(
    networks: Mapping[str, Network],
    test: TestSet,
    source: str,
    methods: Sequence[str],
    settings: EvaluationSettings,
) -> list[Curve]:
    layer = models.default_target_layer(networks[source].model)
    keys = cache_keys(networks[source], layer, methods)
    quiet = settings.replace(out_dir=None, progress=False)

    def chunk_curves(chunk: range) -> list[Curve]:
        images, labels = (
            test.images[chunk.start : chunk.stop],
            test.labels[chunk.start : chunk.stop],
        )
        maps, _ = explain_methods(networks[source], images, methods, target_layer=layer)
        return evaluate_maps(
            networks, maps, images, labels, source=source, settings=quiet, cache_keys=keys
        )

    options = {**settings.identity(), "source": source, "keys": keys}
    return sharded_curves(
        current(),
        networks,
        test.images,
        test.labels,
        options,
        chunk_curves,
        out_dir=settings.out_dir,
        progress=settings.progress,
    )


def source_maps(
    network: Network, test: TestSet, methods: Sequence[str]
) -> tuple[dict[str, torch.Tensor], str]:
    """Maps of every method on the test images at the network's default target layer."""
    layer = models.default_target_layer(network.model)
    return explain_methods(network, test.images, methods, target_layer=layer)


def checkpoint_name(path: str | os.PathLike[str]) -> str:
    """``runs/resnet34/best.pt`` -> ``resnet34``; ``r34.pt`` -> ``r34``."""
    file = Path(path)
    return file.parent.name if file.stem in ("best", "last") else file.stem


def path_or_none(value: str | os.PathLike[str] | None) -> Path | None:
    """``value`` as a path, ``None`` kept."""
    return Path(value) if value is not None else None
