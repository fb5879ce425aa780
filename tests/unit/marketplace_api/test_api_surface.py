"""The API's published surface: an exact OpenAPI, offline docs pages, OPTIONS and Allow, metrics.

The app runs over mocked services here (nothing behind it is reached): what is checked is what
the HTTP layer itself answers and publishes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any
from unittest.mock import MagicMock

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from chain import new_account
from marketplace_api import Settings, create_app
from marketplace_api.api.metrics import UNMATCHED, ApiMetrics, ChainCollector
from marketplace_api.api.responses import ApiError, ApiValidationError, errors
from marketplace_api.schemas import INT64_MAX

BOUNDS = {
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
    "minProperties",
    "maxProperties",
}
METHODS = {"get", "put", "post", "delete", "patch", "options", "head", "trace"}
ERROR_SCHEMAS = {"ApiError", "ApiValidationError"}


@pytest.fixture(scope="module")
def app() -> FastAPI:
    return create_app(services=MagicMock())


@pytest.fixture(scope="module")
def document(app: FastAPI) -> dict[str, Any]:
    return app.openapi()


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as c:  # no lifespan: the mocked services are never started
        yield c


def walk(node: Any, path: str = "#") -> Iterator[tuple[str, str, Any, dict[str, Any]]]:
    """Every ``(path, key, value, parent)`` of a JSON document."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield path, key, value, node
            yield from walk(value, f"{path}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from walk(value, f"{path}/{i}")


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield path, method, operation


def schema_name(response: dict[str, Any]) -> str | None:
    ref = response.get("content", {}).get("application/json", {}).get("schema", {}).get("$ref")
    return ref.rsplit("/", 1)[-1] if isinstance(ref, str) else None


# ---- OpenAPI ------------------------------------------------------------------------------------
def test_bounds_are_integers_where_integral(document: dict[str, Any]) -> None:
    floats = [
        f"{path}/{key} = {value!r}"
        for path, key, value, parent in walk(document)
        if key in BOUNDS
        and isinstance(value, float)
        and (value.is_integer() or parent.get("type") == "integer")
    ]
    assert floats == []
    # the exact value, not 2**63 (what 9.223372036854776e18 is)
    create = document["components"]["schemas"]["DatasetCreate"]["properties"]
    assert create["row_count"]["maximum"] == INT64_MAX
    assert type(create["row_count"]["maximum"]) is int
    deadline = create["deadline"]["maximum"]
    assert deadline == 2**64 - 1 and type(deadline) is int


def test_every_operation_documents_its_errors_with_a_schema(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    assert ERROR_SCHEMAS <= set(schemas)
    assert "HTTPValidationError" not in schemas  # FastAPI's, which allows what we never send
    for path, method, operation in operations(document):
        where = f"{method.upper()} {path}"
        responses = operation["responses"]
        assert "413" in responses, where
        # every operation that uses the services behind the API (all but /metrics) may be a 503
        assert ("503" in responses) == (path != "/metrics"), where
        if operation.get("parameters") or operation.get("requestBody"):
            assert "422" in responses, where
        if operation.get("requestBody"):
            assert "400" in responses, where
        for status, response in responses.items():
            if int(status) < 400:
                continue
            name = schema_name(response)
            assert name is not None, f"{where} {status} has no schema"
            assert name in schemas, f"{where} {status}: {name} is not a component"
            if status == "422":
                assert name == "ApiValidationError", where
            elif (path, status) != ("/health", "503"):  # /health reports itself when degraded
                assert name == "ApiError", f"{where} {status}: {name}"
            assert response["description"], where


def test_error_models_are_the_bodies_the_api_sends(client: TestClient) -> None:
    invalid = client.get("/datasets/0")
    assert invalid.status_code == 422
    body = ApiValidationError.model_validate(invalid.json())
    assert body.detail[0].loc == ["path", "dataset_id"]
    too_large = client.post(
        "/datasets", content=b"x" * (2 * 1024 * 1024), headers={"content-type": "application/json"}
    )
    assert too_large.status_code == 413
    assert "larger than" in ApiError.model_validate(too_large.json()).detail
    unmatched = client.get("/no-such-path")
    assert unmatched.status_code == 404
    ApiError.model_validate(unmatched.json())


def test_security_scheme_and_the_operations_that_need_it(document: dict[str, Any]) -> None:
    scheme = document["components"]["securitySchemes"]["session"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    secured = {
        f"{method.upper()} {path}"
        for path, method, operation in operations(document)
        if operation.get("security")
    }
    assert {"GET /auth/session", "DELETE /auth/session", "PUT /models/{model_id}/content"} <= (
        secured
    )
    for path, method, operation in operations(document):
        if operation.get("security"):
            assert operation["security"] == [{"session": []}], f"{method} {path}"
            assert "401" in operation["responses"], f"{method} {path}"
    assert "GET /datasets" not in secured and "GET /health" not in secured


def test_errors_helper_declares_models_and_descriptions() -> None:
    declared = errors(404, (409, "Already listed."), 422)
    assert declared[404] == {"model": ApiError, "description": "No such resource."}
    assert declared[409] == {"model": ApiError, "description": "Already listed."}
    assert declared[422]["model"] is ApiValidationError
    app = FastAPI()

    @app.get("/things/{thing_id}", responses=errors(404))
    def read_thing(thing_id: int) -> dict[str, int]:
        return {"id": thing_id}

    from marketplace_api.api import responses

    responses.install(app)
    doc = app.openapi()
    answers = doc["paths"]["/things/{thing_id}"]["get"]["responses"]
    assert {k: schema_name(v) for k, v in answers.items() if int(k) >= 400} == {
        "404": "ApiError",
        "413": "ApiError",
        "422": "ApiValidationError",
    }


# ---- docs pages served offline ------------------------------------------------------------------
class Links(HTMLParser):
    """The URLs a page loads: script and link targets, and the spec URL its script names."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if value and name in {"src", "href", "spec-url"}:
                self.urls.append(value)

    def handle_data(self, data: str) -> None:
        self.urls += re.findall(r"url: '([^']+)'", data)


CONTENT_TYPES = {
    ".js": "text/javascript",
    ".css": "text/css",
    ".png": "image/png",
    ".json": "application/json",
}


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_pages_load_only_local_assets(client: TestClient, page: str) -> None:
    answer = client.get(page)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    html = answer.text
    assert "http://" not in html and "https://" not in html and "//cdn" not in html
    links = Links()
    links.feed(html)
    assert links.urls, "the page loads nothing"
    kinds = {url.rsplit(".", 1)[-1] for url in links.urls}
    assert {"js", "json", "png"} <= kinds
    for url in links.urls:
        assert url.startswith("/") and not url.startswith("//"), url
        asset = client.get(url)
        assert asset.status_code == 200, url
        expected = CONTENT_TYPES["." + url.rsplit(".", 1)[-1]]
        assert asset.headers["content-type"].startswith(expected), url
        assert len(asset.content) > 1000, url  # the real bundle, not a stub
    scripts = "".join(client.get(u).text for u in links.urls if u.endswith(".js"))
    assert ("SwaggerUIBundle" if page == "/docs" else "Redoc") in scripts


# ---- OPTIONS and Allow --------------------------------------------------------------------------
def allow(answer: Any) -> set[str]:
    return {m.strip() for m in answer.headers["allow"].split(",")}


def test_options_lists_each_paths_documented_methods(
    client: TestClient, document: dict[str, Any]
) -> None:
    for path, item in document["paths"].items():
        concrete = re.sub(r"\{[^}]+\}", "1", path)
        answer = client.options(concrete)
        assert answer.status_code == 204, path
        assert allow(answer) == {m.upper() for m in item if m in METHODS} | {"OPTIONS"}, path
        assert answer.content == b""


def test_unsupported_method_is_405_with_allow(client: TestClient) -> None:
    answer = client.put("/datasets")
    assert answer.status_code == 405
    assert allow(answer) == {"GET", "POST", "OPTIONS"}
    assert ApiError.model_validate(answer.json()).detail == "Method Not Allowed"
    # a literal segment is its own path: not DELETE /datasets/{dataset_id} failing on the id
    literal = client.delete("/datasets/signing-params")
    assert literal.status_code == 405
    assert allow(literal) == {"GET", "OPTIONS"}
    assert client.options("/no-such-path").status_code == 404


def test_cors_preflight_still_answered_by_cors() -> None:
    settings = Settings(
        relayer_key=new_account().key.hex(), cors_origins=["https://market.example"]
    )
    app = create_app(settings, services=MagicMock())
    with TestClient(app) as c:
        answer = c.options(
            "/datasets",
            headers={
                "Origin": "https://market.example",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type, authorization",
            },
        )
        assert answer.status_code == 200
        assert answer.headers["access-control-allow-origin"] == "https://market.example"
        assert "POST" in answer.headers["access-control-allow-methods"]
        plain = c.options("/datasets")
        assert plain.status_code == 204 and allow(plain) == {"GET", "POST", "OPTIONS"}


# ---- metrics ------------------------------------------------------------------------------------
def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_metrics_count_requests_by_route_template() -> None:
    client = TestClient(create_app(services=MagicMock()))  # counters of its own
    for dataset_id in (0, -1, 0):
        client.get(f"/datasets/{dataset_id}")
    client.get("/no-such-path")
    client.put("/datasets")
    answer = client.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    got = samples(answer.text)
    route = (("method", "GET"), ("route", "/datasets/{dataset_id}"), ("status", "422"))
    assert got[("fedmarket_http_requests_total", route)] == 3
    assert got[("fedmarket_http_request_duration_seconds_count", route)] == 3
    le_inf = tuple(sorted((*route, ("le", "+Inf"))))
    assert got[("fedmarket_http_request_duration_seconds_bucket", le_inf)] == 3
    unmatched = (("method", "GET"), ("route", UNMATCHED), ("status", "404"))
    assert got[("fedmarket_http_requests_total", unmatched)] >= 1
    refused = (("method", "PUT"), ("route", "/datasets"), ("status", "405"))
    assert got[("fedmarket_http_requests_total", refused)] == 1
    assert not any("/datasets/0" in str(key) for key in got)  # never a raw path


def test_chain_gauges_read_services_and_survive_a_dead_chain() -> None:
    services = MagicMock()
    services.backend.w3.eth.block_number = 120
    services.relay = None  # no relay guard: the balance is read from the chain
    services.backend.w3.eth.get_balance.return_value = 3 * 10**18
    metrics = ApiMetrics(services)
    head = MagicMock(block=117)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("marketplace_api.crud.index_head", lambda session, scope: head)
        got = samples(metrics.exposition().decode())
    assert got[("fedmarket_chain_block", ())] == 120
    assert got[("fedmarket_index_block", ())] == 117
    assert got[("fedmarket_index_lag_blocks", ())] == 3
    assert got[("fedmarket_relayer_balance_wei", ())] == 3 * 10**18
    assert got[("fedmarket_metrics_source_up", (("source", "chain"),))] == 1
    assert ("fedmarket_relayer_balance_floor_wei", ()) not in got

    services.relay = MagicMock()  # the relay guard's watch, with its floor, when there is one
    services.relay.balance_status.return_value = MagicMock(balance_wei=5, floor_wei=10**17)
    watched = samples(metrics.exposition().decode())
    assert watched[("fedmarket_relayer_balance_wei", ())] == 5
    assert watched[("fedmarket_relayer_balance_floor_wei", ())] == 10**17

    type(services.backend.w3.eth).block_number = property(
        lambda self: (_ for _ in ()).throw(ConnectionError("down"))
    )
    services.database.session.side_effect = OSError("database down")
    down = samples(metrics.exposition().decode())
    assert down[("fedmarket_metrics_source_up", (("source", "chain"),))] == 0
    assert down[("fedmarket_metrics_source_up", (("source", "index"),))] == 0
    assert ("fedmarket_chain_block", ()) not in down
    assert ("fedmarket_index_lag_blocks", ()) not in down
    described = {m.name for m in ChainCollector(services).describe()}  # reads nothing
    assert "fedmarket_index_lag_blocks" in described


def test_dependency_errors_reach_every_route_that_depends_on_it() -> None:
    from fastapi import Depends

    from marketplace_api.api import responses

    def limited() -> None:
        """A stand-in rate limit."""

    def gate(_: None = Depends(limited)) -> None:
        """A dependency that depends on the limit."""

    responses.declare_dependency(limited, (429, "Slow down."))
    try:
        app = FastAPI()

        @app.post("/gated", dependencies=[Depends(gate)])
        def create_gated() -> None: ...

        @app.get("/free")
        def read_free() -> None: ...

        responses.install(app)
        doc = app.openapi()
    finally:
        del responses.DEPENDENCY_ERRORS[limited]
    gated = doc["paths"]["/gated"]["post"]["responses"]
    assert gated["429"]["description"] == "Slow down."
    assert schema_name(gated["429"]) == "ApiError"
    assert "429" not in doc["paths"]["/free"]["get"]["responses"]
