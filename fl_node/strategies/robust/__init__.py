"""Robust aggregation rules (defences), one per file; the shared arithmetic in private modules.

A task names its defence and hyperparameters (``"defence": "trimmed_mean"``,
``"defence_params": {"beta": 0.2}``); :func:`make_defence` builds it, refusing unknown names,
unknown parameters and values out of range with :class:`SpecError`;
``make_defence(d.name, **d.params())`` rebuilds ``d``. Every rule takes ``flag_at`` (flagging)
and ``clip_max_norm`` / ``clip_norm_factor`` (norm clipping before the rule; for ``clip``
itself these are its ``max_norm`` / ``norm_factor``). :class:`Defended` wraps a defence and a
strategy into one strategy.
"""

import inspect
from collections.abc import Mapping

from fl_node.errors import SpecError
from fl_node.strategies.robust._flagging import Flags, flag_outliers
from fl_node.strategies.robust._rule import RobustRule
from fl_node.strategies.robust.base import (
    KEPT,
    Ballot,
    Decision,
    Defence,
    RobustOutcome,
    RoundInputs,
)
from fl_node.strategies.robust.clipping import NormClipping, clip_updates, relative_max_norm
from fl_node.strategies.robust.defended import Defended
from fl_node.strategies.robust.fltrust import FLTrust
from fl_node.strategies.robust.krum import Krum, MultiKrum
from fl_node.strategies.robust.median import CoordinateMedian
from fl_node.strategies.robust.trimmed_mean import TrimmedMean
from fl_node.strategies.robust.trusted_vote import TrustedVote

DEFENCES: dict[str, type[RobustRule]] = {
    cls.name: cls
    for cls in (NormClipping, CoordinateMedian, TrimmedMean, Krum, MultiKrum, FLTrust, TrustedVote)
}

DEFENCE_PARAMETERS: Mapping[str, tuple[str, ...]] = {
    name: tuple(inspect.signature(cls).parameters) for name, cls in DEFENCES.items()
}
"""The hyperparameters each defence takes (its constructor's arguments, all numbers)."""

CLIP_ALIASES = {"clip_max_norm": "max_norm", "clip_norm_factor": "norm_factor"}
"""For ``clip`` itself, the composable clip parameters name its own bounds."""


def make_defence(name: str, **params: object) -> Defence:
    """The defence called ``name`` with the given hyperparameters.

    Parameters
    ----------
    name : str
        A key of :data:`DEFENCES`.
    **params : float
        Its hyperparameters, by the names of :data:`DEFENCE_PARAMETERS` (omitted ones take
        their defaults). ``clip`` also takes ``clip_max_norm`` / ``clip_norm_factor`` for its
        ``max_norm`` / ``norm_factor``, so every defence can be asked to clip the same way.

    Raises
    ------
    SpecError
        An unknown defence or parameter, or a value that is not a finite number in range.
    """
    try:
        cls = DEFENCES[name]
    except (KeyError, TypeError):
        raise SpecError(f"make_defence: unknown defence {name!r}") from None
    if name == NormClipping.name:
        for alias, own in CLIP_ALIASES.items():
            if alias in params:
                if own in params:
                    raise SpecError(f"make_defence: clip takes {own} or {alias}, not both")
                params[own] = params.pop(alias)
    unknown = sorted(set(params) - set(DEFENCE_PARAMETERS[name]))
    if unknown:
        raise SpecError(f"make_defence: {name} takes no parameter {', '.join(unknown)}")
    return cls(**params)  # type: ignore[arg-type]


__all__ = [
    "DEFENCES",
    "DEFENCE_PARAMETERS",
    "KEPT",
    "Ballot",
    "CoordinateMedian",
    "Decision",
    "Defence",
    "Defended",
    "FLTrust",
    "Flags",
    "Krum",
    "MultiKrum",
    "NormClipping",
    "RobustOutcome",
    "RoundInputs",
    "TrimmedMean",
    "TrustedVote",
    "clip_updates",
    "flag_outliers",
    "make_defence",
    "relative_max_norm",
]
