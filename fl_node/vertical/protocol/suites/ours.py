"""Our cipher suite: agreed randomisers (short-exponent or textbook), bucket dot, packing.

Built on :mod:`fl_node.vertical.crypto.paillier`.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Sequence
from typing import Any

from fl_node.vertical.crypto.paillier import (
    DEFAULT_RANDOMIZER,
    DEFAULT_SCALAR_FRAC_BITS,
    CipherVector,
    Encryptor,
    PackedCipherVector,
    Packer,
    PaillierError,
    PaillierPrivateKey,
    PaillierPublicKey,
    RandomizerName,
    encryption_mode,
    generate_keypair,
)
from fl_node.vertical.protocol._errors import CipherSuiteError, CipherUsageError
from fl_node.vertical.protocol.suites.base import (
    MASK_SECURITY_BITS,
    CipherSuite,
    Decrypted,
    FloatArray,
    MaskState,
)


class OursSuite(CipherSuite):
    """:mod:`fl_node.vertical.crypto.paillier` with the agreed randomisers, bucket dot and packing.

    Parameters
    ----------
    public_key : PaillierPublicKey
        The session key.
    private_key : PaillierPrivateKey or None
        The arbiter's private key.
    frac_bits : int
        Fractional bits of encrypted values.
    window_bits : int
        Window of the fixed-base randomiser table: 8 (~4 MiB, 31 multiplications per
        encryption) to 12 (~46 MiB at 2048 bits, 21 multiplications, ~0.5 s to build).
    randomizer : {"short-exponent", "textbook"}
        The session's agreed randomiser setting (``HeteroLRConfig.randomizer``):
        ``"short-exponent"`` builds the fixed-base table; ``"textbook"`` draws a uniform
        ``r**n``, with the CRT when this suite holds the private key (same distribution).
    """

    name = "ours"

    def __init__(
        self,
        public_key: PaillierPublicKey,
        private_key: PaillierPrivateKey | None = None,
        *,
        frac_bits: int = 32,
        window_bits: int = 8,
        randomizer: RandomizerName = DEFAULT_RANDOMIZER,
    ) -> None:
        try:
            mode = encryption_mode(randomizer, key_holder=private_key is not None)
        except PaillierError as exc:
            raise CipherUsageError(str(exc)) from exc
        self.public_key = public_key
        self.private_key = private_key
        self.frac_bits = frac_bits
        self.window_bits = window_bits
        self.randomizer: RandomizerName = randomizer
        self._mode = mode
        self._encryptor: Encryptor | None = None

    @classmethod
    def generate(
        cls, key_bits: int, *, randomizer: RandomizerName = DEFAULT_RANDOMIZER
    ) -> OursSuite:
        """Generate a key pair (arbiter).

        Parameters
        ----------
        key_bits : int
            Modulus size.
        randomizer : {"short-exponent", "textbook"}, default "short-exponent"
            For this key holder's own encryptions (``"textbook"``: CRT).
        """
        pk, sk = generate_keypair(key_bits)
        return cls(pk, sk, randomizer=randomizer)

    @classmethod
    def from_public_bytes(
        cls,
        data: bytes,
        *,
        window_bits: int = 8,
        randomizer: RandomizerName = DEFAULT_RANDOMIZER,
    ) -> OursSuite:
        """Load the arbiter's public key.

        Parameters
        ----------
        data : bytes
            :meth:`public_key_bytes` output.
        window_bits : int
            Fixed-base table window for this party's encryptions.
        randomizer : {"short-exponent", "textbook"}, default "short-exponent"
            The session's agreed randomiser setting.
        """
        try:
            key = PaillierPublicKey.from_bytes(data)
        except PaillierError as exc:
            raise CipherSuiteError(f"invalid public key: {exc}") from exc
        return cls(key, window_bits=window_bits, randomizer=randomizer)

    @property
    def key_bits(self) -> int:
        """Modulus size in bits."""
        return self.public_key.n_bits

    @property
    def fingerprint(self) -> bytes:
        """16-byte fingerprint of the public key."""
        return self.public_key.fingerprint

    def public_key_bytes(self) -> bytes:
        """Serialize the public key."""
        return self.public_key.to_bytes()

    @property
    def encryptor(self) -> Encryptor:
        """The encryptor of this party (a fixed-base table is built on first use)."""
        if self._encryptor is None:
            self._encryptor = Encryptor(
                self.public_key,
                mode=self._mode,
                private_key=self.private_key,
                frac_bits=self.frac_bits,
                window_bits=self.window_bits,
            )
        return self._encryptor

    def prepare(self) -> None:
        """Build the encryptor (and its fixed-base table in short-exponent mode)."""
        _ = self.encryptor

    def encrypt(self, values: FloatArray, *, bound: float) -> CipherVector:
        """Encrypt with pooled randomisers (else fresh ones of the agreed kind), public bound.

        Parameters
        ----------
        values : ndarray of float64
            Plaintexts.
        bound : float
            Public magnitude bound.
        """
        return self.encryptor.encrypt_vector(values, bound=bound)

    def precompute(self, count: int) -> bool:
        """Fill the randomiser pool with ``count`` more entries.

        Parameters
        ----------
        count : int
            How many.
        """
        if count <= 0:
            return False
        self.encryptor.precompute(count)
        return True

    @property
    def pool_size(self) -> int:
        """Unused pooled randomisers."""
        return 0 if self._encryptor is None else self._encryptor.pool_size

    def dumps(self, vector: Any) -> bytes:
        """Serialize a :class:`CipherVector`."""
        assert isinstance(vector, CipherVector)
        return vector.to_bytes()

    def loads(
        self, data: bytes, *, count: int, bound: float | None = None, product: bool = False
    ) -> CipherVector:
        """Parse a vector; check its key, length, scale and declared bound.

        Parameters
        ----------
        data : bytes
            Serialized vector.
        count : int
            Expected length.
        bound : float or None
            Largest public bound the sender may declare.
        product : bool, default False
            A :meth:`dot` result: ``frac_bits`` plus the plaintext's
            ``DEFAULT_SCALAR_FRAC_BITS`` fractional bits.
        """
        frac_bits = self.frac_bits + (DEFAULT_SCALAR_FRAC_BITS if product else 0)
        try:
            vector = CipherVector.from_bytes(data, self.public_key)
        except PaillierError as exc:
            raise CipherSuiteError(f"invalid cipher vector: {exc}") from exc
        if len(vector) != count:
            raise CipherSuiteError(f"expected {count} ciphertexts, got {len(vector)}")
        if vector.frac_bits != frac_bits:
            raise CipherSuiteError(f"expected {frac_bits} fractional bits")
        if bound is not None:
            limit = math.ceil(math.ldexp(bound, frac_bits)).bit_length()
            if vector.bound_bits is None or vector.bound_bits > limit:
                raise CipherSuiteError(
                    f"declared bound {vector.bound_bits} bits exceeds the public {limit}"
                )
        return vector

    def concat(self, vectors: Sequence[Any]) -> CipherVector:
        """Concatenate cipher vectors."""
        return CipherVector.concatenate(list(vectors))

    def add(self, a: Any, b: Any) -> CipherVector:
        """Element-wise sum."""
        assert isinstance(a, CipherVector) and isinstance(b, CipherVector)
        return a + b

    def add_plain(self, a: Any, values: FloatArray) -> CipherVector:
        """Add plaintexts (encoded at the vector's scale)."""
        assert isinstance(a, CipherVector)
        return a.add(values)

    def dot(self, vector: Any, matrix: FloatArray, *, x_bound: float) -> CipherVector:
        """Bucket multi-exponentiation ``X^T [[a]]``.

        Parameters
        ----------
        vector : CipherVector
            ``N`` ciphertexts.
        matrix : ndarray of shape (N, F)
            Plaintext matrix.
        x_bound : float
            Public bound on its entries.
        """
        assert isinstance(vector, CipherVector)
        return vector.dot(matrix, x_bound=x_bound)

    def mask(self, vector: Any) -> tuple[CipherVector, MaskState]:
        """Add uniform masks of ``bound_bits + 40`` bits.

        Parameters
        ----------
        vector : CipherVector
            Values with a known bound.
        """
        assert isinstance(vector, CipherVector)
        if vector.bound_bits is None:
            raise CipherUsageError("masking needs a known bound")
        bits = vector.bound_bits + MASK_SECURITY_BITS
        masks = [secrets.randbits(bits) for _ in range(len(vector))]
        return vector.add_encoded(masks, bound_bits=bits), MaskState(masks)

    def for_arbiter(self, vector: Any) -> bytes:
        """Pack (homomorphically) and serialize.

        Parameters
        ----------
        vector : CipherVector
            Values with a known bound.
        """
        assert isinstance(vector, CipherVector)
        if len(vector) == 0:
            return b""
        if vector.bound_bits is None:
            raise CipherUsageError("packing needs a known bound")
        return Packer.for_bound_bits(self.public_key, vector.bound_bits).pack(vector).to_bytes()

    def decrypt_for_party(self, data: bytes, count: int) -> Decrypted:
        """Decrypt a packed vector (arbiter).

        Parameters
        ----------
        data : bytes
            Packed vector.
        count : int
            Expected number of values.
        """
        if self.private_key is None:
            raise CipherUsageError("only the key holder decrypts")
        if count == 0:
            if data:
                raise CipherSuiteError("unexpected ciphertexts")
            return Decrypted([], [], 2)
        try:
            packed = PackedCipherVector.from_bytes(data, self.public_key)
            if packed.n_values != count:
                raise CipherSuiteError(f"expected {count} packed values, got {packed.n_values}")
            ints = self.private_key.decrypt_packed_ints(packed)
        except PaillierError as exc:
            raise CipherSuiteError(f"cannot decrypt: {exc}") from exc
        return Decrypted(ints, [-packed.frac_bits] * count, 2)
