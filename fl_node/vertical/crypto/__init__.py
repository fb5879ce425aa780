"""Cryptographic building blocks of vertical FL: :mod:`.paillier` and :mod:`.psi`.

Both packages are pure computation: they import nothing from the chain, the storage, the
incentives, the marketplace, PyTorch or the rest of :mod:`fl_node` (only :mod:`kernel` for the
error families), and nothing from the vertical transport, protocol or runner. Import from
the sub-packages, e.g. ``from fl_node.vertical.crypto.paillier import generate_keypair``.
"""

__all__: list[str] = []
