"""The JSON guard: hostile bodies refused before parsing, in linear time; others pass untouched."""

from __future__ import annotations

import time
from typing import Annotated, Any

import pytest
from fastapi import Body, FastAPI
from fastapi.testclient import TestClient

from marketplace_api.api.guard import JsonGuard, JsonLimits, json_fault
from marketplace_api.main import BodySizeLimit


@pytest.mark.parametrize(
    ("text", "fault"),
    [
        (b"[" * 33 + b"]" * 33, "json_too_deep"),
        (b"[" * 200_000, "json_too_deep"),  # the request (not even closed)
        (b'{"a":' * 33 + b"1" + b"}" * 33, "json_too_deep"),
        (b'{"count": NaN}', "json_not_finite"),
        (b'{"count": Infinity}', "json_not_finite"),
        (b'{"mean": [-Infinity]}', "json_not_finite"),
        (b'{"count": 1e400}', "json_number_overflow"),
        (b'{"count": -1.5E+309}', "json_number_overflow"),
        (b"[1.8e308]", "json_number_overflow"),
        (b"[1e0400]", "json_number_overflow"),
        (b"[" + b"9" * 70 + b"e299]", "json_number_overflow"),  # a long mantissa
        (b'{"mean": [' + b"9" * 400 + b"]}", "json_number_too_long"),
        (b'{"mean": [0.' + b"1" * 79 + b"]}", "json_number_too_long"),
    ],
)
def test_unsafe_bodies_are_named(text: bytes, fault: str):
    found = json_fault(text)
    assert found is not None and found.type == fault


@pytest.mark.parametrize(
    "text",
    [
        b"[" * 32 + b"]" * 32,  # exactly the limit
        b'{"name": "' + b"[" * 10_000 + b'"}',  # brackets in a string do not nest
        b'{"name": "NaN Infinity \\" [[[["}',  # nor do words in strings
        b'{"mean": [1e308, -1.7976931348623157e308, 1e-400, 0.5, -3, 12345678901234567890]}',
        b'{"flag": true, "none": null, "off": false, "e": "1e999"}',
        b"[1.7e308, 0.00001e310, 1e-999, 5E+300]",
        b'{"nonce": %d}' % (2**256 - 1),  # every uint256 fits
        b"",
        b"not json at all",  # malformed: the parser refuses it, safely
    ],
)
def test_safe_bodies_pass(text: bytes):
    assert json_fault(text) is None


def test_limits_are_settable():
    assert json_fault(b"[[[1]]]", JsonLimits(max_depth=2)) is not None
    assert json_fault(b"[12345]", JsonLimits(max_number_chars=4)) is not None
    assert json_fault(b"[1234]", JsonLimits(max_number_chars=4)) is None


@pytest.mark.parametrize(
    "text",
    [
        b"[" * 1_000_000,
        b"1," * 500_000,
        (b"9" * 60 + b",") * 16_000,
        b'"' + b"\\" * 1_000_000,
        b"1e100," * 160_000,
    ],
)
def test_the_scan_is_linear_on_hostile_megabytes(text: bytes):
    started = time.perf_counter()
    json_fault(text)
    assert time.perf_counter() - started < 2.0


def guarded_app(max_bytes: int = 1024 * 1024) -> FastAPI:
    app = FastAPI()

    @app.post("/echo")
    def echo(body: Annotated[Any, Body()]) -> Any:
        return body

    app.add_middleware(JsonGuard)
    app.add_middleware(BodySizeLimit, max_bytes=max_bytes)
    return app


def test_refusals_have_the_shape_of_the_apis_422s():
    client = TestClient(guarded_app())
    answer = client.post(
        "/echo", content=b"[" * 200_000, headers={"content-type": "application/json"}
    )
    assert answer.status_code == 422
    assert answer.json() == {
        "detail": [
            {"loc": ["body"], "msg": "JSON nests deeper than 32 levels", "type": "json_too_deep"}
        ]
    }
    for text in (b'{"a": 1e400}', b'{"a": Infinity}', b'{"a": ' + b"1" * 400 + b"}"):
        answer = client.post("/echo", content=text)  # no content type: FastAPI parses JSON
        assert answer.status_code == 422 and answer.json()["detail"][0]["loc"] == ["body", "a"]


@pytest.mark.parametrize(
    ("text", "loc"),
    [
        (b'{"quality": {"a": 1, "accuracy": NaN}}', ("body", "quality", "accuracy")),
        (b'{"s": {"count": 1e400, "m": [1, 2]}}', ("body", "s", "count")),
        (b'{"m": [1, ' + b"9" * 400 + b"]}", ("body", "m", 1)),
        (b'{"a": [1, 2, {"b": -Infinity}], "c": NaN}', ("body", "a", 2, "b")),
        (b"[Infinity", ("body",)),  # malformed too: the body is at fault
    ],
)
def test_a_refused_number_is_located_like_pydantic_locates_fields(text: bytes, loc: tuple):
    found = json_fault(text)
    assert found is not None and found.loc == loc


def test_accepted_bodies_reach_the_route_unchanged():
    client = TestClient(guarded_app())
    body = {"name": "[[[ NaN", "mean": [1.5, -2e300], "nested": [[[[1]]]]}
    answer = client.post("/echo", json=body)
    assert answer.status_code == 200 and answer.json() == body
    assert client.get("/echo").status_code == 405  # no body: not read


def test_other_content_types_are_not_read():
    client = TestClient(guarded_app())
    answer = client.post(
        "/echo", content=b"[" * 100, headers={"content-type": "application/octet-stream"}
    )
    assert answer.status_code == 200  # FastAPI does not parse it as JSON either


def test_the_size_limit_still_answers_413_through_the_guard():
    client = TestClient(guarded_app(max_bytes=1000))

    def chunks() -> Any:  # no content-length: counted as it arrives
        for _ in range(10):
            yield b"[" * 200

    answer = client.post("/echo", content=chunks(), headers={"content-type": "application/json"})
    assert answer.status_code == 413
    assert answer.json() == {"detail": "request body larger than 1000 bytes"}
