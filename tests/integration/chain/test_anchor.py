"""On-chain anchors, the same tests over the in-process chain and anvil.

An anchor is a zero-value transaction to oneself tagged ``FMAN``; verifying it re-reads the
transaction, so any field of the record changed (root, kind, sender, block, chain) is refused,
and a transaction that is not an anchor is not taken for one.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest

from chain.anchor import (
    ANCHOR_MAGIC,
    AnchorRecord,
    anchor,
    anchor_kind,
    decode_anchor,
    encode_anchor,
    verify_anchor,
)
from chain.backends import ChainBackend, InProcessBackend, RpcBackend
from chain.errors import AnchorMismatchError, AnchorNotFoundError
from chain.keys import new_account
from chain.signer import Signer, fund, signer_for
from kernel.errors import InvalidInputError
from kernel.types import Address

KIND = anchor_kind("test.anchor")


@pytest.fixture(params=["in-process", pytest.param("anvil", marks=pytest.mark.slow)])
def backend(request: pytest.FixtureRequest) -> Iterator[ChainBackend]:
    if request.param == "in-process":
        yield InProcessBackend()
    else:
        yield RpcBackend(request.getfixturevalue("anvil_url"))


@pytest.fixture
def signer(backend: ChainBackend) -> Signer:
    account = new_account()
    fund(backend, account.address, 10**17)
    return signer_for(backend, account)


def test_the_calldata_is_the_tag_the_kind_and_the_root() -> None:
    root = bytes(range(32))
    data = encode_anchor(KIND, root)
    assert data == b"FMAN" + b"\x01" + b"test.anchor" + b"\0" * 21 + root
    assert decode_anchor(data) == (KIND, root)
    with pytest.raises(AnchorMismatchError):
        decode_anchor(b"FMAN\x02" + KIND + root)
    with pytest.raises(InvalidInputError):
        encode_anchor(KIND, b"short")
    with pytest.raises(InvalidInputError):
        anchor_kind("x" * 33)


def test_an_anchor_verifies_and_gives_its_block_time(backend: ChainBackend, signer: Signer) -> None:
    root = b"\xab" * 32
    record = anchor(signer, KIND, root)
    assert record.sender == signer.address and record.root == root
    assert record.chain_id == backend.chain_id
    stamp = verify_anchor(backend, record)
    assert stamp == int(backend.w3.eth.get_block(record.block)["timestamp"])
    assert AnchorRecord.from_dict(record.to_dict()) == record
    tx = backend.w3.eth.get_transaction(record.tx_hash)  # type: ignore[arg-type]
    assert tx["to"] == tx["from"] == signer.address and int(tx["value"]) == 0
    assert bytes(tx["input"]).startswith(ANCHOR_MAGIC)


def test_every_changed_field_is_refused(backend: ChainBackend, signer: Signer) -> None:
    record = anchor(signer, KIND, b"\x01" * 32)
    other = new_account().address
    for changed in (
        replace(record, root=b"\x02" * 32),
        replace(record, kind=anchor_kind("another")),
        replace(record, sender=Address(other)),
        replace(record, block=record.block + 1),
        replace(record, chain_id=record.chain_id + 1),
    ):
        with pytest.raises(AnchorMismatchError):
            verify_anchor(backend, changed)
    with pytest.raises(AnchorNotFoundError):
        verify_anchor(backend, replace(record, tx_hash="0x" + "12" * 32))


def test_a_plain_transfer_is_not_an_anchor(backend: ChainBackend, signer: Signer) -> None:
    sent = signer.send_value(signer.address, 0)
    fake = AnchorRecord(sent.tx_hash, sent.block_number, Address(signer.address), KIND,
                        b"\x01" * 32, backend.chain_id)  # fmt: skip
    with pytest.raises(AnchorMismatchError):
        verify_anchor(backend, fake)
    paid = signer.send_value(new_account().address, 1, data=encode_anchor(KIND, b"\x01" * 32))
    with pytest.raises(AnchorMismatchError, match="not a transaction to oneself"):
        verify_anchor(backend, replace(fake, tx_hash=paid.tx_hash, block=paid.block_number))
