"""Errors of secure aggregation inside a task (:mod:`fl_node.secagg_task`)."""

from __future__ import annotations

from fl_node.errors import FlError
from kernel.errors import IntegrityError, InvalidInputError


class SecAggTaskError(FlError):
    """Root of the task-level secure aggregation errors (never raised itself)."""


class GroupingError(SecAggTaskError, InvalidInputError):
    """Too few participants for one group, or an update that does not fit the encoding."""


class GroupSumError(SecAggTaskError, IntegrityError):
    """A group sum out of its range, or a transcript that does not give the recorded sum."""


class KeySubstitutionError(SecAggTaskError, IntegrityError):
    """A group's key list holds a key its roster address did not sign (the relay swapped it)."""


__all__ = ["GroupSumError", "GroupingError", "KeySubstitutionError", "SecAggTaskError"]
