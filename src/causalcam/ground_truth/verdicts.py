"""The predictions of docs/method.md ("Ground truth: planted cause and context"), the margins
declared there, and the verdicts: typed results with a JSON form."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from ..errors import InputError
from ..method_names import CONTRAST_P, CONTRAST_PQ, GRADCAM, causal_variant_name
from ..method_names import DEFAULT_CAUSAL as _DEFAULT
from ..results import Estimate, JsonForm
from ..synthetic.designs import CONTRAST, SHARED, Design
from .maps import CONTEXT_ESTIMATE

#: The effect margin and the equivalence / non-inferiority margin, declared before any run.
DELTA: Final = 0.05
EPSILON: Final = 0.05
#: Quantities a prediction is about.
SEPARATION: Final = "S"  # share_cause - share_context of the map
GAIN: Final = "S - S(Grad-CAM)"
CONTEXT_CHANGE: Final = "share_context - share_context(Grad-CAM)"
#: Kinds of prediction and their outcomes.
ABOVE, BELOW, WITHIN = "above", "below", "within"
HOLDS, FAILS, UNRESOLVED = "holds", "fails", "unresolved"
DEFAULT_READING: Final = causal_variant_name(
    _DEFAULT["loss"], _DEFAULT["normalize"], _DEFAULT["sign"]
)


@dataclass(frozen=True)
class Prediction(JsonForm):
    """``quantity`` of ``method`` lies ``above`` the bound, ``below`` it, or ``within``
    (-bound, bound)."""

    method: str
    quantity: str
    kind: str
    bound: float

    def judge(self, value: Estimate) -> str:
        """``holds`` when the whole interval lies where predicted, ``fails`` when it lies
        wholly on the other side, else ``unresolved``."""
        low, high = value.low, value.high
        if not (math.isfinite(low) and math.isfinite(high)):
            return UNRESOLVED
        if self.kind == ABOVE:
            return HOLDS if low > self.bound else FAILS if high < self.bound else UNRESOLVED
        if self.kind == BELOW:
            return HOLDS if high < self.bound else FAILS if low > self.bound else UNRESOLVED
        if -self.bound < low and high < self.bound:
            return HOLDS
        return FAILS if low >= self.bound or high <= -self.bound else UNRESOLVED

    @property
    def text(self) -> str:
        if self.kind == WITHIN:
            return f"abs({self.quantity}) < {self.bound:g}"
        return f"{self.quantity} {'>' if self.kind == ABOVE else '<'} {self.bound:g}"


def is_reading(method: str) -> bool:
    """A causal reading of the ablation (``causal[...]``)."""
    return method.startswith("causal[")


def predictions(design: Design, methods: Sequence[str]) -> list[Prediction]:
    """The predictions of docs/method.md for the maps ``methods`` scored on ``design``."""
    out: list[Prediction] = []
    context_maps = [m for m in methods if m.startswith(f"{CONTEXT_ESTIMATE}[")]
    readings = [m for m in methods if is_reading(m)]
    if design.is_null:
        return [comparison(design, m) for m in readings]
    if design.name == CONTRAST:
        out.append(Prediction(GRADCAM, SEPARATION, ABOVE, DELTA))
    if design.name == SHARED:
        out.append(Prediction(CONTRAST_PQ, SEPARATION, BELOW, -DELTA))
    out.append(Prediction(CONTRAST_P, SEPARATION, ABOVE, DELTA))
    out.extend(Prediction(m, SEPARATION, BELOW, -DELTA) for m in context_maps)
    for m in readings:
        out += [Prediction(m, SEPARATION, ABOVE, DELTA), comparison(design, m)]
    return [p for p in out if p.method in methods]


def comparison(design: Design, method: str) -> Prediction:
    """The prediction that decides whether a reading separates cause from context on
    ``design``: beats Grad-CAM (shortcut, shared), non-inferior (contrast), equivalent on
    the context (null case)."""
    if design.is_null:
        return Prediction(method, CONTEXT_CHANGE, WITHIN, EPSILON)
    if design.name == CONTRAST:
        return Prediction(method, GAIN, ABOVE, -EPSILON)
    return Prediction(method, GAIN, ABOVE, DELTA)


def deciding(config: ConfigResult, method: str) -> Verdict:
    """The verdict of ``method``'s deciding comparison (:func:`comparison`) on ``config``,
    as judged with the configuration's other predictions."""
    test = comparison(config.design, method)
    found = next((v for v in config.verdicts if v.prediction == test), None)
    if found is None:
        raise InputError(f"{config.label}: no verdict on `{test.text}` for {method}")
    return found


