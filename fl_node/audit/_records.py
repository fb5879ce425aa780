"""What the audit reads: the task once (spec, events), then each round (models, evidence...)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from chain.commitments import FedTaskDomain
from chain.fed_task import (
    CommitBatchPostedEvent,
    FedTaskClient,
    ParticipantSlashedEvent,
    RoundFinalizedEvent,
    RoundOpenedEvent,
    TaskCompletedEvent,
    TaskInfo,
    UpdateCommittedEvent,
)
from chain.registry import DatasetRegistryClient
from fl_node.audit._secagg import SecAggReplay, replay_secagg
from fl_node.commitments import BatchDocument, round_commitments
from fl_node.data import LocalDataset
from fl_node.errors import BatchDocumentError, FlError
from fl_node.evidence import NOT_SUBMITTED, CommitmentRecord, RoundEvidence, UpdateVerdict
from fl_node.mailbox import Mailbox
from fl_node.models import build_model, trainable_state
from fl_node.participant import fetch_verified
from fl_node.robustness import DefendedRound
from fl_node.screening import RoundScreen, global_step, listed_rows
from fl_node.serialization import LoadedModel, decode_model, encode_model
from fl_node.strategies import ClientUpdate, ServerState, Strategy
from fl_node.task import TaskSpec
from fl_node.validation import RoundContext, check_update, shapes_of
from kernel.types import Address
from storage import ContentStore, content_hash


@dataclass(frozen=True)
class TaskRecord:
    """What the chain and the store say about the task as a whole, read once.

    Attributes
    ----------
    task_id : int
        The task.
    info : TaskInfo
        Its state now.
    strategy : Strategy
        Its aggregation strategy.
    initial_hash : bytes
        Hash of the spec's deterministic initial model (round 1 opens from it).
    participants : list of Address
        In join order.
    domain : FedTaskDomain
        Where commitment signatures are checked.
    openings, finals : dict of int to event
        ``RoundOpened`` and ``RoundFinalized`` by round.
    batches : dict of int to CommitBatchPostedEvent
        The batch posted in each round (if any).
    direct : dict of int to list of UpdateCommittedEvent
        Direct commitments by round.
    slashes : list of ParticipantSlashedEvent
        Stakes slashed into the pool.
    posted_shares : list of int or None
        The shares the last round posted (``TaskCompleted``); ``None`` before completion.
    mailbox : Mailbox or None
        The commitments' bulletin board, when the auditor can read it.
    block_time : callable
        ``block number -> timestamp``.
    spec : TaskSpec
        The task's spec (its client sampling, its strategy's hyperparameters).
    validation : LocalDataset or None, default None
        The coordinator's validation set, when the auditor holds it (utilities are then
        re-measured).
    registry : DatasetRegistryClient or None, default None
        The dataset registry whose listings bound the sample counts (none checked when ``None``).
    update_key : bytes or None, default None
        The auditor's private key, when the spec's ``sealed_updates`` lists its public key: it
        opens the sealed updates (without it they cannot be checked).
    """

    task_id: int
    info: TaskInfo
    strategy: Strategy
    initial_hash: bytes
    participants: list[Address]
    domain: FedTaskDomain
    openings: dict[int, RoundOpenedEvent]
    finals: dict[int, RoundFinalizedEvent]
    batches: dict[int, CommitBatchPostedEvent]
    direct: dict[int, list[UpdateCommittedEvent]]
    slashes: list[ParticipantSlashedEvent]
    posted_shares: list[int] | None
    mailbox: Mailbox | None
    block_time: Callable[[int], int]
    spec: TaskSpec
    validation: LocalDataset | None = None
    registry: DatasetRegistryClient | None = None
    update_key: bytes | None = field(default=None, repr=False)


def read_spec(fed_task: FedTaskClient, store: ContentStore, task_id: int) -> TaskSpec:
    """The task's spec, read from the store and checked against the hash the chain holds.

    Parameters
    ----------
    fed_task : FedTaskClient
        The FedTask contract.
    store : ContentStore
        The content store.
    task_id : int
        The task.
    """
    info = fed_task.task(task_id)
    return TaskSpec.from_bytes(fetch_verified(store, info.spec_cid, info.spec_hash, "task spec"))


def read_task(
    fed_task: FedTaskClient,
    store: ContentStore,
    task_id: int,
    mailbox: Mailbox | None,
    validation: LocalDataset | None = None,
    registry: DatasetRegistryClient | None = None,
    update_key: bytes | None = None,
) -> TaskRecord:
    """The task's spec and every event its rounds are checked against (one scan each).

    Parameters
    ----------
    fed_task : FedTaskClient
        The FedTask contract.
    store : ContentStore
        The content store.
    task_id : int
        The task.
    mailbox : Mailbox or None
        The commitments' bulletin board, if readable.
    validation : LocalDataset or None, default None
        The coordinator's validation set, if the auditor holds it.
    registry : DatasetRegistryClient or None, default None
        The dataset registry, if its listings bound the sample counts.
    update_key : bytes or None, default None
        The auditor's private key for sealed updates, if granted one.
    """
    info = fed_task.task(task_id)
    spec = read_spec(fed_task, store, task_id)
    direct: dict[int, list[UpdateCommittedEvent]] = defaultdict(list)
    for event in fed_task.updates_committed(task_id):
        direct[int(event.round)].append(event)
    completed = fed_task.events(TaskCompletedEvent, task_id=task_id)
    initial = encode_model(build_model(spec.model), spec.model, round=0, task_id=task_id)
    return TaskRecord(
        task_id=task_id,
        info=info,
        strategy=spec.make_strategy(),
        initial_hash=content_hash(initial),
        participants=list(fed_task.participants(task_id)),
        domain=fed_task.domain(),
        openings={int(o.round): o for o in fed_task.rounds_opened(task_id)},
        finals={int(f.round): f for f in fed_task.rounds_finalized(task_id)},
        batches={int(b.round): b for b in fed_task.batches_posted(task_id)},
        direct=dict(direct),
        slashes=fed_task.events(ParticipantSlashedEvent, task_id=task_id),
        posted_shares=completed[0].bps if completed else None,
        mailbox=mailbox,
        block_time=lambda block: int(fed_task.backend.w3.eth.get_block(block)["timestamp"]),
        spec=spec,
        validation=validation,
        registry=registry,
        update_key=update_key,
    )


@dataclass(frozen=True)
class RoundInputs:
    """One finalised round's models, evidence, commitments and replayed updates.

    Attributes
    ----------
    task : TaskRecord
        The task.
    final, opening : events
        The round's ``RoundFinalized`` and ``RoundOpened``.
    base, new : LoadedModel
        The models it started from and produced (bytes verified against the chain).
    evidence : RoundEvidence
        Its evidence, read against the schema.
    params : dict of str to Tensor
        The base model's trainable tensors.
    batch : BatchDocument or None
        The batch document posted in the round.
    batch_problem : str or None
        Why the batch document cannot be trusted (unreadable, or not what the chain holds).
    commitments : tuple of CommitmentRecord
        The round's commitments recomputed from the chain and the batch document.
    replayed : list of (UpdateVerdict, ClientUpdate or None)
        Each participant's verdict recomputed with the coordinator's own checks and the task's
        screening, in join order, with its decoded update (``None`` when its bytes fail their
        own checks; kept when only the screening rejects it).
    state_before : ServerState or None
        A stateful strategy's server state before the round, read from the store and checked
        against the hash its evidence names (``None`` when it cannot be read: see
        ``state_problem``); the initial state for a stateless strategy.
    state_problem : str
        Why ``state_before`` could not be read.
    defended : DefendedRound or None, default None
        The task's defence rerun on the round (``fl_node.audit._defence.with_defence``; the
        verdicts in ``replayed`` then include its ``robust_outlier`` rejections).
    defence_problem : str, default ""
        What is wrong with the defence's published inputs (root update, ballots).
    secagg : SecAggReplay or None, default None
        A secagg task's groups replayed from their transcripts (``replayed`` is then empty: no
        single update is ever revealed).
    """

    task: TaskRecord
    final: RoundFinalizedEvent
    opening: RoundOpenedEvent
    base: LoadedModel
    new: LoadedModel
    evidence: RoundEvidence
    params: dict[str, torch.Tensor]
    batch: BatchDocument | None
    batch_problem: str | None
    commitments: tuple[CommitmentRecord, ...]
    replayed: list[tuple[UpdateVerdict, ClientUpdate | None]]
    state_before: ServerState | None
    state_problem: str
    defended: DefendedRound | None = None
    defence_problem: str = ""
    secagg: SecAggReplay | None = None


def _batch(
    task: TaskRecord, store: ContentStore, round_: int
) -> tuple[BatchDocument | None, str | None]:
    """The round's batch document, or why it cannot be read as the one the chain anchors."""
    event = task.batches.get(round_)
    if event is None:
        return None, None
    try:
        document = BatchDocument.from_dict(store.get_json(event.batch_cid))
    except (BatchDocumentError, LookupError, ValueError) as exc:
        return None, f"batch document {event.batch_cid}: {exc}"
    if document.batch.root != event.root or document.batch.count != event.count:
        return None, "the batch document's root or count differs from the chain's"
    return document, None


