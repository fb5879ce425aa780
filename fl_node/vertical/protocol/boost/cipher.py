"""The Paillier operations SecureBoost needs, with our library or with python-paillier (phe).

:class:`BoostCipher` is what the guest and the hosts call; :class:`OursBoostCipher` and
:class:`PheBoostCipher` implement it so that the *same* protocol, message for message, can be
timed with either library. Vectors are opaque lists of the back end's ciphertexts:

====================  ===================================  ===================================
operation             ours                                  phe
====================  ===================================  ===================================
encrypt rows          ``Encryptor`` (fixed-base short-      ``PaillierPublicKey.encrypt`` per
                      exponent or CRT randomisers)          row (one ``r**n`` each)
bin sums, cumulate    ``gmpy2`` products mod ``n**2``       ``EncryptedNumber.__add__``
compress              Horner, ``powmod(acc, 2**slot)``      ``acc * 2**slot + c``
decrypt               CRT ``raw_decrypt``                   ``PaillierPrivateKey.raw_decrypt``
====================  ===================================  ===================================

Every loaded vector is checked: the key's fingerprint, the count, every ciphertext in
``[1, n**2)``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

import gmpy2

from fl_node.vertical.crypto.paillier import (
    CipherVector,
    EncryptionMode,
    Encryptor,
    PaillierError,
    PaillierPrivateKey,
    PaillierPublicKey,
    generate_keypair,
)
from fl_node.vertical.protocol import CipherSuiteError
from fl_node.vertical.protocol.boost._errors import BoostConfigError, BoostPeerError
from fl_node.vertical.protocol.boost.config import IntArray
from fl_node.vertical.protocol.suites import PheSuite, PheVector


class BoostCipher(ABC):
    """One key's SecureBoost operations (public only, or with the private key at the guest)."""

    name: str = "abstract"

    @property
    @abstractmethod
    def key_bits(self) -> int:
        """Modulus size in bits."""

    @property
    @abstractmethod
    def fingerprint(self) -> bytes:
        """16-byte fingerprint of the public key."""

    @abstractmethod
    def public_key_bytes(self) -> bytes:
        """Serialize the public key."""

    @abstractmethod
    def encrypt_rows(self, plaintexts: Sequence[int]) -> list[Any]:
        """Encrypt non-negative plaintexts (packed rows)."""

    @abstractmethod
    def add(self, a: Any, b: Any) -> Any:
        """``[[a + b]]``."""

    @abstractmethod
    def shift_add(self, acc: Any, bits: int, c: Any) -> Any:
        """``[[acc * 2**bits + c]]`` (one Horner step of compression)."""

    @abstractmethod
    def dumps(self, vector: Sequence[Any]) -> bytes:
        """Serialize ciphertexts."""

    @abstractmethod
    def loads(self, data: bytes, count: int) -> list[Any]:
        """Parse and validate ``count`` ciphertexts under this key (:class:`BoostPeerError`)."""

    @abstractmethod
    def decrypt(self, vector: Sequence[Any]) -> list[int]:
        """Plaintexts in ``[0, n)`` (key holder only)."""

    def bin_sums(
        self, cts: Sequence[Any], rows: IntArray, keys: IntArray, n_keys: int
    ) -> list[Any]:
        """``[[sum of cts[rows[i]] over i with keys[i] == k]]`` for every ``k < n_keys``.

        Parameters
        ----------
        cts : sequence
            One ciphertext per training row.
        rows, keys : ndarray of int
            Row of every term and the bin it goes to.
        n_keys : int
            Bins; an empty bin gets :meth:`zero`.
        """
        acc: list[Any] = [None] * n_keys
        add = self.add
        for r, k in zip(rows.tolist(), keys.tolist(), strict=True):
            prev = acc[k]
            acc[k] = cts[r] if prev is None else add(prev, cts[r])
        zero = self.zero()
        return [zero if a is None else a for a in acc]

    def cumulate(self, sums: list[Any], n_bins: Sequence[int], n_nodes: int) -> list[Any]:
        """Cumulative sums within every feature's bins, node after node (in place).

        Parameters
        ----------
        sums : list
            ``n_nodes * sum(n_bins)`` ciphertexts.
        n_bins : sequence of int
            Bins per feature.
        n_nodes : int
            Nodes.
        """
        pos = 0
        for _ in range(n_nodes):
            for width in n_bins:
                for b in range(pos + 1, pos + width):
                    sums[b] = self.add(sums[b - 1], sums[b])
                pos += width
        return sums

    def compress(self, sums: Sequence[Any], slot_bits: int, per: int) -> list[Any]:
        """Pack ``per`` sums into each ciphertext: ``sum_j s_j 2**(j slot_bits)``.

        Parameters
        ----------
        sums : sequence
            Ciphertexts whose plaintexts are below ``2**slot_bits``.
        slot_bits : int
            Slot width.
        per : int
            Sums per ciphertext.
        """
        out = []
        for start in range(0, len(sums), per):
            group = sums[start : start + per]
            acc = group[-1]
            for c in reversed(group[:-1]):
                acc = self.shift_add(acc, slot_bits, c)
            out.append(acc)
        return out

    @abstractmethod
    def zero(self) -> Any:
        """A ciphertext of 0 (for empty bins)."""

    def idle_step(self, target: int) -> bool:
        """Precompute a few encryption randomisers, up to ``target``; ``False`` when done.

        Parameters
        ----------
        target : int
            Pool size wanted (the next tree's rows).
        """
        return False


