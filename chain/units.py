"""Token and ether amounts as people type and read them, and as the chain counts them (wei).

Both FMT and ether have 18 decimals. What a person types (:func:`parse_amount`) is either

- a decimal number of whole units: ``5``, ``2.5``, ``0.000000000000000001`` (at most 18
  digits after the point), or
- an integer number of wei followed by ``wei``: ``1500wei``.

Nothing else is accepted: no sign, no exponent, no separators, no unit other than ``wei``, no
empty fraction (``5.``) or integer part (``.5``). What is read back (:func:`format_amount`) is the
exact decimal, without trailing zeros.
"""

from __future__ import annotations

import re

from kernel.errors import InvalidInputError
from kernel.types import Wei

DECIMALS = 18
"""Decimals of the reward token (FMT) and of ether."""
MAX_UINT256 = 2**256 - 1
"""The largest amount a contract can hold."""

_DECIMAL = re.compile(r"(?P<whole>[0-9]+)(?:\.(?P<fraction>[0-9]+))?")
_WEI = re.compile(r"(?P<wei>[0-9]+)wei")

AMOUNT_FORMAT = (
    "a number of tokens such as 5 or 2.5 (at most 18 decimals), or of wei such as 1500wei"
)
"""How :func:`parse_amount` describes what it accepts (in its error messages and in ``--help``)."""


def parse_amount(
    text: str, *, field: str, allow_zero: bool = False, decimals: int = DECIMALS
) -> Wei:
    """The amount in wei that ``text`` names, or :class:`InvalidInputError` naming ``field``.

    Parameters
    ----------
    text : str
        What the user typed: ``5``, ``2.5`` or ``1500wei`` (surrounding spaces are ignored).
    field : str
        The option or field it came from (``--amount``), named in the error.
    allow_zero : bool, default False
        Whether 0 is an amount (a faucet asked for no ether).
    decimals : int, default 18
        Decimals of the unit (:data:`DECIMALS`).

    Raises
    ------
    InvalidInputError
        ``text`` is not an amount in this format, has more decimals than the unit, is 0 where
        that is not allowed, or exceeds what a contract can hold.
    """
    typed = text.strip()
    as_units = _DECIMAL.fullmatch(typed)
    if as_units is not None and len(as_units["fraction"] or "") > decimals:
        raise InvalidInputError(f"{field} has more than {decimals} decimals: {text!r}")
    wei = _wei_of(typed, decimals)
    if wei is None:
        raise InvalidInputError(f"{field} must be {AMOUNT_FORMAT}, not {text!r}")
    if wei == 0 and not allow_zero:
        raise InvalidInputError(f"{field} must be more than 0, not {text!r}")
    if wei > MAX_UINT256:
        raise InvalidInputError(
            f"{field} {text!r} is more than a contract can hold (2^256 - 1 wei)"
        )
    return Wei(wei)


def _wei_of(typed: str, decimals: int) -> int | None:
    """Wei of ``typed`` in either form, ``None`` when it is neither (or has too many decimals)."""
    as_wei = _WEI.fullmatch(typed)
    if as_wei is not None:
        return int(as_wei["wei"])
    as_units = _DECIMAL.fullmatch(typed)
    if as_units is None:
        return None
    fraction = as_units["fraction"] or ""
    if len(fraction) > decimals:
        return None
    scale: int = 10**decimals
    return int(as_units["whole"]) * scale + int(fraction.ljust(decimals, "0") or "0")


def format_amount(wei: int, *, decimals: int = DECIMALS) -> str:
    """``wei`` as an exact decimal of whole units (``2500000000000000000`` -> ``"2.5"``).

    Parameters
    ----------
    wei : int
        The amount in wei (negative amounts keep their sign).
    decimals : int, default 18
        Decimals of the unit.
    """
    sign = "-" if wei < 0 else ""
    whole, fraction = divmod(abs(wei), 10**decimals)
    if not fraction:
        return f"{sign}{whole}"
    digits = str(fraction).rjust(decimals, "0").rstrip("0")
    return f"{sign}{whole}.{digits}"


__all__ = ["AMOUNT_FORMAT", "DECIMALS", "MAX_UINT256", "format_amount", "parse_amount"]