def replay(
    store: ContentStore,
    participants: list[Address],
    commitments: tuple[CommitmentRecord, ...],
    context: RoundContext,
) -> list[tuple[UpdateVerdict, ClientUpdate | None]]:
    """Each participant's verdict recomputed from its commitment and the revealed bytes.

    Parameters
    ----------
    store : ContentStore
        Where the updates were revealed.
    participants : list of Address
        In join order.
    commitments : tuple of CommitmentRecord
        The round's commitments.
    context : RoundContext
        The round.
    """
    by_participant = {c.participant.lower(): c for c in commitments}
    out: list[tuple[UpdateVerdict, ClientUpdate | None]] = []
    for participant in participants:
        commitment = by_participant.get(participant.lower())
        if commitment is None:
            out.append((UpdateVerdict(participant, False, NOT_SUBMITTED), None))
        else:
            out.append(check_update(store, commitment, context))
    return out


def read_round(
    task: TaskRecord, store: ContentStore, final: RoundFinalizedEvent, screen: RoundScreen
) -> RoundInputs:
    """Fetch and verify the round's models, parse its evidence, recompute its verdicts.

    Each verdict is the coordinator's own checks on the revealed bytes, then the task's
    screening against every earlier round the audit replayed (``screen``, which records this
    round's steps once its verdicts are recomputed).

    Parameters
    ----------
    task : TaskRecord
        The task.
    store : ContentStore
        The content store.
    final : RoundFinalizedEvent
        The round's finalisation.
    screen : RoundScreen
        The task's screening, with every earlier round recorded.

    Raises
    ------
    EvidenceError
        When the evidence does not follow the schema.
    FlError, ValueError or LookupError
        When a model or the evidence cannot be fetched or verified.
    """
    round_ = int(final.round)
    opening = task.openings[round_]
    base = decode_model(fetch_verified(store, opening.model_cid, opening.model_hash, "model"))
    new = decode_model(fetch_verified(store, final.model_cid, final.model_hash, "model"))
    evidence = RoundEvidence.from_dict(store.get_json(final.evidence_cid))
    params = trainable_state(base.module)
    batch, problem = _batch(task, store, round_)
    direct = task.direct.get(round_, [])
    commitments = round_commitments(task.participants, batch, direct)
    chosen = task.spec.sampled(task.participants, round_, bytes(opening.model_hash))
    sampled = frozenset(a.lower() for a in chosen)
    context = RoundContext(
        *(task.task_id, round_, "0x" + bytes(opening.model_hash).hex(), shapes_of(params)),
        *(sampled, task.spec.sealed_updates, task.update_key),
    )
    state, state_problem = _state_before(task, store, evidence, params, round_)
    if task.spec.secagg is not None:
        secagg = replay_secagg(store, evidence.secagg, commitments, params)
        return RoundInputs(
            *(task, final, opening, base, new, evidence, params),
            *(batch, problem, commitments, [], state, state_problem),
            secagg=secagg,
        )
    replayed = replay(store, task.participants, commitments, context)
    replayed = _screen_round(
        task, store, screen, opening, replayed, params, trainable_state(new.module)
    )
    return RoundInputs(
        *(task, final, opening, base, new, evidence, params),
        *(batch, problem, commitments, replayed, state, state_problem),
    )


