"""The case every metric test shares, built once."""

from __future__ import annotations

import pytest
from metrics_helpers import Case, make_case


@pytest.fixture(scope="session")
def case() -> Case:
    return make_case()
