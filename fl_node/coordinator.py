"""The coordinator: opens rounds, checks and aggregates updates, measures contributions, pays.

Per round it publishes the global model and opens the round on-chain, then, once the updates are
in, fetches each one and rejects any whose bytes do not match the hash its participant anchored
(recording why), aggregates the rest with the task's strategy, measures each participant's
contribution on its own validation set, evaluates on its held-out test set, stores the new model
and an evidence file (a :class:`~fl_node.evidence.RoundEvidence`: every input's CID, the verdicts,
the utilities, the scores and the rewards), and finalises the round on-chain; the contract pays
from the escrow in proportion to the scores.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

import numpy as np
import torch
from torch import Tensor

from chain import FedTaskClient, Signer, TaskStatus, UpdateAnchor
from fl_node.data import LocalDataset
from fl_node.errors import (
    NotCoordinatorError,
    PayoutMismatchError,
    TaskStateError,
    UpdateRejectedError,
)
from fl_node.evaluation import BinaryMetrics, binary_metrics
from fl_node.evidence import (
    NOT_SUBMITTED,
    AggregationRecord,
    ContributionRecord,
    ModelRef,
    RewardSplit,
    RoundEvidence,
    RoundMetrics,
    UpdateVerdict,
)
from fl_node.models import TabularClassifier, build_model, trainable_state
from fl_node.participant import fetch_verified
from fl_node.serialization import UpdateMeta, decode_model, decode_update, encode_model
from fl_node.strategies import ClientUpdate, Strategy
from fl_node.task import TaskSpec
from fl_node.training import cpu_threads_for, pick_device
from incentives import (
    ContributionEstimator,
    ExactShapley,
    LeaveOneOut,
    RoundRewards,
    allocate_round,
)
from incentives.contribution import Coalition
from kernel.types import Address
from storage import (
    ContentIntegrityError,
    ContentNotFoundError,
    ContentStore,
    InvalidCidError,
    content_hash,
    validate_cid,
)

log = logging.getLogger(__name__)

MAX_UPDATE_BYTES = 64 * 1024 * 1024
"""Largest update the coordinator will download."""

_ESTIMATORS: dict[str, Callable[[], ContributionEstimator]] = {
    "leave-one-out": LeaveOneOut,
    "shapley-exact": ExactShapley,
}

UTILITY_DESCRIPTION = (
    "negative log loss of the coalition's aggregate on the coordinator's validation set "
    "(coalition keys index the accepted updates in participant order)"
)
"""What a coalition's utility measures, as the evidence states it."""

SPLIT_DESCRIPTION = "amount_i = floor(budget*C_i/S) - floor(budget*C_(i-1)/S)"
"""How amounts follow from scores, as the evidence states it (see :mod:`incentives.rewards`)."""


@dataclass(frozen=True)
class RoundReport:
    """Everything one finalised round produced."""

    round: int
    verdicts: list[UpdateVerdict]
    contributions: list[float]
    scores: list[int]
    budget: int
    amounts: list[int]
    model_cid: str
    model_hash: str
    model_bytes: int
    evidence_cid: str
    validation: BinaryMetrics
    test: BinaryMetrics
    gas_used: int
    seconds: float
    utilities: dict[str, float] = field(default_factory=dict)

    @property
    def accepted(self) -> int:
        """Number of accepted updates."""
        return sum(v.accepted for v in self.verdicts)

    @property
    def rejected(self) -> list[UpdateVerdict]:
        """Updates anchored but rejected."""
        return [v for v in self.verdicts if not v.accepted and v.reason != NOT_SUBMITTED]


@dataclass(frozen=True)
class _RoundWork:
    """What a round's finalisation computed before anything is stored or sent on-chain."""

    round: int
    participants: list[Address]
    verdicts: list[UpdateVerdict]
    contributions: list[float]
    utilities: dict[str, float]
    metrics: RoundMetrics
    rewards: RoundRewards


