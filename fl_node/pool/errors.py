"""Errors of the model sharing pool (:mod:`fl_node.pool`)."""

from __future__ import annotations

from fl_node.errors import FlError
from kernel.errors import InvalidInputError, NotFoundError


class PoolError(FlError):
    """Root of the pool's errors (never raised itself: each error has a family)."""


class PoolInputError(PoolError, InvalidInputError):
    """A pool rule or its input is malformed or out of range (a band below 0, a NaN error)."""


class DrawError(PoolInputError):
    """A round's draw cannot be made: no model pending, too few participants, bad bounds."""


class NotInDrawError(PoolError, NotFoundError):
    """A participant was asked about that the round's draw did not assign."""


class LinkageError(PoolInputError):
    """The linkage attack's input is unusable: no sightings, features of differing lengths."""
