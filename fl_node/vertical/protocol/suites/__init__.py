"""Pluggable Paillier back ends for the hetero-LR protocol: ours and python-paillier (phe).

The protocol code only talks to a :class:`CipherSuite` (``base``), so ``phe_seconds_per_epoch``
measures the *same* protocol, message for message, with phe doing the cryptography:

==================  ===========================================  =================================
operation           :class:`OursSuite`                           :class:`PheSuite`
==================  ===========================================  =================================
encrypt             the agreed randomisers (``randomizer``):     ``PaillierPublicKey.encrypt``
                    short-exponent ``h**s`` (fixed-base table)   (one ``r**n`` per value,
                    or textbook ``r**n``; offline pool filled    whatever the setting)
                    in idle time
``[[a]] + [[b]]``   ``CipherVector.__add__``                     ``EncryptedNumber.__add__``
``X^T [[d]]``       ``CipherVector.dot`` (bucket multi-exp,      ``sum(c_i * float(x_ij))``
                    16 fractional bits, public ``x_bound``)
mask                ``add_encoded`` of uniform ``(b+40)``-bit    ``+ EncodedNumber(r, exponent)``
                    integers at the vector's scale               with a uniform 256-bit ``r``
to the arbiter      packed (``Packer``, ~18 values per           one ciphertext per value
                    ciphertext)
decrypt             ``decrypt_packed_ints`` (CRT)                ``decrypt_encoded`` (CRT)
==================  ===========================================  =================================

Masked values travel as exact integers with a scale ``base ** exponent`` (``2**-frac_bits``
for ours, phe's ``16**exponent``), so unmasking is exact integer arithmetic.
"""

from __future__ import annotations

from fl_node.vertical.protocol._errors import CipherUsageError
from fl_node.vertical.protocol.suites.base import (
    MASK_SECURITY_BITS,
    CipherSuite,
    Decrypted,
    MaskState,
    unmask,
)
from fl_node.vertical.protocol.suites.ours import OursSuite
from fl_node.vertical.protocol.suites.phe import PheSuite, PheVector


def suite_class(name: str) -> type[OursSuite] | type[PheSuite]:
    """Return the suite class for ``"ours"`` or ``"phe"``.

    Parameters
    ----------
    name : str
        Cipher name.

    Raises
    ------
    CipherUsageError
        For any other name.
    """
    if name == "ours":
        return OursSuite
    if name == "phe":
        return PheSuite
    raise CipherUsageError(f"unknown cipher {name!r}")


__all__ = [
    "MASK_SECURITY_BITS",
    "CipherSuite",
    "Decrypted",
    "MaskState",
    "OursSuite",
    "PheSuite",
    "PheVector",
    "suite_class",
    "unmask",
]
