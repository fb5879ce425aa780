"""Merkle trees whose proofs OpenZeppelin's ``MerkleProof.verify`` accepts.

Leaves are double-hashed ABI encodings, as OpenZeppelin's ``StandardMerkleTree`` does
(``keccak256(bytes.concat(keccak256(abi.encode(values))))``), so a leaf can never be mistaken for an
inner node; inner nodes hash their two children in sorted order (``commutativeKeccak256``), so a
proof is a plain list of sibling hashes. The contracts store only a root per round: reward claims
and update commitments are proven against it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eth_abi.abi import encode as abi_encode
from eth_utils.crypto import keccak

from kernel.errors import InvalidInputError


def leaf_hash(types: Sequence[str], values: Sequence[Any]) -> bytes:
    """The leaf of ``values`` ABI-encoded as ``types``, double-hashed.

    Parameters
    ----------
    types : sequence of str
        ABI types, e.g. ``("uint256", "uint32", "address", "uint256")``.
    values : sequence
        The values, in the same order.
    """
    return keccak(keccak(abi_encode(list(types), list(values))))


def hash_pair(a: bytes, b: bytes) -> bytes:
    """Inner node: keccak-256 of the two children in ascending order."""
    return keccak(a + b) if a <= b else keccak(b + a)


@dataclass(frozen=True)
class MerkleTree:
    """A tree over distinct leaves, kept level by level (leaves first, sorted).

    Attributes
    ----------
    levels : tuple of tuples of bytes
        ``levels[0]`` the sorted leaves, the last level the root alone.
    """

    levels: tuple[tuple[bytes, ...], ...]

    @classmethod
    def build(cls, leaves: Sequence[bytes]) -> MerkleTree:
        """Build the tree of ``leaves`` (32 bytes each, distinct, at least one).

        Raises
        ------
        InvalidInputError
            No leaves, a leaf that is not 32 bytes, or a duplicate.
        """
        if not leaves:
            raise InvalidInputError("MerkleTree.build: no leaves")
        if any(len(leaf) != 32 for leaf in leaves):
            raise InvalidInputError("MerkleTree.build: every leaf must be 32 bytes")
        level = tuple(sorted(leaves))
        if len(set(level)) != len(level):
            raise InvalidInputError("MerkleTree.build: duplicate leaves")
        levels = [level]
        while len(level) > 1:
            paired = [hash_pair(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
            if len(level) % 2:
                paired.append(level[-1])  # an odd node moves up unchanged
            level = tuple(paired)
            levels.append(level)
        return cls(tuple(levels))

    @property
    def root(self) -> bytes:
        """The root (the single leaf for a one-leaf tree)."""
        return self.levels[-1][0]

    def proof(self, leaf: bytes) -> list[bytes]:
        """The sibling hashes from ``leaf`` up to the root.

        Raises
        ------
        InvalidInputError
            ``leaf`` is not in the tree.
        """
        try:
            index = self.levels[0].index(leaf)
        except ValueError:
            raise InvalidInputError("MerkleTree.proof: leaf not in the tree") from None
        path: list[bytes] = []
        for level in self.levels[:-1]:
            sibling = index ^ 1
            if sibling < len(level):
                path.append(level[sibling])
            index //= 2
        return path


def verify(proof: Sequence[bytes], root: bytes, leaf: bytes) -> bool:
    """What ``MerkleProof.verify(proof, root, leaf)`` answers on-chain.

    Parameters
    ----------
    proof : sequence of bytes
        Sibling hashes, leaf level first.
    root : bytes
        The root to check against.
    leaf : bytes
        The leaf.
    """
    node = leaf
    for sibling in proof:
        node = hash_pair(node, sibling)
    return node == root


__all__ = ["MerkleTree", "hash_pair", "leaf_hash", "verify"]
