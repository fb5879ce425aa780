"""Interpreter settings fedmarket keeps for itself, whatever its dependencies do.

py_ecc (imported by web3) raises Python's recursion limit to 100,000 when it is imported. With that
limit, a deeply nested input walks the C stack of ``json`` (or any recursive code) past its end and
the process dies with a segmentation fault instead of a :class:`RecursionError`. The programs that
take untrusted input (the API, the CLI) call :func:`pin_recursion_limit` once the dependencies are
imported, so a too-deep input is an exception again.
"""

from __future__ import annotations

import logging
import sys

log = logging.getLogger(__name__)

RECURSION_LIMIT = 1000
"""The recursion limit fedmarket runs with: CPython's default, safe on an 8 MiB C stack."""


def pin_recursion_limit(limit: int = RECURSION_LIMIT) -> int:
    """Set the interpreter's recursion limit to ``limit``; log when a dependency had changed it.

    Call it after importing web3 (and so py_ecc): a later first import of py_ecc would raise the
    limit again.

    Parameters
    ----------
    limit : int, default RECURSION_LIMIT
        The limit to pin.

    Returns
    -------
    int
        The limit found before pinning.
    """
    found = sys.getrecursionlimit()
    if found != limit:
        log.info(
            "pin_recursion_limit: the recursion limit was %s (set by a dependency); pinned to %s",
            found,
            limit,
        )
        sys.setrecursionlimit(limit)
    return found


__all__ = ["RECURSION_LIMIT", "pin_recursion_limit"]
