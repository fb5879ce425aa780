"""Sign-In with Ethereum against the API: nonces, messages, signatures, sessions, sign-out.

Each test runs over SQLite and PostgreSQL (the ``database`` fixture). The service's clock is a
:class:`FakeClock` the tests move, so expiry is checked without waiting.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount
from fastapi.testclient import TestClient
from sqlalchemy import select

from marketplace_api import Services, create_app
from marketplace_api.auth import SignInPolicy, SignInService, build_message, sign_challenge
from marketplace_api.auth.tables import SignInNonce, SignInSession
from marketplace_api.core.db import Database
from storage.sealing import public_key_of
from tests.integration.marketplace_api.market_world import ChainWorld

NONCE_TTL = 120
SESSION_TTL = 600


@dataclass
class FakeClock:
    """Unix time that only moves when a test says so."""

    now: float = field(default_factory=time.time)

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def http(world: ChainWorld, database: Database, clock: FakeClock) -> Iterator[TestClient]:
    policy = SignInPolicy(nonce_ttl=NONCE_TTL, session_ttl=SESSION_TTL, clock=clock)
    services = Services.embedded(
        backend=world.backend,
        deployment=world.deployment,
        relayer=world.relayer,
        store=world.store,
        database=database,
        index_interval=None,
        sign_in=SignInService(policy),
    )
    with TestClient(create_app(services=services)) as client:
        yield client


def challenge(http: TestClient) -> dict[str, Any]:
    answer = http.get("/auth/nonce")
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    result: dict[str, Any] = answer.json()
    return result


def signed(account: LocalAccount, challenge: dict[str, Any], clock: FakeClock) -> dict[str, str]:
    return sign_challenge(account, challenge, now=clock())


def sign_text(account: LocalAccount, text: str) -> dict[str, str]:
    signature = account.sign_message(encode_defunct(text=text)).signature
    return {"message": text, "signature": "0x" + bytes(signature).hex()}


def sign_in(http: TestClient, account: LocalAccount, clock: FakeClock) -> str:
    answer = http.post("/auth/verify", json=signed(account, challenge(http), clock))
    assert answer.status_code == 200, answer.text
    return str(answer.json()["token"])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def refused(answer: Any, fragment: str) -> None:
    assert answer.status_code == 401, answer.text
    assert answer.headers["www-authenticate"].startswith("Bearer")
    assert fragment in answer.json()["detail"]


def test_a_signed_challenge_opens_a_session_with_the_signers_key(
    http: TestClient, clock: FakeClock, world: ChainWorld
) -> None:
    account = Account.create()
    issued = challenge(http)
    assert (issued["domain"], issued["uri"]) == ("testserver", "http://testserver")
    assert issued["chain_id"] == world.backend.chain_id
    assert issued["expires_at"] == int(clock()) + NONCE_TTL
    answer = http.post("/auth/verify", json=signed(account, issued, clock))
    assert answer.status_code == 200, answer.text
    session = answer.json()
    assert session["address"] == account.address
    assert session["token"].startswith("fms_") and session["token_type"] == "bearer"
    assert session["expires_at"] == int(clock()) + SESSION_TTL
    assert bytes.fromhex(session["public_key"][2:]) == public_key_of(bytes(account.key))
    me = http.get("/auth/session", headers=bearer(session["token"]))
    assert me.json() == {k: session[k] for k in ("address", "public_key", "expires_at")}


def test_the_token_is_stored_only_as_its_hash(
    http: TestClient, clock: FakeClock, database: Database
) -> None:
    token = sign_in(http, Account.create(), clock)
    with database.session() as db:
        rows = db.scalars(select(SignInSession)).all()
    digest = hashlib.sha256(token.encode()).hexdigest()
    assert digest in {r.token_hash for r in rows}
    assert all(token not in repr(vars(r)) for r in rows)


def test_a_replayed_message_is_refused(http: TestClient, clock: FakeClock) -> None:
    body = signed(Account.create(), challenge(http), clock)
    assert http.post("/auth/verify", json=body).status_code == 200
    refused(http.post("/auth/verify", json=body), "already used")


def test_a_nonce_signs_in_once_even_in_another_message(http: TestClient, clock: FakeClock) -> None:
    account, issued = Account.create(), challenge(http)
    assert http.post("/auth/verify", json=signed(account, issued, clock)).status_code == 200
    clock.advance(1)  # another issue time: another message, the same nonce
    refused(http.post("/auth/verify", json=signed(account, issued, clock)), "already used")


def test_a_nonce_the_service_never_issued_is_refused(http: TestClient, clock: FakeClock) -> None:
    forged = {**challenge(http), "nonce": "n0tIssuedByUs42"}
    refused(http.post("/auth/verify", json=signed(Account.create(), forged, clock)), "unknown")


def test_an_expired_message_is_refused(http: TestClient, clock: FakeClock) -> None:
    issued = {**challenge(http), "session_expires_at": int(clock()) - 1}
    refused(http.post("/auth/verify", json=signed(Account.create(), issued, clock)), "expired")


def test_an_expired_nonce_is_refused(http: TestClient, clock: FakeClock) -> None:
    issued = challenge(http)
    clock.advance(NONCE_TTL + 1)  # the message itself is still valid: only the nonce lapsed
    refused(http.post("/auth/verify", json=signed(Account.create(), issued, clock)), "expired")


def test_a_message_issued_in_the_future_is_refused(http: TestClient, clock: FakeClock) -> None:
    body = sign_challenge(Account.create(), challenge(http), now=clock() + 3600)
    refused(http.post("/auth/verify", json=body), "future")


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"domain": "evil.example"}, "signs in to 'evil.example'"),
        ({"uri": "http://evil.example/login"}, "URI is not on http://testserver"),
        ({"uri": "https://testserver"}, "URI is not on"),
        ({"chain_id": 1}, "for chain 1"),
    ],
)
def test_a_message_for_another_service_or_chain_is_refused(
    http: TestClient, clock: FakeClock, change: dict[str, Any], fragment: str
) -> None:
    issued = {**challenge(http), **change}
    refused(http.post("/auth/verify", json=signed(Account.create(), issued, clock)), fragment)


def test_a_message_for_another_scheme_is_refused(http: TestClient, clock: FakeClock) -> None:
    account = Account.create()
    text = build_message(challenge(http), account.address, now=clock())
    refused(http.post("/auth/verify", json=sign_text(account, "https://" + text)), "scheme")


def test_a_signature_by_another_account_is_refused_and_burns_no_nonce(
    http: TestClient, clock: FakeClock
) -> None:
    victim, attacker = Account.create(), Account.create()
    issued = challenge(http)
    text = build_message(issued, victim.address, now=clock())
    refused(http.post("/auth/verify", json=sign_text(attacker, text)), "not by the message")
    # the forged attempt consumed nothing: the victim still signs in with that nonce
    assert http.post("/auth/verify", json=sign_text(victim, text)).status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        {"message": "hello", "signature": "0x" + "11" * 65},
        {"message": "x" * 5000, "signature": "0x" + "11" * 65},
        {"message": "x", "signature": "0x1234"},
        {"message": "x"},
        {"message": "x", "signature": "0x" + "11" * 65, "extra": 1},
    ],
)
def test_what_is_not_a_sign_in_is_a_422(http: TestClient, body: dict[str, Any]) -> None:
    assert http.post("/auth/verify", json=body).status_code == 422


def test_a_non_canonical_message_is_a_422(http: TestClient, clock: FakeClock) -> None:
    account = Account.create()
    text = build_message(challenge(http), account.address, now=clock()) + "\n"
    answer = http.post("/auth/verify", json=sign_text(account, text))
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"] == ["body", "message"]


def test_a_malformed_signature_is_refused(http: TestClient, clock: FakeClock) -> None:
    text = build_message(challenge(http), Account.create().address, now=clock())
    answer = http.post("/auth/verify", json={"message": text, "signature": "0x" + "00" * 65})
    assert answer.status_code in (401, 422)
    assert "token" not in answer.text


def test_a_session_ends_at_its_expiry(http: TestClient, clock: FakeClock) -> None:
    token = sign_in(http, Account.create(), clock)
    clock.advance(SESSION_TTL - 1)
    assert http.get("/auth/session", headers=bearer(token)).status_code == 200
    clock.advance(1)
    refused(http.get("/auth/session", headers=bearer(token)), "expired")


def test_a_session_never_outlives_its_message(http: TestClient, clock: FakeClock) -> None:
    issued = {**challenge(http), "session_expires_at": int(clock()) + 60}
    answer = http.post("/auth/verify", json=signed(Account.create(), issued, clock))
    assert answer.json()["expires_at"] == int(clock()) + 60
    clock.advance(60)
    refused(http.get("/auth/session", headers=bearer(answer.json()["token"])), "expired")


def test_sign_out_ends_the_session_at_once(http: TestClient, clock: FakeClock) -> None:
    account = Account.create()
    token, other = sign_in(http, account, clock), sign_in(http, account, clock)
    assert http.delete("/auth/session", headers=bearer(token)).status_code == 204
    refused(http.get("/auth/session", headers=bearer(token)), "signed out")
    refused(http.delete("/auth/session", headers=bearer(token)), "signed out")
    assert http.get("/auth/session", headers=bearer(other)).status_code == 200  # only that one


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer fms_not-a-session"},
        {"Authorization": "Bearer "},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "fms_no-scheme"},
    ],
)
def test_without_a_valid_session_the_answer_is_401(
    http: TestClient, headers: dict[str, str]
) -> None:
    refused(http.get("/auth/session", headers=headers), "sign")


def test_expired_nonces_and_sessions_are_purged(
    http: TestClient, clock: FakeClock, database: Database
) -> None:
    sign_in(http, Account.create(), clock)
    challenge(http)
    clock.advance(SESSION_TTL + 1)
    challenge(http)  # issuing a nonce purges what expired
    with database.session() as db:
        assert db.scalars(select(SignInSession)).all() == []
        assert len(db.scalars(select(SignInNonce)).all()) == 1


def test_post_nonce_and_the_openapi_security_scheme(http: TestClient) -> None:
    assert http.post("/auth/nonce").status_code == 201
    spec = http.get("/openapi.json").json()
    assert spec["components"]["securitySchemes"]["session"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "opaque session token (fms_...)",
        "description": "A session token from POST /auth/verify (Sign-In with Ethereum, EIP-4361).",
    }
    for path, method in [
        ("/auth/session", "get"),
        ("/auth/session", "delete"),
        ("/models/{model_id}/content", "get"),
        ("/models/{model_id}/content", "put"),
        ("/datasets/{dataset_id}/content", "get"),
    ]:
        assert spec["paths"][path][method]["security"] == [{"session": []}], (path, method)
    assert "security" not in spec["paths"]["/auth/nonce"]["get"]
