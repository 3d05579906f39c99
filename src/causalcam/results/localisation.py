"""The localisation table: how much of each method's map mass lies inside the lungs
(computed by :mod:`causalcam.evaluate.localisation`), as the ``localise`` command and the
localisation stage of ``causalcam reproduce`` store it. Standard library only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ._json import JsonForm


@dataclass(frozen=True)
class LocalisationRow(JsonForm):
    """One method: mean share of map mass inside the lungs with its bootstrap interval,
    the chance level (mean lung area fraction), the excess over chance with its paired
    bootstrap interval, lift, pointing game, share inside the body."""

    method: str
    n: int
    lung_share: float
    ci_low: float
    ci_high: float
    chance: float
    excess: float  # mean of (share - lung area fraction) per scan
    excess_low: float
    excess_high: float
    lift: float
    pointing: float
    body_share: float


@dataclass
class LocalisationResult(JsonForm):
    """The localisation table of one model on a set of scans."""

    model: str
    image_size: int
    n_images: int
    mask_status: dict[str, int]
    rows: list[LocalisationRow]
    n_boot: int
    ci: float = 0.95
    notes: list[str] = field(default_factory=list)

    def markdown(self) -> str:
        """The table and its verdict lines as markdown."""
        used = self.n_images - self.mask_status.get("empty", 0)
        lines = [
            f"Localisation of {self.model} ({self.image_size} px): share of each map's mass "
            f"inside the lungs, mean over {used} of {self.n_images} scans with a lung mask "
            f"({int(self.ci * 100)}% bootstrap interval, {self.n_boot} resamples).",
            "",
            "| method | lung share | interval | chance (lung area) | excess over chance "
            "| lift | pointing game | share in body |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for r in self.rows:
            lines.append(
                f"| {r.method} | {r.lung_share:.3f} | [{r.ci_low:.3f}, {r.ci_high:.3f}] "
                f"| {r.chance:.3f} | {r.excess:+.3f} [{r.excess_low:+.3f}, {r.excess_high:+.3f}] "
                f"| {r.lift:.2f} | {r.pointing:.3f} | {r.body_share:.3f} |"
            )
        return "\n".join([*lines, "", *self.notes]) + "\n"


def verdicts(rows: Sequence[LocalisationRow]) -> list[str]:
    """Plain sentences: which methods look at the lungs more than a uniform map would, and
    where the rest of the mass lies."""
    notes = []
    for r in rows:
        if r.n == 0:
            notes.append(f"- {r.method}: every map is zero (degenerate); nothing to measure.")
            continue
        if r.excess_low > 0:
            word = "more than"
        elif r.excess_high < 0:
            word = "LESS than"
        else:
            word = "no more than"
        notes.append(
            f"- {r.method}: {100 * r.lung_share:.1f}% of the mass in the lungs, {word} a "
            f"uniform map ({100 * r.chance:.1f}%, paired interval of the difference); "
            f"{100 * (r.body_share - r.lung_share):.1f}% in the body outside the lungs "
            f"(mediastinum, spine, chest wall); {100 * (1 - r.body_share):.1f}% outside the "
            "body (table, background, text)."
        )
    measured = [r for r in rows if r.n > 0]
    if measured and all(not r.excess_low > 0 for r in measured):
        notes.append(
            "- No method puts more of its mass in the lungs than a uniform map would: this "
            "network's evidence lies mostly outside the lungs, a shortcut rather than the "
            "lung findings a radiologist reads."
        )
    return notes


@dataclass(frozen=True)
class LocalisationStageResult(JsonForm):
    """The localisation of every network of a run on its test images (the same lung masks
    for all) and the figure of sampled masks to check by eye (relative to the run folder)."""

    tables: tuple[LocalisationResult, ...]
    masks_figure: str | None = None
