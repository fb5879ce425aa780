"""The HTTP client's error handling, against a mock transport."""

from __future__ import annotations

import httpx
import pytest

from kernel.errors import FedmarketError
from marketplace_api import MarketplaceApiError, MarketplaceClient, MarketplaceConnectionError


def client_answering(status: int, body: object | None = None, text: str = "") -> MarketplaceClient:
    def handler(request: httpx.Request) -> httpx.Response:
        if body is not None:
            return httpx.Response(status, json=body)
        return httpx.Response(status, text=text)

    return MarketplaceClient(
        "http://api", http=httpx.Client(transport=httpx.MockTransport(handler))
    )


def test_error_detail_is_carried() -> None:
    api = client_answering(409, {"detail": "this metadata is already listed as dataset 2"})
    with pytest.raises(MarketplaceApiError) as exc:
        api.dataset(2)
    assert isinstance(exc.value, FedmarketError)
    assert exc.value.status == 409
    assert exc.value.detail == "this metadata is already listed as dataset 2"
    assert exc.value.fields == []


def test_field_errors_are_listed() -> None:
    detail = [{"loc": ["body", "signature"], "msg": "bad", "type": "value_error"}]
    with pytest.raises(MarketplaceApiError) as exc:
        client_answering(422, {"detail": detail}).models()
    assert exc.value.fields == [("body", "signature")]


def test_non_json_errors() -> None:
    with pytest.raises(MarketplaceApiError) as exc:
        client_answering(502, text="<html>bad gateway</html>").health()
    assert exc.value.status == 502 and "bad gateway" in exc.value.detail


def test_unreachable() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    api = MarketplaceClient("http://api/", http=httpx.Client(transport=httpx.MockTransport(refuse)))
    with pytest.raises(MarketplaceConnectionError) as exc:
        api.task(1)
    assert exc.value.status == 0


def test_requests_go_where_expected() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(200, json={"items": [], "total": 0, "limit": 5, "offset": 0})

    api = MarketplaceClient(
        "http://api/", http=httpx.Client(transport=httpx.MockTransport(handler))
    )
    assert api.datasets(owner=None, tag="medical", limit=5) == []
    assert seen == ["http://api/datasets?tag=medical&limit=5"]
