"""Fixtures of the vertical-FL integration tests."""

from __future__ import annotations

import pytest

from fl_node.data.registry import fetch
from fl_node.errors import DataUnavailableError
from tests.support.services import unavailable


@pytest.fixture(scope="session")
def breast_data() -> None:
    """The FATE breast files, verified (downloaded once where they are not local)."""
    try:
        fetch("fate_breast_hetero")
    except DataUnavailableError as exc:
        unavailable(str(exc))
