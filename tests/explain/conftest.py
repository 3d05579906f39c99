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


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    """One intra-op thread: these small tensors gain nothing from more, and the CI
    machine's two cores are shared."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
