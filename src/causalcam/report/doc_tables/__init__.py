"""The results tables of README.md and the docs pages, generated from the committed results.

A page marks each generated block with ``<!-- table: NAME -->`` ... ``<!-- /table -->``;
:func:`refresh` rewrites every block from ``docs/results/**`` (``make docs-tables``, or
``python -m causalcam.report.doc_tables``) and :func:`stale_blocks` names the blocks that
differ from what the results give (``--check``). :data:`TABLES` lists the names a page may use.

- :mod:`.pages`: the blocks of the pages (:data:`TABLES`, :func:`render_page`,
  :func:`stale_blocks`, :func:`refresh`, :func:`main`);
- :mod:`.findings`: the paper's claims, the seed studies, transference, localisation, the
  verdict in one sentence;
- :mod:`.runs`: stage times, the bundled networks, the training recipes;
- :mod:`.speed`: the fast path, its agreement with fp32, the benchmark records;
- :mod:`.checks`: the ground-truth benchmark, the sanity checks and the 3-D network's
  lesion mass;
- :mod:`.common`: what they share.
"""

from .pages import (
    PAGE_GLOBS,
    TABLES,
    StaleBlock,
    main,
    pages,
    refresh,
    render_page,
    render_table,
    stale_blocks,
)
from .speed import benchmark_names

__all__ = [
    "PAGE_GLOBS",
    "TABLES",
    "StaleBlock",
    "benchmark_names",
    "main",
    "pages",
    "refresh",
    "render_page",
    "render_table",
    "stale_blocks",
]
