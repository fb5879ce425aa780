"""The local store's own behaviour, and the store's pure helpers.

What every store must do is one shared test class in tests/integration/storage/test_stores.py,
run over this store and an IPFS daemon.
"""

import os
import time

import pytest

from storage import (
    ContentIntegrityError,
    ContentNotFoundError,
    ContentTooLargeError,
    InvalidCidError,
    LocalCidStore,
    canonical_json,
    compute_cid,
    content_hash,
)
from storage.base import MAX_JSON_DEPTH, json_too_deep


@pytest.fixture
def store(tmp_path):
    return LocalCidStore(tmp_path / "store")


def test_a_put_writes_one_file_named_by_the_cid(store):
    data = os.urandom(700_000)
    cid = store.put(data)
    assert store.path_of(cid).read_bytes() == data
    assert [p.name for p in store.root.iterdir()] == [cid]  # no temporary file left behind


def test_tampered_bytes_fail_verification(store):
    cid = store.put(b"original update")
    store.path_of(cid).write_bytes(b"poisoned update")
    with pytest.raises(ContentIntegrityError):
        store.get(cid)
    # unverified read returns what is on disk, for callers that check an on-chain hash first
    assert store.get(cid, verify=False) == b"poisoned update"


def test_too_large_is_refused_from_the_file_size(store, monkeypatch):
    cid = store.put(bytes(2048))
    monkeypatch.setattr(type(store.path_of(cid)), "read_bytes", lambda self: pytest.fail("read"))
    with pytest.raises(ContentTooLargeError):
        store.get(cid, max_bytes=1024)


def test_pins_lie_beside_the_objects(store):
    cid = store.put(b"kept")
    assert store.pinned() == frozenset()  # no pins folder yet
    store.pin(cid)
    assert (store.root / ".pins" / cid).is_file()
    (store.root / ".pins" / "junk").touch()  # not a CID: ignored
    assert store.pinned() == {cid}
    assert LocalCidStore(store.root).pinned() == {cid}  # another process sees them
    with pytest.raises(ContentNotFoundError):
        store.pin(compute_cid(b"absent"))
    with pytest.raises(InvalidCidError):
        store.unpin("../kept")


def test_content_hash_is_keccak256():
    # keccak256("") is the well-known c5d2...a470
    assert content_hash(b"").hex() == (
        "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
    )


def test_canonical_json_rejects_nan():
    with pytest.raises(ValueError):
        canonical_json({"x": float("nan")})


def deep(n: int) -> bytes:
    return b"[" * n + b"]" * n


@pytest.mark.parametrize(
    ("text", "too_deep"),
    [
        (b"1", False),
        (deep(MAX_JSON_DEPTH), False),
        (deep(MAX_JSON_DEPTH + 1), True),
        (b'{"a":' * (MAX_JSON_DEPTH + 1) + b"1" + b"}" * (MAX_JSON_DEPTH + 1), True),
        (deep(100) * 50, False),  # wide, not deep
        (b"[" + b'"[[[[",' * 300 + b"1]", False),  # brackets inside strings do not count
        (b"[" + rb'"\"[[[[",' * 300 + b"1]", False),  # nor after an escaped quote
        (b"[" + rb'"a\\",' * 10 + b"[" * 200, True),  # an escaped backslash ends the string
        (b'["never closed ' + b"[" * 500, False),  # left for the parser to refuse
    ],
)
def test_json_too_deep(text: bytes, too_deep: bool):
    assert json_too_deep(text) is too_deep


def test_json_too_deep_is_linear_on_hostile_text():
    started = time.monotonic()
    for text in (b"[" * 8_000_000, b'["' + rb"\"" * 4_000_000, b"[" + b'"a",[],' * 1_000_000):
        json_too_deep(text)
    assert time.monotonic() - started < 5


def test_get_json_refuses_deep_documents_before_parsing(tmp_path):
    import eth_account  # noqa: F401  (py_ecc raises the recursion limit to 100,000 on import)

    store = LocalCidStore(tmp_path)
    cid = store.put(b"[" * 200_000 + b"]" * 200_000)  # deep enough to crash the C parser
    with pytest.raises(ContentIntegrityError, match="nests deeper"):
        store.get_json(cid)
    assert store.get_json(store.put(deep(MAX_JSON_DEPTH))) is not None
