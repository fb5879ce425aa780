"""Reading the query strings of the pages: lenient parsing with an error per field.

A page answers a malformed filter with the page itself, status 400 and the field named beside
its input, instead of a JSON error a person cannot act on.
"""

from __future__ import annotations

import unicodedata
from decimal import Decimal, InvalidOperation
from typing import Final

TOKEN_WEI: Final = 10**18
MAX_WEI: Final = 2**256 - 1


def token_amount(raw: str | None, field: str, errors: dict[str, str]) -> int | None:
    """A token amount typed by a person (``"12.5"``) in wei; ``None`` when empty or invalid."""
    text = (raw or "").strip()
    if not text:
        return None
    try:
        amount = Decimal(text)
    except InvalidOperation:
        errors[field] = "enter a number of tokens, like 12.5"
        return None
    if not amount.is_finite() or amount < 0:
        errors[field] = "enter a number of tokens, zero or more"
        return None
    wei = _exact_wei(amount) if len(text) <= MAX_TEXT else None
    if wei is None or wei > MAX_WEI:
        errors[field] = "at most 18 decimals, and less than 2^256 wei"
        return None
    return wei


MAX_TEXT: Final = 120


def _exact_wei(amount: Decimal) -> int | None:
    """``amount`` tokens in wei, exactly (``None`` past 18 decimals or 10^80 wei).

    Integer arithmetic, not Decimal's: its context rounds to 28 digits (a 2^70 wei price came
    back rounded), overflows (``1e999999`` raised) and underflows (``1e-999999999`` gave 0).
    """
    _, digits, exponent = amount.as_tuple()
    units = int("".join(map(str, digits)) or "0")
    shift = int(exponent) + 18
    if units == 0:
        return 0
    if shift >= 0:
        return units * 10**shift if shift <= 80 else None
    if -shift > MAX_TEXT:
        return None
    whole, rest = divmod(units, 10**-shift)
    return None if rest else whole


def whole_number(
    raw: str | None, field: str, errors: dict[str, str], *, default: int, maximum: int
) -> int:
    """A non-negative integer from a query string, ``default`` when empty or invalid."""
    text = (raw or "").strip()
    if not text:
        return default
    # isascii: str.isdigit holds for "²", which int() refuses; the length bounds int()'s work
    if not (text.isascii() and text.isdigit()) or len(text) > 40 or int(text) > maximum:
        errors[field] = f"a whole number from 0 to {maximum}"
        return default
    return int(text)


def one_of(
    raw: str | None, field: str, errors: dict[str, str], allowed: tuple[str, ...]
) -> str | None:
    """``raw`` when it is one of ``allowed``; ``None`` when empty; an error otherwise."""
    text = (raw or "").strip()
    if not text:
        return None
    if text not in allowed:
        errors[field] = "one of " + ", ".join(allowed)
        return None
    return text


def short_text(raw: str | None, field: str, errors: dict[str, str], *, limit: int) -> str | None:
    """Free text up to ``limit`` characters, without control characters; ``None`` when empty."""
    text = (raw or "").strip()
    if not text:
        return None
    if len(text) > limit or any(unicodedata.category(c) == "Cc" for c in text):  # C0, DEL, C1
        errors[field] = f"at most {limit} printable characters"
        return None
    return text


__all__ = ["MAX_WEI", "TOKEN_WEI", "one_of", "short_text", "token_amount", "whole_number"]
