"""The coordinator (protocol v2): stakes, opens rounds, batches commitments, checks, scores, pays.

Per round it opens the round on-chain with the current global model; collects the mailbox's signed
commitments before the commit deadline, checks each signature, stores the batch document and
posts its Merkle root (one transaction, whatever the number of participants); from the reveal
deadline it reads the round's commitments (the batch's leaves, each superseded by its participant's
direct ``commitUpdate``), fetches each update by its committed CID and rejects any whose bytes
differ from the commitment, whose sample count differs from the committed one, or that fails the
usual validation (recording why, and flagging the authors of provably malicious updates);
aggregates the rest with the task's strategy, measures each participant's contribution on its own
validation set, allocates the round's budget within the on-chain cap, builds the rewards Merkle
tree, stores the new model and the evidence (:class:`~fl_node.evidence.RoundEvidence`), and
finalises before the finalize deadline. The last round also posts the contributors' shares.

It waits for each deadline with :meth:`~chain.backends.ChainBackend.wait_until`: with ``travel``
it moves the clock of a dev chain (the in-process demo and tests: it must then be the only party
that does), otherwise it waits in real time.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum

import torch
from torch import Tensor

from chain.commitments import encode_shares
from chain.errors import ChainRevertError
from chain.fed_task import FedTaskClient, Finalization, Schedule
from chain.registry import DatasetRegistryClient
from chain.signer import Signer, TxResult
from chain.token import RewardTokenClient
from fl_node.commitments import BatchDocument, PostedBatch, commitments_of_round, screen_envelopes
from fl_node.data import LocalDataset
from fl_node.errors import NotCoordinatorError, TaskStateError
from fl_node.evaluation import Metrics, task_metrics
from fl_node.evidence import (
    NOT_SUBMITTED,
    AggregationRecord,
    BallotRecord,
    BatchRef,
    CommitmentRecord,
    CommitmentsRecord,
    ContributionRecord,
    DefenceRecord,
    ModelRef,
    PrivacyRecord,
    RewardSplit,
    RoundEvidence,
    RoundMetrics,
    SharesRecord,
    StateRecord,
    UpdateVerdict,
)
from fl_node.mailbox import CommitmentEnvelope, Mailbox
from fl_node.models import FedModel, ModelSpec, build_model, trainable_state
from fl_node.objectives import predict
from fl_node.participant import fetch_verified, round_opening
from fl_node.payout import (
    RoundTerms,
    contribution_seed,
    contributions_of,
    cumulative_contributions,
    reward_split,
    round_improvement,
    round_rewards,
    shares_record,
)
from fl_node.robustness import (
    DefendedRound,
    apply_defence,
    ballot_problem,
    counted_ballots,
    root_data,
    root_update,
)
from fl_node.screening import RoundScreen, global_step, listed_rows, screen_from_evidence
from fl_node.serialization import UpdateMeta, decode_model, encode_model, encode_update
from fl_node.strategies import ClientUpdate, ServerState, Strategy
from fl_node.strategies.robust import Defence, RoundInputs
from fl_node.task import TaskSpec
from fl_node.training import cpu_threads_for, pick_device
from fl_node.validation import RoundContext, check_update, flagged_in, shapes_of
from incentives import ContributionEstimator, make_estimator
from incentives.contribution import Coalition, Utility, coalition_key
from kernel.failpoints import failpoint
from kernel.types import Address
from storage import ContentStore, content_hash
from storage.sealed_store import SealedStore

log = logging.getLogger(__name__)

UTILITY_DESCRIPTION = (
    "negative log loss of the coalition's aggregate on the coordinator's validation set "
    "(coalition keys index the accepted updates in participant order)"
)
"""What a coalition's utility measures, as the evidence states it (binary and multi-class)."""

REGRESSION_UTILITY_DESCRIPTION = (
    "negative RMSE of the coalition's aggregate on the coordinator's validation set "
    "(coalition keys index the accepted updates in participant order)"
)
"""The same for a regression task."""


def utility_description(task: str) -> str:
    """What a coalition's utility measures for a task kind."""
    return REGRESSION_UTILITY_DESCRIPTION if task == "regression" else UTILITY_DESCRIPTION


def coalition_utility(
    model: ModelSpec,
    strategy: Strategy,
    params: Mapping[str, Tensor],
    updates: Sequence[ClientUpdate],
    state: ServerState,
    data: LocalDataset,
) -> Utility:
    """The utility the coordinator measures and the audit re-measures: one function for both.

    A coalition's utility is the negative loss on ``data`` of the aggregate (by ``strategy``,
    from ``params`` and ``state``) of its members' updates, with no retraining.

    Parameters
    ----------
    model : ModelSpec
        The task's model (a scratch copy is built once and reloaded per coalition).
    strategy : Strategy
        The task's aggregation strategy.
    params : mapping of str to Tensor
        The round's opening trainable parameters.
    updates : sequence of ClientUpdate
        The accepted updates; coalition indices refer to this order.
    state : ServerState
        The strategy's server state before the round.
    data : LocalDataset
        The validation set.
    """
    scratch = build_model(model)

    def utility(coalition: Coalition) -> float:
        chosen = [updates[i] for i in sorted(coalition)]
        aggregate = strategy.aggregate_with_state(params, chosen, state).params
        scratch.load_state_dict(aggregate, strict=False)
        return -_metrics(scratch, data).loss

    return utility


