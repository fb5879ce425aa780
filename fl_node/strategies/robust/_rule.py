"""What every robust rule does around its own arithmetic: clipping, two passes, flagging.

:class:`RobustRule` implements :meth:`Defence.combine` once for every rule:

1. the updates are checked (finite, positive sample counts, same tensors) and flattened;
2. where the rule is configured to clip (``clip_max_norm`` / ``clip_norm_factor``; the
   ``clip`` rule itself always does), each update is scaled down to the clip bound
   (:func:`fl_node.strategies.robust.clipping.clip_rows`);
3. pass 1: the rule aggregates every update and names its robust *reference* (its aggregate,
   or for plain clipping the coordinate-wise median, for the vote the trusted update);
4. flagging: each update *as sent* (before clipping: the deviation is the sender's) is compared
   with the reference (:func:`fl_node.strategies.robust._flagging.flag_outliers`);
5. pass 2: the returned delta is the rule's aggregate of the unflagged updates only (a
   relative clip bound is taken again over them), exactly what the rule returns when run on
   the unflagged updates alone.

A rule subclass implements ``_pass(data, active)``: its aggregate of the updates at positions
``active`` and its weight, reason and score for each of them.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from fl_node.errors import AggregationError, SpecError
from fl_node.strategies._utils import check_hyperparameter
from fl_node.strategies.base import ClientUpdate, check_updates
from fl_node.strategies.robust._flagging import Flags, flag_outliers
from fl_node.strategies.robust._vectors import median, norms, stack, unflatten
from fl_node.strategies.robust.base import KEPT, Decision, Defence, RobustOutcome, RoundInputs

FLAGGED = "deviation"
"""The reason of a flagged update: too far from the rule's robust reference."""

CLIPPED = "clipped"
"""The reason of an update scaled down to the clip bound."""

DEFAULT_FLAG_AT = 3.0
MAX_FLAG_AT = 100.0
MAX_NORM = 1e12
"""Largest absolute clip bound a spec may give."""
MAX_NORM_FACTOR = 100.0
"""Largest relative clip bound (multiples of the round's median update norm)."""


def check_flag_at(owner: str, value: object) -> float:
    """``flag_at`` is 0 (no flagging) or in ``[1, 100]`` (below 1 could flag most updates)."""
    flag_at = check_hyperparameter(owner, "flag_at", value, 0.0, MAX_FLAG_AT)
    if 0.0 < flag_at < 1.0:
        raise SpecError(f"{owner}: flag_at = {flag_at!r} must be 0 (off) or at least 1")
    return flag_at


def check_switch(owner: str, name: str, value: object) -> float:
    """A 0/1 switch given as a number (task specs hold numbers only)."""
    number = check_hyperparameter(owner, name, value, 0.0, 1.0)
    if number not in (0.0, 1.0):
        raise SpecError(f"{owner}: {name} = {number!r} must be 0 or 1")
    return number


def clip_bound(sent_norms: torch.Tensor, max_norm: float, norm_factor: float) -> float | None:
    """The tightest of ``max_norm`` and ``norm_factor * median norm`` (those non-zero), or None."""
    bounds = [max_norm] if max_norm > 0 else []
    if norm_factor > 0:
        bounds.append(norm_factor * float(median(sent_norms)))
    return min(bounds) if bounds else None


def clip_scales(row_norms: torch.Tensor, bound: float) -> torch.Tensor:
    """``min(1, bound / norm)`` per update (1 for a zero update)."""
    safe = torch.where(row_norms > 0, row_norms, torch.ones_like(row_norms))
    return torch.where(row_norms > bound, bound / safe, torch.ones_like(row_norms))


@dataclass(frozen=True)
class RoundData:
    """A round's updates as the rule sees them.

    ``rows`` are the updates the rule aggregates (clipped where it clips), ``sent`` the updates
    as sent (what flagging measures), ``samples`` their sample counts (float64), ``scales``
    the clip factor of each (1 where not clipped).
    """

    rows: torch.Tensor
    sent: torch.Tensor
    samples: torch.Tensor
    inputs: RoundInputs
    scales: torch.Tensor


@dataclass(frozen=True)
class RulePass:
    """One pass of a rule over the updates at positions ``active``.

    ``weights``, ``reasons`` and ``scores`` are per active update (in ``active`` order);
    ``scores`` None means the rule has no score of its own (the decision then reports the
    distance to the reference). ``anchor``, when set, is the round position of an update that
    is the reference itself (the trusted update): it is never flagged and its zero distance is
    left out of the median distance.
    """

    aggregate: torch.Tensor
    reference: torch.Tensor
    weights: tuple[float, ...]
    reasons: tuple[str, ...]
    scores: tuple[float, ...] | None = None
    anchor: int | None = None


def join_reasons(*reasons: str) -> str:
    """The non-empty reasons joined by ``+`` (``KEPT`` when none)."""
    return "+".join(r for r in reasons if r) or KEPT