@dataclass(frozen=True)
class MapRow(JsonForm):
    """One map on one configuration: shares of its mass on the cause and on the context, its
    separation ``S``, ``S`` minus Grad-CAM's, its context share minus Grad-CAM's (intervals
    over networks then images) and the pointing game (share of images whose maximum lies on
    the cause / on the context) and the share of images where the map is all zeros."""

    method: str
    cause: Estimate
    context: Estimate
    separation: Estimate
    gain: Estimate
    context_change: Estimate
    point_cause: float
    point_context: float
    empty: float = 0.0

    def quantity(self, name: str) -> Estimate:
        return {SEPARATION: self.separation, GAIN: self.gain, CONTEXT_CHANGE: self.context_change}[
            name
        ]


@dataclass(frozen=True)
class Verdict(JsonForm):
    """A prediction, the estimate it is judged on and the outcome."""

    prediction: Prediction
    estimate: Estimate
    outcome: str


@dataclass(frozen=True)
class NetworkSummary(JsonForm):
    """One trained network: its seed, label smoothing, accuracy per intervention
    (``causalcam.synthetic.INTERVENTIONS``) and mean confidence on clean test images."""

    seed: int
    smoothing: float
    accuracy: dict[str, float]
    confidence: float


@dataclass(frozen=True)
class CurveRow(JsonForm):
    """The paper's threshold deletion/insertion on one configuration: a method's mean
    accuracy difference to Grad-CAM at matched Huffman budgets, over its networks."""

    mode: str
    method: str
    mean_diff: Estimate


@dataclass(frozen=True)
class ConfigResult(JsonForm):
    """One configuration (a design at one label smoothing) over its networks."""

    design: Design
    smoothing: float
    n_images: int
    networks: tuple[NetworkSummary, ...]
    rows: tuple[MapRow, ...]
    verdicts: tuple[Verdict, ...]
    curves: tuple[CurveRow, ...] = ()

    @property
    def label(self) -> str:
        return f"{self.design.label} (smoothing {self.smoothing:g})"

    def row(self, method: str) -> MapRow:
        return next(r for r in self.rows if r.method == method)


@dataclass(frozen=True)
class ReadingVerdict(JsonForm):
    """Whether one causal reading separates cause from context at one label smoothing: the
    outcome of its deciding comparison (:func:`comparison`) per configuration."""

    reading: str
    smoothing: float
    outcomes: dict[str, str]
    json_derived = ("separates",)

    @property
    def separates(self) -> bool:
        return bool(self.outcomes) and all(o == HOLDS for o in self.outcomes.values())


def reading_verdicts(configs: Sequence[ConfigResult]) -> list[ReadingVerdict]:
    """Per causal reading and label smoothing, the deciding comparison on every design."""
    out = []
    for smoothing in sorted({c.smoothing for c in configs}):
        chosen = [c for c in configs if c.smoothing == smoothing]
        names = [r.method for r in chosen[0].rows if is_reading(r.method)] if chosen else []
        for name in names:
            outcomes = {c.design.label: deciding(c, name).outcome for c in chosen}
            out.append(ReadingVerdict(name, smoothing, outcomes))
    return out


@dataclass(frozen=True)
class BenchmarkResult(JsonForm):
    """Everything the benchmark measured: its settings, each configuration, and per reading
    whether it separates cause from context (and whether the default reading does)."""

    settings: dict[str, Any]
    configs: tuple[ConfigResult, ...]
    readings: tuple[ReadingVerdict, ...] = field(default=())
    json_derived = ("margins", "default_reading")

    @property
    def margins(self) -> dict[str, float]:
        """The declared margins (:data:`DELTA`, :data:`EPSILON`)."""
        return {"delta": DELTA, "epsilon": EPSILON}

    @property
    def default_reading(self) -> str:
        return DEFAULT_READING

    @property
    def separating(self) -> list[ReadingVerdict]:
        return [r for r in self.readings if r.separates]

    @property
    def default_separates(self) -> dict[float, bool]:
        """Per label smoothing, whether the default reading (``DEFAULT_CAUSAL``) separates."""
        return {r.smoothing: r.separates for r in self.readings if r.reading == DEFAULT_READING}