class OursBoostCipher(BoostCipher):
    """Our Paillier (:mod:`fl_node.vertical.crypto.paillier`).

    Parameters
    ----------
    public_key : PaillierPublicKey
        The guest's key.
    private_key : PaillierPrivateKey or None
        The guest's private key (``None`` at the hosts).
    mode : {"fixed_base", "crt", "textbook"}, default "fixed_base"
        Randomisers of the guest's encryptions (``docs/paillier.md``): short-exponent
        fixed-base, or the textbook distribution (``"crt"`` computes it with the private key).
    """

    name = "ours"

    def __init__(
        self,
        public_key: PaillierPublicKey,
        private_key: PaillierPrivateKey | None = None,
        *,
        mode: EncryptionMode = "fixed_base",
    ) -> None:
        self.public_key = public_key
        self.private_key = private_key
        self.mode: EncryptionMode = mode
        self._encryptor: Encryptor | None = None

    @classmethod
    def generate(cls, key_bits: int, *, mode: EncryptionMode = "fixed_base") -> OursBoostCipher:
        """A fresh key pair (guest).

        Parameters
        ----------
        key_bits : int
            Modulus size.
        mode : str
            Randomisers, see the class.
        """
        pk, sk = generate_keypair(key_bits)
        return cls(pk, sk, mode=mode)

    @classmethod
    def from_public_bytes(cls, data: bytes) -> OursBoostCipher:
        """Load the guest's public key (host).

        Parameters
        ----------
        data : bytes
            :meth:`public_key_bytes` output.
        """
        try:
            return cls(PaillierPublicKey.from_bytes(data))
        except PaillierError as exc:
            raise BoostPeerError(f"invalid public key: {exc}") from exc

    @property
    def key_bits(self) -> int:
        """Modulus size in bits."""
        return self.public_key.n_bits

    @property
    def fingerprint(self) -> bytes:
        """16-byte fingerprint."""
        return self.public_key.fingerprint

    def public_key_bytes(self) -> bytes:
        """Serialize the public key."""
        return self.public_key.to_bytes()

    def encrypt_rows(self, plaintexts: Sequence[int]) -> list[Any]:
        """Encrypt with the encryptor's randomisers (pool first)."""
        if self._encryptor is None:
            self._encryptor = Encryptor(
                self.public_key, mode=self.mode, private_key=self.private_key
            )
        vec = self._encryptor.encrypt_encoded(list(plaintexts), 0)
        return list(vec.raw_ciphertexts)

    def precompute(self, count: int) -> None:
        """Fill the randomiser pool (idle time).

        Parameters
        ----------
        count : int
            Randomisers.
        """
        if self._encryptor is None:
            self._encryptor = Encryptor(
                self.public_key, mode=self.mode, private_key=self.private_key
            )
        self._encryptor.precompute(count)

    def idle_step(self, target: int) -> bool:
        """Add 16 randomisers to the pool while it holds fewer than ``target``.

        Parameters
        ----------
        target : int
            Pool size wanted.
        """
        if self.private_key is None:
            return False
        if self._encryptor is not None and self._encryptor.pool_size >= target:
            return False
        self.precompute(16)
        return True

    def add(self, a: Any, b: Any) -> Any:
        """Product mod ``n**2``."""
        return a * b % self.public_key.nsquare

    def shift_add(self, acc: Any, bits: int, c: Any) -> Any:
        """``acc**(2**bits) * c mod n**2``."""
        nsq = self.public_key.nsquare
        return gmpy2.powmod(acc, 1 << bits, nsq) * c % nsq

    def zero(self) -> Any:
        """The trivial encryption of 0."""
        return gmpy2.mpz(1)

    def dumps(self, vector: Sequence[Any]) -> bytes:
        """A framed :class:`CipherVector` (scale 0, no bound)."""
        return CipherVector(self.public_key, vector, 0).to_bytes()

    def loads(self, data: bytes, count: int) -> list[Any]:
        """Parse; refuse another key, another count or a ciphertext outside ``[1, n**2)``."""
        try:
            vec = CipherVector.from_bytes(data, self.public_key)
        except PaillierError as exc:
            raise BoostPeerError(f"invalid ciphertexts: {exc}") from exc
        if len(vec) != count or vec.frac_bits != 0:
            raise BoostPeerError(f"expected {count} ciphertexts, got {len(vec)}")
        return list(vec.raw_ciphertexts)

    def decrypt(self, vector: Sequence[Any]) -> list[int]:
        """CRT decryption."""
        if self.private_key is None:
            raise BoostConfigError("only the guest decrypts")
        return [self.private_key.raw_decrypt(c) for c in vector]


