"""One test class for every content store; each backend subclasses it with a ``store`` fixture."""

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


class ContentStoreContract:
    """Behaviour every :class:`ContentStore` must have."""

    def test_put_returns_the_ipfs_cid_and_get_round_trips(self, store):
        data = os.urandom(1000)
        cid = store.put(data)
        assert cid == compute_cid(data)
        assert store.has(cid)
        assert store.get(cid) == data

    def test_put_is_idempotent(self, store):
        assert store.put(b"same") == store.put(b"same")

    def test_large_object_spans_several_blocks(self, store):
        data = os.urandom(700_000)
        cid = store.put(data)
        assert cid.startswith("bafybei")
        assert store.get(cid) == data

    def test_missing_object(self, store):
        cid = compute_cid(b"never stored " + os.urandom(8))
        assert not store.has(cid)
        with pytest.raises(ContentNotFoundError):
            store.get(cid)

    def test_malformed_cid_is_rejected(self, store):
        with pytest.raises(InvalidCidError):
            store.get("../../etc/passwd")

    def test_json_round_trip_is_canonical(self, store):
        cid = store.put_json({"b": 1, "a": [1, 2]})
        assert store.get_json(cid) == {"a": [1, 2], "b": 1}
        assert cid == compute_cid(b'{"a":[1,2],"b":1}')

    def test_size_limit(self, store):
        cid = store.put(bytes(2048))
        with pytest.raises(ContentTooLargeError):
            store.get(cid, max_bytes=1024)
        with pytest.raises(ContentIntegrityError):  # the family callers already catch
            store.get(cid, max_bytes=2047)
        assert store.get(cid, max_bytes=2048) == bytes(2048)

    def test_pin_unpin_pinned(self, store):
        a, b = store.put(b"pinned a " + os.urandom(8)), store.put(b"pinned b " + os.urandom(8))
        before = store.pinned()
        assert a not in before and b not in before  # put alone does not pin
        assert store.pin(a) == a
        assert store.pin(a) == a  # twice is a no-op
        store.pin(b)
        assert store.pinned() == before | {a, b}
        assert store.unpin(a) is True
        assert store.unpin(a) is False
        assert store.pinned() == before | {b}
        assert store.get(a)  # unpinned objects stay until a garbage collection
        store.unpin(b)
        assert store.pinned() == before

    def test_pin_of_a_missing_object(self, store):
        missing = compute_cid(b"never stored " + os.urandom(8))
        with pytest.raises(ContentNotFoundError):
            store.pin(missing)
        assert missing not in store.pinned()
        with pytest.raises(InvalidCidError):
            store.pin("not-a-cid")


class TestLocalCidStore(ContentStoreContract):
    @pytest.fixture
    def store(self, tmp_path):
        return LocalCidStore(tmp_path / "store")

    def test_tampered_bytes_fail_verification(self, store):
        cid = store.put(b"original update")
        store.path_of(cid).write_bytes(b"poisoned update")
        with pytest.raises(ContentIntegrityError):
            store.get(cid)
        # unverified read returns what is on disk, for callers that check an on-chain hash first
        assert store.get(cid, verify=False) == b"poisoned update"

    def test_pins_lie_beside_the_objects(self, store):
        cid = store.put(b"kept")
        store.pin(cid)
        assert (store.root / ".pins" / cid).is_file()
        (store.root / ".pins" / "junk").touch()  # not a CID: ignored
        assert store.pinned() == {cid}
        assert LocalCidStore(store.root).pinned() == {cid}  # another process sees them


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
