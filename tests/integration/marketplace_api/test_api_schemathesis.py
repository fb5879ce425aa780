"""schemathesis over the whole API, served for real on PostgreSQL: 0 failures.

Every check (``--checks all``: no 5xx, status codes, content types, headers and bodies as the
OpenAPI documents them, invalid data refused, valid data accepted, ``Allow`` on OPTIONS and
405, authentication not ignored, ...) and every phase (examples, coverage, fuzzing, stateful
sequences over the API's links), with a bounded number of examples and a fixed seed so a failure
replays. ``scripts/schemathesis-api`` runs the same for longer with a fresh seed.
"""

from __future__ import annotations

import pytest

from tests.support.api_fuzz import fuzz_api
from tests.support.postgres import postgres_available
from tests.support.services import unavailable

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

MAX_EXAMPLES = 15
SEED = 20261130


def test_schemathesis_finds_nothing_on_postgres() -> None:
    if not postgres_available():
        unavailable("PostgreSQL server binaries are not installed")
    result = fuzz_api(max_examples=MAX_EXAMPLES, seed=SEED)
    report = "\n".join([*result.failures, *result.errors, result.output[-6000:]])
    assert result.errors == [], report
    assert (result.unique_failures, result.failures) == (0, []), report
    assert result.returncode == 0, report
    assert result.operations >= 24, report  # every operation was tested
    assert result.test_cases >= 20 * result.operations, report
