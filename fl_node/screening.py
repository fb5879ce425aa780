"""What a round's updates are screened against: the task's past steps and the parties' listings.

:class:`RoundScreen` carries, from round to round, every step revealed so far (each decoded update
and the global model's own step) and the sample count each participant declared first; it turns
the accepted updates of a round into rejections where :func:`fl_node.copies.screen_update` says so.
In a dp-fedavg task with plain aggregation it first rejects, as ``dp_noise_missing``, an update
whose norm is outside the band a clipped-and-noised update falls in (:func:`fl_node.dp.check_noise`
at ``z = 6``: an honest update is rejected with probability at most the chi-square tails of its
noise at 6 standard deviations, 3.3e-8 for 513 parameters, 2.4e-9 for 20,000). A statistical test,
not a proof: the reason is not among the flagged ones (:data:`~fl_node.validation.FLAG_REASONS`).
The coordinator keeps one for its task (rebuilt from the stored evidence when it attaches to a task
in progress, :func:`screen_from_evidence`), and the audit builds its own the same way, round by
round, from the chain and the store alone.

:func:`listed_rows` reads the rows each owner declared in its dataset listings (the signed
metadata documents the registry anchors), which bound the sample counts.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import torch

from chain.fed_task import FedTaskClient
from chain.registry import DatasetRegistryClient
from fl_node.copies import (
    COPY_TOLERANCE,
    GLOBAL,
    SampleBounds,
    Screening,
    StepPrint,
    screen_update,
    step_print,
)
from fl_node.dp import DPConfig, check_noise
from fl_node.evidence import RoundEvidence, UpdateVerdict
from fl_node.models import trainable_state
from fl_node.sealed import is_sealed_update, open_sealed_update
from fl_node.serialization import decode_model, decode_update
from fl_node.strategies import ClientUpdate
from kernel.errors import FedmarketError
from kernel.types import Address
from storage import ContentStore

log = logging.getLogger(__name__)

DP_NOISE_MISSING = "dp_noise_missing"
"""A dp-fedavg update whose norm is outside the band of a clipped and noised update."""

SCREEN_REASONS = (
    "empty_update",
    "replayed_update",
    "samples_changed",
    "samples_exceed_listing",
    DP_NOISE_MISSING,
)
"""The reasons :class:`RoundScreen` gives (after an update passed its own checks)."""


@dataclass
class RoundScreen:
    """The task's past, as far as screening a round needs it.

    Attributes
    ----------
    listed : mapping of str to int
        Lower-case owner -> rows of its dataset listings.
    require_listing : bool
        Refuse participants that listed nothing.
    tolerance : float
        Copy tolerance (:data:`~fl_node.copies.COPY_TOLERANCE`).
    history : list of StepPrint
        Every step revealed in the rounds recorded so far, oldest first.
    declared : dict of str to int
        Lower-case address -> sample count of its first accepted update.
    dp : DPConfig or None
        The task's DP settings when every update must carry its noise (dp-fedavg under plain
        aggregation); ``None`` (or another mode) checks none.
    """

    listed: Mapping[str, int] = field(default_factory=dict)
    require_listing: bool = False
    tolerance: float = COPY_TOLERANCE
    history: list[StepPrint] = field(default_factory=list)
    declared: dict[str, int] = field(default_factory=dict)
    dp: DPConfig | None = None

    def screen(
        self,
        round_: int,
        participants: Sequence[Address],
        verdicts: list[UpdateVerdict],
        accepted: list[tuple[int, ClientUpdate]],
    ) -> tuple[list[UpdateVerdict], list[tuple[int, ClientUpdate]]]:
        """The round's verdicts and accepted updates once screened (inputs are not changed).

        Parameters
        ----------
        round_ : int
            The round.
        participants : sequence of Address
            The participants in join order (``accepted`` indexes them).
        verdicts : list of UpdateVerdict
            One per participant, from :func:`~fl_node.validation.check_update`.
        accepted : list of (int, ClientUpdate)
            The updates that passed, with their participant's index.
        """
        out, kept = list(verdicts), []
        bounds = SampleBounds(self.declared, self.listed, self.require_listing)
        for index, update in accepted:
            found = self._noise_missing(update)
            if found is None:
                step = step_print(round_, str(participants[index]).lower(), update.delta)
                found = screen_update(step, update.samples, self.history, bounds, self.tolerance)
            if found is None:
                kept.append((index, update))
                continue
            log.warning("screen: round %d: %s %s", round_, participants[index], found.reason)
            out[index] = replace(
                out[index], accepted=False, reason=found.reason, detail=found.detail
            )
        return out, kept

    def _noise_missing(self, update: ClientUpdate) -> Screening | None:
        """``dp_noise_missing`` when a dp-fedavg update's norm is outside the noise band."""
        if self.dp is None or self.dp.mode != "dp-fedavg":
            return None
        check = check_noise(update.delta, self.dp)
        if check.ok:
            return None
        detail = (
            f"norm {check.norm:.6g} outside [{check.low:.6g}, {check.high:.6g}] for {check.dims} "
            f"coordinates of noise std {self.dp.noise_std:g}"
        )
        return Screening(DP_NOISE_MISSING, detail)

    def record(
        self,
        round_: int,
        participants: Sequence[Address],
        decoded: list[tuple[int, ClientUpdate]],
        kept: list[tuple[int, ClientUpdate]],
        global_step: Mapping[str, torch.Tensor],
    ) -> None:
        """Add a finished round: every decoded update, the global step, the first declarations.

        Parameters
        ----------
        round_ : int
            The round.
        participants : sequence of Address
            The participants in join order.
        decoded : list of (int, ClientUpdate)
            Every update that passed its own checks (before screening).
        kept : list of (int, ClientUpdate)
            Those the screening kept.
        global_step : mapping of str to Tensor
            The next global model's trainable parameters less the round's opening ones.
        """
        for index, update in decoded:
            self.history.append(step_print(round_, str(participants[index]).lower(), update.delta))
        self.history.append(step_print(round_, GLOBAL, global_step))
        for index, update in kept:
            self.declared.setdefault(str(participants[index]).lower(), update.samples)


