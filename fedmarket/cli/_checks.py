"""Checks of command-line values that end the command with one line naming the flag.

Typer's own range checks (``min=``, ``max=``) print a usage panel; the commands that take many
tuning flags (``fedmarket task design``) check them here instead, as option callbacks or in the
command's body, and raise :class:`~kernel.errors.InvalidInputError` (exit 2) with a message
such as ``--lr must be a number > 0, not -1.0``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence

from kernel.errors import InvalidInputError


def int_range(flag: str, low: int, high: int | None = None) -> Callable[[int], int]:
    """A callback accepting integers in ``[low, high]`` (no upper bound when ``high`` is None).

    Parameters
    ----------
    flag : str
        The option's name, as the user types it (``--rounds``).
    low : int
        Smallest value allowed.
    high : int or None, default None
        Largest value allowed.
    """
    wanted = f"an integer >= {low}" if high is None else f"an integer from {low} to {high}"

    def check(value: int) -> int:
        if value < low or (high is not None and value > high):
            raise InvalidInputError(f"{flag} must be {wanted}, not {value}")
        return value

    return check


def float_range(
    flag: str,
    low: float,
    high: float = math.inf,
    *,
    low_open: bool = False,
    high_open: bool = False,
) -> Callable[[float], float]:
    """A callback accepting finite numbers between ``low`` and ``high``.

    Parameters
    ----------
    flag : str
        The option's name.
    low, high : float
        Bounds (``high`` infinite by default).
    low_open, high_open : bool, default False
        Exclude the bound itself.
    """
    parts = [f"{'>' if low_open else '>='} {low:g}"]
    if math.isfinite(high):
        parts.append(f"{'<' if high_open else '<='} {high:g}")
    wanted = "a number " + " and ".join(parts)

    def check(value: float) -> float:
        if value is None:  # an optional flag left out
            return value
        below = value <= low if low_open else value < low
        above = value >= high if high_open else value > high
        if not math.isfinite(value) or below or above:
            raise InvalidInputError(f"{flag} must be {wanted}, not {value:g}")
        return value

    return check


def choice(flag: str, choices: Callable[[], Iterable[str]]) -> Callable[[str], str]:
    """A callback accepting one of ``choices()`` (called lazily: it may import heavy modules).

    Parameters
    ----------
    flag : str
        The option's name.
    choices : callable
        Returns the allowed values.
    """

    def check(value: str) -> str:
        allowed = sorted(choices())
        if value is not None and value not in allowed:  # None: an optional flag left out
            raise InvalidInputError(f"{flag} must be one of {', '.join(allowed)}, not {value!r}")
        return value

    return check


def int_list(flag: str, value: str) -> tuple[int, ...]:
    """Comma-separated positive integers (``"32,16"``), for widths and sizes.

    Parameters
    ----------
    flag : str
        The option's name.
    value : str
        What the user typed.
    """
    try:
        numbers = tuple(int(v) for v in value.split(","))
    except ValueError:
        numbers = ()
    if not numbers or min(numbers) < 1:
        raise InvalidInputError(
            f"{flag} must be comma-separated positive integers such as 32,16, not {value!r}"
        )
    return numbers


def key_values(
    flag: str, values: Sequence[str], keys: Iterable[str], low: float, high: float
) -> dict[str, float]:
    """``NAME=NUMBER`` pairs (``accuracy=0.92``), names from ``keys``, numbers in ``[low, high]``.

    Parameters
    ----------
    flag : str
        The (repeatable) option's name.
    values : sequence of str
        What the user typed, one pair per use of the flag.
    keys : iterable of str
        The names allowed.
    low, high : float
        Bounds of the numbers.
    """
    allowed = list(keys)
    out: dict[str, float] = {}
    for item in values:
        name, sep, number = item.partition("=")
        try:
            parsed = float(number)
        except ValueError:
            parsed = math.nan
        if not sep or name not in allowed:
            raise InvalidInputError(
                f"{flag} must be NAME=NUMBER with NAME one of {', '.join(allowed)}, not {item!r}"
            )
        if not (math.isfinite(parsed) and low <= parsed <= high):
            raise InvalidInputError(f"{flag} {name} must be a number from {low:g} to {high:g}")
        if name in out:
            raise InvalidInputError(f"{flag} {name} is given twice")
        out[name] = parsed
    return out


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400}
_MAX_PERIOD = 2**32 - 1


def duration(flag: str, value: str, *, allow_zero: bool = False) -> int:
    """Seconds from ``90``, ``90s``, ``15m``, ``2h`` or ``7d`` (a task's periods).

    Parameters
    ----------
    flag : str
        The option's name.
    value : str
        What the user typed.
    allow_zero : bool, default False
        Whether 0 is a valid duration (the inclusion period).
    """
    text = value.strip().lower()
    unit = _UNITS.get(text[-1:], 0) if text else 0
    number = text[:-1] if unit else text
    seconds = int(number) * (unit or 1) if number.isdigit() else -1
    if seconds < (0 if allow_zero else 1) or seconds > _MAX_PERIOD:
        low = "0" if allow_zero else "1s"
        raise InvalidInputError(
            f"{flag} must be a duration such as 90s, 15m, 2h or 7d (from {low} to {_MAX_PERIOD}s),"
            f" not {value!r}"
        )
    return seconds


def address(flag: str, value: str) -> str:
    """A checksummed Ethereum address from what the user typed.

    Parameters
    ----------
    flag : str
        The option's name.
    value : str
        What the user typed (``0x`` and 40 hex digits, any case).
    """
    from eth_utils.address import is_address, to_checksum_address

    if not is_address(value):
        raise InvalidInputError(f"{flag} must be an address (0x and 40 hex digits), not {value!r}")
    return str(to_checksum_address(value))


__all__ = [
    "address",
    "choice",
    "duration",
    "float_range",
    "int_list",
    "int_range",
    "key_values",
]
