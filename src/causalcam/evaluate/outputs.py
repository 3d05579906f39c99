"""Write an evaluation's tables and plots into one folder (what ``causalcam evaluate`` shows)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from ..method_names import GRADCAM
from ..viz.curves import save_accuracy_curves
from .store import safe_name
from .summary import DEFAULT_H_VALUES, summarize
from .tables import curve_rows, write_rows
from .threshold import Curve


def write_evaluation(
    curves: Iterable[Curve],
    out_dir: str | Path,
    *,
    reference: str = GRADCAM,
    h_values: Sequence[float] = DEFAULT_H_VALUES,
    n_boot: int = 1000,
    seed: int = 0,
    plots: bool = True,
) -> list[Path]:
    """Write the curves, their summary and their plots into one folder.

    Args:
        curves: the curves.
        out_dir: the folder: ``curves.{csv,json}`` (accuracy and mean H per threshold),
            ``summary.{csv,json}`` (see :func:`summarize`), ``plots/`` (one PNG per source,
            target and mode).
        reference: the method the others are compared with.
        h_values: the matched Huffman budgets.
        n_boot: bootstrap resamples of the test images (0: no intervals).
        seed: the resampling's seed.
        plots: whether to draw the PNGs.

    Returns:
        The written paths.
    """
    chosen = list(curves)
    out = Path(out_dir)
    paths = [*write_rows(curve_rows(chosen), out / "curves")]
    rows = summarize(chosen, reference=reference, h_values=h_values, n_boot=n_boot, seed=seed)
    paths += write_rows(rows, out / "summary")
    if plots:
        groups: dict[tuple[str, str, str], list[Curve]] = {}
        for curve in chosen:
            groups.setdefault((curve.source, curve.target, curve.mode), []).append(curve)
        for (source, target, mode), members in groups.items():
            name = f"{safe_name(source)}__{safe_name(target)}__{mode}.png"
            paths.append(save_accuracy_curves(members, out / "plots" / name))
    return paths
