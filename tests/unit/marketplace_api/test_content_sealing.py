"""Content keys at rest (the master-key vault) and the buyer's side of a download."""

from __future__ import annotations

import os

import pytest
from eth_account import Account

from marketplace_api.content import (
    ArtifactRef,
    GrantMismatchError,
    KeyVault,
    VaultError,
    check_grant,
    open_grant,
)
from storage import compute_cid, content_hash
from storage.errors import SealedDataError
from storage.sealing import public_key_of, seal_artifact, wrap_key

MARKET = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
REF = ArtifactRef(kind="model", chain_id=31337, contract=MARKET, item_id=7)


def test_names_bind_the_chain_contract_item_and_buyer() -> None:
    other = ArtifactRef(kind="model", chain_id=1, contract=MARKET, item_id=7)
    dataset = ArtifactRef(kind="dataset", chain_id=31337, contract=MARKET, item_id=7)
    assert len({REF.purpose, other.purpose, dataset.purpose}) == 3
    assert REF.key_context("0xA") != REF.key_context("0xB")
    assert REF.vault_context("bafkA") != REF.vault_context("bafkB")


def test_the_vault_opens_what_it_sealed_and_only_in_its_context() -> None:
    vault = KeyVault(os.urandom(32))
    key = os.urandom(32)
    sealed = vault.seal_key(key, context=REF.vault_context("bafk1"))
    assert key not in sealed
    assert vault.open_key(sealed, key_id=vault.key_id, context=REF.vault_context("bafk1")) == key
    with pytest.raises(VaultError, match="damaged or moved"):
        vault.open_key(sealed, key_id=vault.key_id, context=REF.vault_context("bafk2"))
    tampered = bytearray(sealed)
    tampered[-1] ^= 1
    with pytest.raises(VaultError):
        vault.open_key(bytes(tampered), key_id=vault.key_id, context=REF.vault_context("bafk1"))


def test_another_master_key_is_reported_by_id_never_by_value() -> None:
    master = os.urandom(32)
    old, new = KeyVault(master), KeyVault(os.urandom(32))
    sealed = old.seal_key(os.urandom(32), context="c")
    with pytest.raises(VaultError, match=old.key_id) as exc:
        new.open_key(sealed, key_id=old.key_id, context="c")
    assert master.hex() not in str(exc.value) and master.hex() not in repr(old)


def test_a_master_key_is_32_bytes() -> None:
    with pytest.raises(ValueError):
        KeyVault(b"short")


def grant_for(buyer: str, public_key: bytes, plaintext: bytes) -> tuple[dict[str, object], bytes]:
    sealed = seal_artifact(plaintext, purpose=REF.purpose)
    wrapped = wrap_key(sealed.key, public_key, context=REF.key_context(buyer))
    grant: dict[str, object] = {
        "kind": REF.kind,
        "chain_id": REF.chain_id,
        "contract": REF.contract,
        "id": REF.item_id,
        "recipient": buyer,
        "cid": compute_cid(sealed.envelope),
        "wrapped_key": "0x" + wrapped.hex(),
    }
    return grant, sealed.envelope


def test_the_buyer_opens_its_grant_and_gets_the_hashed_bytes() -> None:
    buyer = Account.create()
    plaintext = os.urandom(5000)
    grant, envelope = grant_for(buyer.address, public_key_of(bytes(buyer.key)), plaintext)
    opened = open_grant(
        grant,
        envelope,
        bytes(buyer.key),
        expected=REF,
        recipient=buyer.address,
        expected_hash=content_hash(plaintext),
    )
    assert opened == plaintext


def test_a_wrapped_key_unwraps_only_with_the_buyers_key() -> None:
    buyer, thief = Account.create(), Account.create()
    plaintext = b"model bytes"
    grant, envelope = grant_for(buyer.address, public_key_of(bytes(buyer.key)), plaintext)
    with pytest.raises(SealedDataError):
        open_grant(
            grant,
            envelope,
            bytes(thief.key),
            expected=REF,
            recipient=buyer.address,
            expected_hash=content_hash(plaintext),
        )


@pytest.mark.parametrize(
    ("field", "value"),
    [("id", 8), ("chain_id", 1), ("kind", "dataset"), ("recipient", MARKET), ("contract", "0x0")],
)
def test_a_grant_for_another_item_or_buyer_is_refused(field: str, value: object) -> None:
    buyer = Account.create()
    grant, _ = grant_for(buyer.address, public_key_of(bytes(buyer.key)), b"x")
    grant[field] = value
    with pytest.raises(GrantMismatchError):
        check_grant(grant, REF, buyer.address)


def test_an_envelope_other_than_granted_or_a_wrong_hash_is_refused() -> None:
    buyer = Account.create()
    plaintext = b"the final model"
    grant, envelope = grant_for(buyer.address, public_key_of(bytes(buyer.key)), plaintext)
    _, other_envelope = grant_for(buyer.address, public_key_of(bytes(buyer.key)), plaintext)
    common = {"expected": REF, "recipient": buyer.address}
    with pytest.raises(GrantMismatchError, match="not the CID granted"):
        open_grant(grant, other_envelope, bytes(buyer.key), **common,  # type: ignore[arg-type]
                   expected_hash=content_hash(plaintext))  # fmt: skip
    with pytest.raises(GrantMismatchError, match="recorded on-chain"):
        open_grant(grant, envelope, bytes(buyer.key), **common,  # type: ignore[arg-type]
                   expected_hash=content_hash(b"another model"))  # fmt: skip
    with pytest.raises(GrantMismatchError, match="no wrapped_key"):
        open_grant({k: v for k, v in grant.items() if k != "wrapped_key"}, envelope,
                   bytes(buyer.key), **common, expected_hash=b"")  # type: ignore[arg-type]  # fmt: skip
