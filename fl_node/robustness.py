"""Robust aggregation in a round: the task's defence applied to the screened updates.

The coordinator and the audit run the same steps:

1. the round's inputs for the rule: FLTrust's *root update* (the coordinator trains the round's
   opening model on its own root data, the first :data:`ROOT_ROWS` rows of its validation set,
   and stores the update so the audit uses the very same tensors) and the trusted-vote's signed
   *ballots* (each participant's scores of every update on its own data; a ballot counts only
   when its EIP-712 signature is its voter's, the voter's own update was accepted, and it scores
   every accepted update);
2. :meth:`~fl_node.strategies.robust.Defence.combine` over the screened updates (participant
   order): the robust aggregate delta and a decision per update;
3. the flagged updates become ``robust_outlier`` rejections (no pay, reported on-chain for
   slashing after the challenge window); the strategy then applies the robust delta to the
   global model as one update carrying every screened sample.

Contribution is measured, as without a defence, on the updates that remain accepted.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
import torch
from eth_account.signers.local import LocalAccount
from eth_utils.crypto import keccak

from chain.commitments import FedTaskDomain, RoundBallot, recover_ballot_signer, sign_ballot
from chain.errors import ChainError
from fl_node.data import LocalDataset
from fl_node.evidence import BallotRecord, DefenceDecision, DefenceRecord, ModelRef, UpdateVerdict
from fl_node.models import FedModel, ModelSpec, build_model, trainable_state
from fl_node.objectives import task_loss
from fl_node.strategies import ClientUpdate, ServerState, Strategy
from fl_node.strategies.robust import Ballot, Defence, RobustOutcome, RoundInputs
from fl_node.training import TrainConfig, train_local
from kernel.errors import InvalidInputError
from kernel.types import Address, Hash32, Round, TaskId
from storage import canonical_json

log = logging.getLogger(__name__)

ROBUST_OUTLIER = "robust_outlier"
"""The verdict reason of an update the task's defence flagged."""

ROOT_ROWS = 100
"""Rows of the coordinator's validation set that form FLTrust's root dataset."""

Screened = list[tuple[int, ClientUpdate]]
"""Accepted updates with their participant's index (join order)."""


@dataclass(frozen=True)
class DefendedRound:
    """A round after its defence: new verdicts, the updates still accepted, the record."""

    verdicts: list[UpdateVerdict]
    accepted: Screened
    outcome: RobustOutcome
    record: DefenceRecord
    samples: int

    def aggregate(
        self,
        strategy: Strategy,
        params: Mapping[str, torch.Tensor],
        state: ServerState,
    ) -> tuple[dict[str, torch.Tensor], ServerState]:
        """The next parameters and state: ``strategy`` applies the robust delta as one update."""
        if not self.samples:
            result = strategy.aggregate_with_state(params, [], state)
        else:
            update = ClientUpdate(self.outcome.delta, self.samples)
            result = strategy.aggregate_with_state(params, [update], state)
        return result.params, result.state


def root_data(validation: LocalDataset) -> LocalDataset:
    """FLTrust's root dataset: the first :data:`ROOT_ROWS` rows of the validation set."""
    rows = min(ROOT_ROWS, validation.rows)
    return LocalDataset(f"{validation.name}[:{rows}]", validation.x[:rows], validation.y[:rows])


def root_update(
    model: ModelSpec,
    params: Mapping[str, torch.Tensor],
    data: LocalDataset,
    train: TrainConfig,
    round_: int,
) -> dict[str, torch.Tensor]:
    """The update the round's opening model gets from one round of local training on ``data``."""
    scratch = build_model(model)
    scratch.load_state_dict(dict(params), strict=False)
    return train_local(scratch, data, train, round=round_, device=torch.device("cpu")).delta


def local_scores(
    model: FedModel, updates: Mapping[str, ClientUpdate], data: LocalDataset
) -> dict[str, float]:
    """A voter's scores: how much each update lowers the loss of ``model`` on its own ``data``.

    ``model`` is the round's opening model (left as it was); the score of update ``h`` is
    ``loss(model) - loss(model + delta_h)`` on every row of ``data``.
    """
    before = trainable_state(model)
    x = torch.from_numpy(np.ascontiguousarray(data.x))
    y = torch.from_numpy(np.ascontiguousarray(data.y))
    scores: dict[str, float] = {}
    with torch.no_grad():
        base = float(task_loss(model, x, y))
        for key, update in updates.items():
            model.load_state_dict(
                {k: v + update.delta[k].to(v.dtype) for k, v in before.items()}, strict=False
            )
            scores[key] = base - float(task_loss(model, x, y))
    model.load_state_dict(before, strict=False)
    return scores


