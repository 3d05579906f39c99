"""Transference tables in the layout of the paper's Tables 1-2 (Sec. 4.2).

Masks come from a source network's maps (deletion: the explanation is kept); the masked
test images are fed to the other networks. One row per threshold; columns: the Huffman
ratio of the baseline's (Grad-CAM) and the challenger's (causal) masks, then the accuracy
of each target network on both. A cell is a (threshold, target) pair; the challenger wins
a cell when its accuracy is strictly higher (the paper's count: 19 of 20 in Table 1).

Intervals (the paper gives none): both methods are scored on the same test images, so the
challenger's gain in a cell is a paired difference, ``mean_i(c_i - b_i)`` over images ``i``
(``c_i``, ``b_i``: 1 where the target classifies image ``i`` correctly). Resampling the test
images (one percentile bootstrap, the same resample for every cell) gives an interval for
the mean gain over all cells and, per cell, whether the gain's interval lies above 0 (a
*significant win*) or below it (a *significant loss*).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._io import atomic_write_json, atomic_write_text
from ..errors import InputError
from ..method_names import CAUSAL, GRADCAM
from ..results import Estimate, TransferRecord, gain_text
from .summary import bootstrap_weights, percentile_interval
from .tables import jsonable, rows_to_csv
from .threshold import Curve

TRANSFER_THRESHOLDS: tuple[float, ...] = (0.1, 0.2, 0.3, 0.4, 0.5)


@dataclass(frozen=True)
class TransferenceTable:
    """One of the paper's Tables 1-2.

    Attributes:
        source: the network whose masks are carried to the targets.
        baseline: the baseline method (Grad-CAM).
        challenger: the method compared with it.
        mode: ``"deletion"`` or ``"insertion"``.
        thresholds: the thresholds, one row each.
        targets: the networks that classify the masked images.
        huffman: ``huffman[r] = (baseline, challenger)``: mean H of the source's masks at
            threshold ``r``.
        accuracy: ``accuracy[r, t] = (baseline, challenger)``: target ``t``'s accuracy.
        n_images: the test images.
        gain: the challenger's mean accuracy gain over the cells, with its paired bootstrap
            interval.
        significant_wins: cells whose interval lies above zero (None without bootstrap).
        significant_losses: cells whose interval lies below zero (None without bootstrap).
    """

    source: str
    baseline: str
    challenger: str
    mode: str
    thresholds: tuple[float, ...]
    targets: tuple[str, ...]
    huffman: np.ndarray
    accuracy: np.ndarray
    n_images: int
    gain: Estimate = field(default_factory=Estimate)
    significant_wins: int | None = None
    significant_losses: int | None = None

    @property
    def cells(self) -> int:
        """Number of (threshold, target) accuracy cells."""
        return int(self.accuracy.shape[0] * self.accuracy.shape[1])

    @property
    def wins(self) -> int:
        """Cells where the challenger's accuracy is strictly higher than the baseline's."""
        return int((self.accuracy[..., 1] > self.accuracy[..., 0]).sum())

    @property
    def ties(self) -> int:
        """Cells where both accuracies are equal."""
        return int((self.accuracy[..., 1] == self.accuracy[..., 0]).sum())

    @property
    def fewer_bits(self) -> int:
        """Thresholds at which the challenger's masks have the lower Huffman ratio."""
        return int((self.huffman[:, 1] < self.huffman[:, 0]).sum())

    def header(self) -> list[str]:
        """Column names of the wide table."""
        pairs = [f"huffman {self.baseline}", f"huffman {self.challenger}"]
        for target in self.targets:
            pairs += [f"{target} {self.baseline}", f"{target} {self.challenger}"]
        return ["threshold", *pairs]

    def wide_rows(self) -> list[list[float]]:
        """One row per threshold in the paper's column order."""
        return [
            [float(tau), *map(float, self.huffman[r]), *map(float, self.accuracy[r].reshape(-1))]
            for r, tau in enumerate(self.thresholds)
        ]

    def summary_line(self) -> str:
        gain = gain_text(self.gain, self.significant_wins, self.significant_losses)
        return (
            f"{self.challenger} wins {self.wins} of {self.cells} accuracy cells "
            f"(ties: {self.ties}){gain}; lower Huffman ratio at {self.fewer_bits} of "
            f"{len(self.thresholds)} thresholds"
        )

    def to_markdown(self, digits: int = 4) -> str:
        """Markdown table; the better value of each pair in bold (lower H, higher accuracy)."""
        header = self.header()
        lines = [
            f"Transference of {self.mode} masks from {self.source} "
            f"({self.n_images} test images). Huffman: lower is better; accuracy: higher.",
            "",
            "| " + " | ".join(header) + " |",
            "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|",
        ]
        for r, tau in enumerate(self.thresholds):
            cells = [f"{tau:.2f}", *_pair(self.huffman[r], digits, lower_better=True)]
            for t in range(len(self.targets)):
                cells += _pair(self.accuracy[r, t], digits, lower_better=False)
            lines.append("| " + " | ".join(cells) + " |")
        lines += ["", self.summary_line() + "."]
        return "\n".join(lines) + "\n"

    def to_csv(self) -> str:
        """Wide CSV in the paper's column order."""
        header = self.header()
        rows = [dict(zip(header, row, strict=True)) for row in self.wide_rows()]
        return rows_to_csv(rows)

    def to_record(self) -> TransferRecord:
        """The table as stored and read back by the report."""
        return TransferRecord(
            source=self.source,
            baseline=self.baseline,
            challenger=self.challenger,
            mode=self.mode,
            n_images=self.n_images,
            thresholds=tuple(float(t) for t in self.thresholds),
            targets=tuple(self.targets),
            huffman=tuple(tuple(map(float, row)) for row in self.huffman),
            accuracy=tuple(tuple(tuple(map(float, p)) for p in row) for row in self.accuracy),
            wins=self.wins,
            ties=self.ties,
            cells=self.cells,
            fewer_bits=self.fewer_bits,
            gain=self.gain,
            significant_wins=self.significant_wins,
            significant_losses=self.significant_losses,
        )

    def to_json(self) -> dict[str, Any]:
        return jsonable(self.to_record().to_json())

    def write(self, stem: str | Path) -> tuple[Path, Path, Path]:
        """Write ``stem.csv``, ``stem.json`` and ``stem.md`` atomically."""
        stem = Path(stem)
        return (
            atomic_write_text(stem.with_suffix(".csv"), self.to_csv()),
            atomic_write_json(stem.with_suffix(".json"), self.to_json()),
            atomic_write_text(stem.with_suffix(".md"), self.to_markdown()),
        )


