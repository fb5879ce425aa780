"""Typed client of ChallengeCourt: validators, challenges of FedTask rounds, votes, verdicts.

Staked validators decide disputes on FedTask rounds. A participant challenges a round inside its
challenge window with a bond (:meth:`ChallengeCourtClient.challenge`): either the coordinator's
verdict (``accused`` ``None``, with the corrected rewards root and, on the last round, shares) or
another participant's malice. Active validators vote a confidence in basis points with the CID of
their own audit report; :meth:`ChallengeCourtClient.resolve` takes the stake-weighted median and
executes the verdict on FedTask. Every payout is a pull balance
(:meth:`ChallengeCourtClient.withdraw`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import IntEnum
from typing import Any

from chain._access import EventMeta
from chain._records import RecordsClient, from_struct
from chain._sales import WithdrawnEvent
from chain.signer import TxResult
from kernel.types import Address, Cid, Hash32, Round, TaskId, Wei

_ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"


class ChallengeStatus(IntEnum):
    """Lifecycle of a challenge (mirrors ``IChallengeCourt.ChallengeStatus``)."""

    NONE = 0
    OPEN = 1
    UPHELD = 2
    REJECTED = 3
    DISMISSED = 4


@dataclass(frozen=True)
class ValidatorInfo:
    """A validator as ``getValidator`` returns it (all zero for none).

    Attributes
    ----------
    stake : Wei
        Stake held for it (locked while it has votes pending).
    registered_at : int
        When it (last) registered; it votes only on challenges opened from then on.
    exit_at : int
        When an exited or deactivated validator may withdraw (0 while active).
    pending_votes : int
        Votes cast on challenges not resolved yet.
    strikes : int
        Times it was untrusted in a verdict; ``MAX_STRIKES`` deactivate it.
    active : bool
        Whether it counts in the active set.
    """

    stake: Wei
    registered_at: int
    exit_at: int
    pending_votes: int
    strikes: int
    active: bool


@dataclass(frozen=True)
class ChallengeInfo:
    """A challenge as ``getChallenge`` returns it, with its id.

    Attributes
    ----------
    challenge_id : int
        The challenge.
    task_id : TaskId
        The FedTask task.
    round : Round
        The disputed round.
    challenger : Address
        The participant that challenged.
    accused : Address or None
        The accused participant, or ``None`` for the coordinator's verdict.
    status : ChallengeStatus
        Lifecycle status.
    opened_at, voting_ends : int
        When it was opened; votes are accepted before ``voting_ends``.
    bond : Wei
        The bond held (as received).
    corrected_root : Hash32
        The rewards root the challenger says is right (coordinator disputes).
    corrected_shares : bytes
        The last round's shares the challenger says are right, or empty.
    active_stake : Wei
        Active validator stake when it was opened (the turnout quorum's base).
    active_validators, votes : int
        Active validators when it was opened; votes cast.
    consensus_bps : int
        The stake-weighted median vote (set at resolution, unless dismissed).
    """

    challenge_id: int
    task_id: TaskId
    round: Round
    challenger: Address
    accused: Address | None
    status: ChallengeStatus
    opened_at: int
    voting_ends: int
    bond: Wei
    corrected_root: Hash32
    corrected_shares: bytes
    active_stake: Wei
    active_validators: int
    votes: int
    consensus_bps: int


@dataclass(frozen=True)
class Vote:
    """A vote as ``getVotes`` returns it.

    Attributes
    ----------
    validator : Address
        The validator.
    uphold_bps : int
        Its confidence that the challenge is right, 0 to 10,000.
    weight : Wei
        Its stake when it voted.
    """

    validator: Address
    uphold_bps: int
    weight: Wei


# ---------------------------------------------------------------------------------- events


@dataclass(frozen=True)
class ValidatorRegisteredEvent:
    """A validator registered with ``stake`` (as received)."""

    validator: Address
    stake: Wei
    meta: EventMeta


@dataclass(frozen=True)
class ValidatorStakeAddedEvent:
    """An active validator added ``amount``; its stake is now ``stake``."""

    validator: Address
    amount: Wei
    stake: Wei
    meta: EventMeta


@dataclass(frozen=True)
class ValidatorExitedEvent:
    """A validator left the active set (its request, or its strikes when ``struck_out``)."""

    validator: Address
    exit_at: int
    struck_out: bool
    meta: EventMeta


@dataclass(frozen=True)
class ValidatorStakeWithdrawnEvent:
    """A validator withdrew its stake."""

    validator: Address
    amount: Wei
    meta: EventMeta


@dataclass(frozen=True)
class ChallengeOpenedEvent:
    """A participant challenged a round; FedTask marked it disputed."""

    challenge_id: int
    task_id: TaskId
    round: Round
    challenger: Address
    accused: Address
    bond: Wei
    evidence_cid: Cid
    corrected_root: Hash32
    corrected_shares: bytes
    voting_ends: int
    meta: EventMeta


@dataclass(frozen=True)
class VoteCastEvent:
    """A validator voted ``uphold_bps`` with the CID of its audit report."""

    challenge_id: int
    validator: Address
    uphold_bps: int
    weight: Wei
    evidence_cid: Cid
    meta: EventMeta


@dataclass(frozen=True)
class ChallengeResolvedEvent:
    """A challenge was resolved: upheld, rejected or dismissed, and who was credited what."""

    challenge_id: int
    status: ChallengeStatus
    consensus_bps: int
    voting_stake: Wei
    challenger_paid: Wei
    validators_paid: Wei
    meta: EventMeta


@dataclass(frozen=True)
class ValidatorJudgedEvent:
    """A validator's standing in a verdict: trust, reward, strikes."""

    challenge_id: int
    validator: Address
    trust_bps: int
    trusted: bool
    reward: Wei
    strikes: int
    meta: EventMeta


COURT_EVENTS: tuple[type[Any], ...] = (
    ValidatorRegisteredEvent,
    ValidatorStakeAddedEvent,
    ValidatorExitedEvent,
    ValidatorStakeWithdrawnEvent,
    ChallengeOpenedEvent,
    VoteCastEvent,
    ChallengeResolvedEvent,
    ValidatorJudgedEvent,
    WithdrawnEvent,
)
"""Every ChallengeCourt event with a record (all of ``IChallengeCourt``'s)."""


# ---------------------------------------------------------------------------------- client


class ChallengeCourtClient(RecordsClient):
    """Every function, view and event of ChallengeCourt, typed.

    Stakes and bonds are pulled from the caller: approve the court for them first.
    """

    artifact_name = "ChallengeCourt"

    # ---- validators -----------------------------------------------------------------------------
    def register_validator(self, amount: int) -> TxResult:
        """Register the signer as an active validator with ``amount`` of stake.

        Parameters
        ----------
        amount : int
            Stake in token wei (at least ``min_validator_stake``).
        """
        return self._send(self.contract.functions.registerValidator(amount))

    def add_stake(self, amount: int) -> TxResult:
        """Add ``amount`` to the signer's active validator stake.

        Parameters
        ----------
        amount : int
            Token wei.
        """
        return self._send(self.contract.functions.addStake(amount))

    def request_exit(self) -> TxResult:
        """Leave the active set; the stake is withdrawable after ``exit_cooldown``."""
        return self._send(self.contract.functions.requestExit())

    def withdraw_validator_stake(self) -> TxResult:
        """Withdraw the stake of an exited (or struck-out) validator, no vote pending."""
        return self._send(self.contract.functions.withdrawValidatorStake())

    # ---- challenges -----------------------------------------------------------------------------
    def challenge(
        self,
        task_id: int,
        round: int,
        *,
        accused: str | None = None,
        evidence_cid: str,
        corrected_root: bytes = b"\x00" * 32,
        corrected_shares: bytes = b"",
    ) -> tuple[int, TxResult]:
        """Challenge a round inside its challenge window, locking ``challenge_bond``.

        Parameters
        ----------
        task_id : int
            The task (the signer must be a participant).
        round : int
            A finalised round whose window is running.
        accused : str or None, default None
            A participant accused of malice, or ``None`` to dispute the coordinator's verdict.
        evidence_cid : str
            Content identifier of the evidence.
        corrected_root : bytes, default 32 zero bytes
            The rewards root the audit recomputes (coordinator disputes; zero pays nothing).
        corrected_shares : bytes, default b""
            The last round's shares the audit recomputes (``encode_shares``), or empty.

        Returns
        -------
        tuple of (int, TxResult)
            The new challenge's id and the transaction.
        """
        fn = self.contract.functions.challenge(
            task_id,
            round,
            accused or _ZERO_ADDRESS,
            evidence_cid,
            corrected_root,
            corrected_shares,
        )
        result = self._send(fn)
        return self.events_in(result, ChallengeOpenedEvent)[0].challenge_id, result

    def vote(self, challenge_id: int, uphold_bps: int, evidence_cid: str) -> TxResult:
        """Vote on an open challenge (active validator registered before it opened, once).

        Parameters
        ----------
        challenge_id : int
            The challenge.
        uphold_bps : int
            Confidence that the challenge is right, 0 to 10,000.
        evidence_cid : str
            Content identifier of the validator's audit report.
        """
        fn = self.contract.functions.vote(challenge_id, uphold_bps, evidence_cid)
        return self._send(fn)

    def resolve(self, challenge_id: int) -> TxResult:
        """Resolve a challenge after its voting period (or once every validator voted).

        Parameters
        ----------
        challenge_id : int
            The challenge.
        """
        return self._send(self.contract.functions.resolve(challenge_id))

    def withdraw(self) -> TxResult:
        """Pay the signer its court balance (rewards, bonds back)."""
        return self._send(self.contract.functions.withdraw())

    # ---- views ----------------------------------------------------------------------------------
    def challenge_info(self, challenge_id: int) -> ChallengeInfo:
        """A challenge (status ``NONE`` for an unknown id).

        Parameters
        ----------
        challenge_id : int
            The challenge.
        """
        raw = self._call(self.contract.functions.getChallenge(challenge_id))
        info = from_struct(ChallengeInfo, raw, challenge_id=challenge_id)
        if info.accused == _ZERO_ADDRESS:
            info = replace(info, accused=None)
        return info

    def votes(self, challenge_id: int) -> list[Vote]:
        """A challenge's votes, in the order cast.

        Parameters
        ----------
        challenge_id : int
            The challenge.
        """
        found = self._call(self.contract.functions.getVotes(challenge_id))
        return [from_struct(Vote, v) for v in found]

    def validator(self, account: str) -> ValidatorInfo:
        """A validator (all zero for an account that never registered).

        Parameters
        ----------
        account : str
            The account.
        """
        raw = self._call(self.contract.functions.getValidator(account))
        return from_struct(ValidatorInfo, raw)

    def active_validators(self) -> list[Address]:
        """The active validators (at most ``MAX_VALIDATORS``)."""
        return [Address(a) for a in self._call(self.contract.functions.activeValidators())]

    def open_challenge_of(self, task_id: int, round: int) -> int | None:
        """The open challenge of a round, or ``None``.

        Parameters
        ----------
        task_id : int
            The task.
        round : int
            The round.
        """
        found = int(self._call(self.contract.functions.openChallengeOf(task_id, round)))
        return found or None

    def balance_of(self, account: str) -> Wei:
        """``account``'s withdrawable court balance.

        Parameters
        ----------
        account : str
            The account.
        """
        return Wei(int(self._call(self.contract.functions.balanceOf(account))))

    def _uint(self, name: str) -> int:
        return int(self._call(getattr(self.contract.functions, name)()))

    def active_stake(self) -> Wei:
        """Sum of the active validators' stakes."""
        return Wei(self._uint("activeStake"))

    def total_validator_stake(self) -> Wei:
        """Stake held for every validator, active or not."""
        return Wei(self._uint("totalValidatorStake"))

    def bonds_held(self) -> Wei:
        """Bonds of the open challenges."""
        return Wei(self._uint("bondsHeld"))

    def total_owed(self) -> Wei:
        """Sum of every account's withdrawable balance."""
        return Wei(self._uint("totalOwed"))

    def challenge_count(self) -> int:
        """Number of challenges ever opened (the latest id)."""
        return self._uint("challengeCount")

    def min_validator_stake(self) -> Wei:
        """Smallest stake a validator registers with."""
        return Wei(self._uint("minValidatorStake"))

    def challenge_bond(self) -> Wei:
        """Bond a challenger locks."""
        return Wei(self._uint("challengeBond"))

    def voting_period(self) -> int:
        """Seconds a challenge takes votes."""
        return self._uint("votingPeriod")

    def exit_cooldown(self) -> int:
        """Seconds between a validator's exit and its withdrawal."""
        return self._uint("exitCooldown")

    def max_validators(self) -> int:
        """``MAX_VALIDATORS`` (32)."""
        return self._uint("MAX_VALIDATORS")

    def trust_threshold_bps(self) -> int:
        """``TRUST_THRESHOLD_BPS``: deviation beyond which a validator is untrusted (2,500)."""
        return self._uint("TRUST_THRESHOLD_BPS")

    def max_strikes(self) -> int:
        """``MAX_STRIKES`` that deactivate a validator (3)."""
        return self._uint("MAX_STRIKES")

    def challenger_reward_bps(self) -> int:
        """``CHALLENGER_REWARD_BPS``: the challenger's share of an upheld coordinator slash."""
        return self._uint("CHALLENGER_REWARD_BPS")

    def token(self) -> Address:
        """The token of stakes, bonds and rewards (FedTask's)."""
        return Address(self._call(self.contract.functions.token()))

    def fed_task(self) -> Address:
        """The FedTask whose rounds the court judges."""
        return Address(self._call(self.contract.functions.fedTask()))

    def pauser_role(self) -> Hash32:
        """``PAUSER_ROLE``."""
        return Hash32(bytes(self._call(self.contract.functions.PAUSER_ROLE())))

    # ---- events ---------------------------------------------------------------------------------
    def challenges_opened(
        self, task_id: int | None = None, round: int | None = None
    ) -> list[ChallengeOpenedEvent]:
        """Every ``ChallengeOpened`` (of one task and round, or all).

        Parameters
        ----------
        task_id : int or None, default None
            Only this task.
        round : int or None, default None
            Only this round.
        """
        return self.events(ChallengeOpenedEvent, task_id=task_id, round=round)

    def votes_cast(self, challenge_id: int) -> list[VoteCastEvent]:
        """Every ``VoteCast`` of a challenge, with the validators' evidence CIDs.

        Parameters
        ----------
        challenge_id : int
            The challenge.
        """
        return self.events(VoteCastEvent, challenge_id=challenge_id)

    def verdicts(self, challenge_id: int | None = None) -> list[ChallengeResolvedEvent]:
        """Every ``ChallengeResolved`` (of one challenge, or all).

        Parameters
        ----------
        challenge_id : int or None, default None
            Only this challenge.
        """
        return self.events(ChallengeResolvedEvent, challenge_id=challenge_id)

    def withdrawn_events(self, account: str | None = None) -> list[WithdrawnEvent]:
        """Every ``Withdrawn`` of the court (of one account, or all).

        Parameters
        ----------
        account : str or None, default None
            Only this account's.
        """
        return self.events(WithdrawnEvent, account=account)


__all__ = [
    "COURT_EVENTS",
    "ChallengeCourtClient",
    "ChallengeInfo",
    "ChallengeOpenedEvent",
    "ChallengeResolvedEvent",
    "ChallengeStatus",
    "ValidatorExitedEvent",
    "ValidatorInfo",
    "ValidatorJudgedEvent",
    "ValidatorRegisteredEvent",
    "ValidatorStakeAddedEvent",
    "ValidatorStakeWithdrawnEvent",
    "Vote",
    "VoteCastEvent",
]
