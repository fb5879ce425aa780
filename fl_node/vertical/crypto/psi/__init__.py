"""Private set intersection (PSI) for vertical federated learning.

Two parties, the *guest* (e.g. a bank, holding labels) and the *host* (e.g. an e-commerce
partner), find the ids they share without revealing the others. The guest learns the
intersection; the host learns it only if the guest sends it (``reveal_to_host``).

Protocols
---------
:func:`ecdh_psi`
    Diffie-Hellman PSI on secp256k1: the DH-OPRF variant (default, fastest) or the classic
    commutative double blinding (:class:`EcdhPsiParty`).
:func:`rsa_psi`
    FATE-style RSA blind-signature PSI (:class:`RsaPsiGuest`, :class:`RsaPsiHost`).

Each party class exchanges bytes-serializable messages (:class:`BlindedSet`,
:class:`IntersectionIndices`, :class:`EcPublicKey`, :class:`RsaPublicKey`) so that the two
sides can run in separate processes; the ``*_psi`` drivers run both sides locally, every
message passing through a :class:`Loopback` that serializes and re-parses it.

Errors: :class:`PsiError` is the root (never raised); :class:`PsiProtocolError` (a peer's
message is invalid), :class:`PsiUsageError` / :class:`PsiIdError` (bad argument, step out of
order), :class:`PsiCryptoError` (a computation failed its own check) and
:class:`PsiDependencyError` each belong to one family of :mod:`kernel.errors`.
See ``docs/psi.md`` for the protocols, the semi-honest threat model and the measured figures.
"""

import logging

from ._common import (
    STATISTICAL_SECURITY_BITS,
    PsiCryptoError,
    PsiDependencyError,
    PsiError,
    PsiId,
    PsiIdError,
    PsiProtocolError,
    PsiResult,
    PsiUsageError,
    digest_width,
    encode_id,
    intersection_commitment,
)
from ._messages import (
    BlindedSet,
    EcPublicKey,
    IntersectionIndices,
    Loopback,
    RsaPublicKey,
    SetKind,
)
from ._parallel import make_executor
from .ecdh import EcdhOprfPsiGuest, EcdhOprfPsiHost, EcdhPsiParty, ecdh_psi
from .rsa import RsaPsiGuest, RsaPsiHost, rsa_psi

logger = logging.getLogger(__name__)
logger.addHandler(logging.NullHandler())

__all__ = [
    "STATISTICAL_SECURITY_BITS",
    "BlindedSet",
    "EcPublicKey",
    "EcdhOprfPsiGuest",
    "EcdhOprfPsiHost",
    "EcdhPsiParty",
    "IntersectionIndices",
    "Loopback",
    "PsiCryptoError",
    "PsiDependencyError",
    "PsiError",
    "PsiId",
    "PsiIdError",
    "PsiProtocolError",
    "PsiResult",
    "PsiUsageError",
    "RsaPsiGuest",
    "RsaPsiHost",
    "RsaPublicKey",
    "SetKind",
    "digest_width",
    "ecdh_psi",
    "encode_id",
    "intersection_commitment",
    "make_executor",
    "rsa_psi",
]
