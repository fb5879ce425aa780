"""The client's side of a round: a state machine with one method per stage.

Each method takes the bytes the server sent (none for the first) and returns the bytes to send.
An honest client answers at most one unmask request, never reveals its own key share, never
reveals both shares of one peer, and refuses when fewer than ``t`` survivors are claimed.
"""

from __future__ import annotations

import logging
import struct

import numpy as np
from numpy.typing import ArrayLike, NDArray

from fl_node.secagg.config import SecAggConfig, Stage, check, sign
from fl_node.secagg.crypto import (
    ENCRYPTION,
    MASKING,
    KeyPair,
    mask_words,
    open_sealed,
    random_seed,
    seal,
)
from fl_node.secagg.errors import (
    SecAggInputError,
    SecAggProtocolError,
    ShareIntegrityError,
    TooFewSurvivorsError,
    UnmaskRefusedError,
)
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
    binding,
    decode,
)
from fl_node.secagg.shamir import SHARE_BYTES, share_bytes, split

log = logging.getLogger(__name__)
_PAIR = struct.Struct("<II")


class SecAggClient:
    """One client's round.

    Parameters
    ----------
    config : SecAggConfig
        The round's public settings.
    client : int
        This client's id (one of ``config.clients``).
    update : array_like
        The update (``config.length`` values), clipped and quantised here.
    """

    def __init__(self, config: SecAggConfig, client: int, update: ArrayLike) -> None:
        check(client in config.clients, SecAggInputError, f"client {client} is not registered")
        self.config = config
        self.id = client
        self._words = config.fixed_point.encode(update)
        check(len(self._words) == config.length, SecAggInputError, "the update's length differs")
        self._c, self._s, self._b = KeyPair(), KeyPair(), random_seed()
        self._next: Stage | None = Stage.ADVERTISE
        self._keys: dict[int, AdvertiseKeys] = {}
        self._held: dict[int, tuple[bytes, bytes]] = {}
        """Owner -> (share of its b, share of its s_sk), at point ``id + 1``; own shares too."""

    def _advance(self, stage: Stage, following: Stage | None) -> None:
        if self._next is not stage:
            raise SecAggProtocolError(f"client {self.id}: {stage} asked, {self._next} expected")
        self._next = following

    def advertise(self) -> bytes:
        """Stage 0: the :class:`AdvertiseKeys` message."""
        self._advance(Stage.ADVERTISE, Stage.SHARE)
        return AdvertiseKeys(self.config.round, self.id, self._c.public, self._s.public).to_bytes()

    def share_keys(self, key_list: bytes) -> bytes:
        """Stage 1: Shamir-share ``b`` and ``s_sk`` among the neighbours that advertised keys.

        Returns the :class:`ShareKeys` message (one sealed envelope per neighbour).
        """
        self._advance(Stage.SHARE, Stage.MASK)
        keys = decode(key_list, KeyList)
        check(keys.round == self.config.round, SecAggProtocolError, "share_keys: wrong round")
        self._keys = {k.sender: k for k in keys.keys if k.sender in self.config.graph}
        mine = self._keys.get(self.id)
        check(
            mine == AdvertiseKeys(keys.round, self.id, self._c.public, self._s.public),
            SecAggProtocolError,
            "share_keys: the key list misstates this client's keys",
        )
        peers = sorted(self.config.graph[self.id] & self._keys.keys())
        holders = sorted([*peers, self.id])
        check(
            len(holders) >= self.config.threshold,
            TooFewSurvivorsError,
            f"share_keys: {len(holders)} holders, threshold {self.config.threshold}",
        )
        b_shares = split(self._b, [h + 1 for h in holders], self.config.threshold)
        s_shares = split(self._s.secret(), [h + 1 for h in holders], self.config.threshold)
        envelopes = []
        for h, b_share, s_share in zip(holders, b_shares, s_shares, strict=True):
            plain = _PAIR.pack(self.id, h) + share_bytes(b_share) + share_bytes(s_share)
            if h == self.id:
                self._held[h] = (share_bytes(b_share), share_bytes(s_share))
                continue
            key = self._c.agree(self._keys[h].c_public, ENCRYPTION, self.config.context)
            sealed = seal(key, plain, binding(self.config.task, keys.round, self.id, h))
            envelopes.append(Envelope(self.id, h, sealed))
        return ShareKeys(keys.round, self.id, tuple(envelopes)).to_bytes()

    def _open(self, envelope: Envelope) -> None:
        sender = envelope.sender
        check(
            envelope.recipient == self.id
            and sender in self.config.graph[self.id]
            and sender in self._keys
            and sender not in self._held,
            ShareIntegrityError,
            f"masked_input: unexpected envelope from {sender}",
        )
        key = self._c.agree(self._keys[sender].c_public, ENCRYPTION, self.config.context)
        plain = open_sealed(
            key, envelope.sealed, binding(self.config.task, self.config.round, sender, self.id)
        )
        check(
            len(plain) == _PAIR.size + 2 * SHARE_BYTES
            and _PAIR.unpack(plain[: _PAIR.size]) == (sender, self.id),
            ShareIntegrityError,
            f"masked_input: the envelope from {sender} is misaddressed",
        )
        body = plain[_PAIR.size :]
        self._held[sender] = (body[:SHARE_BYTES], body[SHARE_BYTES:])

    def masked_input(self, relay: bytes) -> bytes:
        """Stage 2: store the relayed shares, return the :class:`MaskedInput` message.

        ``y = x + PRG(b) + sum_v sign(u, v) PRG(s_uv)`` over the neighbours ``v`` whose
        envelopes arrived (they are the ones that will mask with this client too).
        """
        self._advance(Stage.MASK, Stage.UNMASK)
        message = decode(relay, Relay)
        check(
            message.round == self.config.round and message.recipient == self.id,
            SecAggProtocolError,
            "masked_input: a relay for another round or client",
        )
        for envelope in message.envelopes:
            self._open(envelope)
        check(
            len(self._held) >= self.config.threshold,
            TooFewSurvivorsError,
            f"masked_input: {len(self._held)} holders left, threshold {self.config.threshold}",
        )
        masked = self._words + mask_words(self._b, self.config.length)
        for v in self._held:
            if v != self.id:
                masked = self._with_pair_mask(masked, v)
        return MaskedInput(self.config.round, self.id, masked.astype("<u4").tobytes()).to_bytes()

    def _with_pair_mask(self, words: NDArray[np.uint32], v: int) -> NDArray[np.uint32]:
        seed = self._s.agree(self._keys[v].s_public, MASKING, self.config.context)
        pad = mask_words(seed, self.config.length)
        return words + pad if sign(self.id, v) > 0 else words - pad

    def unmask(self, request: bytes) -> bytes:
        """Stage 3: reveal b-shares of the survivors and s_sk-shares of the dropped peers.

        Raises
        ------
        UnmaskRefusedError
            A peer listed both as survivor and dropped, this client listed as dropped or
            missing from the survivors, fewer than ``t`` survivors, or a second request.
        """
        if self._next is None:
            raise UnmaskRefusedError(f"client {self.id}: a second unmask request this round")
        self._advance(Stage.UNMASK, None)
        asked = decode(request, UnmaskRequest)
        survivors, dropped = set(asked.survivors), set(asked.dropped)
        check(asked.round == self.config.round, SecAggProtocolError, "unmask: wrong round")
        check(
            not survivors & dropped,
            UnmaskRefusedError,
            f"unmask: both shares asked for {sorted(survivors & dropped)}",
        )
        check(self.id in survivors, UnmaskRefusedError, "unmask: this client is not a survivor")
        check(
            len(survivors) >= self.config.threshold,
            UnmaskRefusedError,
            f"unmask: {len(survivors)} survivors, threshold {self.config.threshold}",
        )
        b = tuple(RevealedShare(v, s[0]) for v, s in sorted(self._held.items()) if v in survivors)
        s = tuple(RevealedShare(v, s[1]) for v, s in sorted(self._held.items()) if v in dropped)
        log.debug("unmask: client %s reveals %s b-shares, %s s-shares", self.id, len(b), len(s))
        return UnmaskShares(self.config.round, self.id, b, s).to_bytes()


__all__ = ["SecAggClient"]
