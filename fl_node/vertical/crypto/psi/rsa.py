"""RSA blind-signature PSI (the "RSA intersection" of FATE), semi-honest.

The host holds an RSA key ``(n, e, d)``. The guest sends ``FDH(x)*r**e mod n`` for each of
its ids with a fresh random ``r`` (uniform in ``Z_n^*``, so the message is a uniformly random
unit: it hides ``x`` perfectly). The host signs, ``(FDH(x)*r**e)**d = FDH(x)**d * r``, and
the guest unblinds with ``r**-1``, checks ``s**e == FDH(x)`` and keeps ``SHA-256(s)``
truncated. The host sends the truncated ``SHA-256(FDH(y)**d)`` of its own ids, shuffled;
the guest compares. Computing ``FDH(y)**d`` for an id it did not have signed would break RSA
(in the random-oracle model), so the guest learns only the intersection; the host learns
nothing about the guest's ids unless told the intersection (:class:`IntersectionIndices`).

Cost: ``n_guest + n_host`` RSA private operations on the host (CRT, ``gmpy2.powmod_sec``),
about 2 ms each at 2048 bits here, so this protocol is 10-20x slower than
:mod:`fl_node.vertical.crypto.psi.ecdh`; it is kept for compatibility with FATE-style deployments.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import Executor
from typing import Any

from . import _rsa
from ._common import (
    PsiId,
    PsiProtocolError,
    PsiResult,
    PsiUsageError,
    digest_width,
    match_positions,
)
from ._messages import BlindedSet, Loopback, RsaPublicKey, SetKind
from ._party import PartyBase, Phases, expect_set, local_result, reveal, shared_pool

logger = logging.getLogger(__name__)

__all__ = ["RsaPsiGuest", "RsaPsiHost", "rsa_psi"]


class RsaPsiHost(PartyBase):
    """The signer.

    Parameters
    ----------
    ids : Sequence[str | int | bytes]
        The host's ids.
    bits : int
        RSA modulus size (2048 by default; >= 1024).
    workers : int
        Processes for the signatures.
    seed : bytes or None
        Tests only: reproducible key, shuffle.
    executor : Executor or None
        A process pool to share.
    constant_time : bool
        Sign with ``gmpy2.powmod_sec`` (default; about 12% slower than ``powmod``).
    """

    method = "rsa-blind-signature"

    def __init__(
        self,
        ids: Sequence[PsiId] | Iterable[PsiId],
        *,
        bits: int = 2048,
        workers: int = 1,
        seed: bytes | None = None,
        executor: Executor | None = None,
        constant_time: bool = True,
    ) -> None:
        super().__init__(ids, label="rsa/host", workers=workers, seed=seed, executor=executor)
        self._key = _rsa.generate_key(bits, self._rng, seeded=seed is not None)
        self._constant_time = constant_time
        self._peer_count: int | None = None

    def public_key(self) -> RsaPublicKey:
        """Return ``(n, e)``."""
        return RsaPublicKey(self._key.n, self._key.e)

    def sign_blinded(self, blinded: BlindedSet) -> BlindedSet:
        """Sign each of the guest's blinded values, keeping its order.

        Parameters
        ----------
        blinded : BlindedSet
            :meth:`RsaPsiGuest.blinded_ids`.

        Returns
        -------
        BlindedSet
            The blind signatures.

        Raises
        ------
        PsiProtocolError
            If a value has the wrong width or is not in ``[1, n)``.
        """
        expect_set(blinded, SetKind.RSA_RESIDUE, "sign_blinded")
        if blinded.width != self._key.size:
            raise PsiProtocolError(
                f"sign_blinded: rows are {blinded.width} bytes, not {self._key.size}"
            )
        data = self._run_rows(
            _rsa.task_sign, blinded.data, blinded.width, None, self._key, self._constant_time
        )
        self._peer_count = blinded.count
        return BlindedSet(SetKind.RSA_RESIDUE, self._key.size, data)

    def blinded_ids(self, peer_count: int | None = None) -> BlindedSet:
        """Return the truncated ``SHA-256(FDH(y)**d)`` of the host's ids, shuffled.

        Parameters
        ----------
        peer_count : int or None
            Size of the guest's set; taken from :meth:`sign_blinded` when omitted.

        Returns
        -------
        BlindedSet
            Digests of width :func:`~fl_node.vertical.crypto.psi.digest_width`.
        """
        width = self._own_digest_width(peer_count, "sign_blinded")
        ids = self._shuffled_ids()
        data = self._run_items(_rsa.task_sign_own, ids, self._key, self._constant_time, width)
        return BlindedSet(SetKind.DIGEST, width, data)


class RsaPsiGuest(PartyBase):
    """The learning side.

    Parameters
    ----------
    ids : Sequence[str | int | bytes]
        The guest's ids.
    workers : int
        Processes for blinding and unblinding.
    seed : bytes or None
        Tests only.
    executor : Executor or None
        A process pool to share.
    """

    method = "rsa-blind-signature"

    def __init__(
        self,
        ids: Sequence[PsiId] | Iterable[PsiId],
        *,
        workers: int = 1,
        seed: bytes | None = None,
        executor: Executor | None = None,
    ) -> None:
        super().__init__(ids, label="rsa/guest", workers=workers, seed=seed, executor=executor)
        self._public: RsaPublicKey | None = None
        self._randomness = b""

    def _step(self) -> int:
        if self._public is None:
            raise PsiUsageError("rsa/guest: blinded_ids() has not been called yet")
        return self._public.size + _rsa.BLINDING_EXTRA_BYTES

    def blinded_ids(self, public_key: RsaPublicKey) -> BlindedSet:
        """Return ``FDH(x)*r**e mod n`` for the guest's ids, in a random order.

        Parameters
        ----------
        public_key : RsaPublicKey
            The host's key.

        Returns
        -------
        BlindedSet
            Modulus-sized residues.
        """
        if self._public is not None and self._public != public_key:
            raise PsiUsageError("rsa/guest: already blinded under another key")
        self._public = public_key
        step = self._step()
        ids = self._shuffled_ids()
        if not self._randomness:
            self._randomness = self._rng.token_bytes(step * len(ids))
        parts = self._runner.chunks(len(ids))
        argsets = [
            (ids[a:b], self._randomness[step * a : step * b], public_key.n, public_key.e)
            for a, b in parts
        ]
        data = b"".join(self._runner.map(_rsa.task_blind, argsets))
        return BlindedSet(SetKind.RSA_RESIDUE, public_key.size, data)

    def _blinding_factors(self) -> list[Any]:
        """The ``r_i`` used, in send order (tests and audits)."""
        self._step()
        assert self._public is not None
        return list(_rsa.blinding_factors(self._randomness, self._public.n))

    def intersect(self, signed: BlindedSet, host_set: BlindedSet) -> list[PsiId]:
        """Unblind and verify the signatures, then compare with the host's digests.

        Parameters
        ----------
        signed : BlindedSet
            :meth:`RsaPsiHost.sign_blinded` of this guest's set.
        host_set : BlindedSet
            :meth:`RsaPsiHost.blinded_ids`.

        Returns
        -------
        list[PsiId]
            The common ids, in the guest's input order.

        Raises
        ------
        PsiProtocolError
            If a signature is out of range or does not verify.
        """
        step = self._step()
        public = self._public
        assert public is not None
        expect_set(signed, SetKind.RSA_RESIDUE, "intersect(signed)", len(self))
        if signed.width != public.size:
            raise PsiProtocolError("intersect(signed): rows are not modulus-sized")
        width = digest_width(len(self), host_set.count)
        expect_set(host_set, SetKind.DIGEST, "intersect(host_set)")
        if host_set.width != width:
            raise PsiProtocolError(
                f"intersect(host_set): digest width {host_set.width}, expected {width}"
            )
        ids = self._shuffled_ids()
        size = public.size
        argsets = [
            (
                signed.data[size * a : size * b],
                self._randomness[step * a : step * b],
                ids[a:b],
                public.n,
                public.e,
                width,
                a,
            )
            for a, b in self._runner.chunks(len(ids))
        ]
        mine = b"".join(self._runner.map(_rsa.task_unblind, argsets))
        mine_pos, peer_pos = match_positions(mine, host_set.data, width)
        return self._record_matches(mine_pos, peer_pos)


def rsa_psi(
    guest_ids: Iterable[PsiId],
    host_ids: Iterable[PsiId],
    *,
    bits: int = 2048,
    workers: int = 1,
    reveal_to_host: bool = True,
    seed: bytes | None = None,
    executor: Executor | None = None,
    transcript: list[tuple[str, bytes]] | None = None,
) -> PsiResult:
    """Run both sides of the RSA blind-signature PSI in this process.

    Parameters
    ----------
    guest_ids, host_ids : Iterable[str | int | bytes]
        The two sets.
    bits : int
        RSA modulus size.
    workers : int
        Processes shared by both parties.
    reveal_to_host : bool
        Whether the guest tells the host the intersection.
    seed : bytes or None
        Tests only.
    executor : Executor or None
        A pool to use instead of creating one.
    transcript : list or None
        Receives ``(sender, raw message)`` for every message.

    Returns
    -------
    PsiResult
        The guest's intersection, timings (key generation included) and traffic.
    """
    start = time.perf_counter()
    phases = Phases()
    loopback = Loopback(transcript)
    with shared_pool(workers, executor) as pool:
        with phases("setup"):
            host = RsaPsiHost(host_ids, bits=bits, workers=workers, seed=seed, executor=pool)
            guest = RsaPsiGuest(guest_ids, workers=workers, seed=seed, executor=pool)
        result = _run_rsa(guest, host, loopback, phases)
        host_result = reveal(guest, host, loopback, phases) if reveal_to_host else None
    return local_result(
        RsaPsiHost.method,
        (guest, host),
        result,
        host_result,
        start=start,
        workers=workers,
        loopback=loopback,
        phases=phases,
    )


def _run_rsa(
    guest: RsaPsiGuest, host: RsaPsiHost, loopback: Loopback, phases: Phases
) -> list[PsiId]:
    """The blind-signature steps up to the guest's intersection."""
    with phases("setup"):
        public = loopback.send("host", host.public_key())
    with phases("guest_blind"):
        blinded = loopback.send("guest", guest.blinded_ids(public))
    with phases("host_sign"):
        signed = loopback.send("host", host.sign_blinded(blinded))
    with phases("host_own_set"):
        host_set = loopback.send("host", host.blinded_ids())
    with phases("guest_intersect"):
        return guest.intersect(signed, host_set)
