"""Reading untrusted JSON documents (schemas, plans, summaries): bounded and validated.

:func:`load_json` reads at most a given number of bytes, refuses nesting deeper than
:data:`MAX_DEPTH` before parsing (the parser recurses once per level, and a dependency raises the
recursion limit) and refuses ``NaN`` and ``Infinity``. The small parsers below check one value
each and raise :class:`~fl_node.errors.SpecError` naming where it is.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import cast

from fl_node.errors import SpecError

MAX_TOKENS = 32
"""Most missing tokens or missing values of one column."""
MAX_TEXT = 200
"""Longest name, category or token, in characters."""
MAX_DEPTH = 16
"""Deepest nesting of a document."""


def canonical(token: str) -> str:
    """The canonical form of a raw cell: stripped, and numbers written one way.

    Parameters
    ----------
    token : str
        A raw cell (``"1.0"``, ``" 7 "``, ``"?"``).
    """
    text = token.strip()
    try:
        value = float(text)
    except ValueError:
        return text
    if not math.isfinite(value):
        return text
    if value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    return repr(value)


def load_json(path: Path, max_bytes: int, what: str) -> object:
    """Read and parse the JSON document at ``path``, refusing more than ``max_bytes``."""
    try:
        with path.open("rb") as fh:
            data = fh.read(max_bytes + 1)
    except OSError as exc:
        raise SpecError(f"{path}: cannot read the {what} ({exc.strerror})") from None
    if len(data) > max_bytes:
        raise SpecError(f"{path}: a {what} is at most {max_bytes} bytes")
    _check_depth(data, path)
    try:
        return json.loads(data.decode("utf-8"), parse_constant=_no_constant)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise SpecError(f"{path}: not JSON ({exc})") from None
    except SpecError as exc:
        raise SpecError(f"{path}: {exc}") from None


def _check_depth(data: bytes, source: Path) -> None:
    """Refuse JSON nested deeper than :data:`MAX_DEPTH` before parsing it.

    The parser recurses once per level; under a recursion limit a dependency raised (py_ecc
    sets 100,000) a deep document would overflow the C stack instead of raising.
    """
    depth, in_string, escaped = 0, False, False
    for byte in data:
        if escaped:
            escaped = False
        elif in_string:
            escaped = byte == 0x5C  # backslash
            in_string = byte != 0x22  # closing quote
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > MAX_DEPTH:
                raise SpecError(f"{source}: JSON nested deeper than {MAX_DEPTH} levels")
        elif byte in (0x5D, 0x7D):
            depth -= 1


def _no_constant(name: str) -> object:
    raise SpecError(f"{name} is not a number a document may hold")


def mapping(raw: object, where: str) -> Mapping[str, object]:
    if not isinstance(raw, Mapping) or not all(isinstance(k, str) for k in raw):
        raise SpecError(f"{where}: must be an object")
    return cast(Mapping[str, object], raw)


def keys(doc: Mapping[str, object], where: str, allowed: set[str]) -> None:
    extra = sorted(set(doc) - allowed)
    if extra:
        raise SpecError(
            f"{where}: unknown key {extra[0]!r} (allowed: {', '.join(sorted(allowed))})"
        )


def text(raw: object, where: str, *, limit: int = MAX_TEXT, empty: bool = False) -> str:
    if not isinstance(raw, str) or len(raw) > limit or (not empty and not raw.strip()):
        raise SpecError(
            f"{where}: must be a {'' if empty else 'non-empty '}string of at most {limit} chars"
        )
    return raw


def number(raw: object, where: str) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw):
        raise SpecError(f"{where}: must be a finite number")
    return float(raw)


def optional_number(raw: object, where: str) -> float | None:
    return None if raw is None else number(raw, where)


def fraction(raw: object, where: str) -> float:
    value = number(raw, where)
    if not 0.0 <= value <= 1.0:
        raise SpecError(f"{where}: must be between 0 and 1")
    return value


def integer(raw: object, where: str, low: int, high: int) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int) or not low <= raw <= high:
        raise SpecError(f"{where}: must be an integer from {low} to {high}")
    return raw


def texts(raw: object, where: str, limit: int) -> tuple[str, ...]:
    if not isinstance(raw, list | tuple) or len(raw) > limit:
        raise SpecError(f"{where}: must be a list of at most {limit} strings")
    values = tuple(text(canonical_or(v), f"{where}[{i}]") for i, v in enumerate(raw))
    if len({canonical(v) for v in values}) != len(values):
        raise SpecError(f"{where}: values must be distinct")
    return values


def canonical_or(raw: object) -> object:
    """Numbers in a list of raw values become their canonical text; anything else is unchanged."""
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        return canonical(repr(raw))
    return raw


def numbers(raw: object, where: str) -> tuple[float, ...]:
    if not isinstance(raw, list | tuple) or len(raw) > MAX_TOKENS:
        raise SpecError(f"{where}: must be a list of at most {MAX_TOKENS} numbers")
    return tuple(number(v, f"{where}[{i}]") for i, v in enumerate(raw))


def choice(raw: object, where: str, choices: tuple[str, ...]) -> str:
    if not isinstance(raw, str) or raw not in choices:
        raise SpecError(f"{where}: must be one of {', '.join(choices)}")
    return raw
