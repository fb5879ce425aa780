"""A party served other bytes than the chain anchors fires a breach alert, then refuses them."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from fl_node.errors import ModelIntegrityError
from fl_node.participant import fetch_verified
from kernel.alerts import COMMAND_ENV, WEBHOOK_ENV
from storage import LocalCidStore, content_hash


def test_a_model_that_does_not_match_its_anchor_alerts_then_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "alert.json"
    script = f"import sys; open({str(target)!r}, 'wb').write(sys.stdin.buffer.read())"
    monkeypatch.delenv(WEBHOOK_ENV, raising=False)
    monkeypatch.setenv(COMMAND_ENV, f"{sys.executable} -c {json.dumps(script)}")
    store = LocalCidStore(tmp_path / "cas")
    cid = store.put(b"the global model of round 3")
    assert fetch_verified(store, cid, content_hash(b"the global model of round 3"), "model")
    assert not target.exists()  # the genuine bytes alert nobody
    with pytest.raises(ModelIntegrityError, match="do not match the on-chain hash"):
        fetch_verified(store, cid, content_hash(b"what the chain anchored"), "global model")
    alert = json.loads(target.read_text())
    assert (alert["kind"], alert["source"]) == ("integrity_failure", "fl_node.participant")
    assert cid in alert["detail"] and "global model" in alert["detail"]
