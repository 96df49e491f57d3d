"""Shared fixtures of the mechanism tests.

The generated kernels are compiled by numba once per machine and model
structure (``cache=True``); the session-scoped fixtures below make every test
reuse the same loaded module, so compile time is paid at most once per run.
"""

from __future__ import annotations

import pytest

from resorb.mechanism import load_model
from resorb.mechanism._codegen import kernel_module


@pytest.fixture(scope="session")
def model():
    return load_model()


@pytest.fixture(scope="session")
def kernel(model):
    return kernel_module(model)
