"""The ``fedmarket`` command line: the user-facing layer (rich output, exit codes).

One module per command group (``demo``, ``vfl``, ``chain``, ``data``, ``task``, ``court``, the
roles, ``serve``), assembled in :mod:`fedmarket.cli.app`; errors become exit codes in
:mod:`fedmarket.cli.errors` and nowhere else.
"""

from __future__ import annotations

from typing import NoReturn

import py_ecc  # noqa: F401  (it raises the recursion limit on import: here, before pinning)

from fedmarket.cli.app import app
from fedmarket.cli.errors import EXIT_CODES, exit_code, run_mapped
from kernel.runtime import pin_recursion_limit


def main() -> NoReturn:
    """Entry point of the ``fedmarket`` console script (the recursion limit pinned first)."""
    pin_recursion_limit()
    run_mapped(app)


__all__ = ["EXIT_CODES", "app", "exit_code", "main"]
