"""The server's side of a round: one method per stage, each fed the bytes the clients sent.

The server relays envelopes it cannot open and sums masked inputs it cannot read; at the end it
recovers, from ``t`` shares each, the self-mask seed ``b`` of every survivor and the mask key
``s_sk`` of every client that dropped after sharing, removes those masks, and learns the sum of
the survivors' quantised updates and nothing else. Everything it received is kept in
:attr:`SecAggServer.view`, for the tests that check what it could learn.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from fl_node.secagg.config import SecAggConfig, Stage, check, sign
from fl_node.secagg.crypto import MASKING, KeyPair, mask_words
from fl_node.secagg.errors import SecAggProtocolError, ShareIntegrityError, TooFewSurvivorsError
from fl_node.secagg.messages import (
    AdvertiseKeys,
    Envelope,
    KeyList,
    MaskedInput,
    Relay,
    RevealedShare,
    ShareKeys,
    UnmaskRequest,
    UnmaskShares,
    decode,
)
from fl_node.secagg.shamir import Share, combine

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Received:
    """One message in the server's view: the stage, the sender and the exact bytes."""

    stage: Stage
    sender: int
    payload: bytes


@dataclass(frozen=True)
class Aggregate:
    """What the round yields: the survivors' sum, and who they are.

    Attributes
    ----------
    words : ndarray of uint32
        The sum in ``Z_2^32`` of the survivors' quantised updates (exact).
    total : ndarray of float64
        ``words`` decoded: the sum of the clipped updates within ``bound``.
    survivors : tuple of int
        The clients whose masked input is in the sum.
    bound : float
        The largest quantisation error of any coordinate of ``total``.
    """

    words: NDArray[np.uint32]
    total: NDArray[np.float64]
    survivors: tuple[int, ...]
    bound: float

    @property
    def count(self) -> int:
        """How many updates the sum holds."""
        return len(self.survivors)


