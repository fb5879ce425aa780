"""IPFS content identifiers computed locally, byte-for-byte as an IPFS node would.

``cid_of(data)`` returns the CID that ``ipfs add --cid-version=1 --raw-leaves`` gives for ``data``
with the default importer settings (fixed-size chunks of 262,144 bytes, balanced DAG of at most 174
links per node, sha2-256):

- data that fits in one chunk is a single ``raw`` block, so its CID is the raw block's CID
  (``bafkrei...``);
- larger data is split into raw leaves joined by UnixFS ``File`` nodes encoded as ``dag-pb``
  (``bafybei...``).

Only the encodings that this needs are implemented: unsigned varints, protobuf fields of wire types
0 and 2, multihash sha2-256, CIDv1 binary form and multibase base32 (lower case, no padding).
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

from kernel.errors import InvalidInputError
from storage.errors import InvalidCidError

CHUNK_SIZE = 262_144
"""Bytes per leaf: the IPFS importer's default ``size-262144`` chunker."""

MAX_LINKS = 174
"""Children per DAG node: the importer's default for the balanced layout."""

CODEC_RAW = 0x55
CODEC_DAG_PB = 0x70
MULTIHASH_SHA2_256 = 0x12
_UNIXFS_FILE = 2


def varint(n: int) -> bytes:
    """Encode a non-negative integer as an unsigned LEB128 varint (multiformats, protobuf)."""
    if n < 0:
        raise InvalidInputError("varint: negative value")
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field_varint(field: int, value: int) -> bytes:
    return varint(field << 3) + varint(value)


def _field_bytes(field: int, value: bytes) -> bytes:
    return varint((field << 3) | 2) + varint(len(value)) + value


def cid_bytes(codec: int, data: bytes) -> bytes:
    """Binary CIDv1 of a block: version, codec, then the sha2-256 multihash of ``data``."""
    digest = hashlib.sha256(data).digest()
    return varint(1) + varint(codec) + varint(MULTIHASH_SHA2_256) + varint(len(digest)) + digest


def cid_string(binary: bytes) -> str:
    """Multibase base32 (``b`` prefix, lower case, unpadded) form of a binary CID."""
    return "b" + base64.b32encode(binary).decode("ascii").lower().rstrip("=")


def parse_cid(text: str) -> bytes:
    """Decode a base32 CIDv1 string into its binary form, validating its structure.

    Raises
    ------
    ValueError
        When ``text`` is not a base32 CIDv1 with a sha2-256 multihash and a raw or dag-pb codec.
    """
    if not text.startswith("b") or not text[1:].isalnum() or text[1:] != text[1:].lower():
        raise InvalidCidError(f"not a base32 CIDv1: {text!r}")
    body = text[1:].upper()
    try:
        binary = base64.b32decode(body + "=" * (-len(body) % 8))
    except ValueError as exc:
        raise InvalidCidError(f"not a base32 CIDv1: {text!r}") from exc
    codecs = (bytes([1, CODEC_RAW]), varint(1) + varint(CODEC_DAG_PB))
    header = bytes([MULTIHASH_SHA2_256, 32])
    for prefix in codecs:
        if binary.startswith(prefix) and binary[len(prefix) :].startswith(header):
            if len(binary) == len(prefix) + 2 + 32:
                return binary
    raise InvalidCidError(f"unsupported CID (want CIDv1, raw or dag-pb, sha2-256): {text!r}")


@dataclass(frozen=True)
class _Node:
    """A block of the file DAG as its parent links to it."""

    cid: bytes
    file_size: int  # bytes of file content below this node
    dag_size: int  # encoded bytes of this block and all blocks below (the link's Tsize)


def _file_node(children: list[_Node]) -> tuple[bytes, _Node]:
    """Encode a UnixFS File node over ``children`` as dag-pb; return its block and link info."""
    file_size = sum(c.file_size for c in children)
    unixfs = _field_varint(1, _UNIXFS_FILE) + _field_varint(3, file_size)
    unixfs += b"".join(_field_varint(4, c.file_size) for c in children)
    # dag-pb canonical form: every Links entry (field 2) before Data (field 1); a link holds
    # Hash (1), Name (2, empty but present) and Tsize (3).
    block = b"".join(
        _field_bytes(
            2, _field_bytes(1, c.cid) + _field_bytes(2, b"") + _field_varint(3, c.dag_size)
        )
        for c in children
    )
    block += _field_bytes(1, unixfs)
    node = _Node(
        cid=cid_bytes(CODEC_DAG_PB, block),
        file_size=file_size,
        dag_size=len(block) + sum(c.dag_size for c in children),
    )
    return block, node


def build_dag(data: bytes) -> tuple[str, dict[str, bytes]]:
    """Chunk ``data`` into the IPFS importer's balanced DAG.

    Returns
    -------
    tuple[str, dict[str, bytes]]
        The root CID string and every block of the DAG keyed by its CID string (the raw leaves and
        the dag-pb nodes), as a block store would hold them.
    """
    blocks: dict[str, bytes] = {}
    level: list[_Node] = []
    for start in range(0, max(len(data), 1), CHUNK_SIZE):
        chunk = data[start : start + CHUNK_SIZE]
        leaf = _Node(cid_bytes(CODEC_RAW, chunk), len(chunk), len(chunk))
        blocks[cid_string(leaf.cid)] = chunk
        level.append(leaf)
    while len(level) > 1:
        parents: list[_Node] = []
        for i in range(0, len(level), MAX_LINKS):
            block, node = _file_node(level[i : i + MAX_LINKS])
            blocks[cid_string(node.cid)] = block
            parents.append(node)
        level = parents
    return cid_string(level[0].cid), blocks


def cid_of(data: bytes) -> str:
    """The CID an IPFS node assigns to ``data`` (``add --cid-version=1 --raw-leaves``)."""
    if len(data) <= CHUNK_SIZE:
        return cid_string(cid_bytes(CODEC_RAW, data))
    return build_dag(data)[0]
