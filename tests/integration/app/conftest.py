"""Fixtures of the app-layer tests: ``cli`` runs the real command line in this process.

``cli("task", "design", ...)`` goes through :func:`fedmarket.cli.errors.run_mapped`, exactly what
the console script does, with ``sys.argv`` set and the output captured: fast, and it lets a
test monkeypatch one function on a command's path. Subprocess runs use ``app_cli.fedmarket``.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.integration.app.app_cli import Ran, run_in_process


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Callable[..., Ran]:
    def run(*args: str) -> Ran:
        return run_in_process(monkeypatch, capsys, *args)

    return run
