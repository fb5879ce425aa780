"""FedTask's off-chain cryptography against hand-built encodings, without a chain.

EIP-712 digests are rebuilt from the spec's byte layout and checked against eth-account's typed-data
encoder; leaves against the Solidity expression they mirror; trees against ``chain.merkle.verify``
(what OpenZeppelin's ``MerkleProof`` computes); the shares codec against big-endian uint16s.
"""

from __future__ import annotations

import pytest
from eth_abi.abi import encode
from eth_account import Account
from eth_account.messages import _hash_eip191_message, encode_typed_data
from eth_utils.crypto import keccak
from hypothesis import given
from hypothesis import strategies as st

from chain._typed_data import SignatureError
from chain.commitments import (
    BPS,
    INVITATION_TYPEHASH,
    UPDATE_COMMITMENT_TYPEHASH,
    ZERO_HASH,
    CommitmentBatch,
    FedTaskDomain,
    Invitation,
    RewardTree,
    SignedCommitment,
    UpdateCommitment,
    commitment_leaf,
    decode_shares,
    encode_shares,
    recover_commitment_signer,
    recover_invitation_signer,
    reward_leaf,
    sign_commitment,
    sign_invitation,
)
from chain.keys import demo_account
from chain.merkle import verify
from kernel.errors import IntegrityError, InvalidInputError

DOMAIN = FedTaskDomain(31337, "0x5FbDB2315678afecb367f032d93F642f64180aa3")
ALICE, BOB, CAROL = (demo_account(7, r) for r in ("alice", "bob", "carol"))


def commitment(round_: int = 1, label: bytes = b"u", samples: int = 100) -> UpdateCommitment:
    return UpdateCommitment(3, round_, keccak(label), samples)


def test_type_hashes_are_those_of_the_spec():
    assert INVITATION_TYPEHASH == keccak(
        b"Invitation(uint256 taskId,address participant,uint256 deadline)"
    )
    assert UPDATE_COMMITMENT_TYPEHASH == keccak(
        b"UpdateCommitment(uint256 taskId,uint32 round,bytes32 updateHash,uint64 samples)"
    )


def test_domain_separator_is_built_as_openzeppelin_eip712_does():
    type_hash = keccak(
        b"EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
    )
    expected = keccak(
        type_hash
        + keccak(b"FedMarket FedTask")
        + keccak(b"2")
        + (31337).to_bytes(32, "big")
        + bytes(12)
        + bytes.fromhex(DOMAIN.verifying_contract[2:])
    )
    assert DOMAIN.separator == expected


@pytest.mark.parametrize(
    "message",
    [Invitation(5, ALICE.address, 1_900_000_000), commitment()],
)
def test_manual_digest_is_what_eth_account_signs(message):
    signable = encode_typed_data(full_message=message.typed_data(DOMAIN))
    assert _hash_eip191_message(signable) == DOMAIN.digest(message.struct_hash())


def test_invitations_and_commitments_recover_their_signer():
    invitation = Invitation(5, BOB.address, 1_900_000_000)
    signed = sign_invitation(ALICE, DOMAIN, invitation)
    assert recover_invitation_signer(DOMAIN, signed) == ALICE.address
    raw = Account._recover_hash(DOMAIN.digest(invitation.struct_hash()), signature=signed.signature)
    assert raw == ALICE.address
    other = FedTaskDomain(1, DOMAIN.verifying_contract)
    assert recover_invitation_signer(other, signed) != ALICE.address
    mine = sign_commitment(BOB, DOMAIN, commitment())
    assert mine.participant == BOB.address
    assert recover_commitment_signer(DOMAIN, mine) == BOB.address
    with pytest.raises(SignatureError):
        recover_commitment_signer(DOMAIN, SignedCommitment(BOB.address, commitment(), b"\x01" * 64))


def test_leaves_are_the_solidity_double_hash():
    h = keccak(b"u")
    expected = keccak(
        keccak(
            encode(
                ["uint256", "uint32", "address", "bytes32", "uint64"],
                [3, 1, ALICE.address, h, 100],
            )
        )
    )
    assert commitment_leaf(3, 1, ALICE.address, h, 100) == expected
    assert commitment().leaf(ALICE.address) == expected
    reward = keccak(
        keccak(encode(["uint256", "uint32", "address", "uint256"], [3, 2, BOB.address, 7]))
    )
    assert reward_leaf(3, 2, BOB.address, 7) == reward
    with pytest.raises(InvalidInputError):
        commitment_leaf(3, 1, ALICE.address, b"short", 1)


