"""Mask keys signed with the parties' on-chain keys: a relaying coordinator cannot swap them."""

from __future__ import annotations

import numpy as np
import pytest
from eth_account import Account
from eth_account.messages import encode_defunct

from fl_node.transfer import Coordinator, DomainParty, MFConfig, Ratings, TransferProtocolError
from fl_node.transfer.identity import EthKeyAuthenticator, key_statement
from fl_node.transfer.masking import KeyPair
from fl_node.transfer.messages import PublicKey, from_bytes, to_bytes
from fl_node.transfer.protocol import TargetParty, run_protocol

CONFIG = MFConfig(rank=2, epochs=3, patience=0)


def _parties(context_ok: bool = True) -> tuple[TargetParty, DomainParty, object]:
    target_key, source_key, mallory = Account.create(), Account.create(), Account.create()
    roles = {"target": target_key.address, "source": source_key.address}
    ids = np.array([1, 2, 3], dtype=np.int64)
    r = Ratings(np.array([0, 1, 2, 0]), np.array([0, 1, 0, 1]), np.array([4.0, 3.0, 5.0, 2.0]))
    t = TargetParty(
        r,
        user_ids=ids,
        n_items=2,
        train=r,
        shared_ids=ids[:2],
        config=CONFIG,
        seed=0,
        auth=EthKeyAuthenticator(target_key, roles),
    )
    s = DomainParty("source", ids, 2, r, ids[:2], CONFIG, 1, EthKeyAuthenticator(source_key, roles))
    return t, s, mallory


def test_signed_keys_agree_and_the_run_completes() -> None:
    t, s, _ = _parties()
    run = run_protocol(t, s, Coordinator(CONFIG, 2), context=b"task 7")
    assert run.steps == 3
    sent = [from_bytes(r.data) for r in run.wire.records if r.kind == "PublicKey" and r.data]
    assert all(len(m.signature) == 65 for m in sent if isinstance(m, PublicKey))


def test_a_swapped_or_replayed_key_is_refused() -> None:
    t, s, mallory = _parties()
    fake = KeyPair().public  # the coordinator's own key, offered as the target's
    statement = encode_defunct(primitive=key_statement("target", fake, b"task 7"))
    forged = bytes(mallory.sign_message(statement).signature)  # type: ignore[attr-defined]
    with pytest.raises(TransferProtocolError):
        s.agree(PublicKey("target", fake, forged), b"task 7")
    with pytest.raises(TransferProtocolError):
        s.agree(PublicKey("target", fake, b""), b"task 7")
    genuine = t.public_key(b"task 7")
    with pytest.raises(TransferProtocolError):  # signed for another task
        s.agree(genuine, b"task 8")
    with pytest.raises(TransferProtocolError):  # the target's signature on another key
        s.agree(PublicKey("target", fake, genuine.signature), b"task 7")
    s.agree(from_bytes(to_bytes(genuine)), b"task 7")  # type: ignore[arg-type]
