"""``POST /models/{id}/content/browser``: the key wrapped to a browser key the wallet signed for.

Over SQLite and PostgreSQL and the in-process chain. A licensed buyer's browser key (P-256) gets
the content key, and the envelope opens with it; a session alone (a stolen token) does not: the
signature must be the session's account's over exactly this key, item and expiry. Every refusal
is a 4xx naming what is wrong and carries no key material.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from eth_account import Account
from eth_account.messages import encode_defunct
from fastapi.testclient import TestClient

from marketplace_api.content import ArtifactRef, browser_key_context, browser_key_message
from storage import content_hash
from storage.sealing import open_sealed, unwrap_key_p256
from tests.integration.marketplace_api.market_world import ChainWorld
from tests.integration.marketplace_api.test_content_routes import PRICE, listed, signed_in


class BrowserKey:
    """A P-256 key pair, as the page's WebCrypto would hold it."""

    def __init__(self) -> None:
        secret = ec.generate_private_key(ec.SECP256R1())
        self.scalar = secret.private_numbers().private_value.to_bytes(32, "big")
        raw = secret.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
        self.raw = raw
        self.hex = "0x" + raw.hex()


def sign(account: Any, text: str) -> str:
    return (
        "0x" + bytes(Account.sign_message(encode_defunct(text=text), account.key).signature).hex()
    )


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def message(api: TestClient, token: str, model_id: int, key: str, expires: int | None) -> Any:
    params: dict[str, Any] = {"public_key": key}
    if expires is not None:
        params["expires"] = expires
    path = f"/models/{model_id}/content/browser-message"
    return api.get(path, params=params, headers=auth(token))


def post(api: TestClient, token: str, model_id: int, body: dict[str, Any]) -> Any:
    return api.post(f"/models/{model_id}/content/browser", json=body, headers=auth(token))


def body_for(account: Any, text: str, key: BrowserKey, expires: int) -> dict[str, Any]:
    return {"public_key": key.hex, "expires": expires, "signature": sign(account, text)}


@pytest.fixture
def bought(world: ChainWorld, api: TestClient) -> dict[str, Any]:
    """A listed model, uploaded by its sponsor and bought by a signed-in buyer."""
    task, model_id, data = listed(world)
    buyer = world.funded()
    world.tokens(buyer, PRICE, world.deployment.market)
    world.market(buyer).buy(model_id, PRICE)
    signed_in(api, task.sponsor).upload_content("model", model_id, data)
    client = signed_in(api, buyer)
    return {"model_id": model_id, "data": data, "buyer": buyer, "token": client.token,
            "sponsor": task.sponsor}  # fmt: skip


def test_the_wallet_signed_browser_key_gets_the_key_and_opens_the_envelope(
    world: ChainWorld, api: TestClient, bought: dict[str, Any]
) -> None:
    model_id, buyer, token = bought["model_id"], bought["buyer"], bought["token"]
    key = BrowserKey()
    answer = message(api, token, model_id, key.hex.upper().replace("0X", "0x"), None)
    assert answer.status_code == 200, answer.text
    shown = answer.json()
    ref = ArtifactRef("model", world.backend.chain_id, world.deployment.market, model_id)
    expected_text = browser_key_message(buyer.address, ref, key.raw, shown["expires"])
    assert shown["message"] == expected_text and shown["public_key"] == key.hex
    assert shown["account"] == buyer.address
    assert 0 < shown["expires"] - time.time() <= 600
    assert expected_text.splitlines() == [
        "fedmarket browser key",
        f"Account: {buyer.address}",
        f"Item: model {model_id} on chain {ref.chain_id} at {ref.contract}",
        f"Key: {key.hex}",
        f"Expires: {shown['expires']}",
    ]

    granted = post(api, token, model_id, body_for(buyer, shown["message"], key, shown["expires"]))
    assert granted.status_code == 200, granted.text
    assert granted.headers["cache-control"] == "no-store"
    grant = granted.json()
    assert grant["wrap"] == "p256-browser-v1" and grant["recipient"] == buyer.address
    assert grant["public_key"] == key.hex and grant["purpose"] == ref.purpose
    context = browser_key_context(ref, buyer.address)
    assert grant["key_context"] == context == ref.key_context(buyer.address) + ":browser"
    content_key = unwrap_key_p256(bytes.fromhex(grant["wrapped_key"][2:]), key.scalar,
                                  context=context)  # fmt: skip
    envelope = api.get(f"/models/{model_id}/content/envelope", headers=auth(token)).content
    plaintext = open_sealed(envelope, content_key, purpose=ref.purpose)
    assert plaintext == bought["data"]
    assert grant["content_hash"] == "0x" + content_hash(plaintext).hex()


