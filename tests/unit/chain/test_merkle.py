"""Merkle trees: every leaf's proof verifies, nothing else does, and the root is the obvious one."""

from __future__ import annotations

import pytest
from eth_utils.crypto import keccak
from hypothesis import given
from hypothesis import strategies as st

from chain.merkle import MerkleTree, hash_pair, leaf_hash, verify
from kernel.errors import InvalidInputError


def naive_root(leaves: list[bytes]) -> bytes:
    """The root computed the obvious way: sort, then pair up level by level."""
    level = sorted(leaves)
    while len(level) > 1:
        nxt = []
        for i in range(0, len(level), 2):
            if i + 1 < len(level):
                a, b = sorted((level[i], level[i + 1]))
                nxt.append(keccak(a + b))
            else:
                nxt.append(level[i])
        level = nxt
    return level[0]


leaves_strategy = st.lists(
    st.binary(min_size=32, max_size=32), min_size=1, max_size=40, unique=True
)


@given(leaves_strategy)
def test_root_matches_the_naive_construction(leaves: list[bytes]) -> None:
    assert MerkleTree.build(leaves).root == naive_root(leaves)


@given(leaves_strategy)
def test_every_leaf_proves_and_a_stranger_does_not(leaves: list[bytes]) -> None:
    tree = MerkleTree.build(leaves)
    for leaf in leaves:
        assert verify(tree.proof(leaf), tree.root, leaf)
    stranger = keccak(b"".join(leaves))
    assert not verify(tree.proof(leaves[0]), tree.root, stranger)


def test_a_tampered_proof_fails() -> None:
    leaves = [leaf_hash(["address", "uint256"], [f"0x{i:040x}", i * 10]) for i in range(1, 6)]
    tree = MerkleTree.build(leaves)
    proof = tree.proof(leaves[2])
    proof[0] = keccak(proof[0])
    assert not verify(proof, tree.root, leaves[2])


def test_leaf_hash_is_double_keccak_of_the_abi_encoding() -> None:
    from eth_abi.abi import encode

    encoded = encode(["uint256", "address"], [7, "0x" + "11" * 20])
    assert leaf_hash(["uint256", "address"], [7, "0x" + "11" * 20]) == keccak(keccak(encoded))


def test_hash_pair_is_commutative() -> None:
    a, b = keccak(b"a"), keccak(b"b")
    assert hash_pair(a, b) == hash_pair(b, a) == keccak(min(a, b) + max(a, b))


@pytest.mark.parametrize(
    "leaves", [[], [b"short"], [keccak(b"x"), keccak(b"x")]], ids=["empty", "short", "duplicate"]
)
def test_bad_leaves_are_refused(leaves: list[bytes]) -> None:
    with pytest.raises(InvalidInputError):
        MerkleTree.build(leaves)


def test_proof_of_an_absent_leaf_is_refused() -> None:
    with pytest.raises(InvalidInputError):
        MerkleTree.build([keccak(b"a")]).proof(keccak(b"b"))
