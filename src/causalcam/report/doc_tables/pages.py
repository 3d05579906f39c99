"""The generated blocks of the pages: :data:`TABLES` names every table a page may hold,
:func:`render_page` rewrites a page's blocks, :func:`stale_blocks` names those that differ
from what the results give and :func:`refresh` rewrites them all."""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from .checks import ground_truth, metrics_summary, sanity, volume_lesion_mass
from .findings import (
    for_users,
    localisation,
    seeds_112,
    seeds_224,
    summary,
    transfer_seeds,
    verdict,
)
from .runs import (
    bundled_confusion,
    bundled_models,
    committed_networks,
    recall,
    recipes,
    run_time,
)
from .speed import benchmark, benchmark_names, precision_agreement, speed

DESCRIPTION = (
    "The results tables of README.md and the docs pages, generated from the committed results."
)
#: The pages that may hold generated blocks, relative to the repository root.
PAGE_GLOBS = ("README.md", "docs/*.md", "docs/results/**/README.md")
_BLOCK = re.compile(r"(<!-- table: ([\w-]+) -->\n)(.*?)(<!-- /table -->)", re.DOTALL)


@dataclass(frozen=True)
class StaleBlock:
    """A generated block of ``page`` whose text differs from what the results give."""

    page: Path
    name: str

    def __str__(self) -> str:
        return f"{self.page}: table {self.name!r} differs from docs/results"


#: Every table a page may name, with the function that renders it from ``docs/results``.
TABLES: dict[str, Callable[[Path], str]] = {
    "verdict": verdict,
    "seeds-224": seeds_224,
    "seeds-112": seeds_112,
    "transfer-seeds": transfer_seeds,
    "localisation": localisation,
    "speed": speed,
    "precision-agreement": precision_agreement,
    "run-time-quick": lambda results: run_time(results, "quick"),
    "run-time-full-cpu": lambda results: run_time(results, "full-cpu"),
    "bundled-models": bundled_models,
    "committed-networks": committed_networks,
    "bundled-confusion": bundled_confusion,
    "summary": summary,
    "for-users": for_users,
    "ground-truth": ground_truth,
    "sanity": sanity,
    "metrics-summary": metrics_summary,
    "recipes": recipes,
    "recall": recall,
    "volume-lesion-mass": volume_lesion_mass,
}


def render_table(name: str, results: Path) -> str:
    """The Markdown of table ``name`` from the results folder ``results``.

    Raises:
        KeyError: ``name`` is neither in :data:`TABLES` nor a committed benchmark.
    """
    if name in TABLES:
        return TABLES[name](results)
    if name in benchmark_names(results):
        return benchmark(results / "benchmarks" / f"{name[len('bench-') :].replace('-', '_')}.json")
    known = ", ".join([*TABLES, *benchmark_names(results)])
    raise KeyError(f"unknown table {name!r} (known: {known})")


def pages(root: Path) -> Iterator[Path]:
    """The pages of ``root`` that may hold generated blocks."""
    for pattern in PAGE_GLOBS:
        yield from sorted(root.glob(pattern))


def _for_page(text: str, page: Path, root: Path) -> str:
    """``text`` with its ``results/...`` links (written for ``docs/``) made relative to ``page``."""
    docs = root / "docs"
    prefix = "docs/" if page.parent == root else "../" * len(page.parent.relative_to(docs).parts)
    return re.sub(r"\]\((results/)", rf"]({prefix}\1", text)


def render_page(text: str, page: Path, root: Path, cache: dict[str, str]) -> str:
    """``text`` with every generated block rewritten (``cache``: rendered tables by name).

    Raises:
        KeyError: a block names a table that :data:`TABLES` does not know.
    """

    def block(match: re.Match[str]) -> str:
        name = match.group(2)
        if name not in cache:
            try:
                cache[name] = render_table(name, root / "docs" / "results").strip()
            except KeyError as error:
                raise KeyError(f"{page}: {error.args[0]}") from None
        body = _for_page(cache[name], page, root)
        return f"{match.group(1)}{body}\n{match.group(4)}"

    return _BLOCK.sub(block, text)


def _rendered(root: Path) -> Iterator[tuple[Path, str, str]]:
    """Each page under ``root`` with its text and its text with every block rewritten."""
    cache: dict[str, str] = {}
    for page in pages(root):
        text = page.read_text(encoding="utf-8")
        yield page, text, render_page(text, page, root, cache)


def stale_blocks(root: Path) -> list[StaleBlock]:
    """The generated blocks of the pages under ``root`` that differ from the results."""
    stale = []
    for page, text, fresh in _rendered(root):
        old, new = _BLOCK.findall(text), _BLOCK.findall(fresh)
        stale += [
            StaleBlock(page.relative_to(root), a[1])
            for a, b in zip(old, new, strict=True)
            if a != b
        ]
    return stale


def refresh(root: Path) -> list[Path]:
    """Rewrite every generated block under ``root``; returns the pages that changed."""
    changed = []
    for page, text, fresh in list(_rendered(root)):
        if fresh != text:
            page.write_text(fresh, encoding="utf-8")
            changed.append(page.relative_to(root))
    return changed


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: rewrite the blocks (default) or only check them (``--check``)."""
    parser = argparse.ArgumentParser(description=DESCRIPTION)
    parser.add_argument("--root", type=Path, default=Path("."), help="Repository root.")
    parser.add_argument("--check", action="store_true", help="Only list stale blocks.")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_blocks(args.root)
        for block in stale:
            print(block)
        return 1 if stale else 0
    for page in refresh(args.root):
        print(f"updated {page}")
    return 0
