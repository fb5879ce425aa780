"""The one exception-to-HTTP mapping, exercised on a bare app with routes that raise."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import requests
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError, OperationalError

from chain import ChainConnectionError, ChainRevertError, DeploymentError, TransactionFailedError
from kernel import errors as kernel_errors
from marketplace_api.api import errors
from marketplace_api.errors import (
    CidMismatchError,
    ConflictError,
    FieldError,
    ForbiddenError,
    NotFoundError,
    ServiceUnavailableError,
)
from storage import ContentNotFoundError

OWNER = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"


def answer(exc: Exception) -> tuple[int, object]:
    app = FastAPI()
    errors.install(app)

    def boom() -> None:
        raise exc

    app.add_api_route("/boom", boom, methods=["GET"])
    response = TestClient(app, raise_server_exceptions=False).get("/boom")
    return response.status_code, response.json()


CASES: list[tuple[Callable[[], Exception], int, object]] = [
    (lambda: NotFoundError("dataset 3 is not listed"), 404, "dataset 3 is not listed"),
    (lambda: ConflictError("already"), 409, "already"),
    (lambda: ForbiddenError("no"), 403, "no"),
    (
        lambda: FieldError(("body", "signature"), "bad", "sig"),
        422,
        [{"loc": ["body", "signature"], "msg": "bad", "type": "sig"}],
    ),
    (
        lambda: ChainRevertError(
            "RegistryDuplicateListing",
            {"owner": OWNER, "metadataHash": b"\x01" * 32, "datasetId": 4},
            b"",
        ),
        409,
        f"{OWNER} already listed this metadata as dataset 4",
    ),
    (
        lambda: ChainRevertError("RegistryInvalidPrice", {"accessMode": 0, "price": 5}, b""),
        422,
        [
            {
                "loc": ["body", "price_wei"],
                "msg": "access mode 0 does not take a price of 5 wei",
                "type": "chain_revert",
            }
        ],
    ),
    (
        lambda: ChainRevertError("MarketUnknownModel", {"modelId": 3}, b""),
        404,
        "model 3 is not listed on the ModelMarket",
    ),
    (
        lambda: ChainRevertError("EnforcedPause", {}, b""),
        503,
        "the contract is paused; try again later",
    ),
    (
        lambda: ChainRevertError("RegistryExpiredSignature", {"deadline": 17}, b""),
        422,
        [
            {
                "loc": ["body", "deadline"],
                "msg": "the signature expired at 17",
                "type": "chain_revert",
            }
        ],
    ),
    (
        lambda: ChainRevertError("RegistryInvalidSigner", {"signer": OWNER, "owner": OWNER}, b""),
        422,
        [
            {
                "loc": ["body", "signature"],
                "msg": f"signed by {OWNER}, not by the owner {OWNER}",
                "type": "chain_revert",
            }
        ],
    ),
    (lambda: ChainRevertError("TaskUnknown", {"taskId": 9}, b""), 404, "task 9 does not exist"),
    (
        lambda: ChainRevertError("TaskFull", {"taskId": 9, "maxParticipants": 2}, b""),
        409,
        "rejected by the contract: TaskFull(taskId=9, maxParticipants=2)",
    ),
    (lambda: ChainConnectionError("down"), 503, "the chain node is unavailable; try again later"),
    (
        lambda: requests.exceptions.ConnectionError("refused"),
        503,
        "the chain node is unavailable; try again later",
    ),
    (
        lambda: ServiceUnavailableError("the index"),
        503,
        "the index is unavailable; try again later",
    ),
    (lambda: TransactionFailedError("f"), 502, "the chain refused the transaction: f"),
    (
        lambda: ContentNotFoundError("x"),
        503,
        "the content store is unavailable; try again later",
    ),
    (
        lambda: IntegrityError("INSERT", {}, Exception("unique")),
        409,
        "conflicts with a recorded listing",
    ),
    (
        lambda: OperationalError("SELECT", {}, Exception("gone")),
        503,
        "the database is unavailable; try again later",
    ),
    # any other project error is answered by its family
    (lambda: kernel_errors.InvalidInputError("bad"), 400, "bad"),
    (lambda: kernel_errors.NotFoundError("gone"), 404, "gone"),
    (lambda: kernel_errors.RefusedError("no"), 409, "no"),
    (lambda: kernel_errors.IntegrityError("hash"), 502, "hash"),
    (lambda: kernel_errors.ProtocolError("peer"), 502, "peer"),
    (lambda: kernel_errors.OperationTimeoutError("slow"), 504, "slow"),
    (
        lambda: kernel_errors.ServiceUnavailableError("the index"),
        503,
        "the index is unavailable; try again later",
    ),
    (lambda: kernel_errors.FedmarketError("a root"), 500, "internal error"),
    (lambda: CidMismatchError("store returned another CID"), 502, "store returned another CID"),
    # errors of the services behind the API are that service's failure, whatever their family
    (
        lambda: DeploymentError("no code"),
        502,
        "the chain refused the transaction: no code",
    ),
]


@pytest.mark.parametrize(("make", "status", "detail"), CASES)
def test_mapping(make: Callable[[], Exception], status: int, detail: object) -> None:
    assert answer(make()) == (status, {"detail": detail})


def test_every_family_has_a_status() -> None:
    assert set(errors.FAMILY_STATUS) == set(kernel_errors.FAMILIES)


def test_unexpected_errors_are_500_without_details() -> None:
    assert answer(RuntimeError("secret internals")) == (500, {"detail": "internal error"})


class Body(BaseModel):
    n: int


def test_validation_errors_do_not_echo_input() -> None:
    app = FastAPI()
    errors.install(app)

    def take(body: Body) -> None:
        return None

    app.add_api_route("/take", take, methods=["POST"])
    response = TestClient(app).post("/take", json={"n": "sensitive-value"})
    assert response.status_code == 422
    assert "sensitive-value" not in response.text
    assert response.json()["detail"][0]["loc"] == ["body", "n"]


def test_field_errors_merge() -> None:
    merged = FieldError.many([FieldError(("body", "a"), "x"), FieldError(("body", "b"), "y")])
    assert [e["loc"] for e in merged.errors] == [["body", "a"], ["body", "b"]]
