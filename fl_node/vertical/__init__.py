"""Vertical (feature-partitioned) federated learning: cryptographic building blocks.

``paillier``: additively homomorphic encryption for hetero logistic regression.
Add further public names (e.g. private set intersection) to the imports and ``__all__``.
"""

from fl_node.vertical.paillier import (
    CipherVector,
    EncryptedNumber,
    Encryptor,
    FixedPointEncoder,
    PackedCipherVector,
    Packer,
    PaillierEncodingError,
    PaillierError,
    PaillierKeyMismatchError,
    PaillierOverflowError,
    PaillierPrivateKey,
    PaillierPublicKey,
    PaillierSerializationError,
    generate_keypair,
)

__all__ = [
    "CipherVector",
    "EncryptedNumber",
    "Encryptor",
    "FixedPointEncoder",
    "PackedCipherVector",
    "Packer",
    "PaillierEncodingError",
    "PaillierError",
    "PaillierKeyMismatchError",
    "PaillierOverflowError",
    "PaillierPrivateKey",
    "PaillierPublicKey",
    "PaillierSerializationError",
    "generate_keypair",
]
