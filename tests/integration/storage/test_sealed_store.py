"""The sealed store over each content store (the local folder and a real IPFS daemon).

What a party puts through a :class:`SealedStore` with holders is stored sealed: the CID names the
sealed bytes, a reader of the inner store finds no window of the plaintext, a holder opens it, and
anyone else (no key, another key) is told it is locked. Tampering with the stored bytes, or with
the list of holders in the header, is caught; plain objects pass through both ways.
"""

from __future__ import annotations

import json
import os
import secrets

import pytest

from storage import ContentIntegrityError, ContentTooLargeError, compute_cid, content_hash
from storage.access_log import AccessLog, LoggedStore
from storage.errors import InvalidKeyError, SealedDataError
from storage.sealed_store import (
    SealedObjectLockedError,
    SealedStore,
    holder_id,
    is_sealed_object,
    open_object,
    seal_object,
    sealed_holders,
)
from storage.sealing import public_key_of
from tests.integration.storage.conftest import Backend

ALICE, BOB, EVE = (secrets.token_bytes(32) for _ in range(3))
HOLDERS = (public_key_of(ALICE), public_key_of(BOB))


def sealing(backend: Backend, key: bytes | None = ALICE) -> SealedStore:
    return SealedStore(backend.store, holders=HOLDERS, key=key)


def test_a_sealed_put_stores_no_plaintext_and_opens_for_each_holder(backend: Backend) -> None:
    plain = os.urandom(5000)
    cid = sealing(backend).put(plain)
    stored = backend.store.get(cid)
    assert cid == compute_cid(stored) != compute_cid(plain)
    assert is_sealed_object(stored)
    assert all(plain[i : i + 16] not in stored for i in range(0, len(plain) - 16, 7))
    assert set(sealed_holders(stored)) == {holder_id(k) for k in HOLDERS}
    for key in (ALICE, BOB):
        assert SealedStore(backend.store, key=key).get(cid) == plain
    assert len(stored) - len(plain) < 700  # ~280 bytes a holder (hex JSON), 9 + 41 bytes framing


def test_no_key_or_another_key_is_locked_out(backend: Backend) -> None:
    cid = sealing(backend).put(b"the global model")
    with pytest.raises(SealedObjectLockedError, match="no key"):
        SealedStore(backend.store).get(cid)
    with pytest.raises(SealedObjectLockedError, match="2 holders"):
        SealedStore(backend.store, key=EVE).get(cid)


def test_json_goes_through_sealed(backend: Backend) -> None:
    store = sealing(backend)
    cid = store.put_json({"round": 3, "accepted": ["0xabc"]})
    assert store.get_json(cid) == {"round": 3, "accepted": ["0xabc"]}
    with pytest.raises(ValueError):
        json.loads(backend.store.get(cid))


def test_tampered_sealed_bytes_fail_their_cid(backend: Backend) -> None:
    data = seal_object(b"evidence " * 50, HOLDERS)
    backend.store.put(data)
    backend.tamper(data)
    with pytest.raises(ContentIntegrityError):
        sealing(backend).get(compute_cid(data))


def test_a_changed_list_of_holders_does_not_open(backend: Backend) -> None:
    """Dropping a holder from the header (re-stored under a new CID) breaks the envelope."""
    data = seal_object(b"evidence", HOLDERS)
    header_end = 9 + int.from_bytes(data[5:9], "big")
    header = json.loads(data[9:header_end])
    del header["wraps"][holder_id(HOLDERS[1])]
    new_header = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    forged = data[:5] + len(new_header).to_bytes(4, "big") + new_header + data[header_end:]
    cid = backend.store.put(forged)
    with pytest.raises(SealedDataError):
        SealedStore(backend.store, key=ALICE).get(cid)


def test_plain_objects_pass_through_both_ways(backend: Backend) -> None:
    reader = SealedStore(backend.store, key=ALICE)  # no holders: puts are stored as given
    cid = reader.put(b"a task spec")
    assert backend.store.get(cid) == b"a task spec" == reader.get(cid)


def test_a_verify_after_an_unverified_get_passes_the_opened_plaintext_only(
    backend: Backend,
) -> None:
    store = sealing(backend)
    plain = b"model bytes " * 20
    cid = store.put(plain)
    got = store.get(cid, verify=False)
    assert got == plain
    store.verify(cid, got)  # the sealed bytes were checked when read
    with pytest.raises(ContentIntegrityError):
        store.verify(cid, plain + b"!")


def test_max_bytes_bounds_the_plaintext(backend: Backend) -> None:
    store = sealing(backend)
    cid = store.put(os.urandom(3000))
    assert len(store.get(cid, max_bytes=3000)) == 3000
    with pytest.raises(ContentTooLargeError):
        store.get(cid, max_bytes=2999)


def test_reads_through_a_logged_store_are_logged_by_cid(backend: Backend, tmp_path) -> None:
    log = AccessLog(tmp_path / "log")
    logged = LoggedStore(backend.store, log, actor="auditor", purpose="task 1 audit")
    cid = SealedStore(logged, holders=HOLDERS, key=BOB).put(b"evidence")
    assert SealedStore(logged, key=ALICE).get(cid) == b"evidence"
    assert [(e.action, e.cid) for e in log.entries()][-2:] == [("put", cid), ("get", cid)]


def test_malformed_objects_and_keys_are_refused() -> None:
    with pytest.raises(InvalidKeyError):
        seal_object(b"x", [])
    with pytest.raises(InvalidKeyError):
        seal_object(b"x", ["0x1234"])
    for bad in (
        b"FMSO",
        b"FMSO\x02" + bytes(8),
        b"FMSO\x01\x00\x00\x00\x09{}",
        b"FMSO\x01" + b"\xff" * 4,
    ):
        with pytest.raises(SealedDataError):
            sealed_holders(bad)
    data = seal_object(b"x", HOLDERS)
    assert content_hash(open_object(data, BOB)) == content_hash(b"x")
    with pytest.raises(InvalidKeyError):
        open_object(data, b"short")