class Phase(StrEnum):
    """Where a round stands when :meth:`Coordinator.run` hands over to the participants."""

    OPENED = "opened"
    """The round is open: train and commit (mailbox or direct) before the commit deadline."""
    INCLUSION = "inclusion"
    """The commit deadline passed: a participant left out of the batch commits directly."""
    REVEAL = "reveal"
    """The reveal started: participants publish their updates' bytes."""
    FINALIZED = "finalized"
    """The round was finalised (its challenge window runs)."""
    CLAIMABLE = "claimable"
    """The last round's challenge window passed: everything can be claimed."""
    ENDED = "ended"
    """The stake cooldown passed: stakes can be withdrawn."""


RoundHook = Callable[[int, Phase], None]
"""Called with the round and the phase it reached (in-process runs step the participants)."""

BallotSource = Callable[[int, int, Mapping[str, ClientUpdate]], Sequence[BallotRecord]]
"""The trusted-participant vote's ballots of ``(task, round)``, given the screened updates by
update hash (each participant scores them on its own data and signs its ballot)."""


@dataclass(frozen=True)
class RoundGas:
    """Gas the coordinator spent on one round's transactions."""

    open: int = 0
    batch: int = 0
    finalize: int = 0

    @property
    def total(self) -> int:
        """All three."""
        return self.open + self.batch + self.finalize


@dataclass(frozen=True)
class RoundReport:
    """Everything one finalised round produced."""

    round: int
    batch: BatchRef | None
    commitments: tuple[CommitmentRecord, ...]
    verdicts: list[UpdateVerdict]
    contributions: list[float]
    rewards: RewardSplit
    flagged: tuple[Address, ...]
    shares: SharesRecord | None
    model_cid: str
    model_hash: str
    model_bytes: int
    evidence_cid: str
    validation: Metrics
    test: Metrics
    gas: RoundGas
    seconds: float
    utilities: dict[str, float] = field(default_factory=dict)

    @property
    def accepted(self) -> int:
        """Number of accepted updates."""
        return sum(v.accepted for v in self.verdicts)

    @property
    def rejected(self) -> list[UpdateVerdict]:
        """Updates committed but rejected."""
        return [v for v in self.verdicts if not v.accepted and v.reason != NOT_SUBMITTED]

    @property
    def scores(self) -> list[int]:
        """Fixed-point scores per participant (join order)."""
        return list(self.rewards.scores)

    @property
    def amounts(self) -> list[int]:
        """Wei paid per participant (join order)."""
        return list(self.rewards.amounts)

    @property
    def budget(self) -> int:
        """What the round pays."""
        return self.rewards.budget


@dataclass(frozen=True)
class MeasuredRound:
    """A round's contribution measurement: scores, utilities, the estimator's seed and params."""

    contributions: list[float]
    utilities: dict[str, float]
    seed: int
    params: dict[str, float]
    improvement: float


@dataclass(frozen=True)
class _RoundWork:
    """What a round's finalisation computed before anything is stored or sent on-chain."""

    round: int
    participants: list[Address]
    posted: PostedBatch | None
    commitments: tuple[CommitmentRecord, ...]
    verdicts: list[UpdateVerdict]
    measured: MeasuredRound
    metrics: RoundMetrics
    rewards: RewardSplit
    flagged: tuple[Address, ...]
    shares: SharesRecord | None
    defence: DefenceRecord | None = None


def _metrics(model: FedModel, data: LocalDataset) -> Metrics:
    """``model``'s metrics on ``data``, by its task kind."""
    return task_metrics(model.spec.task, data.y, predict(model, data.x))


def _privacy(spec: TaskSpec, round_: int) -> PrivacyRecord | None:
    """The ``(epsilon, delta)`` the task's participants have spent by ``round_`` (DP tasks)."""
    spent = spec.privacy_spent(round_)
    if spent is None:
        return None
    return PrivacyRecord(
        *(spent.mode, spent.epsilon, spent.delta, spent.noise_multiplier, spent.clip_norm),
        *(spent.sample_rate, spent.steps, spent.accountant),
    )


