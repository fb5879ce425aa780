"""Skip or fail: what a test does when a real service or dataset is unavailable."""

from __future__ import annotations

import os

import pytest

REQUIRE_REAL = os.environ.get("FEDMARKET_REQUIRE_REAL") == "1"
"""Set by ``scripts/test`` and CI: a missing service or dataset fails instead of skipping."""


def unavailable(reason: str) -> None:
    """Skip the test, or fail it when real services are required."""
    if REQUIRE_REAL:
        pytest.fail(f"required real service unavailable: {reason}")
    pytest.skip(reason)
