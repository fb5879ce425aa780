"""EIP-4361 messages through siwe: built and signed by a client, parsed strictly by the service."""

from __future__ import annotations

import time
import warnings

import pytest
from eth_account import Account

from marketplace_api.auth import MAX_MESSAGE_CHARS, build_message, parse_message, sign_challenge
from marketplace_api.auth.messages import STATEMENT, iso8601, new_nonce, unix_time
from marketplace_api.errors import FieldError
from storage.sealing import public_key_of, recover_public_key

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from siwe import SiweMessage

NOW = 1_800_000_000


def challenge(**overrides: object) -> dict[str, object]:
    values: dict[str, object] = {
        "nonce": new_nonce(),
        "domain": "market.example",
        "uri": "https://market.example",
        "chain_id": 31337,
        "statement": STATEMENT,
        "session_expires_at": NOW + 3600,
    }
    values.update(overrides)
    return values


def test_a_signed_challenge_parses_back_to_its_fields() -> None:
    account = Account.create()
    body = sign_challenge(account, challenge(), now=NOW)
    message = parse_message(body["message"])
    assert (message.domain, message.address, message.chain_id) == (
        "market.example",
        account.address,
        31337,
    )
    assert unix_time(message.issued_at) == NOW
    assert unix_time(message.expiration_time) == NOW + 3600
    signature = bytes.fromhex(body["signature"][2:])
    assert recover_public_key(body["message"], signature) == public_key_of(bytes(account.key))


def test_nonces_are_fresh_and_alphanumeric() -> None:
    nonces = {new_nonce() for _ in range(200)}
    assert len(nonces) == 200
    assert all(n.isalnum() and len(n) >= 8 for n in nonces)


def test_iso8601_round_trips() -> None:
    assert iso8601(NOW) == "2027-01-15T08:00:00.000Z"
    assert unix_time(iso8601(NOW)) == NOW


@pytest.mark.parametrize(
    "mangle",
    [
        lambda m: m + "\n",
        lambda m: m.replace("Version: 1", "Version:  1"),
        lambda m: m.replace("\n\nURI:", "\nURI:"),
        lambda m: m.replace("\n", "\r\n"),
    ],
)
def test_only_the_canonical_form_is_accepted(mangle: object) -> None:
    text = build_message(challenge(), Account.create().address, now=NOW)
    assert parse_message(text).prepare_message() == text
    with pytest.raises(FieldError) as exc:
        parse_message(mangle(text))  # type: ignore[operator]
    assert exc.value.errors[0]["loc"] == ["body", "message"]


@pytest.mark.parametrize("text", ["", "hello", "\x00" * 100, "{}" * 10])
def test_anything_else_is_a_field_error(text: str) -> None:
    with pytest.raises(FieldError):
        parse_message(text)


def test_a_long_message_is_refused_before_parsing() -> None:
    long = build_message(challenge(statement="a" * MAX_MESSAGE_CHARS), Account.create().address,
                         now=NOW)  # fmt: skip
    began = time.perf_counter()
    with pytest.raises(FieldError, match="longer than"):
        parse_message(long)
    assert time.perf_counter() - began < 0.01


def test_parsing_the_longest_message_is_quick() -> None:
    """The regex parser is linear (the ABNF parser takes 0.46 s at 2.6 kB, 19.6 s at 16 kB)."""
    address = Account.create().address
    statement = "a" * (MAX_MESSAGE_CHARS - 400)
    text = build_message(challenge(statement=statement), address, now=NOW)
    assert len(text) <= MAX_MESSAGE_CHARS
    began = time.perf_counter()
    for _ in range(20):
        parse_message(text)
    assert (time.perf_counter() - began) / 20 < 0.02


def test_the_regex_parser_agrees_with_the_abnf_parser_on_valid_messages() -> None:
    for statement in (STATEMENT, None, "Buy models, sign nothing else."):
        text = build_message(challenge(statement=statement), Account.create().address, now=NOW)
        by_abnf = SiweMessage.from_message(text, abnf=True)
        assert parse_message(text).model_dump() == by_abnf.model_dump()


def test_a_challenge_that_makes_no_message_is_refused() -> None:
    with pytest.raises(FieldError):
        build_message(challenge(domain="a/b"), Account.create().address, now=NOW)
    with pytest.raises(FieldError):
        build_message({"nonce": "x"}, Account.create().address, now=NOW)
