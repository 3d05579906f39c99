"""Fixtures of the explanation-engine tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch


@pytest.fixture(autouse=True)
def _restore_grad_mode() -> Iterator[None]:
    mode = torch.is_grad_enabled()
    yield
    torch.set_grad_enabled(mode)
