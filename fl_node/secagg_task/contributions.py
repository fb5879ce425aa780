"""Contributions measured at the granularity the coordinator can see: groups.

Under SecAgg the coordinator holds one sum per group, so a coalition is a set of groups and its
utility is the model that those groups' sums give (the task's estimator over groups: leave one
group out, or Shapley over groups). A group's value is split equally among its survivors: the
coordinator knows neither a member's update nor its sample count, so it cannot tell a member
that did the work from one that free-rode on its group. Members of a failed group, and members
that dropped, earn nothing that round.
"""

from __future__ import annotations

from collections.abc import Sequence

from fl_node.secagg_task.round import GroupSum


def member_contributions(
    group_scores: Sequence[float], groups: Sequence[GroupSum], participants: Sequence[str]
) -> list[float]:
    """Each participant's share of its group's score (0 unless it survived in a completed group).

    Parameters
    ----------
    group_scores : sequence of float
        One score per *completed* group, in the order of ``groups`` without the failed ones.
    groups : sequence of GroupSum
        The round's groups.
    participants : sequence of str
        The task's participants (the order of the result).
    """
    by_address = {p.lower(): 0.0 for p in participants}
    completed = [g for g in groups if g.decoded is not None]
    for group, score in zip(completed, group_scores, strict=True):
        for member in group.survivors:
            by_address[member.lower()] = score / len(group.survivors)
    return [by_address[p.lower()] for p in participants]


def survived(groups: Sequence[GroupSum], participants: Sequence[str]) -> list[bool]:
    """Whether each participant's input is in a completed group's sum."""
    inside = {m.lower() for g in groups if g.decoded is not None for m in g.survivors}
    return [p.lower() in inside for p in participants]


__all__ = ["member_contributions", "survived"]