def test_commitment_batch_proves_every_leaf_and_round_trips():
    signed = [
        sign_commitment(a, DOMAIN, commitment(label=a.address.encode()))
        for a in (ALICE, BOB, CAROL)
    ]
    batch = CommitmentBatch.build(signed)
    assert batch.count == 3
    for s in signed:
        assert verify(batch.proof(s.participant), batch.root, s.leaf)
    batch.verify(DOMAIN)
    assert CommitmentBatch.from_dict(batch.to_dict()) == batch
    assert batch.commitment_of(BOB.address.lower()) == signed[1]
    with pytest.raises(InvalidInputError):
        batch.proof(demo_account(7, "dave").address)


def test_commitment_batch_refuses_what_cannot_be_anchored():
    a = sign_commitment(ALICE, DOMAIN, commitment())
    with pytest.raises(InvalidInputError):
        CommitmentBatch.build([])
    with pytest.raises(InvalidInputError):
        CommitmentBatch.build([a, sign_commitment(ALICE, DOMAIN, commitment(label=b"v"))])
    with pytest.raises(InvalidInputError):
        CommitmentBatch.build([a, sign_commitment(BOB, DOMAIN, commitment(round_=2))])
    stolen = SignedCommitment(BOB.address, a.commitment, a.signature)
    with pytest.raises(SignatureError, match="signed by"):
        CommitmentBatch.build([a, stolen]).verify(DOMAIN)
    document = CommitmentBatch.build([a]).to_dict()
    with pytest.raises(IntegrityError):
        CommitmentBatch.from_dict({**document, "root": "0x" + "11" * 32})
    with pytest.raises(InvalidInputError):
        CommitmentBatch.from_dict({**document, "version": 99})
    with pytest.raises(InvalidInputError):
        CommitmentBatch.from_dict({"version": 1})


def test_reward_tree_claims_verify_and_sum_to_the_budget():
    tree = RewardTree.build(3, 1, {ALICE.address: 5, BOB.address.lower(): 7, CAROL.address: 0})
    assert tree.budget == 12
    assert tree.amount_of(CAROL.address) == 0
    for account, amount in ((ALICE.address, 5), (BOB.address, 7)):
        claim = tree.claim_for(account)
        assert (claim.round, claim.amount) == (1, amount)
        assert verify(claim.proof, tree.root, reward_leaf(3, 1, account, amount))
    with pytest.raises(InvalidInputError):
        tree.claim_for(CAROL.address)
    empty = RewardTree.build(3, 1, {ALICE.address: 0})
    assert (empty.root, empty.budget) == (ZERO_HASH, 0)
    with pytest.raises(InvalidInputError):
        RewardTree.build(3, 1, {ALICE.address: -1})
    with pytest.raises(InvalidInputError):
        RewardTree.build(3, 1, {ALICE.address: 1, ALICE.address.lower(): 2})
    with pytest.raises(InvalidInputError):
        RewardTree.build(3, 1, {"0xnot-an-address": 1})


shares_lists = st.lists(st.integers(min_value=0, max_value=BPS), max_size=40).map(
    lambda cuts: [b - a for a, b in zip([0, *sorted(cuts)], [*sorted(cuts), BPS], strict=True)]
)


@given(shares_lists)
def test_shares_codec_round_trips(values):
    packed = encode_shares(values)
    assert len(packed) == 2 * len(values)
    assert decode_shares(packed) == values


def test_shares_are_big_endian_uint16():
    assert encode_shares([10_000]) == b"\x27\x10"
    assert encode_shares([1, 9_999]) == b"\x00\x01\x27\x0f"
    assert decode_shares(b"") == []
    with pytest.raises(InvalidInputError):
        decode_shares(b"\x00")
    with pytest.raises(InvalidInputError):
        encode_shares([10_001, -1])
    with pytest.raises(InvalidInputError):
        encode_shares([5_000, 4_999])