class SecAggServer:
    """The server of one round (honest but curious: it follows the protocol, and keeps all)."""

    def __init__(self, config: SecAggConfig) -> None:
        self.config = config
        self.view: list[Received] = []
        self._keys: dict[int, AdvertiseKeys] = {}
        self._shared: dict[int, ShareKeys] = {}
        self._masked: dict[int, NDArray[np.uint32]] = {}

    def _fresh(
        self,
        stage: Stage,
        sender: int,
        round_: int,
        allowed: Mapping[int, object],
        seen: Mapping[int, object],
    ) -> None:
        check(
            round_ == self.config.round,
            SecAggProtocolError,
            f"{stage}: a message of round {round_}",
        )
        check(
            sender in allowed and sender not in seen,
            SecAggProtocolError,
            f"{stage}: a message from {sender}, unknown, late or repeated",
        )

    def _enough(self, stage: Stage, count: int) -> None:
        check(
            count >= self.config.threshold,
            TooFewSurvivorsError,
            f"{stage}: {count} clients left, threshold {self.config.threshold}",
        )

    def receive_keys(self, messages: Sequence[bytes]) -> bytes:
        """Stage 0 in: the advertised keys; out: the :class:`KeyList` to broadcast."""
        registered = dict.fromkeys(self.config.clients)
        for data in messages:
            m = decode(data, AdvertiseKeys)
            self._fresh(Stage.ADVERTISE, m.sender, m.round, registered, self._keys)
            self.view.append(Received(Stage.ADVERTISE, m.sender, data))
            self._keys[m.sender] = m
        self._enough(Stage.ADVERTISE, len(self._keys))
        return KeyList(
            self.config.round, tuple(self._keys[u] for u in sorted(self._keys))
        ).to_bytes()

    def receive_shares(self, messages: Sequence[bytes]) -> dict[int, bytes]:
        """Stage 1 in: the envelopes; out: each sharing client's :class:`Relay`."""
        for data in messages:
            m = decode(data, ShareKeys)
            self._fresh(Stage.SHARE, m.sender, m.round, self._keys, self._shared)
            recipients = [e.recipient for e in m.envelopes]
            check(
                all(e.sender == m.sender for e in m.envelopes)
                and len(set(recipients)) == len(recipients)
                and set(recipients) <= self.config.graph[m.sender] & self._keys.keys(),
                SecAggProtocolError,
                f"share: client {m.sender} addressed non-neighbours",
            )
            self.view.append(Received(Stage.SHARE, m.sender, data))
            self._shared[m.sender] = m
        self._enough(Stage.SHARE, len(self._shared))
        inbox: dict[int, list[Envelope]] = {u: [] for u in self._shared}
        for m in self._shared.values():
            for e in m.envelopes:
                if e.recipient in inbox:
                    inbox[e.recipient].append(e)
        return {u: Relay(self.config.round, u, tuple(es)).to_bytes() for u, es in inbox.items()}

    def receive_masked(self, messages: Sequence[bytes]) -> bytes:
        """Stage 2 in: the masked inputs; out: the :class:`UnmaskRequest` for the survivors."""
        for data in messages:
            m = decode(data, MaskedInput)
            self._fresh(Stage.MASK, m.sender, m.round, self._shared, self._masked)
            check(
                len(m.words) == 4 * self.config.length,
                SecAggProtocolError,
                f"mask: client {m.sender} sent {len(m.words) // 4} words",
            )
            self.view.append(Received(Stage.MASK, m.sender, data))
            self._masked[m.sender] = m.array()
        self._enough(Stage.MASK, len(self._masked))
        dropped = tuple(sorted(self._shared.keys() - self._masked.keys()))
        return UnmaskRequest(self.config.round, tuple(sorted(self._masked)), dropped).to_bytes()

    def receive_unmask(self, messages: Sequence[bytes]) -> Aggregate:
        """Stage 3 in: the revealed shares; out: the survivors' :class:`Aggregate`."""
        b_shares: dict[int, list[Share]] = {u: [] for u in self._masked}
        s_shares: dict[int, list[Share]] = {v: [] for v in self._shared if v not in self._masked}
        answered: dict[int, None] = {}
        for data in messages:
            m = decode(data, UnmaskShares)
            self._fresh(Stage.UNMASK, m.sender, m.round, self._masked, answered)
            self.view.append(Received(Stage.UNMASK, m.sender, data))
            answered[m.sender] = None
            _collect(b_shares, m.self_mask, m.sender)
            _collect(s_shares, m.secret_key, m.sender)
        self._enough(Stage.UNMASK, len(answered))
        total = np.zeros(self.config.length, dtype=np.uint32)
        for words in self._masked.values():
            total += words
        for u, shares in b_shares.items():
            total -= mask_words(self._recover(u, shares), self.config.length)
        for v, shares in s_shares.items():
            total = self._remove_pair_masks(total, v, self._recover(v, shares))
        survivors = tuple(sorted(self._masked))
        fp = self.config.fixed_point
        log.info(
            "receive_unmask: %s survivors, %s dropped after sharing", len(survivors), len(s_shares)
        )
        return Aggregate(
            total, fp.decode_sum(total, len(survivors)), survivors, fp.bound(len(survivors))
        )

    def _recover(self, owner: int, shares: Sequence[Share]) -> bytes:
        check(
            len(shares) >= self.config.threshold,
            TooFewSurvivorsError,
            f"unmask: {len(shares)} shares of client {owner}, threshold {self.config.threshold}",
        )
        return combine(shares[: self.config.threshold])

    def _remove_pair_masks(
        self, total: NDArray[np.uint32], v: int, secret: bytes
    ) -> NDArray[np.uint32]:
        key = KeyPair(secret)
        check(
            key.public == self._keys[v].s_public,
            ShareIntegrityError,
            f"unmask: the shares of client {v}'s key do not match its public key",
        )
        for u in sorted(self.config.graph[v] & self._masked.keys()):
            pad = mask_words(
                key.agree(self._keys[u].s_public, MASKING, self.config.context), self.config.length
            )
            total = total - pad if sign(u, v) > 0 else total + pad
        return total


def _collect(into: dict[int, list[Share]], revealed: Sequence[RevealedShare], holder: int) -> None:
    for r in revealed:
        check(r.owner in into, SecAggProtocolError, f"unmask: {holder} revealed an unasked share")
        into[r.owner].append(Share(holder + 1, int.from_bytes(r.value, "big")))


__all__ = ["Aggregate", "Received", "SecAggServer"]
