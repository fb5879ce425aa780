"""``fedmarket vfl --party-timeout``: the liveness timeout reaches the run, bad values are refused.

A valid value is parsed into ``VflSettings.party_timeout_s`` (the run itself is replaced by a
recorder that stops the command right there: its liveness is tested end to end in
``tests/integration/fl_node/vertical/test_vfl_liveness.py``); a bad one ends the command with
exit 2 and one line naming the flag, before anything starts.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from fl_node.vertical.runner import VflInputError, VflSettings
from fl_node.vertical.runner.settings import check_party_timeout
from fl_node.vertical.transport import DEFAULT_LIVENESS_TIMEOUT
from kernel.errors import FedmarketError


class _Stop(FedmarketError):
    """Raised by the recorder in place of the run."""


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    import fl_node.vertical.runner as runner

    seen: dict[str, Any] = {}

    def record(dataset: str, out: Any, *, settings: VflSettings, **_: Any) -> dict[str, Any]:
        seen["settings"] = settings
        raise _Stop("recorded")

    monkeypatch.setattr(runner, "run_vfl", record)
    return seen


def _invoke(*args: str) -> Any:
    from fedmarket.cli import app

    return CliRunner().invoke(app, ["vfl", "--dataset", "breast", *args])


@pytest.mark.parametrize(("flag", "seconds"), [([], DEFAULT_LIVENESS_TIMEOUT), (["5"], 5.0)])
def test_the_timeout_reaches_the_settings(
    recorded: dict[str, Any], flag: list[str], seconds: float
) -> None:
    result = _invoke(*(["--party-timeout", *flag] if flag else []))
    assert isinstance(result.exception, _Stop), result.output
    assert recorded["settings"].party_timeout_s == seconds


@pytest.mark.parametrize("value", ["0", "0.5", "-3", "3601", "nan", "inf", "ten"])
def test_bad_values_are_refused_naming_the_flag(recorded: dict[str, Any], value: str) -> None:
    result = _invoke("--party-timeout", value)
    assert isinstance(result.exception, VflInputError)
    assert str(result.exception).startswith("--party-timeout must be a number of seconds")
    assert "settings" not in recorded  # refused before the run


def test_a_bad_value_exits_2_with_one_line() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "fedmarket", "vfl", "--party-timeout", "0"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert lines == ["error: --party-timeout must be a number of seconds from 1 to 3600, not 0.0"]


def test_the_settings_check_the_timeout_too(tmp_path: Path) -> None:
    assert check_party_timeout(1) == 1.0 and check_party_timeout(3600.0) == 3600.0
    for bad in (0, 0.999, 3600.5, True, "60", None, float("nan")):
        with pytest.raises(VflInputError, match="party_timeout_s must be"):
            check_party_timeout(bad)
    with pytest.raises(VflInputError, match="party_timeout_s must be"):
        VflSettings(party_timeout_s=0.1).plan("breast", tmp_path / "out")
    assert not (tmp_path / "out").exists()  # refused before anything is written


def test_a_config_file_sets_the_timeout_and_the_flag_overrides_it(
    recorded: dict[str, Any], tmp_path: Path
) -> None:
    config = tmp_path / "run.toml"
    config.write_text('[run]\nparty_timeout_s = 12\nrandomizer = "textbook"\n', encoding="utf-8")
    result = _invoke("--config", str(config))
    assert isinstance(result.exception, _Stop), result.output
    assert recorded["settings"].party_timeout_s == 12.0
    assert recorded["settings"].randomizer == "textbook"
    result = _invoke("--config", str(config), "--party-timeout", "30")
    assert recorded["settings"].party_timeout_s == 30.0
    assert recorded["settings"].randomizer == "textbook"  # not given as a flag: the file's


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("[run]\nparty_timeout_s = 0\n", "[run] party_timeout_s must be a number of seconds"),
        ('[run]\nparty_timeout_s = "60"\n', "[run] party_timeout_s must be a number of seconds"),
        ('[run]\nrandomizer = "fast"\n', "[run] randomizer must be short-exponent or textbook"),
        ("[run]\ntimeout = 5\n", "[run]: unknown key(s) ['timeout']"),
        ("[runner]\nparty_timeout_s = 5\n", "only the tables [secureboost], [lr] and [run]"),
    ],
)
def test_a_bad_config_file_is_refused_naming_the_file_and_key(
    recorded: dict[str, Any], tmp_path: Path, body: str, message: str
) -> None:
    config = tmp_path / "run.toml"
    config.write_text(body, encoding="utf-8")
    result = _invoke("--config", str(config))
    assert isinstance(result.exception, FedmarketError) and not isinstance(result.exception, _Stop)
    assert f"--config {config}" in str(result.exception) and message in str(result.exception)
    assert "settings" not in recorded
