"""Paillier cryptosystem for vertical federated learning (hetero logistic regression).

The guest (label holder) encrypts per-row residuals ``[[d_i]]`` with the coordinator's public
key, the host computes ``sum_i x_ij * [[d_i]]`` for each of its features and the coordinator,
who holds the private key, decrypts. The package provides every piece of that pipeline, one
concept per module:

``keys``
    :func:`generate_keypair`, :class:`PaillierPublicKey`, :class:`PaillierPrivateKey` (CRT
    decryption, CRT encryption for the key holder), :func:`security_bits`.
``encoding``
    :class:`FixedPointEncoder`: signed fixed-point encoding with scale ``2**-k`` (negatives as
    ``n - |x|``) and explicit overflow checks.
``encryptor``
    :class:`Encryptor`: the fast path for a party holding only the public key: short-exponent
    randomizers ``h**s`` from a fixed-base window table (or textbook ``r**n``), plus an
    offline pool of precomputed randomizers so that online encryption costs about one
    half-size modular multiplication; :data:`RandomizerName` and :func:`encryption_mode` map a
    protocol's agreed setting (``"short-exponent"`` or ``"textbook"``) to an encryptor mode.
``vectors``
    :class:`EncryptedNumber` and :class:`CipherVector`: homomorphic addition, scalar
    multiplication and :meth:`CipherVector.dot` (a bucket multi-exponentiation over small
    signed exponents, the training hot path), with validated serialization.
``packing``
    :class:`Packer` / :class:`PackedCipherVector`: several fixed-point values per plaintext
    (``slot_bits`` wide, offset so negatives work), packed before encryption or
    homomorphically before decryption.

Private helpers: ``_math`` (big-integer kernels), ``_wire`` (framing), ``_fixed`` (fixed-point
arrays), ``_errors``. Ciphertexts are ``gmpy2.mpz`` values (int-compatible); all randomness
comes from :mod:`secrets` / :func:`os.urandom`. Design, security level and the assumptions
behind the short-exponent randomizers are in ``docs/paillier.md``.
"""

from fl_node.vertical.crypto.paillier._errors import (
    PaillierEncodingError,
    PaillierError,
    PaillierInputError,
    PaillierKeyMismatchError,
    PaillierOverflowError,
    PaillierSerializationError,
    PaillierTypeError,
)
from fl_node.vertical.crypto.paillier._fixed import DEFAULT_FRAC_BITS, DEFAULT_SCALAR_FRAC_BITS
from fl_node.vertical.crypto.paillier.encoding import FixedPointEncoder
from fl_node.vertical.crypto.paillier.encryptor import (
    DEFAULT_RANDOMIZER,
    DEFAULT_WINDOW_BITS,
    RANDOMIZERS,
    EncryptionMode,
    Encryptor,
    RandomizerName,
    encryption_mode,
)
from fl_node.vertical.crypto.paillier.keys import (
    DEFAULT_KEY_BITS,
    PaillierPrivateKey,
    PaillierPublicKey,
    default_short_exponent_bits,
    generate_keypair,
    security_bits,
)
from fl_node.vertical.crypto.paillier.packing import PackedCipherVector, Packer
from fl_node.vertical.crypto.paillier.vectors import CipherVector, EncryptedNumber

__all__ = [
    "DEFAULT_FRAC_BITS",
    "DEFAULT_KEY_BITS",
    "DEFAULT_RANDOMIZER",
    "DEFAULT_SCALAR_FRAC_BITS",
    "DEFAULT_WINDOW_BITS",
    "RANDOMIZERS",
    "CipherVector",
    "EncryptedNumber",
    "EncryptionMode",
    "Encryptor",
    "FixedPointEncoder",
    "PackedCipherVector",
    "Packer",
    "PaillierEncodingError",
    "PaillierError",
    "PaillierInputError",
    "PaillierKeyMismatchError",
    "PaillierOverflowError",
    "PaillierPrivateKey",
    "PaillierPublicKey",
    "PaillierSerializationError",
    "PaillierTypeError",
    "RandomizerName",
    "default_short_exponent_bits",
    "encryption_mode",
    "generate_keypair",
    "security_bits",
]
