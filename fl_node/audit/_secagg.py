"""Replaying a secure-aggregation round: every group's transcript, from the store, by anyone.

For a task with ``aggregation: "secagg"`` the audit reads each group's transcript by the CID its
evidence names (checked against the recorded keccak-256), replays it through a fresh SecAgg
server (:func:`fl_node.secagg_task.replay`) and decodes the group sum as the coordinator must
have. It also fetches every on-chain commitment's revealed bytes, to tell a member that revealed
the masked input it committed to (whose input must then be in its group's transcript) from one
that did not. The checks that use this are in :mod:`fl_node.audit._secagg_checks`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch

from fl_node.errors import FlError
from fl_node.evidence import CommitmentRecord, GroupRecord, SecAggRecord
from fl_node.participant import fetch_verified
from fl_node.secagg import SecAggError
from fl_node.secagg_task.encoding import DecodedSum, decode_group
from fl_node.secagg_task.errors import GroupSumError
from fl_node.secagg_task.runner import unflatten
from fl_node.secagg_task.transcript import GroupTranscript, replay
from fl_node.strategies import ClientUpdate
from storage import ContentStore, StoreError, content_hash


@dataclass(frozen=True)
class ReplayedGroup:
    """One group as the audit recomputed it.

    Attributes
    ----------
    record : GroupRecord
        What the evidence says of the group.
    transcript : GroupTranscript or None
        Its transcript (``None`` when it cannot be read: see ``problem``).
    decoded : DecodedSum or None
        The replayed, decoded sum; ``None`` when the replay fails (a failed group).
    survivors : tuple of str
        The members in the replayed sum.
    problem : str
        Why the transcript cannot be read (``""`` when it can).
    failure : str
        Why the replay fails (``""`` when it completes).
    """

    record: GroupRecord
    transcript: GroupTranscript | None
    decoded: DecodedSum | None
    survivors: tuple[str, ...]
    problem: str = ""
    failure: str = ""


@dataclass(frozen=True)
class SecAggReplay:
    """A secagg round recomputed from its transcripts and the chain's commitments.

    Attributes
    ----------
    groups : tuple of ReplayedGroup
        Every group the evidence lists, in its order.
    revealed : dict of str to bool
        Lower-case participant -> whether the bytes under its committed CID hash to its
        on-chain commitment.
    updates : tuple of ClientUpdate
        Each replayed completed group's mean update and sample count, in group order (what the
        strategy aggregates, and what a coalition of groups is made of).
    problem : str
        What prevents the replay as a whole (no SecAgg record in the evidence).
    """

    groups: tuple[ReplayedGroup, ...]
    revealed: Mapping[str, bool]
    updates: tuple[ClientUpdate, ...]
    problem: str = ""


def _read_transcript(store: ContentStore, record: GroupRecord) -> GroupTranscript:
    expected = bytes.fromhex(record.transcript.hash[2:])
    blob = fetch_verified(store, record.transcript.cid, expected, "group transcript")
    return GroupTranscript.from_dict(json.loads(blob))


def replay_group(store: ContentStore, record: GroupRecord) -> ReplayedGroup:
    """Read the group's transcript and replay it (a replay that fails is a failed group)."""
    try:
        transcript = _read_transcript(store, record)
    except (FlError, StoreError, ValueError, LookupError, TypeError) as exc:
        return ReplayedGroup(record, None, None, (), problem=f"transcript: {exc}")
    try:
        aggregate = replay(transcript)
        decoded = decode_group(aggregate.total, aggregate.count, aggregate.bound, transcript.params)
    except (SecAggError, GroupSumError) as exc:
        return ReplayedGroup(record, transcript, None, (), failure=str(exc))
    survivors = tuple(transcript.members[i] for i in aggregate.survivors)
    return ReplayedGroup(record, transcript, decoded, survivors)


def _revealed(store: ContentStore, commitment: CommitmentRecord) -> bool:
    try:
        blob = store.get(commitment.cid)
    except (StoreError, ValueError):
        return False
    return "0x" + bytes(content_hash(blob)).hex() == commitment.update_hash


def replay_secagg(
    store: ContentStore,
    record: SecAggRecord | None,
    commitments: Sequence[CommitmentRecord],
    params: Mapping[str, torch.Tensor],
) -> SecAggReplay:
    """Replay every group of a secagg round's evidence (``record``) against its commitments.

    Parameters
    ----------
    store : ContentStore
        Where the transcripts and the revealed masked inputs are.
    record : SecAggRecord or None
        The evidence's SecAgg part (``None``: the replay records the problem).
    commitments : sequence of CommitmentRecord
        The round's commitments as the chain (and its batch) hold them.
    params : mapping of str to Tensor
        The round's base model parameters (the shapes of the group updates).
    """
    revealed = {c.participant.lower(): _revealed(store, c) for c in commitments}
    if record is None:
        return SecAggReplay((), revealed, (), "the evidence of a secagg task has no secagg record")
    groups = tuple(replay_group(store, g) for g in record.groups)
    shapes = {n: t.shape for n, t in params.items()}
    updates = tuple(
        ClientUpdate(unflatten(g.decoded.mean, shapes), g.decoded.samples)
        for g in groups
        if g.decoded is not None
    )
    return SecAggReplay(groups, revealed, updates)


__all__ = ["ReplayedGroup", "SecAggReplay", "replay_group", "replay_secagg"]
