"""Sealed updates (fl_node.sealed): the format, who can open it, and how the checks judge it."""

from __future__ import annotations

import json
import secrets
from dataclasses import replace

import pytest
import torch
from coincurve import PublicKey

from fl_node.errors import SpecError, UpdateRejectedError
from fl_node.evidence import CommitmentRecord
from fl_node.models import ModelSpec
from fl_node.sealed import (
    SEALED_UPDATE_MAGIC,
    holder_id,
    is_sealed_update,
    open_sealed_update,
    read_sealed_update,
    seal_update,
)
from fl_node.serialization import UpdateMeta, decode_update, encode_update
from fl_node.task import TaskSpec
from fl_node.training import TrainConfig
from fl_node.validation import SEALED_NO_KEY, RoundContext, fetch_update
from kernel.types import Address
from storage import LocalCidStore, compute_cid, content_hash
from storage.errors import InvalidKeyError
from storage.sealing import public_key_of

PARTICIPANT = "0x" + "ab" * 20
COORDINATOR, AUDITOR, STRANGER = (secrets.token_bytes(32) for _ in range(3))
HOLDERS = (holder_id(public_key_of(COORDINATOR)), holder_id(public_key_of(AUDITOR)))
SHAPES = {"w": (4, 8), "b": (8,)}


def update_blob() -> bytes:
    """A real update (safetensors with metadata), random so no window repeats by chance."""
    gen = torch.Generator().manual_seed(7)
    delta = {k: torch.randn(s, generator=gen) for k, s in SHAPES.items()}
    meta = UpdateMeta(
        *(3, 2, PARTICIPANT, "0x" + "00" * 32, 17, 0.5, "fedavg"),
    )
    return encode_update(delta, meta)


def sealed(blob: bytes, holders=HOLDERS) -> bytes:
    return seal_update(blob, task_id=3, round_=2, participant=PARTICIPANT, holders=holders)


def opened(data: bytes, key: bytes, *, task=3, round_=2, participant=PARTICIPANT) -> bytes:
    return open_sealed_update(data, key, task_id=task, round_=round_, participant=participant)


def test_every_holder_opens_it_and_gets_the_plaintext_back():
    blob = update_blob()
    data = sealed(blob)
    assert is_sealed_update(data) and not is_sealed_update(blob)
    parsed = read_sealed_update(data)
    assert parsed.holders() == tuple(sorted(HOLDERS))
    assert PARTICIPANT[2:].encode() not in data  # nothing but the holders in the clear
    for key in (COORDINATOR, AUDITOR):
        assert opened(data, key) == blob
    delta, meta = decode_update(opened(data, AUDITOR), SHAPES)
    assert meta.samples == 17 and set(delta) == set(SHAPES)


def test_a_reader_without_a_key_learns_no_window_of_the_plaintext():
    blob = update_blob()
    data = sealed(blob)
    windows = {blob[i : i + 16] for i in range(len(blob) - 15)}
    stored = {data[i : i + 16] for i in range(len(data) - 15)}
    assert not windows & stored
    with pytest.raises(UpdateRejectedError):  # as an update, the sealed bytes do not decode
        decode_update(data, SHAPES)
    with pytest.raises(UpdateRejectedError) as caught:
        opened(data, STRANGER)
    assert caught.value.reason == "unreadable"
    assert sealed(blob) != data  # a fresh key and nonce every time


def test_a_key_wrapped_to_nobody_opens_for_nobody():
    data = sealed(update_blob(), holders=())
    assert read_sealed_update(data).wraps == ()
    for key in (COORDINATOR, AUDITOR):
        with pytest.raises(UpdateRejectedError, match="unreadable"):
            opened(data, key)


def test_every_changed_byte_fails_authentication_or_parsing():
    data = sealed(update_blob())
    step = max(1, len(data) // 97)
    for i in range(0, len(data), step):
        bad = bytearray(data)
        bad[i] ^= 0x01
        with pytest.raises(UpdateRejectedError) as caught:
            opened(bytes(bad), COORDINATOR)
        assert caught.value.reason == "unreadable", i


@pytest.mark.parametrize("where", [{"task": 4}, {"round_": 1}, {"participant": "0x" + "cd" * 20}])
def test_it_opens_only_for_its_task_round_and_author(where):
    data = sealed(update_blob())
    assert opened(data, COORDINATOR)
    with pytest.raises(UpdateRejectedError, match="unreadable"):
        opened(data, COORDINATOR, **where)


def test_the_header_is_bound_to_the_update():
    """Dropping a holder from a well-formed header still fails to open for the others."""
    data = sealed(update_blob())
    prefix_len = 9 + int.from_bytes(data[5:9], "big")
    doc = json.loads(data[9:prefix_len])
    del doc["wraps"][HOLDERS[1]]
    header = json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
    forged = data[:5] + len(header).to_bytes(4, "big") + header + data[prefix_len:]
    assert read_sealed_update(forged).holders() == (HOLDERS[0],)
    with pytest.raises(UpdateRejectedError, match="unreadable"):
        opened(forged, COORDINATOR)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        SEALED_UPDATE_MAGIC,
        SEALED_UPDATE_MAGIC + b"\x02" + b"\x00" * 8,
        b"FMSU\x01\xff\xff\xff\xff",
    ],
)
def test_malformed_objects_are_unreadable(data):
    with pytest.raises(UpdateRejectedError, match="unreadable"):
        read_sealed_update(data)


