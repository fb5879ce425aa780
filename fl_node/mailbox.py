"""The mailbox: how participants hand their signed commitments to the coordinator off-chain.

A participant that commits through the coordinator's batch signs an EIP-712 ``UpdateCommitment``
(:func:`chain.commitments.sign_commitment`) and posts it, with the CID its bytes will have once
revealed, as a :class:`CommitmentEnvelope`. The coordinator collects the round's envelopes before
the commit deadline, checks each signature and anchors them in one Merkle root. Nothing secret
travels: a commitment names the update's hash, never its bytes.

A mailbox is a bulletin board: anyone may read what was posted (:meth:`Mailbox.collect`), so an
auditor can check that the coordinator left no valid envelope out of its batch. It is not
trusted either: envelopes are checked by their signatures, never by who posted them.

:class:`InMemoryMailbox` serves the demo and the in-process tests (every party in one process);
a network mailbox (an HTTP service, a pub-sub topic) implements the same two methods.
"""

from __future__ import annotations

import logging
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass

from chain.commitments import SignedCommitment
from kernel.types import Cid

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CommitmentEnvelope:
    """A signed commitment as posted to a mailbox.

    Attributes
    ----------
    signed : SignedCommitment
        The participant, its commitment (task, round, update hash, samples) and its signature.
    update_cid : Cid
        The CID the update's bytes will have once revealed (listed in the batch document).
    received_at : int
        Chain time when the mailbox received it (0 when the mailbox keeps no clock).
    """

    signed: SignedCommitment
    update_cid: Cid
    received_at: int = 0

    @property
    def task_id(self) -> int:
        """The task the commitment is for."""
        return int(self.signed.commitment.task_id)

    @property
    def round(self) -> int:
        """The round the commitment is for."""
        return int(self.signed.commitment.round)


class Mailbox(ABC):
    """Where signed commitments wait for the coordinator (and anyone else) to read them."""

    @abstractmethod
    def send(self, envelope: CommitmentEnvelope) -> CommitmentEnvelope:
        """Post an envelope; return it as received (with the mailbox's ``received_at``).

        Parameters
        ----------
        envelope : CommitmentEnvelope
            What to post.
        """

    @abstractmethod
    def collect(self, task_id: int, round: int) -> list[CommitmentEnvelope]:
        """Every envelope posted for one round of one task, in the order received.

        Parameters
        ----------
        task_id : int
            The task.
        round : int
            The round.
        """


class InMemoryMailbox(Mailbox):
    """A mailbox inside this process (the demo, the in-process tests). Thread-safe.

    Parameters
    ----------
    clock : callable or None, default None
        Returns the chain's time (``backend.chain_time``) to stamp each envelope with; ``None``
        stamps 0.
    """

    def __init__(self, clock: Callable[[], int] | None = None) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._posted: dict[tuple[int, int], list[CommitmentEnvelope]] = {}

    def send(self, envelope: CommitmentEnvelope) -> CommitmentEnvelope:
        """Post an envelope, stamped with the chain's time.

        Parameters
        ----------
        envelope : CommitmentEnvelope
            What to post.
        """
        received = CommitmentEnvelope(
            envelope.signed, envelope.update_cid, self._clock() if self._clock else 0
        )
        with self._lock:
            self._posted.setdefault((received.task_id, received.round), []).append(received)
        log.debug(
            "send: commitment of %s for task %s round %s",
            received.signed.participant,
            received.task_id,
            received.round,
        )
        return received

    def collect(self, task_id: int, round: int) -> list[CommitmentEnvelope]:
        """Every envelope posted for the round, oldest first.

        Parameters
        ----------
        task_id : int
            The task.
        round : int
            The round.
        """
        with self._lock:
            return list(self._posted.get((task_id, round), []))


__all__ = ["CommitmentEnvelope", "InMemoryMailbox", "Mailbox"]
