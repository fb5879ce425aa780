"""Before training: the guest and the host find their shared rows and agree on the split.

Over a :class:`~fl_node.vertical.transport.Transport`, the guest and the host run the DH-OPRF
PSI of :mod:`fl_node.vertical.crypto.psi` (the guest learns the intersection and tells the
host; neither learns the other's other ids), the guest sends the secret salt of the on-chain
intersection commitment, and later the train / validation / test *positions* over the
aligned rows (never ids).
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from fl_node.vertical.crypto.psi import (
    BlindedSet,
    EcdhOprfPsiGuest,
    EcdhOprfPsiHost,
    EcPublicKey,
    IntersectionIndices,
    PsiId,
    PsiProtocolError,
)
from fl_node.vertical.protocol._errors import PeerMessageError
from fl_node.vertical.protocol.config import IndexArray
from fl_node.vertical.protocol.messages import (
    PsiBlindedMsg,
    PsiEvaluatedMsg,
    PsiHostSetMsg,
    PsiIndicesMsg,
    PsiKeyMsg,
    PsiSaltMsg,
    SplitMsg,
)
from fl_node.vertical.transport import Transport

log = logging.getLogger(__name__)

SALT_BYTES = 32
"""Length of the commitment salt the guest draws and shares with the host."""


@dataclass(frozen=True)
class PsiExchange:
    """What one side of the PSI learned.

    Attributes
    ----------
    method : str
        The PSI protocol (``"ecdh-oprf-secp256k1"``).
    intersection : list
        The shared ids, in this party's input order.
    salt : bytes
        The secret salt of the intersection commitment (drawn by the guest).
    peer_size : int
        How many ids the other side put in.
    seconds : float
        Wall time of the exchange.
    """

    method: str
    intersection: list[PsiId]
    salt: bytes
    peer_size: int
    seconds: float


def psi_as_guest(transport: Transport, ids: Sequence[str], *, workers: int = 1) -> PsiExchange:
    """Run the DH-OPRF PSI as the learning side; tell the host; share the salt.

    Parameters
    ----------
    transport : Transport
        Channel to ``"host"``.
    ids : sequence of str
        The guest's ids.
    workers : int, default 1
        Processes for the elliptic-curve work.

    Raises
    ------
    PeerMessageError
        When the host's messages are invalid.
    """
    transport.phase = "psi"
    start = time.perf_counter()
    try:
        with EcdhOprfPsiGuest(ids, workers=workers) as psi:
            key = EcPublicKey.from_bytes(transport.recv_from("host", PsiKeyMsg).data)
            transport.send("host", PsiBlindedMsg(psi.blinded_ids().to_bytes()))
            evaluated = BlindedSet.from_bytes(transport.recv_from("host", PsiEvaluatedMsg).data)
            host_set = BlindedSet.from_bytes(transport.recv_from("host", PsiHostSetMsg).data)
            intersection = psi.intersect(evaluated, host_set, key)
            transport.send("host", PsiIndicesMsg(psi.intersection_message().to_bytes()))
    except PsiProtocolError as exc:
        raise PeerMessageError(f"guest: PSI failed: {exc}") from exc
    salt = secrets.token_bytes(SALT_BYTES)
    transport.send("host", PsiSaltMsg(salt))
    seconds = time.perf_counter() - start
    return PsiExchange(EcdhOprfPsiGuest.method, intersection, salt, host_set.count, seconds)


def psi_as_host(transport: Transport, ids: Sequence[str], *, workers: int = 1) -> PsiExchange:
    """Run the DH-OPRF PSI as the key holder; learn the intersection and the salt.

    Parameters
    ----------
    transport : Transport
        Channel to ``"guest"``.
    ids : sequence of str
        The host's ids.
    workers : int, default 1
        Processes for the elliptic-curve work.

    Raises
    ------
    PeerMessageError
        When the guest's messages are invalid.
    """
    transport.phase = "psi"
    start = time.perf_counter()
    try:
        with EcdhOprfPsiHost(ids, workers=workers) as psi:
            transport.send("guest", PsiKeyMsg(psi.public_key().to_bytes()))
            blinded = BlindedSet.from_bytes(transport.recv_from("guest", PsiBlindedMsg).data)
            transport.send("guest", PsiEvaluatedMsg(psi.evaluate(blinded).to_bytes()))
            transport.send("guest", PsiHostSetMsg(psi.blinded_ids().to_bytes()))
            raw = transport.recv_from("guest", PsiIndicesMsg).data
            intersection = psi.receive_intersection(IntersectionIndices.from_bytes(raw))
    except PsiProtocolError as exc:
        raise PeerMessageError(f"host: PSI failed: {exc}") from exc
    salt = transport.recv_from("guest", PsiSaltMsg).salt
    seconds = time.perf_counter() - start
    return PsiExchange(EcdhOprfPsiHost.method, intersection, salt, blinded.count, seconds)


def send_split(
    transport: Transport,
    n_aligned: int,
    train: IndexArray,
    validation: IndexArray,
    test: IndexArray,
) -> None:
    """Guest: tell the host the split as positions over the aligned rows.

    Parameters
    ----------
    transport : Transport
        Channel to ``"host"``.
    n_aligned : int
        Rows in the intersection.
    train, validation, test : ndarray of int
        Sorted, disjoint positions.
    """
    transport.phase = "split"
    transport.send(
        "host",
        SplitMsg(
            n_aligned=n_aligned,
            train=train.astype(np.uint32),
            validation=validation.astype(np.uint32),
            test=test.astype(np.uint32),
        ),
    )


def receive_split(transport: Transport, n_aligned: int) -> tuple[IndexArray, ...]:
    """Host: receive the guest's split; return ``(train, validation, test)`` positions.

    Parameters
    ----------
    transport : Transport
        Channel to ``"guest"``.
    n_aligned : int
        Rows in the intersection this party found.

    Raises
    ------
    PeerMessageError
        When the split is for another intersection.
    """
    transport.phase = "split"
    msg = transport.recv_from("guest", SplitMsg)
    if msg.n_aligned != n_aligned:
        raise PeerMessageError("host: the guest's split is for another intersection")
    return tuple(part.astype(np.int64) for part in (msg.train, msg.validation, msg.test))
