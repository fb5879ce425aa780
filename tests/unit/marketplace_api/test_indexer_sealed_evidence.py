"""The indexer meets a task whose evidence is sealed: a status that says so, and no crash."""

from __future__ import annotations

import secrets

from marketplace_api.indexer._documents import EVIDENCE, fetch_evidence
from storage import LocalCidStore
from storage.sealed_store import SealedStore
from storage.sealing import public_key_of


def test_sealed_evidence_is_recorded_as_sealed_not_read(tmp_path):
    store = LocalCidStore(tmp_path)
    holder = public_key_of(secrets.token_bytes(32))
    cid = SealedStore(store, holders=[holder]).put_json({"version": 1, "round": 1})
    record = fetch_evidence(store, cid)
    assert (record.kind, record.status, record.body) == (EVIDENCE, "invalid", None)
    assert record.error is not None and record.error.startswith("sealed")
