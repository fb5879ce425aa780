"""Errors of the differential-privacy package (:mod:`fl_node.dp`)."""

from __future__ import annotations

from fl_node.errors import SpecError


class DPError(SpecError):
    """Differential-privacy settings that are out of range or inconsistent.

    A :class:`~fl_node.errors.SpecError`: a task specification with such settings is refused.
    """


class PrivacyBudgetError(DPError):
    """No noise multiplier reaches the target epsilon (the budget is too small)."""


__all__ = ["DPError", "PrivacyBudgetError"]