class Coordinator:
    """Runs the rounds of one task.

    Parameters
    ----------
    signer : Signer
        The coordinator's key (the task's ``coordinator`` address).
    fed_task : FedTaskClient
        The FedTask contract (re-bound to ``signer``).
    store : ContentStore
        Where models, updates, batches and evidence live.
    validation : LocalDataset
        The coordinator's own data for contribution measurement.
    test : LocalDataset
        The held-out test set for the per-round evaluation.
    mailbox : Mailbox or None, default None
        Where participants post signed commitments; ``None`` takes direct commitments only.
    travel : bool, default False
        Move the chain's clock to each deadline (dev chains; only one party may) instead of
        waiting in real time.
    poll : float, default 1.0
        Seconds between two looks at the chain's clock while waiting.
    device : torch.device or None, default None
        Where evaluation runs.
    registry : DatasetRegistryClient or None, default None
        The dataset registry whose listings bound the participants' sample counts
        (:mod:`fl_node.screening`); ``None`` checks no listing.
    ballots : BallotSource or None, default None
        Where the trusted-participant vote's signed ballots come from. Without one (or when
        every ballot is withheld or forged) a ``trusted_vote`` task elects the central update
        nearest the coordinate-wise median, and the evidence shows no ballot counted.
    """

    def __init__(
        self,
        *,
        signer: Signer,
        fed_task: FedTaskClient,
        store: ContentStore,
        validation: LocalDataset,
        test: LocalDataset,
        mailbox: Mailbox | None = None,
        travel: bool = False,
        poll: float = 1.0,
        device: torch.device | None = None,
        registry: DatasetRegistryClient | None = None,
        ballots: BallotSource | None = None,
    ) -> None:
        self.signer = signer
        self.ballots = ballots
        self.registry = registry
        self.fed_task = fed_task.as_signer(signer)
        self.plain_store = store
        self.store = store
        self.validation = validation
        self.test = test
        self.mailbox = mailbox
        self.travel = travel
        self.poll = poll
        self.device = device or pick_device()
        self.task_id: int | None = None
        self.spec: TaskSpec | None = None
        self.schedule: Schedule | None = None
        self.strategy: Strategy | None = None
        self.estimator: ContributionEstimator | None = None
        self.model: FedModel | None = None
        self.model_cid: str | None = None
        self.model_hash: bytes | None = None
        self.server_state: ServerState | None = None
        self.reports: list[RoundReport] = []
        self.refused: list[tuple[CommitmentEnvelope, str]] = []
        self.stake_gas = 0
        self._gas: dict[int, RoundGas] = {}
        self.screen = RoundScreen()

    # ---- set-up -------------------------------------------------------------------------------
    def attach(self, task_id: int) -> TaskSpec:
        """Take charge of ``task_id``: load its spec and the current global model.

        A task that has not started gets the spec's initial model; a task in progress resumes from
        the model of its open round or, between rounds, of its last finalised round.

        Parameters
        ----------
        task_id : int
            The task.
        """
        info = self.fed_task.task(task_id)
        if str(info.coordinator) != str(self.signer.address):
            raise NotCoordinatorError(
                f"attach: {self.signer.address} is not the coordinator of {task_id}"
            )
        spec = TaskSpec.from_bytes(
            fetch_verified(self.store, info.spec_cid, info.spec_hash, "task spec")
        )
        self.task_id, self.spec = task_id, spec
        self.store = self._artifact_store(spec)
        self.schedule = self.fed_task.schedule(task_id)
        self.strategy = spec.make_strategy()
        self.estimator = make_estimator(spec.contribution)
        if info.last_round == 0:
            self._set_model(build_model(spec.model), round_=0)
        else:
            self._resume_model(task_id, int(info.last_round), info.round_open, info.model_hash)
        self.server_state = self._resume_state(task_id)
        self.screen = RoundScreen(tolerance=spec.copy_tolerance, dp=spec.screened_dp)
        if info.last_round:
            screen_from_evidence(
                self.fed_task, self.store, task_id, self.screen, key=self._update_key()
            )
        return spec

    def _artifact_store(self, spec: TaskSpec) -> ContentStore:
        """The store this task's artifacts go through.

        Sealed for their holders when the spec says so (:attr:`TaskSpec.artifact_holders`), else
        the plain store.
        """
        if not spec.artifact_holders:
            return self.plain_store
        key = bytes(self.signer.account.key)
        return SealedStore(self.plain_store, holders=spec.artifact_holders, key=key)

    def _update_key(self) -> bytes | None:
        """The key that opens sealed updates (the account's own: the spec lists its public key)."""
        spec = self._require()[1]
        return bytes(self.signer.account.key) if spec.sealed_updates else None

    def _resume_state(self, task_id: int) -> ServerState:
        """The strategy's server state: the last finalised round's, or the initial one."""
        _, _, strategy, _, model = self._require()
        finals = list(self.fed_task.rounds_finalized(task_id)) if strategy.stateful else []
        if not finals:
            return strategy.initial_state(trainable_state(model))
        evidence = RoundEvidence.from_dict(self.store.get_json(finals[-1].evidence_cid))
        state = evidence.aggregation.state
        if state is None:
            raise TaskStateError(f"attach: task {task_id}'s evidence carries no server state")
        blob = fetch_verified(
            self.store, state.after.cid, bytes.fromhex(state.after.hash[2:]), "server state"
        )
        return ServerState.from_bytes(blob)

    def _resume_model(self, task_id: int, last: int, open_: bool, model_hash: bytes) -> None:
        """Load the model a task in progress stands at (checked against the chain's hash)."""
        if open_:
            cid = round_opening(self.fed_task, task_id, last).model_cid
        else:
            finals = [f for f in self.fed_task.rounds_finalized(task_id) if f.round == last]
            cid = finals[0].model_cid
        loaded = decode_model(fetch_verified(self.store, cid, model_hash, "global model"))
        if not isinstance(loaded.module, FedModel):
            raise TaskStateError(f"attach: the model of task {task_id} is not tabular")
        self.model = loaded.module
        self.model_cid, self.model_hash = cid, bytes(model_hash)

    def _set_model(self, model: FedModel, *, round_: int) -> int:
        if self.task_id is None or self.spec is None:
            raise TaskStateError("Coordinator: attach(task_id) first")
        blob = encode_model(model, self.spec.model, round=round_, task_id=self.task_id)
        self.model = model
        self.model_cid = self.store.put(blob)
        self.model_hash = content_hash(blob)
        return len(blob)

    def _require(self) -> tuple[int, TaskSpec, Strategy, ContributionEstimator, FedModel]:
        if (
            self.task_id is None
            or self.spec is None
            or self.strategy is None
            or self.estimator is None
            or self.model is None
        ):
            raise TaskStateError("Coordinator: attach(task_id) first")
        return self.task_id, self.spec, self.strategy, self.estimator, self.model

    def stake(self) -> TxResult | None:
        """Lock the coordinator's stake if the task asks for one and it is not locked yet."""
        task_id = self._require()[0]
        info = self.fed_task.task(task_id)
        if info.coordinator_staked:
            return None
        if info.coordinator_stake:
            token = RewardTokenClient(self.fed_task.backend, self.fed_task.token(), self.signer)
            token.approve(self.fed_task.address, info.coordinator_stake)
        tx = self.fed_task.stake_as_coordinator(task_id)
        self.stake_gas += tx.gas_used
        log.info("stake: coordinator staked %d on task %s", info.coordinator_stake, task_id)
        return tx

    # ---- one round ----------------------------------------------------------------------------
    def open_round(self) -> int:
        """Open the next round with the current global model; return its number."""
        task_id = self._require()[0]
        assert self.model_cid is not None and self.model_hash is not None
        round_ = int(self.fed_task.task(task_id).last_round) + 1
        failpoint("coordinator.before_open")
        tx = self.fed_task.open_round(task_id, round_, self.model_cid, self.model_hash)
        failpoint("coordinator.after_open")
        self._gas[round_] = RoundGas(open=tx.gas_used)
        log.info("open_round: task %s round %d with %s", task_id, round_, self.model_cid)
        return round_

    def select_envelopes(self, round_: int) -> list[CommitmentEnvelope]:
        """The mailbox's envelopes the round's batch anchors: genuine, one per participant.

        Parameters
        ----------
        round_ : int
            The open round.
        """
        task_id = self._require()[0]
        if self.mailbox is None:
            return []
        screened = screen_envelopes(
            self.mailbox.collect(task_id, round_),
            self.fed_task.domain(),
            task_id,
            round_,
            self.fed_task.participants(task_id),
        )
        self.refused.extend(screened.refused)
        return screened.kept

    def post_batch(self, round_: int) -> BatchDocument | None:
        """Anchor the mailbox's signed commitments of ``round_`` in one root (before its deadline).

        Parameters
        ----------
        round_ : int
            The open round.

        Returns
        -------
        BatchDocument or None
            The batch posted, or ``None`` when there was nothing to post (or it was posted).
        """
        task_id = self._require()[0]
        if self.fed_task.batches_posted(task_id, round_):
            return None
        envelopes = self.select_envelopes(round_)
        if not envelopes:
            return None
        document = BatchDocument.of(envelopes)
        cid = self.store.put_json(document.to_dict())
        try:
            tx = self.fed_task.post_batch(document.batch, cid)
        except ChainRevertError as exc:  # mined after the deadline: they commit directly
            if exc.error_name != "TaskDeadlinePassed":
                raise
            log.warning("post_batch: round %d's batch came too late: %s", round_, exc)
            return None
        gas = self._gas.get(round_, RoundGas())
        self._gas[round_] = RoundGas(gas.open, tx.gas_used, gas.finalize)
        log.info("post_batch: round %d, %d commitments under %s", round_, document.batch.count, cid)
        return document

    def finalize_round(self) -> RoundReport:
        """Check, aggregate, score, evaluate, store and finalise the open round."""
        model = self._require()[4]
        with cpu_threads_for(model, torch.device("cpu")):
            return self._finalize_round()

    def _finalize_round(self) -> RoundReport:
        task_id, _, _, _, model = self._require()
        started = time.monotonic()
        info = self.fed_task.task(task_id)
        if not info.round_open:
            raise TaskStateError(f"finalize_round: task {task_id} has no open round")
        round_ = int(info.last_round)
        participants = list(self.fed_task.participants(task_id))
        posted, commitments = commitments_of_round(
            self.fed_task, self.store, task_id, round_, participants
        )
        params = trainable_state(model)
        verdicts, decoded = self._collect_updates(round_, participants, commitments, params)
        verdicts, screened = self._screen(round_, participants, verdicts, decoded)
        defended = self._defend(round_, params, verdicts, screened)
        accepted = screened
        if defended is not None:
            verdicts, accepted = defended.verdicts, defended.accepted
        measured = self._measure_contributions(params, accepted, len(participants), round_)
        next_model, next_state = self._aggregate(params, accepted, defended)
        state_record = self._store_state(next_state)
        work = self._round_work(
            round_,
            participants,
            (posted, commitments),
            verdicts,
            measured,
            self._evaluate(next_model),
        )
        if defended is not None:
            work = replace(work, defence=defended.record)
        base_model = self._model_ref()
        model_bytes = self._set_model(next_model, round_=round_)
        evidence_cid = self.store.put_json(self._evidence(work, base_model, state_record).to_dict())
        failpoint("coordinator.after_evidence")
        self.server_state = next_state
        gas = self._finalize_on_chain(work, evidence_cid, info.total_rounds)
        failpoint("coordinator.after_finalize")
        step = global_step(params, trainable_state(next_model))
        self.screen.record(round_, participants, decoded, screened, step)
        report = self._report(work, model_bytes, evidence_cid, gas, started)
        self.reports.append(report)
        log.info(
            "finalize_round: task %s round %d: %d accepted, %d rejected, test loss %.4f, pays %d",
            *(task_id, round_, report.accepted, len(report.rejected), report.test.loss),
            report.budget,
        )
        return report

    def _collect_updates(
        self,
        round_: int,
        participants: list[Address],
        commitments: tuple[CommitmentRecord, ...],
        params: Mapping[str, Tensor],
    ) -> tuple[list[UpdateVerdict], list[tuple[int, ClientUpdate]]]:
        """One verdict per participant, and the accepted updates with their participant index."""
        task_id = self._require()[0]
        assert self.model_hash is not None
        spec = self._require()[1]
        sampled = frozenset(a.lower() for a in spec.sampled(participants, round_, self.model_hash))
        context = RoundContext(
            *(task_id, round_, "0x" + self.model_hash.hex(), shapes_of(params), sampled),
            *(spec.sealed_updates, self._update_key()),
        )
        by_participant = {c.participant.lower(): c for c in commitments}
        verdicts: list[UpdateVerdict] = []
        accepted: list[tuple[int, ClientUpdate]] = []
        for index, participant in enumerate(participants):
            commitment = by_participant.get(participant.lower())
            if commitment is None:
                verdicts.append(UpdateVerdict(participant, accepted=False, reason=NOT_SUBMITTED))
                continue
            verdict, update = check_update(self.store, commitment, context)
            verdicts.append(verdict)
            if update is not None:
                accepted.append((index, update))
        return verdicts, accepted

    def _screen(
        self,
        round_: int,
        participants: list[Address],
        verdicts: list[UpdateVerdict],
        decoded: list[tuple[int, ClientUpdate]],
    ) -> tuple[list[UpdateVerdict], list[tuple[int, ClientUpdate]]]:
        """The round's updates screened against the task's past and the listings' rows."""
        task_id, spec, _, _, _ = self._require()
        if self.registry is not None:
            opened = round_opening(self.fed_task, task_id, round_).meta.block
            self.screen.listed = listed_rows(self.registry, self.store, until_block=opened)
        self.screen.require_listing = spec.require_listing
        return self.screen.screen(round_, participants, verdicts, decoded)

    def _aggregate(
        self,
        params: Mapping[str, Tensor],
        accepted: list[tuple[int, ClientUpdate]],
        defended: DefendedRound | None,
    ) -> tuple[FedModel, ServerState]:
        """The next global model and server state: the strategy's aggregate of the updates.

        With a defence the strategy applies the defence's robust delta as one update.
        """
        _, spec, strategy, _, _ = self._require()
        if defended is not None:
            new_params, state = defended.aggregate(strategy, params, self._state())
        else:
            result = strategy.aggregate_with_state(params, [u for _, u in accepted], self._state())
            new_params, state = result.params, result.state
        next_model = build_model(spec.model)
        next_model.load_state_dict(new_params, strict=False)
        return next_model, state

    def _defend(
        self,
        round_: int,
        params: Mapping[str, Tensor],
        verdicts: list[UpdateVerdict],
        screened: list[tuple[int, ClientUpdate]],
    ) -> DefendedRound | None:
        """The task's defence run on the screened updates (``None`` when the task has none)."""
        defence = self._require()[1].make_defence()
        if defence is None:
            return None
        root, root_ref = self._root_update(defence, round_, params)
        received = self._received_ballots(defence, round_, verdicts, screened)
        voters = [verdicts[i].participant for i, _ in screened]
        hashes = [str(verdicts[i].update_hash) for i, _ in screened]
        task_id = self._require()[0]
        domain = self.fed_task.domain()
        check = {b.voter.lower(): ballot_problem(domain, task_id, round_, b) for b in received}
        inputs = RoundInputs(root, counted_ballots(received, voters, hashes, check))
        return apply_defence(defence, verdicts, screened, inputs, (root_ref, tuple(received)))

    def _root_update(
        self, defence: Defence, round_: int, params: Mapping[str, Tensor]
    ) -> tuple[dict[str, Tensor] | None, ModelRef | None]:
        """FLTrust's root update of the round, stored for the audit (``None`` for other rules)."""
        if not defence.uses_root:
            return None, None
        task_id, spec, strategy, _, _ = self._require()
        data = root_data(self.validation)
        delta = root_update(spec.model, params, data, strategy.configure_train(spec.train), round_)
        meta = UpdateMeta(
            task_id=task_id,
            round=round_,
            participant=str(self.signer.address),
            base_model_hash="0x" + (self.model_hash or b"").hex(),
            samples=data.rows,
            train_loss=0.0,
            strategy=spec.strategy,
        )
        blob = encode_update(delta, meta)
        ref = ModelRef(cid=self.store.put(blob), hash="0x" + content_hash(blob).hex())
        return delta, ref

    def _received_ballots(
        self,
        defence: Defence,
        round_: int,
        verdicts: list[UpdateVerdict],
        screened: list[tuple[int, ClientUpdate]],
    ) -> list[BallotRecord]:
        """The trusted vote's ballots for the round's screened updates (none for other rules)."""
        if not defence.uses_ballots:
            return []
        if self.ballots is None:
            log.warning("trusted_vote: no ballot source; the central fallback elects (round %d)",
                        round_)  # fmt: skip
            return []
        by_hash = {str(verdicts[i].update_hash): u for i, u in screened}
        return list(self.ballots(self._require()[0], round_, by_hash))

    def _state(self) -> ServerState:
        if self.server_state is None:
            raise TaskStateError("Coordinator: attach(task_id) first")
        return self.server_state

    def _measure_contributions(
        self,
        params: Mapping[str, Tensor],
        accepted: list[tuple[int, ClientUpdate]],
        n_participants: int,
        round_: int,
    ) -> MeasuredRound:
        """Each participant's contribution (0 unless accepted), the utilities and the gain.

        A coalition's utility is the negative log loss of its aggregate on the validation set.
        The estimator's seed is :func:`~fl_node.payout.contribution_seed` of the opening model
        and the round; the empty and the full coalition are always measured (leave-one-out
        does not need the empty one), so the round's improvement is on the record.
        """
        _, spec, strategy, estimator, _ = self._require()
        updates = [u for _, u in accepted]
        utility = coalition_utility(
            spec.model, strategy, params, updates, self._state(), self.validation
        )

        contributions = [0.0] * n_participants
        seed = contribution_seed(self.model_hash or b"", round_)
        if not updates:
            return MeasuredRound(contributions, {}, seed, dict(estimator.params()), 0.0)
        result = estimator.estimate(len(updates), utility, seed=seed)
        for (index, _), score in zip(accepted, result.scores, strict=True):
            contributions[index] = score
        utilities = dict(result.utilities)
        for coalition in (frozenset(), frozenset(range(len(updates)))):
            key = coalition_key(coalition)
            if key not in utilities:
                utilities[key] = utility(coalition)
        improvement = round_improvement(utilities, len(updates))
        return MeasuredRound(contributions, utilities, seed, dict(result.params), improvement)

    def _round_work(
        self,
        round_: int,
        participants: list[Address],
        committed: tuple[PostedBatch | None, tuple[CommitmentRecord, ...]],
        verdicts: list[UpdateVerdict],
        measured: MeasuredRound,
        metrics: RoundMetrics,
    ) -> _RoundWork:
        """The round's rewards under the spec's policy, its flags, the last round's shares."""
        task_id, spec = self._require()[:2]
        posted, commitments = committed
        info = self.fed_task.task(task_id)
        terms = RoundTerms(
            policy=spec.rewards,
            cap=int(self.fed_task.round_cap(task_id, round_)),
            quorum=int(info.quorum),
            pool=int(info.pool),
            rounds=int(info.total_rounds),
        )
        accepted = [v.accepted for v in verdicts]
        allocation = round_rewards(terms, measured.contributions, accepted, measured.improvement)
        last = round_ == info.total_rounds
        return _RoundWork(
            round=round_,
            participants=participants,
            posted=posted,
            commitments=commitments,
            verdicts=verdicts,
            measured=measured,
            metrics=metrics,
            rewards=reward_split(
                task_id, round_, participants, terms, allocation, measured.improvement
            ),
            flagged=flagged_in(verdicts),
            shares=self._shares(task_id, measured.contributions) if last else None,
        )

    def _shares(self, task_id: int, contributions: list[float]) -> SharesRecord:
        """The shares of the contributions over every round (earlier rounds from their evidence)."""
        earlier = [
            RoundEvidence.from_dict(self.store.get_json(f.evidence_cid))
            for f in self.fed_task.rounds_finalized(task_id)
        ]
        return shares_record(cumulative_contributions([*contributions_of(earlier), contributions]))

    def _evaluate(self, model: FedModel) -> RoundMetrics:
        """``model``'s metrics on the validation and the held-out test set."""
        return RoundMetrics(
            validation=_metrics(model, self.validation),
            test=_metrics(model, self.test),
        )

    def _model_ref(self) -> ModelRef:
        """The current global model's CID and hash."""
        assert self.model_cid is not None and self.model_hash is not None
        return ModelRef(cid=self.model_cid, hash="0x" + self.model_hash.hex())

    def _store_state(self, after: ServerState) -> StateRecord | None:
        """Store the server state before and after the round (stateful strategies only)."""
        if not self._require()[2].stateful:
            return None
        refs = []
        for state in (self._state(), after):
            blob = state.to_bytes()
            refs.append(ModelRef(cid=self.store.put(blob), hash="0x" + content_hash(blob).hex()))
        return StateRecord(before=refs[0], after=refs[1])

    def _evidence(
        self, work: _RoundWork, base_model: ModelRef, state: StateRecord | None
    ) -> RoundEvidence:
        """The round's evidence document (commitments, verdicts, utilities, rewards, shares)."""
        task_id, spec, _, estimator, _ = self._require()
        validation_bytes = self.validation.x.tobytes() + self.validation.y.tobytes()
        batch = work.posted.document.ref(work.posted.event.batch_cid) if work.posted else None
        return RoundEvidence(
            task_id=task_id,
            round=work.round,
            coordinator=Address(self.signer.address),
            base_model=base_model,
            participants=tuple(work.participants),
            commitments=CommitmentsRecord(batch=batch, entries=work.commitments),
            updates=tuple(work.verdicts),
            aggregation=AggregationRecord(
                strategy=spec.strategy,
                server_lr=spec.effective_server_lr,
                weights={v.participant: v.samples for v in work.verdicts if v.accepted},
                params=dict(spec.strategy_params),
                state=state,
                defence=work.defence,
            ),
            contribution=ContributionRecord(
                method=estimator.name,
                utility=utility_description(spec.model.task),
                validation_rows=self.validation.rows,
                validation_data_hash="0x" + content_hash(validation_bytes).hex(),
                utilities=work.measured.utilities,
                scores=tuple(work.measured.contributions),
                seed=work.measured.seed,
                params=work.measured.params,
            ),
            rewards=work.rewards,
            flagged=work.flagged,
            new_model=self._model_ref(),
            metrics=work.metrics,
            shares=work.shares,
            privacy=_privacy(spec, work.round),
        )

    def _finalize_on_chain(self, work: _RoundWork, evidence_cid: str, total: int) -> RoundGas:
        """Finalise the round on-chain; the round's gas."""
        task_id = self._require()[0]
        assert self.model_cid is not None and self.model_hash is not None
        finalization = Finalization(
            new_model_cid=self.model_cid,
            new_model_hash=self.model_hash,
            evidence_cid=evidence_cid,
            rewards_root=bytes.fromhex(work.rewards.root[2:]),
            budget=work.rewards.budget,
            accepted=sum(v.accepted for v in work.verdicts),
            flagged=work.flagged,
            shares=encode_shares(work.shares.bps) if work.shares else b"",
        )
        tx = self.fed_task.finalize_round(task_id, work.round, finalization)
        gas = self._gas.get(work.round, RoundGas())
        self._gas[work.round] = RoundGas(gas.open, gas.batch, tx.gas_used)
        return self._gas[work.round]

    def _report(
        self, work: _RoundWork, model_bytes: int, evidence_cid: str, gas: RoundGas, started: float
    ) -> RoundReport:
        """The round's report, once it is finalised."""
        new_model = self._model_ref()
        return RoundReport(
            round=work.round,
            batch=work.posted.document.ref(work.posted.event.batch_cid) if work.posted else None,
            commitments=work.commitments,
            verdicts=work.verdicts,
            contributions=work.measured.contributions,
            rewards=work.rewards,
            flagged=work.flagged,
            shares=work.shares,
            model_cid=new_model.cid,
            model_hash=new_model.hash,
            model_bytes=model_bytes,
            evidence_cid=evidence_cid,
            validation=work.metrics.validation,
            test=work.metrics.test,
            gas=gas,
            seconds=time.monotonic() - started,
            utilities=work.measured.utilities,
        )

    # ---- the whole task -----------------------------------------------------------------------
    def wait_until(self, timestamp: int) -> int:
        """Travel (``travel``) or wait until the chain's time reaches ``timestamp``.

        Parameters
        ----------
        timestamp : int
            Seconds since the epoch.
        """
        return self.fed_task.backend.wait_until(timestamp, travel=self.travel, poll=self.poll)

    def run(
        self,
        *,
        between: RoundHook | None = None,
        on_round: Callable[[RoundReport], None] | None = None,
        settle: bool = True,
    ) -> list[RoundReport]:
        """Stake, then run every remaining round of the attached task, deadline by deadline.

        Parameters
        ----------
        between : callable or None, default None
            Called with the round and each :class:`Phase` it reaches (in-process runs step the
            participants there); ``None`` leaves the participants to their own processes.
        on_round : callable or None, default None
            Called with each round's report (progress display).
        settle : bool, default True
            After the last round, wait for its challenge window and the stake cooldown
            (:meth:`settle`) and take the coordinator's stake back.
        """
        task_id = self._require()[0]
        self.stake()
        while True:
            info = self.fed_task.task(task_id)
            if info.status.ended:
                break
            round_ = int(info.last_round) if info.round_open else self.open_round()
            report = self._drive_round(round_, between or _no_hook)
            if on_round is not None:
                on_round(report)
            (between or _no_hook)(round_, Phase.FINALIZED)
        if settle:
            self.settle(between)
        return self.reports

    def _drive_round(self, round_: int, hook: RoundHook) -> RoundReport:
        """One round, phase by phase: batch, inclusion, reveal, finalisation."""
        task_id = self._require()[0]
        rinfo = self.fed_task.round(task_id, round_)
        hook(round_, Phase.OPENED)
        if self.mailbox is not None:
            self.wait_until(rinfo.commit_deadline - self._batch_margin())
            if self.fed_task.backend.chain_time() < rinfo.commit_deadline:
                self.post_batch(round_)
        self.wait_until(rinfo.commit_deadline)
        hook(round_, Phase.INCLUSION)
        self.wait_until(rinfo.reveal_start)
        hook(round_, Phase.REVEAL)
        self.wait_until(rinfo.reveal_deadline)
        return self.finalize_round()

    def _batch_margin(self) -> int:
        """Seconds before the commit deadline at which the batch is posted."""
        assert self.schedule is not None
        return max(1, self.schedule.commit_period // 10)

    def settle(self, between: RoundHook | None = None) -> int:
        """Wait for the last round's window and the stake cooldown; take the stake back.

        Parameters
        ----------
        between : callable or None, default None
            Called with :attr:`Phase.CLAIMABLE` and :attr:`Phase.ENDED` as they are reached.

        Returns
        -------
        int
            The stake withdrawn (0 when there was none or it is still locked by a dispute).
        """
        task_id = self._require()[0]
        hook = between or _no_hook
        info = self.fed_task.task(task_id)
        last = int(info.last_round)
        window = self.fed_task.round(task_id, last).claimable_at if last else 0
        self.wait_until(window)
        hook(last, Phase.CLAIMABLE)
        assert self.schedule is not None
        self.wait_until(max(window, info.ended_at + self.schedule.stake_cooldown))
        stake = int(self.fed_task.stake_of(task_id, self.signer.address))
        if stake and not self.fed_task.task(task_id).open_disputes:
            failpoint("coordinator.before_withdraw")
            self.fed_task.withdraw_stake(task_id)
        else:
            stake = 0
        hook(last, Phase.ENDED)
        return stake


def _no_hook(round_: int, phase: Phase) -> None:
    """A :data:`RoundHook` that does nothing."""


__all__ = [
    "UTILITY_DESCRIPTION",
    "BallotSource",
    "Coordinator",
    "Phase",
    "coalition_utility",
    "RoundGas",
    "RoundHook",
    "RoundReport",
    "utility_description",
]
