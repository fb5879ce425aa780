"""ECDH-based private set intersection on secp256k1.

Two protocols share the hash to the group ``H`` (ElligatorSwift decoding of SHA-512, see
:mod:`fl_node.vertical.crypto.psi._secp`), the message format and the truncated compare.

``variant="oprf"`` (default, :class:`EcdhOprfPsiGuest` / :class:`EcdhOprfPsiHost`)
    Diffie-Hellman OPRF ``F_b(x) = b*H(x)`` with additive blinding. The host publishes
    ``B = b*G``. The guest sends ``P_i = H(x_i) + r_i*G`` (uniformly random points), the host
    answers ``b*P_i``, the guest unblinds ``b*P_i - r_i*B = b*H(x_i)``. The host also sends
    the truncated x coordinates of ``b*H(y_j)`` for its own ids, shuffled; the guest compares.
    Variable-base multiplications: ``n_guest + n_host``, all on the host; the guest's two
    fixed-base products come from 8-bit combs (one ``combine`` call of 33 points each).

``variant="commutative"`` (:class:`EcdhPsiParty`)
    The classic protocol: each side sends ``H(id)^a`` shuffled, each raises the other's set
    to its own scalar, the doubly blinded values are compared. ``2 (n_guest + n_host)``
    variable-base multiplications.

In both, the guest learns the intersection; the host learns it only if the guest sends
:class:`IntersectionIndices` (``reveal_to_host=True`` in :func:`ecdh_psi`). Semi-honest model;
see ``docs/psi.md`` for the security argument.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import Executor
from typing import Literal

from . import _secp
from ._common import (
    PsiId,
    PsiProtocolError,
    PsiResult,
    PsiUsageError,
    digest_width,
    match_positions,
)
from ._messages import BlindedSet, EcPublicKey, Loopback, SetKind
from ._party import PartyBase, Phases, expect_set, local_result, reveal, shared_pool

logger = logging.getLogger(__name__)

__all__ = ["EcdhOprfPsiGuest", "EcdhOprfPsiHost", "EcdhPsiParty", "ecdh_psi"]

_ROLES = ("guest", "host")


def _check_digests(message: BlindedSet, what: str, count: int, width: int) -> None:
    expect_set(message, SetKind.DIGEST, what, count)
    if message.width != width:
        raise PsiProtocolError(f"{what}: digest width {message.width}, expected {width}")


class EcdhPsiParty(PartyBase):
    """One side of the classic commutative ECDH-PSI.

    Flow (guest learns): guest and host each send :meth:`blinded_ids`; the host returns
    ``host.double_blind(guest_set)``; the guest computes ``guest.double_blind(host_set)``
    locally and calls :meth:`intersect`; optionally it sends :meth:`intersection_message`
    to the host, which calls :meth:`receive_intersection`.

    Parameters
    ----------
    ids : Sequence[str | int | bytes]
        This party's ids (duplicates are ignored).
    role : {"guest", "host"}
        The side this party plays.
    workers : int
        Processes for the multiplications (a pool is created on first use if > 1).
    seed : bytes or None
        Tests only: reproducible scalar and shuffle.
    executor : Executor or None
        A process pool to share instead of creating one.
    """

    method = "ecdh-secp256k1"

    def __init__(
        self,
        ids: Sequence[PsiId] | Iterable[PsiId],
        role: str,
        *,
        workers: int = 1,
        seed: bytes | None = None,
        executor: Executor | None = None,
    ) -> None:
        if role not in _ROLES:
            raise PsiUsageError(f"role must be 'guest' or 'host', not {role!r}")
        super().__init__(ids, label=f"ecdh/{role}", workers=workers, seed=seed, executor=executor)
        self.role = role
        self._scalar = self._rng.scalar(_secp.ORDER).to_bytes(32, "big")
        self._blinded: BlindedSet | None = None

    def blinded_ids(self) -> BlindedSet:
        """Return ``a*H(id)`` for this party's ids, in a random order fixed on the first call.

        Returns
        -------
        BlindedSet
            65-byte uncompressed points.
        """
        if self._blinded is None:
            ids = self._shuffled_ids()
            data = self._run_items(_secp.task_hash_mul, ids, self._scalar, 0)
            self._blinded = BlindedSet(SetKind.EC_POINT, _secp.POINT_LEN, data)
        return self._blinded

    def double_blind(self, peer: BlindedSet) -> BlindedSet:
        """Raise the peer's blinded set to this party's scalar, keeping the peer's order.

        Parameters
        ----------
        peer : BlindedSet
            The peer's :meth:`blinded_ids`.

        Returns
        -------
        BlindedSet
            Digests (leading bytes of the x coordinate of ``a*b*H(y)``), width
            :func:`~fl_node.vertical.crypto.psi.digest_width` of the two set sizes.

        Raises
        ------
        PsiProtocolError
            If the set is not made of valid curve points.
        """
        expect_set(peer, SetKind.EC_POINT, "double_blind")
        width = digest_width(len(self), peer.count)
        data = self._run_rows(_secp.task_mul, peer.data, peer.width, None, self._scalar, width)
        return BlindedSet(SetKind.DIGEST, width, data)

    def intersect(self, mine_double: BlindedSet, peer_double: BlindedSet) -> list[PsiId]:
        """Compute the intersection (the learning side).

        Parameters
        ----------
        mine_double : BlindedSet
            The peer's :meth:`double_blind` of this party's set (this party's order).
        peer_double : BlindedSet
            This party's :meth:`double_blind` of the peer's set (the peer's order).

        Returns
        -------
        list[PsiId]
            The common ids, in this party's input order.
        """
        width = digest_width(len(self), peer_double.count)
        _check_digests(mine_double, "intersect(mine_double)", len(self), width)
        _check_digests(peer_double, "intersect(peer_double)", peer_double.count, width)
        self._require_order()
        mine, peer = match_positions(mine_double.data, peer_double.data, width)
        return self._record_matches(mine, peer)


class EcdhOprfPsiHost(PartyBase):
    """The host (OPRF key holder) of the DH-OPRF PSI.

    Parameters
    ----------
    ids : Sequence[str | int | bytes]
        The host's ids.
    workers : int
        Processes for the multiplications.
    seed : bytes or None
        Tests only.
    executor : Executor or None
        A process pool to share.
    """

    method = "ecdh-oprf-secp256k1"

    def __init__(
        self,
        ids: Sequence[PsiId] | Iterable[PsiId],
        *,
        workers: int = 1,
        seed: bytes | None = None,
        executor: Executor | None = None,
    ) -> None:
        super().__init__(ids, label="oprf/host", workers=workers, seed=seed, executor=executor)
        key = self._rng.scalar(_secp.ORDER)
        self._scalar = key.to_bytes(32, "big")
        self._public = EcPublicKey(_secp.base_multiple(key))
        self._peer_count: int | None = None

    def public_key(self) -> EcPublicKey:
        """Return ``B = b*G``, which the guest needs to unblind."""
        return self._public

    def evaluate(self, blinded: BlindedSet) -> BlindedSet:
        """Multiply each of the guest's blinded points by the OPRF key, keeping its order.

        Parameters
        ----------
        blinded : BlindedSet
            The guest's :meth:`EcdhOprfPsiGuest.blinded_ids`.

        Returns
        -------
        BlindedSet
            ``b*P_i`` as uncompressed points.

        Raises
        ------
        PsiProtocolError
            If a point is invalid.
        """
        expect_set(blinded, SetKind.EC_POINT, "evaluate")
        data = self._run_rows(_secp.task_mul, blinded.data, blinded.width, None, self._scalar, 0)
        self._peer_count = blinded.count
        return BlindedSet(SetKind.EC_POINT, _secp.POINT_LEN, data)

    def blinded_ids(self, peer_count: int | None = None) -> BlindedSet:
        """Return the truncated ``b*H(y)`` of the host's ids, shuffled.

        Parameters
        ----------
        peer_count : int or None
            Size of the guest's set; taken from :meth:`evaluate` when omitted.

        Returns
        -------
        BlindedSet
            Digests of width :func:`~fl_node.vertical.crypto.psi.digest_width`.
        """
        width = self._own_digest_width(peer_count, "evaluate")
        ids = self._shuffled_ids()
        data = self._run_items(_secp.task_hash_mul, ids, self._scalar, width)
        return BlindedSet(SetKind.DIGEST, width, data)


class EcdhOprfPsiGuest(PartyBase):
    """The guest (the learning side) of the DH-OPRF PSI.

    Parameters
    ----------
    ids : Sequence[str | int | bytes]
        The guest's ids.
    workers : int
        Processes for hashing, blinding and unblinding.
    seed : bytes or None
        Tests only.
    executor : Executor or None
        A process pool to share.
    """

    method = "ecdh-oprf-secp256k1"

    def __init__(
        self,
        ids: Sequence[PsiId] | Iterable[PsiId],
        *,
        workers: int = 1,
        seed: bytes | None = None,
        executor: Executor | None = None,
    ) -> None:
        super().__init__(ids, label="oprf/guest", workers=workers, seed=seed, executor=executor)
        self._blinding: bytes | None = None
        self._blinded: BlindedSet | None = None

    def blinded_ids(self) -> BlindedSet:
        """Return ``H(x_i) + r_i*G`` (uniformly random points), in a random order.

        Returns
        -------
        BlindedSet
            65-byte uncompressed points.
        """
        if self._blinded is None:
            ids = self._shuffled_ids()
            self._blinding = self._rng.token_bytes(32 * len(ids))
            parts = self._runner.chunks(len(ids))
            argsets = [(ids[a:b], self._blinding[32 * a : 32 * b]) for a, b in parts]
            data = b"".join(self._runner.map(_secp.task_hash_blind, argsets))
            self._blinded = BlindedSet(SetKind.EC_POINT, _secp.POINT_LEN, data)
        return self._blinded

    def intersect(
        self, evaluated: BlindedSet, host_set: BlindedSet, public_key: EcPublicKey
    ) -> list[PsiId]:
        """Unblind the host's evaluations and compare them with the host's set.

        Parameters
        ----------
        evaluated : BlindedSet
            :meth:`EcdhOprfPsiHost.evaluate` of this guest's set.
        host_set : BlindedSet
            :meth:`EcdhOprfPsiHost.blinded_ids`.
        public_key : EcPublicKey
            :meth:`EcdhOprfPsiHost.public_key`.

        Returns
        -------
        list[PsiId]
            The common ids, in the guest's input order.
        """
        if self._blinding is None:
            raise PsiUsageError("oprf/guest: blinded_ids() has not been called yet")
        expect_set(evaluated, SetKind.EC_POINT, "intersect(evaluated)", len(self))
        width = digest_width(len(self), host_set.count)
        _check_digests(host_set, "intersect(host_set)", host_set.count, width)
        neg_key = _secp.negate(public_key.point)
        mine = self._run_rows(
            _secp.task_unblind,
            evaluated.data,
            evaluated.width,
            (self._blinding, 32),
            neg_key,
            width,
        )
        mine_pos, peer_pos = match_positions(mine, host_set.data, width)
        return self._record_matches(mine_pos, peer_pos)


def ecdh_psi(
    guest_ids: Iterable[PsiId],
    host_ids: Iterable[PsiId],
    *,
    workers: int = 1,
    variant: Literal["oprf", "commutative"] = "oprf",
    reveal_to_host: bool = True,
    seed: bytes | None = None,
    executor: Executor | None = None,
    transcript: list[tuple[str, bytes]] | None = None,
) -> PsiResult:
    """Run both sides of an ECDH-PSI in this process, serializing every message.

    Parameters
    ----------
    guest_ids, host_ids : Iterable[str | int | bytes]
        The two sets.
    workers : int
        Processes shared by both parties (one pool, created and shut down here unless
        ``executor`` is given).
    variant : {"oprf", "commutative"}
        Protocol (see the module docstring).
    reveal_to_host : bool
        Whether the guest tells the host the intersection at the end.
    seed : bytes or None
        Tests only.
    executor : Executor or None
        A pool to use instead of creating one.
    transcript : list or None
        Receives ``(sender, raw message)`` for every message.

    Returns
    -------
    PsiResult
        The guest's intersection, timings and traffic.
    """
    if variant not in ("oprf", "commutative"):
        raise PsiUsageError(f"unknown ECDH-PSI variant {variant!r}")
    start = time.perf_counter()
    phases = Phases()
    loopback = Loopback(transcript)
    run = _run_oprf if variant == "oprf" else _run_commutative
    with shared_pool(workers, executor) as pool:
        guest, host, result = run(
            guest_ids, host_ids, loopback, phases, workers=workers, seed=seed, pool=pool
        )
        host_result = reveal(guest, host, loopback, phases) if reveal_to_host else None
    return local_result(
        host.method,
        (guest, host),
        result,
        host_result,
        start=start,
        workers=workers,
        loopback=loopback,
        phases=phases,
    )


_Run = tuple[PartyBase, PartyBase, list[PsiId]]


def _run_oprf(
    guest_ids: Iterable[PsiId],
    host_ids: Iterable[PsiId],
    loopback: Loopback,
    phases: Phases,
    *,
    workers: int,
    seed: bytes | None,
    pool: Executor | None,
) -> _Run:
    """The DH-OPRF steps up to the guest's intersection: ``(guest, host, intersection)``."""
    with phases("setup"):
        host = EcdhOprfPsiHost(host_ids, workers=workers, seed=seed, executor=pool)
        guest = EcdhOprfPsiGuest(guest_ids, workers=workers, seed=seed, executor=pool)
        public = loopback.send("host", host.public_key())
    with phases("guest_blind"):
        blinded = loopback.send("guest", guest.blinded_ids())
    with phases("host_evaluate"):
        evaluated = loopback.send("host", host.evaluate(blinded))
    with phases("host_own_set"):
        host_set = loopback.send("host", host.blinded_ids())
    with phases("guest_intersect"):
        result = guest.intersect(evaluated, host_set, public)
    return guest, host, result


def _run_commutative(
    guest_ids: Iterable[PsiId],
    host_ids: Iterable[PsiId],
    loopback: Loopback,
    phases: Phases,
    *,
    workers: int,
    seed: bytes | None,
    pool: Executor | None,
) -> _Run:
    """The commutative steps up to the guest's intersection: ``(guest, host, intersection)``."""
    with phases("setup"):
        guest = EcdhPsiParty(guest_ids, "guest", workers=workers, seed=seed, executor=pool)
        host = EcdhPsiParty(host_ids, "host", workers=workers, seed=seed, executor=pool)
    with phases("guest_blind"):
        guest_set = loopback.send("guest", guest.blinded_ids())
    with phases("host_blind"):
        host_points = loopback.send("host", host.blinded_ids())
    with phases("host_double_blind"):
        guest_double = loopback.send("host", host.double_blind(guest_set))
    with phases("guest_double_blind"):
        host_double = guest.double_blind(host_points)
    with phases("guest_intersect"):
        result = guest.intersect(guest_double, host_double)
    return guest, host, result
