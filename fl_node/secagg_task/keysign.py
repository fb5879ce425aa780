"""Signed key advertisements: the coordinator relays a group's keys but cannot swap them.

SecAgg's pairwise masks and share envelopes are keyed by the X25519 keys each member advertises,
and the coordinator relays those keys. A coordinator that hands a member its own key in place of
a peer's shares a key with that member, opens the envelopes of the member's shares and strips its
masks: it learns that member's update (the active attack Bonawitz et al. answer with signatures
under a PKI). Here every member already has one: its Ethereum account, and the group's roster
(the round's public partition of the sampled participants) names each index's address.

- A member signs its ``ADVERTISE`` message (EIP-191) bound to the task, round, group and its
  index (:func:`key_message`) and appends the 65-byte signature.
- The coordinator keeps the advertisements whose signature recovers to the roster's address for
  their index (at most one each: a participant posting under another's index is dropped), gives
  the plain messages to the protocol's server, and broadcasts the key list followed by one
  signature per listed key, in the list's order (:func:`signed_key_list`).
- Before sharing anything, each member checks every listed key against the roster
  (:func:`check_key_list`): a missing, extra or forged signature, or a key under an index that is
  not in the group, is :class:`KeySubstitutionError`; the member then stops taking part in the
  round (its update is never shared nor masked) and fires an ``unexpected_key_use`` alert.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Sequence
from typing import Final

from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount
from eth_keys.exceptions import BadSignature
from eth_utils.exceptions import ValidationError

from fl_node.secagg import SecAggError
from fl_node.secagg.crypto import KEY_BYTES
from fl_node.secagg.messages import AdvertiseKeys, KeyList, decode
from fl_node.secagg_task.errors import KeySubstitutionError
from kernel.alerts import raise_alert

log = logging.getLogger(__name__)

SIGNATURE_BYTES: Final = 65
_HEADER_BYTES: Final = 10
ADVERTISE_BYTES: Final = _HEADER_BYTES + 2 * KEY_BYTES
"""Length of a plain ``ADVERTISE`` message (a signed one is :data:`SIGNATURE_BYTES` longer)."""
_ENTRY_BYTES: Final = 4 + 2 * KEY_BYTES

PREFIX: Final = b"fedmarket:secagg-keys:v1:"


def key_message(task: int, round_: int, group: int, index: int, advertise: bytes) -> bytes:
    """What a member signs: where its keys belong, then its ``ADVERTISE`` bytes."""
    return PREFIX + f"{task}:{round_}:{group}:{index}:".encode() + advertise


def sign_advertise(
    account: LocalAccount, where: tuple[int, int, int], index: int, advertise: bytes
) -> bytes:
    """``advertise`` followed by the member's signature of :func:`key_message`.

    Parameters
    ----------
    account : LocalAccount
        The member's account (the roster names its address).
    where : tuple of int
        The task, round and group.
    index : int
        The member's index in its group.
    advertise : bytes
        Its plain ``ADVERTISE`` message.
    """
    message = encode_defunct(primitive=key_message(*where, index, advertise))
    return advertise + bytes(account.sign_message(message).signature)


def _signer(where: tuple[int, int, int], index: int, advertise: bytes, signature: bytes) -> str:
    """The address that signed ``advertise`` for ``index`` (empty when it does not recover)."""
    message = encode_defunct(primitive=key_message(*where, index, advertise))
    try:
        return str(Account.recover_message(message, signature=signature)).lower()
    except (ValueError, TypeError, ValidationError, BadSignature):  # a junk signature
        return ""


def verified_advertisements(
    where: tuple[int, int, int], roster: Sequence[str], payloads: Sequence[tuple[int, bytes]]
) -> dict[int, tuple[bytes, bytes]]:
    """The signed advertisements that hold, by index: the plain message and its signature.

    Parameters
    ----------
    where : tuple of int
        The task, round and group.
    roster : sequence of str
        The group's addresses, by index.
    payloads : sequence of (int, bytes)
        What was posted: the claimed sender index and the signed message.
    """
    kept: dict[int, tuple[bytes, bytes]] = {}
    for sender, payload in payloads:
        advertise, signature = payload[:-SIGNATURE_BYTES], payload[-SIGNATURE_BYTES:]
        try:
            index = decode(advertise, AdvertiseKeys).sender
        except SecAggError:
            index = -1
        ok = 0 <= index < len(roster) and index == sender and index not in kept
        if ok and _signer(where, index, advertise, signature) == roster[index].lower():
            kept[index] = (advertise, signature)
        else:
            log.warning("secagg %s: an advertisement for index %d is not its own", where, sender)
    return kept


def signed_key_list(key_list: bytes, signatures: dict[int, bytes]) -> bytes:
    """The key list followed by each listed key's signature, in the list's order."""
    listed = decode(key_list, KeyList)
    return key_list + b"".join(signatures[k.sender] for k in listed.keys)


def split_key_list(broadcast: bytes) -> tuple[bytes, bytes]:
    """The key list and the signatures after it (none in an unsigned round).

    Raises
    ------
    KeySubstitutionError
        Too short to hold the key list it announces.
    """
    if len(broadcast) < _HEADER_BYTES + 4:
        raise KeySubstitutionError("the key list is truncated")
    (count,) = struct.unpack_from("<I", broadcast, _HEADER_BYTES)
    end = _HEADER_BYTES + 4 + count * _ENTRY_BYTES
    if end > len(broadcast):
        raise KeySubstitutionError("the key list is truncated")
    return broadcast[:end], broadcast[end:]


def check_key_list(where: tuple[int, int, int], roster: Sequence[str], broadcast: bytes) -> bytes:
    """The key list of ``broadcast`` once every key in it is signed by its roster address.

    Parameters
    ----------
    where : tuple of int
        The task, round and group.
    roster : sequence of str
        The group's addresses, by index.
    broadcast : bytes
        What the coordinator posted: the key list and the signatures.

    Raises
    ------
    KeySubstitutionError
        A key whose signature is missing, forged, or for an index outside the roster (an
        ``unexpected_key_use`` breach alert is fired first).
    """
    key_list, signatures = split_key_list(broadcast)
    listed = decode(key_list, KeyList).keys
    problem = ""
    if len(signatures) != len(listed) * SIGNATURE_BYTES:
        problem = f"{len(signatures)} signature bytes for {len(listed)} keys"
    for i, key in enumerate(listed):
        signature = signatures[i * SIGNATURE_BYTES : (i + 1) * SIGNATURE_BYTES]
        inside = 0 <= key.sender < len(roster)
        if problem or not inside:
            problem = problem or f"a key for index {key.sender}, outside the group"
            break
        if _signer(where, key.sender, key.to_bytes(), signature) != roster[key.sender].lower():
            problem = f"the key of index {key.sender} is not signed by {roster[key.sender]}"
            break
    if problem:
        detail = f"secagg task {where[0]} round {where[1]} group {where[2]}: {problem}"
        raise_alert("unexpected_key_use", detail, source=__name__)
        raise KeySubstitutionError(detail)
    return key_list


__all__ = [
    "ADVERTISE_BYTES",
    "SIGNATURE_BYTES",
    "check_key_list",
    "key_message",
    "sign_advertise",
    "signed_key_list",
    "split_key_list",
    "verified_advertisements",
]
