"""Exit codes: the one place that turns an error into what the shell sees.

Every error raised on purpose belongs to one family of :mod:`kernel.errors`; each family has
one exit code, documented in the README's "Exit codes" table (a test checks the two agree).
The message is one line on stderr, ``error: <what went wrong>``; ``FEDMARKET_DEBUG=1`` prints
the traceback of an unexpected error before it (the exit code stays 70). Typer reports usage
errors itself (exit 2) and turns Ctrl-C into exit 130.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable
from typing import NoReturn

import typer

from kernel.errors import (
    FedmarketError,
    IntegrityError,
    InvalidInputError,
    NotFoundError,
    OperationTimeoutError,
    ProtocolError,
    RefusedError,
    ServiceUnavailableError,
    family_of,
)

EXIT_OK = 0
EXIT_VERDICT = 1
"""The command ran and its verdict is negative (``fedmarket audit`` found a difference)."""
EXIT_UNEXPECTED = 70
"""A bug: an error nobody raised on purpose (``FEDMARKET_DEBUG=1`` shows the traceback)."""
EXIT_INTERRUPTED = 130

EXIT_CODES: dict[type[FedmarketError], int] = {
    InvalidInputError: 2,
    ServiceUnavailableError: 3,
    NotFoundError: 4,
    RefusedError: 5,
    IntegrityError: 6,
    ProtocolError: 7,
    OperationTimeoutError: 8,
}
"""Exit code of each error family (usage errors reported by Typer also exit 2)."""


def exit_code(error: BaseException) -> int:
    """The exit code for ``error``.

    Parameters
    ----------
    error : BaseException
        What ended the command.
    """
    if isinstance(error, KeyboardInterrupt):
        return EXIT_INTERRUPTED
    family = family_of(type(error))
    if family is None:
        return EXIT_UNEXPECTED
    return EXIT_CODES[family]


def run_mapped(app: Callable[[], object]) -> NoReturn:
    """Run ``app``; turn any error into one line on stderr and its exit code.

    Parameters
    ----------
    app : callable
        The Typer application (usage errors are reported by Typer itself, exit 2).
    """
    try:
        app()
    except (FedmarketError, KeyboardInterrupt) as exc:
        _fail(exc, exit_code(exc))
    except Exception as exc:  # the one place that turns surprises into one line
        if os.environ.get("FEDMARKET_DEBUG") == "1":
            traceback.print_exc()
        _fail(exc, EXIT_UNEXPECTED, unexpected=True)
    sys.exit(EXIT_OK)


def _fail(exc: BaseException, code: int, *, unexpected: bool = False) -> NoReturn:
    detail = " ".join(str(exc).split())  # one line, whatever the message
    if isinstance(exc, KeyboardInterrupt):
        message = "interrupted"
    elif unexpected or family_of(type(exc)) is None:
        name = type(exc).__name__
        message = f"unexpected {name}: {detail} (FEDMARKET_DEBUG=1 shows the traceback)"
    else:
        message = detail or type(exc).__name__
    typer.echo(f"error: {message}", err=True)
    sys.exit(code)


__all__ = [
    "EXIT_CODES",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_UNEXPECTED",
    "EXIT_VERDICT",
    "exit_code",
    "run_mapped",
]
