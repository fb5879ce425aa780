"""The pages' query-string readers: a value or ``None``, and an error naming the field."""

from __future__ import annotations

import pytest

from marketplace_api.web.forms import (
    MAX_WEI,
    TOKEN_WEI,
    one_of,
    short_text,
    token_amount,
    whole_number,
)


def amount(raw: str | None) -> tuple[int | None, dict[str, str]]:
    errors: dict[str, str] = {}
    return token_amount(raw, "min_price", errors), errors


@pytest.mark.parametrize(
    ("raw", "wei"),
    [
        ("12.5", 12 * TOKEN_WEI + TOKEN_WEI // 2),
        (" 3 ", 3 * TOKEN_WEI),
        ("0", 0),
        ("0.000", 0),
        ("-0", 0),
        ("1e-18", 1),
        ("0.000000000000000001", 1),
        ("1.5E-17", 15),
        ("18.446744073709551617", 2**64 + 1),  # past 64 bits, exact
        ("1234567890123.123456789012345678", 1234567890123123456789012345678),
        ("1e59", 10**77),
        (
            "115792089237316195423570985008687907853269984665640564039457.584007913129639935",
            MAX_WEI,
        ),  # fmt: skip
    ],
)
def test_token_amounts_are_exact_wei(raw: str, wei: int) -> None:
    assert amount(raw) == (wei, {})


def test_every_eighteen_decimal_amount_round_trips() -> None:
    """Brute force: ``str(wei / 10**18)`` written with 18 decimals reads back as ``wei``."""
    for wei in [1, 7, 10**17 + 3, 2**64 - 1, 2**64, 2**70 + 12345, 3**150 % MAX_WEI, MAX_WEI]:
        text = f"{wei // TOKEN_WEI}.{wei % TOKEN_WEI:018d}"
        assert amount(text) == (wei, {}), text


@pytest.mark.parametrize("raw", [None, "", "   "])
def test_empty_is_no_bound(raw: str | None) -> None:
    assert amount(raw) == (None, {})


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("abc", "like 12.5"),
        ("0x10", "like 12.5"),
        ("1,5", "like 12.5"),
        ("-1", "zero or more"),
        ("-1e-20", "zero or more"),
        ("NaN", "zero or more"),
        ("sNaN", "zero or more"),
        ("inf", "zero or more"),
        ("-Infinity", "zero or more"),
        ("0.0000000000000000001", "18 decimals"),  # 19 decimals
        ("1000000000.0000000000000000001", "18 decimals"),  # 29 digits: Decimal rounded it
        ("1e-999999999", "18 decimals"),  # Decimal underflowed it to 0
        ("1e999999", "2^256"),  # Decimal raised Overflow
        ("1e1000000000", "2^256"),
        (
            "115792089237316195423570985008687907853269984665640564039457.584007913129639936",
            "2^256",
        ),  # MAX_WEI + 1  # fmt: skip
        ("9" * 200, "2^256"),
        ("0." + "0" * 150 + "1", "18 decimals"),
    ],
)
def test_bad_amounts_name_the_field(raw: str, message: str) -> None:
    value, errors = amount(raw)
    assert value is None
    assert list(errors) == ["min_price"] and message in errors["min_price"]


def test_whole_number() -> None:
    errors: dict[str, str] = {}
    assert whole_number(None, "offset", errors, default=0, maximum=100) == 0
    assert whole_number(" 24 ", "offset", errors, default=0, maximum=100) == 24
    assert whole_number("100", "offset", errors, default=0, maximum=100) == 100
    assert errors == {}
    for bad in ["101", "-1", "1.5", "1e3", "abc", "9" * 5000, "+1"]:
        errors = {}
        assert whole_number(bad, "offset", errors, default=7, maximum=100) == 7
        assert errors == {"offset": "a whole number from 0 to 100"}, bad


def test_whole_number_refuses_non_ascii_digits() -> None:
    """``str.isdigit`` is true for superscripts, which ``int`` cannot read."""
    for bad in ["²", "١٢", "𝟙"]:
        errors: dict[str, str] = {}
        assert whole_number(bad, "offset", errors, default=0, maximum=10**9) == 0
        assert "offset" in errors, bad


def test_one_of() -> None:
    allowed = ("newest", "price")
    errors: dict[str, str] = {}
    assert one_of(" price ", "sort", errors, allowed) == "price"
    assert one_of("", "sort", errors, allowed) is None
    assert errors == {}
    for bad in ["Price", "pricey", "newest,price", "<script>"]:
        errors = {}
        assert one_of(bad, "sort", errors, allowed) is None
        assert errors == {"sort": "one of newest, price"}


def test_short_text() -> None:
    errors: dict[str, str] = {}
    assert short_text("  heart disease ", "q", errors, limit=20) == "heart disease"
    assert short_text("<script>alert(1)</script>", "q", errors, limit=40) is not None
    assert short_text("x" * 20, "q", errors, limit=20) == "x" * 20
    assert short_text("\t \n", "q", errors, limit=20) is None
    assert errors == {}
    for bad in ["x" * 21, "a\x00b", "a\x1bb", "a\nb", "a\x7fb", "a\x85b"]:
        errors = {}
        assert short_text(bad, "q", errors, limit=20) is None, repr(bad)
        assert errors == {"q": "at most 20 printable characters"}, repr(bad)
