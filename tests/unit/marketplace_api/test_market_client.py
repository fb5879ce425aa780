"""The HTTP client's error handling and what it signs, against a mock transport."""

from __future__ import annotations

import json

import httpx
import pytest

from chain import new_account, recover_listing_signer
from kernel.errors import FedmarketError
from marketplace_api import MarketplaceApiError, MarketplaceClient, MarketplaceConnectionError
from marketplace_api.listing import metadata_document, recover_model_lister
from marketplace_api.schemas import DatasetBase, ModelBase
from storage import compute_cid


def client_answering(status: int, body: object | None = None, text: str = "") -> MarketplaceClient:
    def handler(request: httpx.Request) -> httpx.Response:
        if body is not None:
            return httpx.Response(status, json=body)
        return httpx.Response(status, text=text)

    client = MarketplaceClient(
        "http://api", http=httpx.Client(transport=httpx.MockTransport(handler))
    )
    client.token = "fms_test"  # signed in already: the tests' accounts are set per test
    return client


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


REGISTRY = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
FED_TASK = "0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0"
MARKET = "0xDc64a140Aa3E981100a9becA4E685f962f0cF6C9"


def recording_client(sent: list[tuple[str, dict[str, object]]]) -> MarketplaceClient:
    """A client whose server hands out signing parameters and echoes what was posted."""

    def handler(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/datasets/signing-params":
            return httpx.Response(
                200, json={"chain_id": 31337, "registry": REGISTRY, "nonce": 4, "deadline": 99}
            )
        if path == "/models/signing-params":
            return httpx.Response(
                200, json={"chain_id": 31337, "fed_task": FED_TASK, "market": MARKET}
            )
        body = json.loads(request.content)
        sent.append((path, body))
        return httpx.Response(201, json=body)

    client = MarketplaceClient(
        "http://api", http=httpx.Client(transport=httpx.MockTransport(handler))
    )
    client.token = "fms_test"  # signed in already: the tests' accounts are set per test
    return client


def test_list_dataset_signs_mode_price_and_nonce() -> None:
    sent: list[tuple[str, dict[str, object]]] = []
    account = new_account()
    metadata = {
        "name": "clinic",
        "schema": [{"name": "x", "dtype": "float"}],
        "row_count": 3,
        "license": "CC0-1.0",
    }
    client = recording_client(sent)
    client.signed_in_as = account.address
    client.list_dataset(account, metadata, access_mode="downloadable", price_wei=10**18, wait=None)
    [(path, body)] = sent
    assert path == "/datasets"
    assert (body["access_mode"], body["price_wei"], body["nonce"], body["deadline"]) == (
        "downloadable",
        str(10**18),
        4,
        99,
    )
    assert body["downloadable"] is True and body["owner"] == account.address
    base = DatasetBase.model_validate(metadata | {"owner": account.address, "downloadable": True})
    request = metadata_document(base).request(
        account.address, nonce=4, deadline=99, access_mode="downloadable", price=10**18
    )
    signature = bytes.fromhex(str(body["signature"])[2:])
    assert recover_listing_signer(31337, REGISTRY, request, signature) == account.address


def test_list_model_binds_the_market() -> None:
    sent: list[tuple[str, dict[str, object]]] = []
    account = new_account()
    card = compute_cid(b"card")
    client = recording_client(sent)
    client.signed_in_as = account.address
    client.list_model(account, task_id=3, name="m", card_cid=card)
    [(path, body)] = sent
    assert path == "/models" and body["price_wei"] is None and body["signer"] == account.address
    fields = ModelBase.model_validate({"task_id": 3, "name": "m", "card_cid": card})
    domain = {"chain_id": 31337, "fed_task": FED_TASK, "market": MARKET}
    assert recover_model_lister(fields, str(body["signature"]), **domain) == account.address
