"""The recursion limit fedmarket pins, whatever py_ecc (imported by web3) sets it to."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest

from kernel.runtime import RECURSION_LIMIT, pin_recursion_limit


@pytest.fixture
def restored_limit() -> Iterator[None]:
    before = sys.getrecursionlimit()
    yield
    sys.setrecursionlimit(before)


def test_pin_undoes_a_raised_limit_and_logs_it(restored_limit, caplog):
    sys.setrecursionlimit(100_000)
    with caplog.at_level("INFO", logger="kernel.runtime"):
        assert pin_recursion_limit() == 100_000
    assert sys.getrecursionlimit() == RECURSION_LIMIT == 1000
    assert "100000" in caplog.text and "pinned to 1000" in caplog.text


def test_pin_is_silent_when_nothing_changed_it(restored_limit, caplog):
    sys.setrecursionlimit(RECURSION_LIMIT)
    with caplog.at_level("INFO", logger="kernel.runtime"):
        assert pin_recursion_limit() == RECURSION_LIMIT
    assert caplog.text == ""


def run_fresh(code: str) -> str:
    ran = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    return ran.stdout.strip()


@pytest.mark.slow
def test_creating_the_app_pins_the_limit_that_importing_web3_raised():
    """A fresh interpreter: importing the API and chain raises it, creating the app pins it."""
    out = run_fresh(
        "import sys\n"
        "import marketplace_api, chain\n"
        "from marketplace_api import create_app\n"
        "from marketplace_api.core.config import Settings\n"
        "raised = sys.getrecursionlimit()\n"
        "try:\n"
        "    create_app(Settings(relayer_key='0x' + '11' * 32))\n"
        "except Exception as exc:\n"
        "    print('create_app:', type(exc).__name__, file=sys.stderr)\n"
        "print(raised, sys.getrecursionlimit())\n"
    )
    assert out == f"100000 {RECURSION_LIMIT}"


@pytest.mark.slow
def test_the_cli_entry_pins_the_limit():
    out = run_fresh(
        "import sys\n"
        "import fedmarket.cli as cli\n"
        "raised = sys.getrecursionlimit()\n"
        "sys.argv = ['fedmarket', '--help']\n"
        "try:\n"
        "    cli.main()\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(raised, sys.getrecursionlimit())\n"
    )
    assert out.endswith(f"100000 {RECURSION_LIMIT}")
