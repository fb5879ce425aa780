"""The same operations with python-paillier (``phe``), as FATE-era code would use them.

Used to time the *same* protocol, message for message, with phe doing the cryptography
(``fedmarket vfl --compare-phe``).
"""

from __future__ import annotations

import hashlib
import secrets
import struct
from collections.abc import Sequence
from typing import Any

import numpy as np

from fl_node.vertical.protocol._errors import CipherSuiteError, CipherUsageError
from fl_node.vertical.protocol.suites.base import CipherSuite, Decrypted, FloatArray, MaskState

_PHE_MASK_BITS = 256
_PHE_BASE = 16
_PHE_HEADER = struct.Struct(">4s16sII")  # magic, key fingerprint, count, width
_PHE_MAGIC = b"FPHE"


def _phe_fingerprint(n: int) -> bytes:
    return hashlib.blake2b(n.to_bytes((n.bit_length() + 7) // 8, "big"), digest_size=16).digest()


class PheVector:
    """A list of phe ``EncryptedNumber`` (the phe suite's vector type).

    Parameters
    ----------
    items : list
        ``phe.EncryptedNumber`` objects.
    """

    __slots__ = ("items",)

    def __init__(self, items: list[Any]) -> None:
        self.items = items

    def __len__(self) -> int:
        return len(self.items)


class PheSuite(CipherSuite):
    """The same operations with python-paillier (``phe``), as FATE-era code would use it.

    Parameters
    ----------
    public_key : phe.PaillierPublicKey
        The session key.
    private_key : phe.PaillierPrivateKey or None
        The arbiter's private key.
    """

    name = "phe"

    def __init__(self, public_key: Any, private_key: Any | None = None) -> None:
        self.public_key = public_key
        self.private_key = private_key
        self._width = (int(public_key.nsquare).bit_length() + 7) // 8

    @classmethod
    def generate(cls, key_bits: int) -> PheSuite:
        """Generate a phe key pair (arbiter).

        Parameters
        ----------
        key_bits : int
            Modulus size.
        """
        import phe

        pk, sk = phe.generate_paillier_keypair(n_length=key_bits)
        return cls(pk, sk)

    @classmethod
    def from_public_bytes(
        cls, data: bytes, *, window_bits: int = 8, randomizer: str = "textbook"
    ) -> PheSuite:
        """Load the arbiter's public key (``n`` big-endian).

        Parameters
        ----------
        data : bytes
            :meth:`public_key_bytes` output.
        window_bits : int
            Unused (phe has no fixed-base table).
        randomizer : str
            Unused: phe always draws textbook ``r**n`` randomisers (DCR alone), which is at
            least as strong as any agreed setting.
        """
        import phe

        n = int.from_bytes(data, "big")
        if n.bit_length() < 256 or n % 2 == 0 or data[:1] == b"\x00":
            raise CipherSuiteError("invalid phe public key")
        return cls(phe.PaillierPublicKey(n))

    @property
    def key_bits(self) -> int:
        """Modulus size in bits."""
        return int(self.public_key.n).bit_length()

    @property
    def fingerprint(self) -> bytes:
        """16-byte BLAKE2b of ``n``."""
        return _phe_fingerprint(int(self.public_key.n))

    def public_key_bytes(self) -> bytes:
        """``n`` big-endian."""
        n = int(self.public_key.n)
        return n.to_bytes((n.bit_length() + 7) // 8, "big")

    def encrypt(self, values: FloatArray, *, bound: float) -> PheVector:
        """``phe.PaillierPublicKey.encrypt`` per value.

        Parameters
        ----------
        values : ndarray of float64
            Plaintexts.
        bound : float
            Public magnitude bound (checked).
        """
        arr = np.asarray(values, dtype=np.float64)
        if arr.size and float(np.abs(arr).max()) > bound:
            raise CipherUsageError("values exceed the declared bound")
        return PheVector([self.public_key.encrypt(float(v)) for v in arr.tolist()])

    def dumps(self, vector: Any) -> bytes:
        """Fixed-width ciphertexts and 32-bit exponents (no re-obfuscation here)."""
        assert isinstance(vector, PheVector)
        head = _PHE_HEADER.pack(_PHE_MAGIC, self.fingerprint, len(vector), self._width)
        cts = b"".join(
            int(c.ciphertext(be_secure=False)).to_bytes(self._width, "big") for c in vector.items
        )
        exps = np.array([c.exponent for c in vector.items], dtype=">i4").tobytes()
        return head + cts + exps

    def loads(
        self, data: bytes, *, count: int, bound: float | None = None, product: bool = False
    ) -> PheVector:
        """Parse; check the fingerprint, the length and ``0 < c < n**2``.

        Parameters
        ----------
        data : bytes
            Serialized vector.
        count : int
            Expected length.
        bound : float or None
            Unused (phe carries no bound).
        product : bool, default False
            Unused (each phe ciphertext carries its own exponent).
        """
        import phe

        if len(data) < _PHE_HEADER.size:
            raise CipherSuiteError("truncated phe vector")
        magic, fp, n_items, width = _PHE_HEADER.unpack_from(data)
        if magic != _PHE_MAGIC or fp != self.fingerprint or width != self._width:
            raise CipherSuiteError("phe vector under another key or malformed")
        if n_items != count or len(data) != _PHE_HEADER.size + n_items * (width + 4):
            raise CipherSuiteError(f"expected {count} phe ciphertexts")
        body = memoryview(data)[_PHE_HEADER.size :]
        nsq = int(self.public_key.nsquare)
        exps = np.frombuffer(bytes(body[n_items * width :]), dtype=">i4").tolist()
        items = []
        for i in range(n_items):
            c = int.from_bytes(body[i * width : (i + 1) * width], "big")
            if not 0 < c < nsq or abs(exps[i]) > 4096:
                raise CipherSuiteError("phe ciphertext out of range")
            items.append(phe.EncryptedNumber(self.public_key, c, exps[i]))
        return PheVector(items)

    def concat(self, vectors: Sequence[Any]) -> PheVector:
        """Concatenate."""
        return PheVector([c for v in vectors for c in v.items])

    def add(self, a: Any, b: Any) -> PheVector:
        """Element-wise sum (phe aligns exponents)."""
        return PheVector([x + y for x, y in zip(a.items, b.items, strict=True)])

    def add_plain(self, a: Any, values: FloatArray) -> PheVector:
        """Element-wise ``+ float``."""
        return PheVector(
            [x + float(v) for x, v in zip(a.items, np.asarray(values).tolist(), strict=True)]
        )

    def dot(self, vector: Any, matrix: FloatArray, *, x_bound: float) -> PheVector:
        """``sum_i c_i * float(x_ij)`` per column (phe's ct * float and ct + ct).

        Parameters
        ----------
        vector : PheVector
            ``N`` ciphertexts.
        matrix : ndarray of shape (N, F)
            Plaintext matrix.
        x_bound : float
            Public bound (unused by phe).
        """
        items = vector.items
        x = np.asarray(matrix, dtype=np.float64)
        out = []
        for j in range(x.shape[1]):
            col = x[:, j].tolist()
            acc = items[0] * col[0]
            for c, v in zip(items[1:], col[1:], strict=True):
                acc = acc + c * v
            out.append(acc)
        return PheVector(out)

    def mask(self, vector: Any) -> tuple[PheVector, MaskState]:
        """Add a uniform 256-bit integer at each ciphertext's own exponent."""
        import phe

        masks = [secrets.randbits(_PHE_MASK_BITS) for _ in range(len(vector))]
        out = [
            c + phe.EncodedNumber(self.public_key, r, c.exponent)
            for c, r in zip(vector.items, masks, strict=True)
        ]
        return PheVector(out), MaskState(masks)

    def for_arbiter(self, vector: Any) -> bytes:
        """Phe has no packing: one ciphertext per value."""
        return self.dumps(vector)

    def decrypt_for_party(self, data: bytes, count: int) -> Decrypted:
        """``decrypt_encoded`` per value (arbiter).

        Parameters
        ----------
        data : bytes
            Serialized vector.
        count : int
            Expected number of values.
        """
        if self.private_key is None:
            raise CipherUsageError("only the key holder decrypts")
        vector = self.loads(data, count=count)
        n = int(self.public_key.n)
        max_int = int(self.public_key.max_int)
        values: list[int] = []
        exps: list[int] = []
        for c in vector.items:
            encoded = self.private_key.decrypt_encoded(c)
            raw = int(encoded.encoding)
            if raw <= max_int:
                values.append(raw)
            elif raw >= n - max_int:
                values.append(raw - n)
            else:
                raise CipherSuiteError("phe plaintext overflow")
            exps.append(int(encoded.exponent))
        return Decrypted(values, exps, _PHE_BASE)