def test_holder_ids_are_one_canonical_form_of_any_encoding():
    compressed = public_key_of(AUDITOR)
    full = PublicKey(compressed).format(compressed=False)
    forms = [compressed, full, full[1:], compressed.hex(), "0x" + full.hex().upper()]
    assert {holder_id(f) for f in forms} == {"0x" + compressed.hex()}
    with pytest.raises(InvalidKeyError):
        holder_id(b"\x02" + b"\x00" * 32)
    with pytest.raises(InvalidKeyError):
        holder_id("0xnothex")


# ---- the spec's field ---------------------------------------------------------------------------
MODEL = ModelSpec(n_features=2, feature_mean=(0.0, 0.0), feature_std=(1.0, 1.0))


def spec(**changes):
    base = {"name": "t", "model": MODEL, "train": TrainConfig(), "rounds": 1}
    return TaskSpec(**(base | {"feature_names": ("a", "b")} | changes))


def test_a_spec_without_sealed_updates_keeps_its_bytes():
    plain = spec()
    assert "sealed_updates" not in plain.to_dict()
    assert b"sealed" not in plain.to_bytes()
    assert TaskSpec.from_bytes(plain.to_bytes()).to_bytes() == plain.to_bytes()


def test_sealed_updates_round_trip_in_canonical_form():
    given = (public_key_of(COORDINATOR).hex(), "0x" + public_key_of(AUDITOR).hex().upper())
    s = spec(sealed_updates=given)
    assert s.sealed_updates == HOLDERS
    again = TaskSpec.from_bytes(s.to_bytes())
    assert again == s and again.to_bytes() == s.to_bytes()
    assert content_hash(again.to_bytes()) != content_hash(spec().to_bytes())


@pytest.mark.parametrize("keys", [("0x1234",), ("zz",), (HOLDERS[0], HOLDERS[0].upper())])
def test_bad_or_repeated_holders_are_refused(keys):
    with pytest.raises(SpecError):
        spec(sealed_updates=keys)


# ---- the coordinator's and the audit's check ----------------------------------------------------
def commitment(blob: bytes, stored: bytes) -> CommitmentRecord:
    return CommitmentRecord(
        Address(PARTICIPANT),
        "0x" + content_hash(blob).hex(),
        17,
        compute_cid(stored),
        "batch",
        None,
    )


def context(key: bytes | None) -> RoundContext:
    return RoundContext(3, 2, "0x" + "00" * 32, SHAPES, None, HOLDERS, key)


def reason(store, record, key) -> str:
    with pytest.raises(UpdateRejectedError) as caught:
        fetch_update(store, record, context(key))
    return caught.value.reason


def test_fetch_update_checks_the_cid_then_opens_then_checks_the_plaintext(tmp_path):
    store = LocalCidStore(tmp_path)
    blob = update_blob()
    data = sealed(blob)
    store.put(data)
    record = commitment(blob, data)
    assert fetch_update(store, record, context(AUDITOR)) == blob
    assert reason(store, record, None) == SEALED_NO_KEY
    assert reason(store, record, STRANGER) == SEALED_NO_KEY  # a key the update is not sealed to
    # the commitment is keccak of the plaintext: a hash of anything else is refused
    other = replace(record, update_hash="0x" + content_hash(data).hex())
    assert reason(store, other, COORDINATOR) == "hash_mismatch"
    # a byte flipped in the store is a CID failure, found with or without a key
    path = store.path_of(record.cid)
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    path.write_bytes(bytes(raw))
    assert reason(store, record, COORDINATOR) == "cid_mismatch"
    assert reason(store, record, None) == "cid_mismatch"


def test_fetch_update_refuses_plaintext_and_missing_wraps_without_any_key(tmp_path):
    store = LocalCidStore(tmp_path)
    blob = update_blob()
    store.put(blob)
    assert reason(store, commitment(blob, blob), None) == "unsealed"
    # a plain task reads plaintext as before
    assert fetch_update(store, commitment(blob, blob)) == blob
    for holders in ((), (HOLDERS[1],), (holder_id(public_key_of(STRANGER)),)):
        data = sealed(blob, holders)
        store.put(data)
        assert reason(store, commitment(blob, data), None) == "unreadable"
        assert reason(store, commitment(blob, data), COORDINATOR) == "unreadable"
