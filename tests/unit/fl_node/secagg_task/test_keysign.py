"""Signed key advertisements (fl_node.secagg_task.keysign): what a member accepts from the relay."""

from __future__ import annotations

import numpy as np
import pytest

from chain import new_account
from fl_node.secagg import SecAggClient
from fl_node.secagg.messages import AdvertiseKeys, KeyList, decode
from fl_node.secagg.params import SecAggParams
from fl_node.secagg_task.errors import KeySubstitutionError
from fl_node.secagg_task.keysign import (
    SIGNATURE_BYTES,
    check_key_list,
    sign_advertise,
    signed_key_list,
    verified_advertisements,
)
from fl_node.secagg_task.transcript import group_config

WHERE = (7, 2, 0)
ACCOUNTS = [new_account() for _ in range(3)]
ROSTER = [a.address for a in ACCOUNTS]


def advertised() -> tuple[list[tuple[int, bytes]], bytes]:
    """Each member's signed advertisement, and the signed key list an honest relay sends."""
    config = group_config(7, 2, 0, 3, 5, SecAggParams(group_size=3), b"\x01" * 32)
    posted = []
    for i, account in enumerate(ACCOUNTS):
        plain = SecAggClient(config, i, np.zeros(config.length)).advertise()
        posted.append((i, sign_advertise(account, WHERE, i, plain)))
    kept = verified_advertisements(WHERE, ROSTER, posted)
    listed = KeyList(2, tuple(decode(a, AdvertiseKeys) for _, (a, _) in sorted(kept.items())))
    signatures = {i: s for i, (_, s) in kept.items()}
    return posted, signed_key_list(listed.to_bytes(), signatures)


def test_an_honest_relay_passes_and_the_plain_key_list_comes_back() -> None:
    _, broadcast = advertised()
    key_list = check_key_list(WHERE, ROSTER, broadcast)
    assert broadcast == key_list + broadcast[len(key_list) :]
    assert len(broadcast) - len(key_list) == 3 * SIGNATURE_BYTES


@pytest.mark.parametrize(
    "tamper",
    [
        lambda b: b[:-SIGNATURE_BYTES],  # a signature missing
        lambda b: b[:-1] + bytes([b[-1] ^ 1]),  # a signature changed
        lambda b: b[:30] + bytes([b[30] ^ 1]) + b[31:],  # a listed key changed
        lambda b: b[:12],  # truncated
    ],
    ids=["missing", "forged-signature", "swapped-key", "truncated"],
)
def test_a_tampered_key_list_is_refused(tamper) -> None:  # noqa: ANN001
    _, broadcast = advertised()
    with pytest.raises(KeySubstitutionError):
        check_key_list(WHERE, ROSTER, tamper(broadcast))


def test_another_round_or_roster_does_not_verify() -> None:
    _, broadcast = advertised()
    with pytest.raises(KeySubstitutionError):
        check_key_list((7, 3, 0), ROSTER, broadcast)  # replayed into the next round
    with pytest.raises(KeySubstitutionError):
        check_key_list(WHERE, [ROSTER[0], ROSTER[2], ROSTER[1]], broadcast)
    with pytest.raises(KeySubstitutionError, match="outside the group"):
        check_key_list(WHERE, ROSTER[:2], broadcast)


def test_the_relay_keeps_only_each_index_own_signed_advertisement() -> None:
    posted, _ = advertised()
    stolen = (1, posted[2][1])  # member 2's message posted as index 1
    unsigned = (0, posted[0][1][:-SIGNATURE_BYTES] + bytes(SIGNATURE_BYTES))
    kept = verified_advertisements(WHERE, ROSTER, [unsigned, stolen, posted[2], posted[2]])
    assert sorted(kept) == [2]
