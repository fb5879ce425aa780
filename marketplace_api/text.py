"""Text the API accepts: storable in every database, and names in one normal form.

:data:`Text` refuses NUL, the other C0 and C1 control characters but tab, line feed and carriage
return, and unpaired surrogates: PostgreSQL refuses NUL in text, and nothing may be relayed
on-chain that the index cannot then store. :data:`Name` is a :data:`Text` normalised as
Unicode NFC, trimmed, with inner runs of whitespace collapsed to one space, then bounded in
length. Both are pydantic types: a fault is a 422 naming the field, before any handler runs, and
the client (which validates with the same schemas before signing) signs the normalised form.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated

from pydantic import AfterValidator, StringConstraints

from kernel.errors import InvalidInputError

_LINE_BREAKS = frozenset("\t\n\r")
_WHITESPACE = re.compile(r"\s+")


def text_fault(text: str) -> str | None:
    """Why ``text`` cannot be stored faithfully, or ``None``.

    Parameters
    ----------
    text : str
        Any text.
    """
    for char in text:
        if char in _LINE_BREAKS:
            continue
        category = unicodedata.category(char)
        if char == "\x00":
            return "the text contains a NUL character (U+0000), which cannot be stored"
        if category == "Cc":
            return f"the text contains the control character U+{ord(char):04X}"
        if category == "Cs":
            return f"the text contains an unpaired surrogate U+{ord(char):04X}"
    return None


def storable(text: str) -> str:
    """``text`` when :func:`text_fault` finds nothing; else :class:`InvalidInputError`."""
    why = text_fault(text)
    if why is not None:
        raise InvalidInputError(why)
    return text


def normal_name(text: str) -> str:
    """``text`` in NFC, trimmed, inner whitespace collapsed to single spaces."""
    return _WHITESPACE.sub(" ", unicodedata.normalize("NFC", text)).strip()


Text = Annotated[str, AfterValidator(storable)]
"""Free text (descriptions): storable, kept as written."""

Name = Annotated[
    str,
    AfterValidator(storable),
    AfterValidator(normal_name),
    StringConstraints(min_length=1, max_length=200),
]
"""A name (of a dataset, a model, a column): storable, normalised, 1 to 200 characters."""

__all__ = ["Name", "Text", "normal_name", "storable", "text_fault"]
