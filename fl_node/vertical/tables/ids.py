"""Id normalisation rules, stated once and applied identically by every party.

Parties often write the same customer differently (``cust-0001``, ``0001``, ``C1``); the PSI
compares exact strings, so a mismatch silently gives an empty intersection. An
:class:`IdRules` is an ordered list of :class:`IdRule` steps that every party applies to its
own ids before the PSI. Its canonical text (``idrules/v1:strip|digits|lstrip0``) goes into
the task spec and its SHA-256 (:meth:`IdRules.digest`) into each party's preflight report, so
a party that applied other rules is caught before any training.

Rules
-----
``strip``
    Remove white space at both ends.
``casefold``
    Unicode case folding (``"Straße"`` -> ``"strasse"``).
``nfkc``
    Unicode NFKC normalisation (full-width ``"１２"`` -> ``"12"``, ligatures, composed accents).
``digits``
    Keep the decimal digits only, written in ASCII (any script's digits count).
``lstrip0``
    Remove leading zeros (``"0007"`` -> ``"7"``; ``"000"`` -> ``"0"``).
``prefix=P``
    Remove the literal prefix ``P`` where an id starts with it (others are left as they are).

:func:`id_shape` writes an id's *shape* (upper-case letters ``A``, lower-case ``a``, digits
``9``, anything else as is): the preflight compares shapes, never ids.
"""

from __future__ import annotations

import hashlib
import json
import re
import string
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, get_args

from fl_node.vertical.tables._errors import IdRuleError

IdRuleKind = Literal["strip", "casefold", "nfkc", "digits", "lstrip0", "prefix"]
"""The kinds of step an :class:`IdRules` may hold."""

_KINDS: tuple[str, ...] = get_args(IdRuleKind)
_VERSION = "idrules/v1"
_STEP = re.compile(r'\s*(prefix="(?:[^"\\]|\\.)*"|[^,|]*)\s*(?:[,|]|$)')
"""One step and its separator: a quoted prefix may hold ``,`` and ``|``."""


@dataclass(frozen=True)
class IdRule:
    """One normalisation step.

    Attributes
    ----------
    kind : {"strip", "casefold", "nfkc", "digits", "lstrip0", "prefix"}
        What the step does (see the module docstring).
    arg : str, default ""
        The prefix of a ``prefix`` step (non-empty); empty for every other kind.
    """

    kind: IdRuleKind
    arg: str = ""

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise IdRuleError(f"unknown id rule {self.kind!r}; choose from {', '.join(_KINDS)}")
        if (self.kind == "prefix") != bool(self.arg):
            raise IdRuleError(f"id rule {self.kind!r}: only 'prefix' takes a (non-empty) argument")

    def apply(self, value: str) -> str:
        """Return ``value`` after this step.

        Parameters
        ----------
        value : str
            An id.
        """
        if self.kind == "strip":
            return value.strip()
        if self.kind == "casefold":
            return value.casefold()
        if self.kind == "nfkc":
            return unicodedata.normalize("NFKC", value)
        if self.kind == "digits":
            return "".join(str(d) for c in value if (d := unicodedata.decimal(c, None)) is not None)
        if self.kind == "lstrip0":
            stripped = value.lstrip("0")
            return stripped if stripped or not value else "0"
        return value[len(self.arg) :] if value.startswith(self.arg) else value

    def text(self) -> str:
        """Canonical text: the kind, and ``=`` plus the JSON-quoted prefix for ``prefix``."""
        return f"prefix={json.dumps(self.arg, ensure_ascii=True)}" if self.arg else self.kind


@dataclass(frozen=True)
class IdRules:
    """An ordered list of normalisation steps every party applies to its own ids.

    Attributes
    ----------
    rules : tuple of IdRule, default ()
        Applied in order; empty: ids are compared as written.
    """

    rules: tuple[IdRule, ...] = ()

    def apply(self, value: str) -> str:
        """Return the normalised form of one id.

        Parameters
        ----------
        value : str
            An id as written in a party's file.
        """
        for rule in self.rules:
            value = rule.apply(value)
        return value

    def apply_all(self, values: Iterable[str]) -> list[str]:
        """Return the normalised form of each id, in order.

        Parameters
        ----------
        values : iterable of str
            Ids as written.
        """
        return [self.apply(value) for value in values]

    def then(self, *more: IdRule) -> IdRules:
        """Return these rules followed by ``more``."""
        return IdRules(self.rules + tuple(more))

    def canonical(self) -> str:
        """The text recorded in the task spec, e.g. ``idrules/v1:strip|digits|lstrip0``."""
        return f"{_VERSION}:" + "|".join(rule.text() for rule in self.rules)

    def digest(self) -> str:
        """SHA-256 (hex) of :meth:`canonical`: equal digests, equal rules."""
        return hashlib.sha256(self.canonical().encode("utf-8")).hexdigest()

    @classmethod
    def parse(cls, text: str) -> IdRules:
        """Read rules from their canonical text or a user's list.

        ``"strip,digits,lstrip0"``, ``"strip|prefix=cust-"`` and the canonical
        ``idrules/v1:strip|prefix="cust-"`` are all accepted (``,`` or ``|`` between steps;
        a prefix may be JSON-quoted, and must be to contain ``,`` or ``|``).

        Parameters
        ----------
        text : str
            The rules.

        Raises
        ------
        IdRuleError
            For an unknown step, a malformed prefix or another version.
        """
        body = text.strip()
        if body.startswith("idrules/"):
            version, _, body = body.partition(":")
            if version != _VERSION:
                raise IdRuleError(f"id rules of version {version!r}; expected {_VERSION!r}")
        steps = [match.group(1).strip() for match in _STEP.finditer(body)]
        if "".join(_STEP.sub("", body).split()):
            raise IdRuleError(f"malformed id rules {text!r}")
        return cls(tuple(_parse_step(step) for step in steps if step))


def _parse_step(step: str) -> IdRule:
    """One step of :meth:`IdRules.parse`."""
    if not step.startswith("prefix="):
        if step not in _KINDS or step == "prefix":
            raise IdRuleError(f"unknown id rule {step!r}; choose from {', '.join(_KINDS)}")
        return IdRule(step)  # type: ignore[arg-type]
    arg = step[len("prefix=") :]
    if arg.startswith('"'):
        try:
            arg = json.loads(arg)
        except json.JSONDecodeError:
            raise IdRuleError(f"malformed quoted prefix in {step!r}") from None
        if not isinstance(arg, str):
            raise IdRuleError(f"malformed quoted prefix in {step!r}")
    return IdRule("prefix", arg)


def id_shape(value: str) -> str:
    """Return the shape of an id: ``A`` upper-case letter, ``a`` other letter, ``9`` digit.

    Any other character stands for itself (``"cust-0001"`` -> ``"aaaa-9999"``).

    Parameters
    ----------
    value : str
        An id.
    """
    if value.isascii():
        return value.translate(_ASCII_SHAPES)
    return "".join(
        "9" if c.isdecimal() else ("A" if c.isupper() else "a") if c.isalpha() else c for c in value
    )


_ASCII_SHAPES = str.maketrans(
    dict.fromkeys(string.ascii_uppercase, "A")
    | dict.fromkeys(string.ascii_lowercase, "a")
    | dict.fromkeys(string.digits, "9")
)


NO_RULES = IdRules()
"""Ids compared exactly as written."""

__all__ = ["NO_RULES", "IdRule", "IdRuleKind", "IdRules", "id_shape"]
