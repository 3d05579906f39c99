"""The tables of speed and numerical agreement: the fast path, its maps against fp32, and
every committed benchmark record."""

from __future__ import annotations

from pathlib import Path

from ..formatting import method_text
from .common import markdown_table, read_json


def speed(results: Path) -> str:
    """The fast path's speed (fp32 contiguous, fp32 channels-last, bf16), with its context."""
    data = read_json(results / "precision" / "fast_path_resnet18_quiet.json")
    rows = [
        [
            row["mode"],
            f"{row['forward_images_per_s']:.1f}",
            f"{row['maps_images_per_s']:.1f}",
            f"{row['evaluation_images_per_s']:.1f}",
            f"{row['maps_vs_fp32_contiguous_forward']:.2f}",
            f"{row['evaluation_speedup']:.2f}x",
        ]
        for row in data["rows"]
    ]
    columns = [
        "mode",
        "forward (images/s)",
        "all six maps (images/s)",
        "evaluation (images/s)",
        "all maps / fp32 contiguous forward",
        "evaluation speed-up",
    ]
    context = data["context"].replace(" (random scans (DataError))", " (random images)")
    return markdown_table(columns, rows) + f"\n*Measured on: {context}.*\n"


def precision_agreement(results: Path) -> str:
    """Agreement of the channels-last and bf16 maps with the fp32 contiguous ones, per map."""
    data = read_json(results / "precision" / "agreement.json")
    by_mode = {(r["mode"], r["method"]): r for r in data["maps"]}
    methods = list(dict.fromkeys(r["method"] for r in data["maps"]))
    rows = []
    for method in methods:
        cells = [
            method_text(method),
            f"{by_mode[('fp32 channels-last', method)]['max_abs_difference']:.1e}",
        ]
        for mode in ("bf16", "bf16, bf16 head"):
            row = by_mode[(mode, method)]
            cells += [
                f"{row['median_pearson']:.5f}",
                f"{row['min_pearson']:.4f}",
                f"{100 * row['mask_pixels_differing']:.2f}%",
            ]
        rows.append(cells)
    columns = [
        "map",
        "fp32 channels-last: max difference",
        "bf16: median r",
        "min r",
        "mask at 0.5 differs",
        "bf16 head too: median r",
        "min r",
        "mask differs",
    ]
    return markdown_table(columns, rows, str(data.get("context", "")))


def benchmark(path: Path) -> str:
    """A benchmark's table (``docs/results/benchmarks/NAME.json``: ``columns`` with an optional
    ``format`` for numbers, ``rows``, ``command`` and ``measured_on``)."""
    data = read_json(path)
    columns = data["columns"]
    rows = [
        [
            column.get("format", "{}").format(value)
            if isinstance(value, int | float)
            else value or "–"
            for column, value in zip(columns, row, strict=True)
        ]
        for row in data["rows"]
    ]
    table = markdown_table([c["name"] for c in columns], rows)
    return f"{table}\n*Measured on: {data['measured_on']}; `{data['command']}`.*\n"


def benchmark_names(results: Path) -> list[str]:
    """The table name of each committed benchmark record: ``bench-NAME`` for
    ``benchmarks/NAME.json`` (underscores written as hyphens)."""
    folder = results / "benchmarks"
    return [f"bench-{p.stem.replace('_', '-')}" for p in sorted(folder.glob("*.json"))]