def paired_gain(
    baseline: np.ndarray, challenger: np.ndarray, n_boot: int, seed: int = 0, ci: float = 0.95
) -> tuple[Estimate, int | None, int | None]:
    """Mean gain of ``challenger`` over ``baseline`` (boolean ``(cells, images)`` correctness
    on the same images) with its percentile bootstrap interval, and the cells whose own
    interval lies above / below 0 (None for both when ``n_boot`` is 0)."""
    diff = challenger.astype(np.float64) - baseline.astype(np.float64)
    point = float(diff.mean())
    if n_boot <= 0:
        return Estimate(point), None, None
    n_images = diff.shape[1]
    replicates = bootstrap_weights(n_images, n_boot, seed) @ diff.T / n_images  # (R, cells)
    low, high = percentile_interval(replicates.mean(axis=1), ci)
    tail = 100 * (1 - ci) / 2
    cell_low, cell_high = np.percentile(replicates, [tail, 100 - tail], axis=0)
    return Estimate(point, low, high), int((cell_low > 0).sum()), int((cell_high < 0).sum())


def _pair(values: np.ndarray, digits: int, *, lower_better: bool) -> list[str]:
    first, second = (float(v) for v in values)
    texts = [f"{first:.{digits}f}", f"{second:.{digits}f}"]
    if first != second:
        best = int((second < first) == lower_better)
        texts[best] = f"**{texts[best]}**"
    return texts


def _find_threshold(curve: Curve, tau: float) -> int:
    hits = np.flatnonzero(np.isclose(curve.thresholds, tau, atol=1e-9))
    if hits.size == 0:
        raise InputError(
            f"threshold {tau} was not evaluated for {curve.method} on {curve.target}; "
            f"evaluated: {curve.thresholds.min():.2f}..{curve.thresholds.max():.2f}"
        )
    return int(hits[0])


def transference_table(
    curves: Iterable[Curve],
    *,
    source: str,
    methods: tuple[str, str] = (GRADCAM, CAUSAL),
    thresholds: Sequence[float] = TRANSFER_THRESHOLDS,
    mode: str = "deletion",
    targets: Sequence[str] | None = None,
    n_boot: int = 1000,
    seed: int = 0,
) -> TransferenceTable:
    """Table 1/2 of the paper from curves of ``source``'s masks on several targets.

    Args:
        curves: curves of ``source``'s maps, each method on each target.
        source: the network whose maps make the masks.
        methods: the baseline and the challenger set against it.
        thresholds: the table's thresholds (each must have been evaluated).
        mode: ``deletion`` (the paper's tables) or ``insertion``.
        targets: default: every target evaluated for ``source`` except ``source`` itself,
            in the order the curves list them.
        n_boot: resamples of the test images that give the gain's interval and the
            significant cells (0: none).
        seed: of the resamples.

    Returns:
        The table.

    Raises:
        InputError: a curve or a threshold missing.
    """
    baseline, challenger = methods
    found: dict[tuple[str, str], Curve] = {
        (curve.method, curve.target): curve
        for curve in curves
        if curve.source == source and curve.mode == mode
    }
    if targets is None:
        targets = [t for t in dict.fromkeys(target for _, target in found) if t != source]
    needed = [(method, target) for target in targets for method in (baseline, challenger)]
    missing = [pair for pair in needed if pair not in found]
    if missing or not targets:
        raise InputError(
            f"transference from {source!r} ({mode}) needs curves for {needed or 'some target'}; "
            f"missing {missing}"
        )
    taus = tuple(float(t) for t in thresholds)

    def at(method: str, target: str, tau: float, values: str) -> Any:
        curve = found[(method, target)]
        return getattr(curve, values)[_find_threshold(curve, tau)]

    huffman = np.array([[at(m, targets[0], tau, "mean_h") for m in methods] for tau in taus])
    accuracy = np.array(
        [[[at(m, t, tau, "accuracy") for m in methods] for t in targets] for tau in taus]
    )
    correct = {
        m: np.stack([at(m, t, tau, "correct") for tau in taus for t in targets]) for m in methods
    }
    gain, significant_wins, significant_losses = paired_gain(
        correct[baseline], correct[challenger], n_boot, seed
    )
    return TransferenceTable(
        source=source,
        baseline=baseline,
        challenger=challenger,
        mode=mode,
        thresholds=taus,
        targets=tuple(targets),
        huffman=huffman,
        accuracy=accuracy,
        n_images=int(found[(baseline, targets[0])].correct.shape[1]),
        gain=gain,
        significant_wins=significant_wins,
        significant_losses=significant_losses,
    )