def scores_hash(scores: Mapping[str, float]) -> Hash32:
    """``keccak256`` of the canonical JSON of a ballot's scores (by update hash)."""
    return Hash32(keccak(canonical_json({k: float(v) for k, v in scores.items()})))


def make_ballot(
    voter: LocalAccount,
    domain: FedTaskDomain,
    task_id: int,
    round_: int,
    scores: Mapping[str, float],
) -> BallotRecord:
    """``voter``'s signed ballot of a round: its score of each update, by update hash."""
    ballot = RoundBallot(TaskId(task_id), Round(round_), scores_hash(scores))
    signature = sign_ballot(voter, domain, ballot)
    return BallotRecord(Address(voter.address), dict(scores), "0x" + signature.hex())


def ballot_problem(
    domain: FedTaskDomain, task_id: int, round_: int, ballot: BallotRecord
) -> str | None:
    """Why ``ballot`` is not its voter's signed ballot of the round (``None`` when it is)."""
    message = RoundBallot(TaskId(task_id), Round(round_), scores_hash(ballot.scores))
    try:
        signer = recover_ballot_signer(domain, message, bytes.fromhex(ballot.signature[2:]))
    except (ChainError, InvalidInputError, ValueError):
        return "malformed signature"
    if signer.lower() != ballot.voter.lower():
        return f"signed by {signer}, not its voter"
    return None


def counted_ballots(
    ballots: Sequence[BallotRecord],
    voters: Sequence[Address],
    update_hashes: Sequence[str],
    check: Mapping[str, str | None],
) -> list[Ballot]:
    """The ballots that count, as the rule's :class:`Ballot` (indices in the screened order).

    Parameters
    ----------
    ballots : sequence of BallotRecord
        The ballots received (first one per voter counts).
    voters : sequence of Address
        The authors of the screened updates, in order.
    update_hashes : sequence of str
        Their update hashes, in the same order.
    check : mapping of str to str or None
        Each ballot's signature problem by its lower-case voter (``None`` when genuine).
    """
    position = {v.lower(): i for i, v in enumerate(voters)}
    counted: list[Ballot] = []
    seen: set[str] = set()
    for ballot in ballots:
        voter = ballot.voter.lower()
        if voter in seen or voter not in position or check.get(voter) is not None:
            continue
        if any(h not in ballot.scores for h in update_hashes):
            continue
        seen.add(voter)
        scores = tuple(float(ballot.scores[h]) for h in update_hashes)
        counted.append(Ballot(voter=position[voter], scores=scores))
    return counted


def apply_defence(
    defence: Defence,
    verdicts: Sequence[UpdateVerdict],
    screened: Screened,
    inputs: RoundInputs,
    extras: tuple[ModelRef | None, tuple[BallotRecord, ...]] = (None, ()),
) -> DefendedRound:
    """Run ``defence`` on the screened updates; flagged ones become ``robust_outlier``.

    Parameters
    ----------
    defence : Defence
        The task's rule.
    verdicts : sequence of UpdateVerdict
        One per participant (join order), after the screening.
    screened : list of (int, ClientUpdate)
        The accepted updates with their participant's index.
    inputs : RoundInputs
        The root update and the counted ballots.
    extras : (ModelRef or None, tuple of BallotRecord)
        The stored root update and the ballots received, for the record.
    """
    samples = sum(u.samples for _, u in screened)
    if not screened:
        outcome = RobustOutcome(delta={}, decisions=())
    else:
        outcome = defence.combine([u for _, u in screened], inputs)
    new = list(verdicts)
    decisions: list[DefenceDecision] = []
    for (index, _), decision in zip(screened, outcome.decisions, strict=True):
        participant = verdicts[index].participant
        decisions.append(
            DefenceDecision(
                participant, decision.weight, decision.reason, decision.score, decision.flagged
            )
        )
        if decision.flagged:
            detail = f"{defence.name}: {decision.reason or 'flagged'} (score {decision.score:.6g})"
            new[index] = replace(new[index], accepted=False, reason=ROBUST_OUTLIER, detail=detail)
    accepted = [
        (i, u) for (i, u), d in zip(screened, outcome.decisions, strict=True) if not d.flagged
    ]
    record = DefenceRecord(
        name=defence.name,
        params=defence.params(),
        decisions=tuple(decisions),
        root_update=extras[0],
        ballots=extras[1],
    )
    if outcome.flagged:
        log.info(
            "apply_defence: %s flagged %d of %d", defence.name, len(outcome.flagged), len(screened)
        )
    return DefendedRound(new, accepted, outcome, record, samples)


__all__ = [
    "ROBUST_OUTLIER",
    "ROOT_ROWS",
    "DefendedRound",
    "apply_defence",
    "ballot_problem",
    "counted_ballots",
    "local_scores",
    "make_ballot",
    "root_data",
    "root_update",
    "scores_hash",
]
