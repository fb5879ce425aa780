"""Amounts typed by people: the one accepted format, parsed strictly, and read back exactly."""

from __future__ import annotations

from decimal import Decimal, localcontext

import pytest

from chain.units import MAX_UINT256, format_amount, parse_amount
from kernel.errors import InvalidInputError

TOKEN = 10**18


@pytest.mark.parametrize(
    ("text", "wei"),
    [
        ("5", 5 * TOKEN),
        ("2.5", 25 * TOKEN // 10),
        ("0.000000000000000001", 1),
        ("1.000000000000000001", TOKEN + 1),
        ("1500wei", 1500),
        ("  3  ", 3 * TOKEN),
        ("007", 7 * TOKEN),
        (f"{MAX_UINT256}wei", MAX_UINT256),
    ],
)
def test_parse_amount_reads_tokens_and_wei(text: str, wei: int) -> None:
    assert parse_amount(text, field="--amount") == wei


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("-1", "must be a number of tokens"),
        ("+1", "must be a number of tokens"),
        ("0", "must be more than 0"),
        ("0.0", "must be more than 0"),
        ("0wei", "must be more than 0"),
        ("1.0000000000000000001", "has more than 18 decimals"),
        ("1e3", "must be a number of tokens"),
        ("abc", "must be a number of tokens"),
        ("", "must be a number of tokens"),
        ("1,5", "must be a number of tokens"),
        ("1_000", "must be a number of tokens"),
        (".5", "must be a number of tokens"),
        ("5.", "must be a number of tokens"),
        ("1.5wei", "must be a number of tokens"),
        ("5 FMT", "must be a number of tokens"),
        ("5eth", "must be a number of tokens"),
        ("0x10", "must be a number of tokens"),
        ("nan", "must be a number of tokens"),
        ("inf", "must be a number of tokens"),
        ("\u0661", "must be a number of tokens"),  # an Arabic-Indic one: digits are ASCII only
        (f"{MAX_UINT256 + 1}wei", "more than a contract can hold"),
    ],
)
def test_parse_amount_refuses_anything_else_naming_the_field(text: str, says: str) -> None:
    with pytest.raises(InvalidInputError) as refused:
        parse_amount(text, field="--amount")
    assert str(refused.value).startswith("--amount ")
    assert says in str(refused.value)


def test_zero_is_an_amount_only_where_allowed() -> None:
    assert parse_amount("0", field="--eth", allow_zero=True) == 0
    assert parse_amount("0wei", field="--eth", allow_zero=True) == 0


@pytest.mark.parametrize(
    "wei", [0, 1, 10**17, TOKEN, 25 * TOKEN // 10, 123456789 * TOKEN + 42, MAX_UINT256, -TOKEN // 2]
)
def test_format_amount_is_the_exact_decimal(wei: int) -> None:
    text = format_amount(wei)
    with localcontext() as exact:
        exact.prec = 100  # uint256 has 78 digits
        assert Decimal(text) == Decimal(wei).scaleb(-18)
    assert not (("." in text) and text.endswith("0"))
    if wei > 0:
        assert parse_amount(text, field="x") == wei  # read back what is shown