def _screen_round(
    task: TaskRecord,
    store: ContentStore,
    screen: RoundScreen,
    opening: RoundOpenedEvent,
    replayed: list[tuple[UpdateVerdict, ClientUpdate | None]],
    before: dict[str, torch.Tensor],
    after: dict[str, torch.Tensor],
) -> list[tuple[UpdateVerdict, ClientUpdate | None]]:
    """The replayed verdicts screened as the coordinator must have; the round added to ``screen``.

    An update the screening rejects keeps its decoded step beside its verdict, so the other
    checks recompute what the evidence claims it accepted (a wrong verdict fails ``updates``
    only).

    The listings that bound the sample counts are those made before the round opened; the
    round's steps (every update that passed its own checks, and the published model's step)
    join the history later rounds are screened against.
    """
    round_ = int(opening.round)
    decoded = [(i, update) for i, (_, update) in enumerate(replayed) if update is not None]
    if task.registry is not None:
        screen.listed = listed_rows(task.registry, store, until_block=opening.meta.block)
    verdicts = [verdict for verdict, _ in replayed]
    verdicts, kept = screen.screen(round_, task.participants, verdicts, decoded)
    screen.record(round_, task.participants, decoded, kept, global_step(before, after))
    return [(verdict, update) for verdict, (_, update) in zip(verdicts, replayed, strict=True)]


def _state_before(
    task: TaskRecord,
    store: ContentStore,
    evidence: RoundEvidence,
    params: dict[str, torch.Tensor],
    round_: int,
) -> tuple[ServerState | None, str]:
    """The server state the round started from (the initial one for a stateless strategy)."""
    strategy, record = task.strategy, evidence.aggregation.state
    if not strategy.stateful:
        return strategy.initial_state(params), ""
    if record is None:
        return None, "a stateful strategy's evidence must name its server state"
    if round_ == 1:
        initial = strategy.initial_state(params).to_bytes()
        if "0x" + content_hash(initial).hex() != record.before.hash:
            return None, "round 1 does not start from the strategy's initial server state"
    try:
        expected = bytes.fromhex(record.before.hash[2:])
        return ServerState.from_bytes(
            fetch_verified(store, record.before.cid, expected, "state")
        ), ""
    except (FlError, ValueError, LookupError) as exc:
        return None, f"cannot read the server state before the round: {exc}"


__all__ = ["RoundInputs", "TaskRecord", "read_round", "read_spec", "read_task", "replay"]
