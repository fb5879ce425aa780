"""CIDs computed locally against an independent implementation and IPFS's own values."""

import hashlib
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from multiformats import CID, multihash

from storage import InvalidCidError, compute_cid, validate_cid
from storage._cid import CHUNK_SIZE, build_dag, varint


def reference_raw_cid(data: bytes) -> str:
    digest = multihash.wrap(hashlib.sha256(data).digest(), "sha2-256")
    return str(CID("base32", 1, "raw", digest))


@given(st.binary(max_size=4096))
@settings(max_examples=200)
def test_single_block_cid_matches_multiformats(data):
    assert compute_cid(data) == reference_raw_cid(data)


def test_known_ipfs_cids():
    # `ipfs add --cid-version=1 --raw-leaves` of the empty file and of "hello world".
    assert compute_cid(b"") == "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"
    assert compute_cid(b"hello world") == (
        "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e"
    )


def test_chunk_boundary():
    exactly_one = bytes(CHUNK_SIZE)
    assert compute_cid(exactly_one).startswith("bafkrei")  # still a single raw block
    two = bytes(CHUNK_SIZE + 1)
    root, blocks = build_dag(two)
    assert root.startswith("bafybei")  # a dag-pb root over raw leaves
    assert len(blocks) == 3  # two distinct leaves + the root
    assert compute_cid(two) == root


def test_varint():
    assert varint(0) == b"\x00"
    assert varint(127) == b"\x7f"
    assert varint(128) == b"\x80\x01"
    assert varint(300) == b"\xac\x02"
    with pytest.raises(ValueError):
        varint(-1)


@pytest.mark.parametrize(
    "bad",
    ["", "Qmabc", "bafkrei", "BAFKREIHDWDCEFGH4DQKJV67UZCMW7OJEE6XEDZDETOJUZJEVTENXQUVYKU", "b!!"],
)
def test_validate_cid_rejects_malformed(bad):
    with pytest.raises(InvalidCidError):
        validate_cid(bad)


def test_validate_cid_accepts_both_codecs():
    assert validate_cid(compute_cid(b"x"))
    assert validate_cid(compute_cid(bytes(CHUNK_SIZE * 2)))


def _deterministic_bytes(n: int) -> bytes:
    rng = random.Random(n)
    if n < 1_000_000:
        return bytes(rng.getrandbits(8) for _ in range(n))
    return rng.randbytes(n)


# Root CIDs returned by a real IPFS node (js-ipfs 0.66 / ipfs-core 0.18.1, HTTP RPC
# `/api/v0/add?cid-version=1&raw-leaves=true`) for the bytes `_deterministic_bytes(n)`.
IPFS_NODE_CIDS = {
    11: "bafkreihh5oz4ztdvrz7yrh7t5hjrxusldfqmlbncfyqqdijtuerzelhham",
    262_144: "bafkreidmfkctt5hqtxxnhp3i5m2ddxxvjc6xebqbm2z6x6fkt5p4wnt3di",
    262_145: "bafybeidbtrk2ahxbkj7hf57ny6oxttfuy53aan64wz7mlkkfhiw2zewuvq",
    700_000: "bafybeigonpcjspfrzhb2ayrktz3mn2qrt4bzybejy2fsqb2cg4nalbwypa",
    # 174 chunks: one full node; 175 chunks: a second level of the balanced DAG
    45_613_056: "bafybeih3ebhydpblov22wbakszm4spvku7hbo3oa5gdhgoh7gnub26mtx4",
    45_875_200: "bafybeiavhaifylapbn3myj4sudi6cjualwvcowgw7ehjvwocfshot7jyjq",
}


@pytest.mark.parametrize("size", sorted(IPFS_NODE_CIDS))
def test_cid_matches_a_real_ipfs_node(size):
    assert compute_cid(_deterministic_bytes(size)) == IPFS_NODE_CIDS[size]
