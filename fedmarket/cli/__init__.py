"""The ``fedmarket`` command line: the user-facing layer (rich output, exit codes).

One module per command group (``demo``, ``vfl``, ``chain``, ``data``, ``task``, ``court``, the
roles, ``serve``), assembled in :mod:`fedmarket.cli.app`; errors become exit codes in
:mod:`fedmarket.cli.errors` and nowhere else.
"""

from __future__ import annotations

from typing import NoReturn

from fedmarket.cli.app import app
from fedmarket.cli.errors import EXIT_CODES, exit_code, run_mapped


def main() -> NoReturn:
    """Entry point of the ``fedmarket`` console script."""
    run_mapped(app)


__all__ = ["EXIT_CODES", "app", "exit_code", "main"]
