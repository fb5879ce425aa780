"""Find the users the two domains share with the existing DH-OPRF PSI (``docs/psi.md``).

The target plays the PSI guest and the source the host; both learn the intersection (the
guest reveals it to the host), and nothing of each other's other users beyond the set sizes.
Both sort the shared ids: row ``k`` of the shared block is the ``k``-th smallest shared id.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from typing import Any

import numpy as np

from fl_node.transfer.errors import TransferIntegrityError
from fl_node.transfer.mf import Ints

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Alignment:
    """The PSI's outcome: the sorted shared ids (private to the parties) and what is public.

    Attributes
    ----------
    shared_ids : ndarray of int
        The intersection, sorted (known to both parties, never published).
    method : str
        The PSI protocol.
    commitment : str
        Salted SHA-256 commitment to the intersection, 0x hex (the salt stays with the parties).
    target_size, source_size : int
        The two sets' sizes.
    seconds : float
        Wall time of the PSI.
    bytes_sent : dict of str to int
        PSI bytes sent by the target (guest) and the source (host).
    """

    shared_ids: Ints
    method: str
    commitment: str
    target_size: int
    source_size: int
    seconds: float
    bytes_sent: dict[str, int]

    def manifest(self, task_id: int) -> dict[str, Any]:
        """The PSI manifest opened on chain: commitment, method, sizes (never ids)."""
        return {
            "kind": "psi-manifest",
            "task_id": task_id,
            "method": self.method,
            "commitment": self.commitment,
            "commitment_scheme": "SHA-256 over sorted canonical ids with a secret 32-byte salt",
            "intersection_size": len(self.shared_ids),
            "guest_size": self.target_size,
            "host_size": self.source_size,
            "roles": {"guest": "target", "host": "source"},
        }


def align(
    target_ids: Ints, source_ids: Ints, *, workers: int = 1, salt: bytes | None = None
) -> Alignment:
    """Run the DH-OPRF PSI between the target (guest) and the source (host).

    Parameters
    ----------
    target_ids, source_ids : ndarray of int
        Each party's user ids.
    workers : int, default 1
        Processes for the elliptic-curve work.
    salt : bytes or None, default None
        Salt of the commitment (fresh random bytes when ``None``).

    Raises
    ------
    TransferIntegrityError
        The two sides learned different intersections.
    """
    from fl_node.vertical.crypto.psi import ecdh_psi, intersection_commitment

    result = ecdh_psi([int(u) for u in target_ids], [int(u) for u in source_ids], workers=workers)
    guest = np.sort(np.array(result.intersection, dtype=np.int64))
    host = np.sort(np.array(result.host_intersection or [], dtype=np.int64))
    if not np.array_equal(guest, host):
        raise TransferIntegrityError("align: the two parties learned different intersections")
    commitment = intersection_commitment([int(u) for u in guest], salt or secrets.token_bytes(32))
    log.info("align: %d shared users in %.2f s", len(guest), result.seconds)
    return Alignment(
        guest,
        result.method,
        "0x" + commitment.hex(),
        len(target_ids),
        len(source_ids),
        result.seconds,
        dict(result.bytes_sent),
    )


__all__ = ["Alignment", "align"]
