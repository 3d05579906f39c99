"""``python -m causalcam.report.doc_tables``: rewrite the results tables of the pages
(``--check``: only list the stale ones)."""

import sys

from .pages import main

sys.exit(main())
