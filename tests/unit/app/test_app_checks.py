"""The command line's value checks: durations and addresses (each refusal names its flag)."""

from __future__ import annotations

import pytest

from fedmarket.cli._checks import address, duration
from kernel.errors import InvalidInputError


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90", 90), ("90s", 90), ("15m", 900), ("2h", 7200), ("7d", 604_800), (" 1H ", 3600)],
)
def test_durations_read_with_their_unit(text, seconds):
    assert duration("--commit-period", text) == seconds


@pytest.mark.parametrize("text", ["", "s", "1.5h", "-1", "2w", "0", "5000000000", "1 h"])
def test_a_bad_duration_names_its_flag(text):
    with pytest.raises(InvalidInputError, match="--commit-period must be a duration"):
        duration("--commit-period", text)


def test_only_the_inclusion_period_may_be_zero():
    assert duration("--inclusion-period", "0", allow_zero=True) == 0
    assert duration("--inclusion-period", "0s", allow_zero=True) == 0


def test_addresses_are_checksummed_and_names_refused():
    lower = "0x" + "ab" * 20
    assert address("--allow", lower) == "0xABaBaBaBABabABabAbAbABAbABabababaBaBABaB"
    with pytest.raises(InvalidInputError, match="--allow must be an address"):
        address("--allow", "alice")