def _predict(model: torch.nn.Module, data: LocalDataset) -> np.ndarray:
    model.eval()
    with torch.no_grad():
        logits = model(torch.from_numpy(np.ascontiguousarray(data.x)))
    return torch.sigmoid(logits).numpy().astype(np.float64)


class Coordinator:
    """Runs the rounds of one task.

    Parameters
    ----------
    signer : Signer
        The coordinator's key (the task's ``coordinator`` address).
    fed_task : FedTaskClient
        The FedTask contract (re-bound to ``signer``).
    store : ContentStore
        Where models, updates and evidence live.
    validation : LocalDataset
        The coordinator's own data for contribution measurement.
    test : LocalDataset
        The held-out test set for the per-round evaluation.
    device : torch.device or None, default None
        Where evaluation runs.
    """

    def __init__(
        self,
        *,
        signer: Signer,
        fed_task: FedTaskClient,
        store: ContentStore,
        validation: LocalDataset,
        test: LocalDataset,
        device: torch.device | None = None,
    ) -> None:
        self.signer = signer
        self.fed_task = fed_task.as_signer(signer)
        self.store = store
        self.validation = validation
        self.test = test
        self.device = device or pick_device()
        self.task_id: int | None = None
        self.spec: TaskSpec | None = None
        self.strategy: Strategy | None = None
        self.estimator: ContributionEstimator | None = None
        self.model: TabularClassifier | None = None
        self.model_cid: str | None = None
        self.model_hash: bytes | None = None
        self.reports: list[RoundReport] = []
        self._round_gas = 0
        self._round_block: int | None = None  # where the open round's events start

    # ---- set-up -------------------------------------------------------------------------------
    def attach(self, task_id: int) -> TaskSpec:
        """Take charge of ``task_id``: load its spec and the current global model.

        A task that has not started gets the spec's initial model; a task in progress resumes from
        the latest model on-chain.
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
        self.strategy = spec.make_strategy()
        self.estimator = _ESTIMATORS[spec.contribution]()
        if info.current_round == 0:
            self._set_model(build_model(spec.model), round_=0)
        else:
            data = fetch_verified(self.store, info.model_cid, info.model_hash, "global model")
            loaded = decode_model(data)
            assert isinstance(loaded.module, TabularClassifier)
            self.model = loaded.module
            self.model_cid, self.model_hash = info.model_cid, info.model_hash
        return spec

    def _set_model(self, model: TabularClassifier, *, round_: int) -> int:
        assert self.spec is not None and self.task_id is not None
        blob = encode_model(model, self.spec.model, round=round_, task_id=self.task_id)
        self.model = model
        self.model_cid = self.store.put(blob)
        self.model_hash = content_hash(blob)
        return len(blob)

    def _require(self) -> tuple[int, TaskSpec, Strategy, ContributionEstimator, TabularClassifier]:
        if (
            self.task_id is None
            or self.spec is None
            or self.strategy is None
            or self.estimator is None
            or self.model is None
        ):
            raise TaskStateError("Coordinator: attach(task_id) first")
        return self.task_id, self.spec, self.strategy, self.estimator, self.model

    # ---- one round ----------------------------------------------------------------------------
    def open_round(self) -> int:
        """Open the next round with the current global model; return its number."""
        task_id, *_ = self._require()
        assert self.model_cid is not None and self.model_hash is not None
        info = self.fed_task.task(task_id)
        round_ = int(info.current_round) + 1
        tx = self.fed_task.open_round(task_id, round_, self.model_cid, self.model_hash)
        self._round_gas = tx.gas_used
        self._round_block = tx.block_number
        log.info("open_round: task %s round %d with %s", task_id, round_, self.model_cid)
        return round_

    def wait_for_updates(self, *, timeout: float, poll_interval: float = 0.25) -> bool:
        """Wait until every participant anchored an update for the open round, or ``timeout``.

        Returns
        -------
        bool
            Whether all participants submitted (``False`` on timeout: the round is finalised
            with the updates that arrived; the others score zero).
        """
        task_id, *_ = self._require()
        info = self.fed_task.task(task_id)
        participants = self.fed_task.participants(task_id)
        deadline = time.monotonic() + timeout
        while True:
            done = sum(
                self.fed_task.update(task_id, info.current_round, p)[2] for p in participants
            )
            if done == len(participants):
                return True
            if time.monotonic() > deadline:
                log.warning(
                    "wait_for_updates: round %d timed out with %d/%d updates",
                    info.current_round,
                    done,
                    len(participants),
                )
                return False
            time.sleep(poll_interval)

    def _check_update(
        self, anchor: UpdateAnchor, round_: int, expected: Mapping[str, tuple[int, ...]]
    ) -> tuple[UpdateVerdict, ClientUpdate | None]:
        """Fetch and validate one anchored update; never raises for a bad update."""
        base = UpdateVerdict(
            participant=anchor.participant,
            accepted=False,
            reason=None,
            cid=anchor.cid,
            update_hash="0x" + anchor.update_hash.hex(),
            samples=anchor.samples,
        )
        data = b""
        try:
            data = self._fetch_update(anchor)
            delta, meta = decode_update(data, expected)
            self._check_metadata(meta, anchor, round_)
        except UpdateRejectedError as exc:
            log.warning("finalize_round: rejected %s: %s", anchor.participant, exc)
            verdict = replace(base, reason=exc.reason, detail=exc.detail, bytes=len(data))
            return verdict, None
        verdict = replace(base, accepted=True, train_loss=meta.train_loss, bytes=len(data))
        return verdict, ClientUpdate(delta=delta, samples=anchor.samples)

    def _fetch_update(self, anchor: UpdateAnchor) -> bytes:
        """The anchored update's bytes, checked against its anchored hash and its CID."""
        try:
            cid = validate_cid(anchor.cid)
            data = self.store.get(cid, verify=False, max_bytes=MAX_UPDATE_BYTES)
        except (ContentNotFoundError, InvalidCidError) as exc:
            raise UpdateRejectedError("missing", str(exc)) from None
        except ContentIntegrityError as exc:
            raise UpdateRejectedError("too_large", str(exc)) from None
        if content_hash(data) != anchor.update_hash:
            raise UpdateRejectedError(
                "hash_mismatch", "the stored bytes do not hash to the anchored update hash"
            )
        try:
            self.store.verify(cid, data)
        except ContentIntegrityError as exc:
            raise UpdateRejectedError("cid_mismatch", str(exc)) from None
        return data

    def _check_metadata(self, meta: UpdateMeta, anchor: UpdateAnchor, round_: int) -> None:
        """Raise :class:`UpdateRejectedError` unless the update's metadata agrees with the chain."""
        task_id, *_ = self._require()
        assert self.model_hash is not None
        checks = (
            ("wrong_task", meta.task_id == task_id, f"update is for task {meta.task_id}"),
            ("wrong_round", meta.round == round_, f"update is for round {meta.round}"),
            (
                "wrong_participant",
                meta.participant.lower() == anchor.participant.lower(),
                f"update names {meta.participant}",
            ),
            (
                "wrong_base",
                meta.base_model_hash == "0x" + self.model_hash.hex(),
                "update starts from another global model",
            ),
            (
                "samples_mismatch",
                meta.samples == anchor.samples,
                f"update declares {meta.samples} samples, anchor {anchor.samples}",
            ),
        )
        for reason, ok, detail in checks:
            if not ok:
                raise UpdateRejectedError(reason, detail)

    def finalize_round(self) -> RoundReport:
        """Check, aggregate, score, evaluate, store and finalise the open round."""
        _, _, _, _, model = self._require()
        with cpu_threads_for(model, torch.device("cpu")):
            return self._finalize_round()

    def _finalize_round(self) -> RoundReport:
        task_id, spec, strategy, _, model = self._require()
        started = time.monotonic()
        info = self.fed_task.task(task_id)
        if not info.round_open:
            raise TaskStateError(f"finalize_round: task {task_id} has no open round")
        round_ = int(info.current_round)
        participants = list(self.fed_task.participants(task_id))
        params = trainable_state(model)
        verdicts, accepted = self._collect_updates(task_id, round_, participants, params)
        contributions, utilities = self._measure_contributions(params, accepted, len(participants))
        next_model = build_model(spec.model)
        next_model.load_state_dict(
            strategy.aggregate(params, [u for _, u in accepted]), strict=False
        )
        work = _RoundWork(
            round=round_,
            participants=participants,
            verdicts=verdicts,
            contributions=contributions,
            utilities=utilities,
            metrics=self._evaluate(next_model),
            rewards=allocate_round(
                contributions,
                escrow_remaining=int(info.escrow),
                rounds_left=info.total_rounds - round_ + 1,
                eligible=[v.accepted for v in verdicts],
            ),
        )
        base_model = self._model_ref()
        model_bytes = self._set_model(next_model, round_=round_)
        evidence_cid = self.store.put_json(self._evidence(work, base_model).to_dict())
        gas_used = self._finalize_on_chain(work, evidence_cid)
        report = self._report(work, model_bytes, evidence_cid, gas_used, started)
        self.reports.append(report)
        log.info(
            "finalize_round: task %s round %d: %d accepted, %d rejected, test acc %.3f, paid %d",
            task_id,
            round_,
            report.accepted,
            len(report.rejected),
            report.test.accuracy,
            work.rewards.paid,
        )
        return report

    def _collect_updates(
        self, task_id: int, round_: int, participants: list[Address], params: Mapping[str, Tensor]
    ) -> tuple[list[UpdateVerdict], list[tuple[int, ClientUpdate]]]:
        """One verdict per participant, and the accepted updates with their participant index."""
        anchors = {
            a.participant: a
            for a in self.fed_task.update_anchors(task_id, round_, from_block=self._round_block)
        }
        expected = {k: tuple(v.shape) for k, v in params.items()}
        verdicts: list[UpdateVerdict] = []
        accepted: list[tuple[int, ClientUpdate]] = []
        for index, participant in enumerate(participants):
            anchor = anchors.get(participant)
            if anchor is None:
                verdicts.append(UpdateVerdict(participant, accepted=False, reason=NOT_SUBMITTED))
                continue
            verdict, update = self._check_update(anchor, round_, expected)
            verdicts.append(verdict)
            if update is not None:
                accepted.append((index, update))
        return verdicts, accepted

    def _measure_contributions(
        self,
        params: Mapping[str, Tensor],
        accepted: list[tuple[int, ClientUpdate]],
        n_participants: int,
    ) -> tuple[list[float], dict[str, float]]:
        """Each participant's contribution (0 unless accepted) and every coalition's utility.

        A coalition's utility is the negative log loss of its aggregate on the validation set.
        """
        _, spec, strategy, estimator, _ = self._require()
        updates = [u for _, u in accepted]
        scratch = build_model(spec.model)

        def utility(coalition: Coalition) -> float:
            chosen = [updates[i] for i in sorted(coalition)]
            scratch.load_state_dict(strategy.aggregate(params, chosen), strict=False)
            return -binary_metrics(self.validation.y, _predict(scratch, self.validation)).log_loss

        contributions = [0.0] * n_participants
        if not updates:
            return contributions, {}
        result = estimator.estimate(len(updates), utility)
        for (index, _), score in zip(accepted, result.scores, strict=True):
            contributions[index] = score
        return contributions, result.utilities

    def _evaluate(self, model: TabularClassifier) -> RoundMetrics:
        """``model``'s metrics on the validation and the held-out test set."""
        return RoundMetrics(
            validation=binary_metrics(self.validation.y, _predict(model, self.validation)),
            test=binary_metrics(self.test.y, _predict(model, self.test)),
        )

    def _model_ref(self) -> ModelRef:
        """The current global model's CID and hash."""
        assert self.model_cid is not None and self.model_hash is not None
        return ModelRef(cid=self.model_cid, hash="0x" + self.model_hash.hex())

    def _evidence(self, work: _RoundWork, base_model: ModelRef) -> RoundEvidence:
        """The round's evidence document (every input's CID, verdicts, utilities, rewards)."""
        task_id, spec, _, estimator, _ = self._require()
        validation_bytes = self.validation.x.tobytes() + self.validation.y.tobytes()
        return RoundEvidence(
            task_id=task_id,
            round=work.round,
            coordinator=Address(self.signer.address),
            base_model=base_model,
            participants=tuple(work.participants),
            updates=tuple(work.verdicts),
            aggregation=AggregationRecord(
                strategy=spec.strategy,
                server_lr=spec.server_lr,
                weights={v.participant: v.samples for v in work.verdicts if v.accepted},
            ),
            contribution=ContributionRecord(
                method=estimator.name,
                utility=UTILITY_DESCRIPTION,
                validation_rows=self.validation.rows,
                validation_data_hash="0x" + content_hash(validation_bytes).hex(),
                utilities=work.utilities,
                scores=tuple(work.contributions),
            ),
            rewards=RewardSplit(
                budget=work.rewards.budget,
                scores=tuple(work.rewards.scores),
                amounts=tuple(work.rewards.amounts),
                split=SPLIT_DESCRIPTION,
            ),
            new_model=self._model_ref(),
            metrics=work.metrics,
        )

    def _finalize_on_chain(self, work: _RoundWork, evidence_cid: str) -> int:
        """Finalise the round on-chain; check the contract paid the reference split; gas used."""
        task_id, *_ = self._require()
        assert self.model_cid is not None and self.model_hash is not None
        tx = self.fed_task.finalize_round(
            task_id,
            work.round,
            model_cid=self.model_cid,
            model_hash=self.model_hash,
            evidence_cid=evidence_cid,
            scores=work.rewards.scores,
            budget=work.rewards.budget,
        )
        self._round_block = None
        paid = [r.amount for r in self.fed_task.rewards_in(tx)]
        if paid != work.rewards.amounts:
            raise PayoutMismatchError(
                f"finalize_round: on-chain split {paid} differs from the reference "
                f"{work.rewards.amounts}"
            )
        return self._round_gas + tx.gas_used

    def _report(
        self, work: _RoundWork, model_bytes: int, evidence_cid: str, gas_used: int, started: float
    ) -> RoundReport:
        """The round's report, once it is finalised."""
        new_model = self._model_ref()
        return RoundReport(
            round=work.round,
            verdicts=work.verdicts,
            contributions=work.contributions,
            scores=work.rewards.scores,
            budget=work.rewards.budget,
            amounts=work.rewards.amounts,
            model_cid=new_model.cid,
            model_hash=new_model.hash,
            model_bytes=model_bytes,
            evidence_cid=evidence_cid,
            validation=work.metrics.validation,
            test=work.metrics.test,
            gas_used=gas_used,
            seconds=time.monotonic() - started,
            utilities=work.utilities,
        )

    # ---- the whole task -----------------------------------------------------------------------
    def run(
        self,
        *,
        round_timeout: float = 300.0,
        poll_interval: float = 0.25,
        between: Callable[[int], None] | None = None,
        on_round: Callable[[RoundReport], None] | None = None,
    ) -> list[RoundReport]:
        """Run every remaining round of the attached task.

        Parameters
        ----------
        round_timeout : float, default 300.0
            Seconds to wait for updates in each round.
        poll_interval : float, default 0.25
            Seconds between chain polls while waiting.
        between : callable or None, default None
            Called with the round number after it opens (in-process runs use it to step the
            participants); when ``None`` the coordinator waits for updates on-chain.
        on_round : callable or None, default None
            Called with each round's report (progress display).
        """
        task_id, spec, *_ = self._require()
        while True:
            info = self.fed_task.task(task_id)
            if info.status in (TaskStatus.COMPLETED, TaskStatus.CANCELLED):
                return self.reports
            if info.round_open:
                round_ = int(info.current_round)
            else:
                round_ = self.open_round()
            if between is not None:
                between(round_)
            self.wait_for_updates(timeout=round_timeout, poll_interval=poll_interval)
            report = self.finalize_round()
            if on_round is not None:
                on_round(report)