class PheBoostCipher(BoostCipher):
    """python-paillier (``phe``) doing the same operations.

    Parameters
    ----------
    suite : PheSuite
        phe key (and private key at the guest), with its vector serialization.
    """

    name = "phe"

    def __init__(self, suite: PheSuite) -> None:
        self.suite = suite

    @classmethod
    def generate(cls, key_bits: int) -> PheBoostCipher:
        """A fresh phe key pair (guest).

        Parameters
        ----------
        key_bits : int
            Modulus size.
        """
        return cls(PheSuite.generate(key_bits))

    @classmethod
    def from_public_bytes(cls, data: bytes) -> PheBoostCipher:
        """Load the guest's phe key (host).

        Parameters
        ----------
        data : bytes
            :meth:`public_key_bytes` output.
        """
        try:
            return cls(PheSuite.from_public_bytes(data))
        except CipherSuiteError as exc:
            raise BoostPeerError(f"invalid phe public key: {exc}") from exc

    @property
    def key_bits(self) -> int:
        """Modulus size in bits."""
        return self.suite.key_bits

    @property
    def fingerprint(self) -> bytes:
        """16-byte fingerprint."""
        return self.suite.fingerprint

    def public_key_bytes(self) -> bytes:
        """``n`` big-endian."""
        return self.suite.public_key_bytes()

    def encrypt_rows(self, plaintexts: Sequence[int]) -> list[Any]:
        """``PaillierPublicKey.encrypt`` per row."""
        pk = self.suite.public_key
        return [pk.encrypt(int(m)) for m in plaintexts]

    def add(self, a: Any, b: Any) -> Any:
        """``EncryptedNumber.__add__``."""
        return a + b

    def shift_add(self, acc: Any, bits: int, c: Any) -> Any:
        """``acc * 2**bits + c`` with phe's operators."""
        return acc * (1 << bits) + c

    def zero(self) -> Any:
        """The trivial encryption of 0."""
        import phe

        return phe.EncryptedNumber(self.suite.public_key, 1, 0)

    def dumps(self, vector: Sequence[Any]) -> bytes:
        """:meth:`PheSuite.dumps`."""
        return self.suite.dumps(PheVector(list(vector)))

    def loads(self, data: bytes, count: int) -> list[Any]:
        """:meth:`PheSuite.loads` (key, count and range checked); exponents must be 0."""
        try:
            items = self.suite.loads(data, count=count).items
        except CipherSuiteError as exc:
            raise BoostPeerError(f"invalid phe ciphertexts: {exc}") from exc
        if any(c.exponent != 0 for c in items):
            raise BoostPeerError("phe ciphertexts must have exponent 0")
        return list(items)

    def decrypt(self, vector: Sequence[Any]) -> list[int]:
        """``PaillierPrivateKey.raw_decrypt`` per ciphertext."""
        sk = self.suite.private_key
        if sk is None:
            raise BoostConfigError("only the guest decrypts")
        return [int(sk.raw_decrypt(c.ciphertext(be_secure=False))) for c in vector]


def make_cipher(name: str, key_bits: int, *, mode: EncryptionMode = "fixed_base") -> BoostCipher:
    """A fresh key pair for the guest.

    Parameters
    ----------
    name : {"ours", "phe"}
        Back end.
    key_bits : int
        Modulus size.
    mode : str
        Our randomisers (ignored by phe).
    """
    if name == "ours":
        return OursBoostCipher.generate(key_bits, mode=mode)
    if name == "phe":
        return PheBoostCipher.generate(key_bits)
    raise BoostConfigError(f"unknown cipher {name!r}")


def load_public(name: str, data: bytes) -> BoostCipher:
    """The guest's public key at a host.

    Parameters
    ----------
    name : {"ours", "phe"}
        Back end.
    data : bytes
        Serialized key.
    """
    if name == "ours":
        return OursBoostCipher.from_public_bytes(data)
    if name == "phe":
        return PheBoostCipher.from_public_bytes(data)
    raise BoostPeerError(f"unknown cipher {name!r}")