class RobustRule(Defence):
    """A defence computed as clip -> pass 1 -> flag -> pass 2 (see the module docstring).

    Parameters
    ----------
    flag_at : float, default 3.0
        Flag updates farther than this many median distances from the rule's reference; 0
        disables flagging, else in ``[1, 100]``.
    clip_max_norm : float, default 0
        Clip every update to this L2 norm before the rule runs (0: no absolute bound).
    clip_norm_factor : float, default 0
        Clip every update to this multiple of the round's median update norm (0: none).
    """

    def __init__(
        self,
        flag_at: float = DEFAULT_FLAG_AT,
        clip_max_norm: float = 0.0,
        clip_norm_factor: float = 0.0,
    ) -> None:
        owner = type(self).__name__
        self.flag_at = check_flag_at(owner, flag_at)
        self.clip_max_norm = check_hyperparameter(
            owner, "clip_max_norm", clip_max_norm, 0.0, MAX_NORM
        )
        self.clip_norm_factor = check_hyperparameter(
            owner, "clip_norm_factor", clip_norm_factor, 0.0, MAX_NORM_FACTOR
        )

    def common_params(self) -> dict[str, float]:
        """The parameters every rule takes: ``flag_at`` and the clip bounds."""
        return {
            "flag_at": self.flag_at,
            "clip_max_norm": self.clip_max_norm,
            "clip_norm_factor": self.clip_norm_factor,
        }

    def clip_settings(self) -> tuple[float, float]:
        """The absolute and relative clip bounds this rule applies (0: none)."""
        return self.clip_max_norm, self.clip_norm_factor

    @abstractmethod
    def _pass(self, data: RoundData, active: tuple[int, ...]) -> RulePass:
        """The rule's aggregate of the updates at ``active`` and its verdict on each."""

    def combine(self, updates: Sequence[ClientUpdate], inputs: RoundInputs) -> RobustOutcome:
        """Clip, aggregate, flag against the reference, aggregate the unflagged (module doc)."""
        if not updates:
            raise AggregationError(f"{self.name}: no updates to combine")
        check_updates(updates, self.name)
        sent = stack([u.delta for u in updates])
        samples = torch.tensor([float(u.samples) for u in updates], dtype=torch.float64)
        everyone = tuple(range(len(updates)))
        data = self.round_data(sent, samples, inputs, everyone)
        template = updates[0].delta
        if len(updates) == 1:
            scale = float(data.scales[0])
            only = Decision(scale, CLIPPED if scale < 1 else KEPT)
            return RobustOutcome(unflatten(data.rows[0], template), (only,))
        first = self._pass(data, everyone)
        flags = self._flags(data, first)
        kept = tuple(i for i in everyone if not flags.flagged[i])
        final = first
        if len(kept) < len(everyone):
            data = self.round_data(sent, samples, inputs, kept)
            final = self._pass(data, kept)
        decisions = self._decisions(first, flags, final, kept, data.scales)
        return RobustOutcome(unflatten(final.aggregate, template), decisions)

    def round_data(
        self,
        sent: torch.Tensor,
        samples: torch.Tensor,
        inputs: RoundInputs,
        active: tuple[int, ...],
    ) -> RoundData:
        """The round as a pass over ``active`` sees it: clipped to the bound of those updates.

        The relative bound is taken over the active updates only, so pass 2 is exactly the
        rule run on the unflagged updates.
        """
        bound = clip_bound(norms(sent[list(active)]), *self.clip_settings())
        scales = torch.ones(sent.shape[0], dtype=torch.float64)
        if bound is not None:
            scales = clip_scales(norms(sent), bound)
        return RoundData(sent * scales[:, None], sent, samples, inputs, scales)

    def _flags(self, data: RoundData, first: RulePass) -> Flags:
        """Flag the updates as sent against pass 1's reference (the anchor never flagged)."""
        if first.anchor is None:
            return flag_outliers(data.sent, first.reference, self.flag_at)
        others = [i for i in range(data.sent.shape[0]) if i != first.anchor]
        partial = flag_outliers(data.sent[others], first.reference, self.flag_at)
        distances = list(partial.distances)
        flagged = list(partial.flagged)
        distances.insert(first.anchor, 0.0)
        flagged.insert(first.anchor, False)
        return Flags(tuple(distances), tuple(flagged), partial.threshold)

    def _decisions(
        self,
        first: RulePass,
        flags: Flags,
        final: RulePass,
        kept: tuple[int, ...],
        scales: torch.Tensor,
    ) -> tuple[Decision, ...]:
        """Flagged: weight 0, ``deviation``; kept: pass 2's weight times the clip scale.

        The score is the rule's own (pass 2's for a kept update, the one that decided its
        weight; pass 1's for a flagged one), or the distance to the reference for rules
        without one.
        """
        position = {index: p for p, index in enumerate(kept)}
        decisions = []
        for i, distance in enumerate(flags.distances):
            if flags.flagged[i]:
                score = first.scores[i] if first.scores is not None else distance
                decisions.append(Decision(0.0, FLAGGED, score, True))
                continue
            at = position[i]
            score = final.scores[at] if final.scores is not None else distance
            scale = float(scales[i])
            reason = join_reasons(CLIPPED if scale < 1 else KEPT, final.reasons[at])
            decisions.append(Decision(final.weights[at] * scale, reason, score))
        return tuple(decisions)