def global_step(
    before: Mapping[str, torch.Tensor], after: Mapping[str, torch.Tensor]
) -> dict[str, torch.Tensor]:
    """``after - before`` for every trainable tensor."""
    return {name: after[name].detach() - before[name].detach() for name in before}


def _trainable(blob: bytes) -> dict[str, torch.Tensor]:
    return trainable_state(decode_model(blob).module)


def screen_from_evidence(
    fed_task: FedTaskClient,
    store: ContentStore,
    task_id: int,
    screen: RoundScreen,
    *,
    key: bytes | None = None,
) -> RoundScreen:
    """``screen`` with every finalised round of ``task_id`` recorded, from their evidence.

    Parameters
    ----------
    fed_task : FedTaskClient
        The FedTask contract.
    store : ContentStore
        Where the evidence, updates and models are.
    task_id : int
        The task.
    screen : RoundScreen
        An empty screen (listing bounds and tolerance set).
    key : bytes or None, default None
        The private key that opens the task's sealed updates (:mod:`fl_node.sealed`).
    """
    for final in fed_task.rounds_finalized(task_id):
        evidence = RoundEvidence.from_dict(store.get_json(final.evidence_cid))
        before = _trainable(store.get(evidence.base_model.cid))
        after = _trainable(store.get(evidence.new_model.cid))
        shapes = {n: tuple(t.shape) for n, t in before.items()}
        decoded, kept = [], []
        for index, verdict in enumerate(evidence.updates):
            if verdict.cid is None or not (verdict.accepted or verdict.reason in SCREEN_REASONS):
                continue
            blob = store.get(verdict.cid)
            if key is not None and is_sealed_update(blob):
                blob = open_sealed_update(
                    blob,
                    key,
                    task_id=evidence.task_id,
                    round_=evidence.round,
                    participant=verdict.participant,
                )
            delta, _ = decode_update(blob, shapes)
            decoded.append((index, ClientUpdate(delta=delta, samples=verdict.samples)))
            if verdict.accepted:
                kept.append((index, decoded[-1][1]))
        participants = [v.participant for v in evidence.updates]
        screen.record(int(final.round), participants, decoded, kept, global_step(before, after))
    return screen


def listed_rows(
    registry: DatasetRegistryClient, store: ContentStore, *, until_block: int | None = None
) -> dict[str, int]:
    """Lower-case owner -> rows of every dataset it listed (up to ``until_block``).

    A listing's rows are the ``row_count`` of its metadata document; a document that cannot be
    read or declares no positive count adds nothing.

    Parameters
    ----------
    registry : DatasetRegistryClient
        The dataset registry.
    store : ContentStore
        Where the metadata documents are.
    until_block : int or None, default None
        Only listings made at or before this block (the audit's view of a past round).
    """
    rows: dict[str, int] = {}
    for event in registry.dataset_listed_events():
        if until_block is not None and event.meta.block > until_block:
            continue
        try:
            count = store.get_json(str(event.metadata_cid)).get("row_count")
        except (FedmarketError, AttributeError, ValueError) as exc:
            log.warning("listed_rows: listing %s unreadable: %s", event.dataset_id, exc)
            continue
        if isinstance(count, int) and not isinstance(count, bool) and count > 0:
            owner = str(event.owner).lower()
            rows[owner] = rows.get(owner, 0) + count
    return rows


__all__ = [
    "DP_NOISE_MISSING",
    "SCREEN_REASONS",
    "RoundScreen",
    "global_step",
    "listed_rows",
    "screen_from_evidence",
]
