"""Shared test fixtures."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tiny torch models are many small kernels: one thread avoids waiting on a busy second core. Modules that
    run torch use it with ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``."""
    try:
        import torch
    except ImportError:
        yield
        return
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
