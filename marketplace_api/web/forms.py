"""Reading the query strings of the pages: lenient parsing with an error per field.

A page answers a malformed filter with the page itself, status 400 and the field named beside
its input, instead of a JSON error a person cannot act on.
"""

from __future__ import annotations

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
    wei = amount * TOKEN_WEI
    if wei != wei.to_integral_value() or wei > MAX_WEI:
        errors[field] = "at most 18 decimals, and less than 2^256 wei"
        return None
    return int(wei)


def whole_number(
    raw: str | None, field: str, errors: dict[str, str], *, default: int, maximum: int
) -> int:
    """A non-negative integer from a query string, ``default`` when empty or invalid."""
    text = (raw or "").strip()
    if not text:
        return default
    if not text.isdigit() or int(text) > maximum:
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
    if len(text) > limit or any(ord(c) < 32 for c in text):
        errors[field] = f"at most {limit} printable characters"
        return None
    return text


__all__ = ["MAX_WEI", "TOKEN_WEI", "one_of", "short_text", "token_amount", "whole_number"]