def test_a_stolen_session_without_the_accounts_signature_gets_nothing(
    world: ChainWorld, api: TestClient, bought: dict[str, Any]
) -> None:
    model_id, buyer, token = bought["model_id"], bought["buyer"], bought["token"]
    key, thief_key = BrowserKey(), BrowserKey()
    expires = int(time.time()) + 300
    ref = ArtifactRef("model", world.backend.chain_id, world.deployment.market, model_id)
    text = browser_key_message(buyer.address, ref, key.raw, expires)
    thief = world.funded()
    signed_text = {
        # the thief signs the right text with its own key
        "another key": body_for(thief, text, key, expires),
        # the buyer's signature for one browser key, replayed for the thief's key
        "another browser key": {**body_for(buyer, text, key, expires), "public_key": thief_key.hex},
        # ... or with a later expiry
        "another expiry": {**body_for(buyer, text, key, expires), "expires": expires + 60},
        # ... or for another item
        "another item": body_for(
            buyer, text.replace(f"model {model_id} ", "model 1 "), key, expires
        ),  # fmt: skip
        # the buyer signed for an account that is not the session's
        "another account": body_for(
            buyer, browser_key_message(thief.address, ref, key.raw, expires), key, expires
        ),
    }
    for case, body in signed_text.items():
        refused = post(api, token, model_id, body)
        assert refused.status_code == 403, (case, refused.text)
        assert "wrapped_key" not in refused.text and "signature" in refused.json()["detail"]

    # session of the thief with the buyer's valid signature: the thief holds no licence, and the
    # text names the buyer, not the session's account
    thief_token = signed_in(api, thief).token
    refused = post(api, thief_token, model_id, body_for(buyer, text, key, expires))
    assert refused.status_code == 403 and "wrapped_key" not in refused.text
    assert post(api, token, model_id, body_for(buyer, text, key, expires)).status_code == 200


def test_an_unlicensed_account_gets_no_key_even_with_its_own_signature(
    world: ChainWorld, api: TestClient, bought: dict[str, Any]
) -> None:
    model_id = bought["model_id"]
    key, expires = BrowserKey(), int(time.time()) + 300
    ref = ArtifactRef("model", world.backend.chain_id, world.deployment.market, model_id)
    for account in (world.funded(), bought["sponsor"]):  # a stranger; the seller holds none
        token = signed_in(api, account).token
        text = browser_key_message(account.address, ref, key.raw, expires)
        refused = post(api, token, model_id, body_for(account, text, key, expires))
        assert refused.status_code == 403, refused.text
        assert "no licence" in refused.json()["detail"] and "wrapped_key" not in refused.text
    body = body_for(bought["buyer"], "x", key, expires)
    anonymous = TestClient(api.app).post(f"/models/{model_id}/content/browser", json=body)
    assert anonymous.status_code == 401


def loc_of(answer: Any) -> list[Any]:
    assert answer.status_code == 422, answer.text
    return [error["loc"] for error in answer.json()["detail"]]


def test_bad_expiry_point_and_signature_are_422_naming_the_field(
    world: ChainWorld, api: TestClient, bought: dict[str, Any]
) -> None:
    model_id, buyer, token = bought["model_id"], bought["buyer"], bought["token"]
    key, now = BrowserKey(), int(time.time())
    ref = ArtifactRef("model", world.backend.chain_id, world.deployment.market, model_id)

    def signed(expires: int, point: str = key.hex) -> dict[str, Any]:
        raw = bytes.fromhex(point[2:])
        text = browser_key_message(buyer.address, ref, raw, expires)
        return {"public_key": point, "expires": expires, "signature": sign(buyer, text)}

    for expires in (now - 1, now - 3600, now + 3700, 0):
        assert loc_of(post(api, token, model_id, signed(expires))) == [["body", "expires"]]
        assert loc_of(message(api, token, model_id, key.hex, expires)) == [["query", "expires"]]
    off_curve = "0x" + (key.raw[:-1] + bytes([key.raw[-1] ^ 1])).hex()
    not_uncompressed = "0x05" + key.hex[4:]
    for point in (off_curve, not_uncompressed, "0x04" + "00" * 64):
        assert loc_of(post(api, token, model_id, signed(now + 60, point))) == [
            ["body", "public_key"]
        ]
        assert loc_of(message(api, token, model_id, point, None)) == [["query", "public_key"]]
    for point in ("0x04", key.hex[2:], key.hex + "00", "0x" + "zz" * 65):
        assert loc_of(message(api, token, model_id, point, None)) == [["query", "public_key"]]
        body = {**signed(now + 60), "public_key": point}
        assert loc_of(post(api, token, model_id, body)) == [["body", "public_key"]]
    bad_v = signed(now + 60)
    bad_v["signature"] = bad_v["signature"][:-2] + "05"
    assert loc_of(post(api, token, model_id, bad_v)) == [["body", "signature"]]
    short = {**signed(now + 60), "signature": "0x1234"}
    assert loc_of(post(api, token, model_id, short)) == [["body", "signature"]]
    assert loc_of(post(api, token, model_id, {**signed(now + 60), "extra": 1})) == [
        ["body", "extra"]
    ]


def test_datasets_have_the_same_path(world: ChainWorld, api: TestClient) -> None:
    account, key = world.funded(), BrowserKey()
    token = signed_in(api, account).token
    answer = api.get("/datasets/10000/content/browser-message", params={"public_key": key.hex},
                     headers=auth(token))  # fmt: skip
    assert answer.status_code == 200, answer.text
    shown = answer.json()
    assert f"Item: dataset 10000 on chain {world.backend.chain_id} at " in shown["message"]
    assert world.deployment.registry in shown["message"]
    body = body_for(account, shown["message"], key, shown["expires"])
    missing = api.post("/datasets/10000/content/browser", json=body, headers=auth(token))
    assert missing.status_code == 404, missing.text  # no such listing: the contract says so
