"""Request schemas and the signed documents: validation, normalisation, determinism."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from chain import new_account, recover_listing_signer, sign_listing
from chain.registry import AccessMode
from kernel.errors import InvalidInputError
from marketplace_api.errors import MalformedSignatureError
from marketplace_api.listing import (
    metadata_document,
    recover_dataset_owner,
    recover_model_lister,
    sign_model_listing,
)
from marketplace_api.schemas import (
    DatasetBase,
    DatasetCreate,
    ModelBase,
    ModelCard,
    RewardPublic,
    TaskPublic,
)
from storage import canonical_json, compute_cid, content_hash

OWNER = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
REGISTRY = "0x5FbDB2315678afecb367f032d93F642f64180aa3"


def meta(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": "clinic",
        "owner": OWNER,
        "schema": [{"name": "x", "dtype": "float"}, {"name": "n", "dtype": "int"}],
        "row_count": 10,
        "statistics": {"count": 10, "mean": [1, 2.5], "std": [0, 1], "min": [1, 0], "max": [1, 9]},
        "quality": {"missing_rate": 0, "label_positive_rate": 0.5},
        "license": "CC0-1.0",
        "tags": ["a", "b"],
    }
    base.update(overrides)
    return base


def loc_of(exc: pytest.ExceptionInfo[ValidationError]) -> list[tuple[Any, ...]]:
    return [tuple(e["loc"]) for e in exc.value.errors()]


def test_document_is_canonical_and_normalised() -> None:
    base = DatasetBase.model_validate(meta(owner=OWNER.lower()))
    doc = metadata_document(base)
    fields = base.document_fields()
    assert fields["owner"] == OWNER  # checksummed
    assert fields["schema"][0] == {"name": "x", "dtype": "float"}  # the alias, not "columns"
    assert fields["statistics"]["mean"] == [1.0, 2.5]  # floats, as FeatureStats writes them
    assert fields["description"] == "" and fields["downloadable"] is False
    assert doc.data == canonical_json(fields)
    assert doc.cid == compute_cid(doc.data)
    assert doc.hash == content_hash(doc.data)
    # the same metadata written differently gives the same bytes
    again = DatasetBase.model_validate(
        meta(
            statistics={
                "count": 10.0,
                "mean": [1.0, 2.5],
                "std": [0.0, 1.0],
                "min": [1, 0],
                "max": [1, 9],
            }
        )
    )
    assert metadata_document(again).data == doc.data


def test_create_adds_only_signature_fields_outside_the_document() -> None:
    create = DatasetCreate.model_validate(
        {
            **meta(downloadable=True),
            "access_mode": "downloadable",
            "price_wei": "12",
            "nonce": 4,
            "deadline": 5,
            "signature": "0x" + "AB" * 65,
        }
    )
    assert metadata_document(create) == metadata_document(
        DatasetBase.model_validate(meta(downloadable=True))
    )
    assert create.signature == "0x" + "ab" * 65
    assert (create.access_mode, create.price_wei, create.nonce) == ("downloadable", "12", 4)
    defaults = DatasetCreate.model_validate(
        {**meta(), "deadline": 5, "signature": "0x" + "ab" * 65}
    )
    assert (defaults.access_mode, defaults.price_wei, defaults.nonce) == (
        "federated_only",
        "0",
        None,
    )


@pytest.mark.parametrize(
    ("override", "loc"),
    [
        ({"price_wei": "1"}, ("price_wei",)),  # federated_only is free
        ({"access_mode": "sale"}, ("access_mode",)),
        ({"access_mode": "downloadable", "price_wei": "01"}, ("price_wei",)),
        ({"access_mode": "downloadable", "price_wei": 1}, ("price_wei",)),
        ({"nonce": -1}, ("nonce",)),
    ],
)
def test_access_mode_and_price_are_checked(override: dict[str, Any], loc: tuple[Any, ...]) -> None:
    with pytest.raises(ValidationError) as exc:
        DatasetCreate.model_validate(
            {**meta(), "deadline": 5, "signature": "0x" + "ab" * 65, **override}
        )
    assert loc_of(exc) == [loc]


def test_eip712_round_trip() -> None:
    account = new_account()
    base = DatasetBase.model_validate(meta(owner=account.address))
    doc = metadata_document(base)
    request = doc.request(
        account.address, nonce=3, deadline=1_000, access_mode="downloadable", price=7
    )
    assert (request.access_mode, request.price) == (AccessMode.DOWNLOADABLE, 7)
    signature = sign_listing(account, 31337, REGISTRY, request)
    assert recover_listing_signer(31337, REGISTRY, request, signature) == account.address
    hex_sig = "0x" + signature.hex()
    assert recover_dataset_owner(31337, REGISTRY, request, hex_sig) == account.address
    assert recover_dataset_owner(1, REGISTRY, request, hex_sig) != account.address
    # the access mode and the price are signed: any other recovers someone else
    for other in (
        doc.request(account.address, nonce=3, deadline=1_000, access_mode="downloadable", price=8),
        doc.request(account.address, nonce=3, deadline=1_000, price=0),
        doc.request(account.address, nonce=4, deadline=1_000, access_mode="downloadable", price=7),
    ):
        assert recover_dataset_owner(31337, REGISTRY, other, hex_sig) != account.address
    # a malleable twin (s in the upper half) is refused as the registry refuses it
    n = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
    r, s_, v = signature[:32], int.from_bytes(signature[32:64], "big"), signature[64]
    twin = r + (n - s_).to_bytes(32, "big") + bytes([55 - v])
    with pytest.raises(MalformedSignatureError):
        recover_dataset_owner(31337, REGISTRY, request, "0x" + twin.hex())
    with pytest.raises(ValueError):
        recover_dataset_owner(31337, REGISTRY, request, "0x" + "00" * 65)
    with pytest.raises(ValueError):
        recover_dataset_owner(31337, REGISTRY, request, "0x" + "ff" * 65)


def test_model_listing_signature_round_trip() -> None:
    account = new_account()
    fields = ModelBase.model_validate(
        {
            "task_id": 1,
            "name": "m",
            "description": "d",
            "price_wei": "10",
            "card_cid": compute_cid(b"card"),
        }
    )
    domain: dict[str, Any] = {
        "chain_id": 31337,
        "fed_task": "0x" + "ab" * 20,
        "market": "0x" + "ef" * 20,
    }
    signature = sign_model_listing(account, fields, **domain)
    assert recover_model_lister(fields, signature, **domain) == account.address
    other = fields.model_copy(update={"price_wei": "11"})
    assert recover_model_lister(other, signature, **domain) != account.address
    unpriced = fields.model_copy(update={"price_wei": None})
    assert recover_model_lister(unpriced, signature, **domain) != account.address
    # bound to one deployment: another chain, FedTask or market recovers someone else
    for key, value in (
        ("chain_id", 1),
        ("fed_task", "0x" + "cd" * 20),
        ("market", "0x" + "12" * 20),
    ):
        assert recover_model_lister(fields, signature, **{**domain, key: value}) != account.address
    with pytest.raises(MalformedSignatureError):
        recover_model_lister(fields, "0x" + "00" * 65, **domain)


@pytest.mark.parametrize(
    ("override", "loc"),
    [
        ({"rows": [[1, 2]]}, ("rows",)),
        ({"owner": "0x" + "1" * 39}, ("owner",)),
        ({"owner": OWNER.replace("C", "c", 1)}, ("owner",)),
        ({"schema": []}, ("schema",)),
        ({"schema": [{"name": "x", "dtype": "float"}] * 2}, ("schema",)),
        (
            {"statistics": {"count": 10, "mean": [1], "std": [0], "min": [0], "max": [1]}},
            ("statistics",),
        ),
        (
            {
                "statistics": {
                    "count": 11,
                    "mean": [1, 2],
                    "std": [0, 0],
                    "min": [0, 0],
                    "max": [1, 2],
                }
            },
            ("statistics",),
        ),
        (
            {
                "statistics": {
                    "count": 10,
                    "mean": [1, 2],
                    "std": [0, 0],
                    "min": [0, 0],
                    "max": [1, 2],
                    "rows": [[1, 2]],
                }
            },
            ("statistics", "rows"),
        ),
        ({"quality": {"duplicate_rate": -0.1}}, ("quality",)),
        ({"quality": {"Bad Name": 0.1}}, ("quality", "Bad Name", "[key]")),
        ({"quality": {"x": float("inf")}}, ("quality", "x")),
        ({"tags": ["a", "a"]}, ("tags",)),
        ({"tags": ["x" * 41]}, ("tags", 0)),
        ({"license": ""}, ("license",)),
        ({"row_count": 2**63}, ("row_count",)),
        ({"columns": [{"name": "x", "dtype": "float"}]}, ("columns",)),
    ],
)
def test_invalid_metadata_is_refused_at_the_field(
    override: dict[str, Any], loc: tuple[Any, ...]
) -> None:
    with pytest.raises(ValidationError) as exc:
        DatasetBase.model_validate(meta(**override))
    assert loc in loc_of(exc)


@pytest.mark.parametrize(
    ("override", "msg"),
    [
        ({"tags": ["a", "a"]}, "Value error, tags must be unique"),
        ({"owner": OWNER.replace("C", "c", 1)}, "Value error, address checksum (EIP-55) does not"),
        ({"statistics": {"count": 9, "mean": [1, 2], "std": [0, 0], "min": [0, 3], "max": [1, 2]}},
         "Value error, column 1: min 3.0 exceeds max 2.0"),
    ],
)  # fmt: skip
def test_validator_errors_are_project_errors_in_pydantics_shape(
    override: dict[str, Any], msg: str
) -> None:
    with pytest.raises(ValidationError) as exc:
        DatasetBase.model_validate(meta(**override))
    [error] = exc.value.errors()
    assert error["type"] == "value_error"
    assert error["msg"].startswith(msg)
    assert isinstance(error["ctx"]["error"], InvalidInputError)


def test_statistics_are_optional() -> None:
    base = DatasetBase.model_validate(meta(statistics=None))
    assert base.document_fields()["statistics"] is None


@pytest.mark.parametrize("price", ["0", "1", str(2**256 - 1)])
def test_prices_up_to_uint256(price: str) -> None:
    fields = ModelBase.model_validate(
        {"task_id": 1, "name": "m", "price_wei": price, "card_cid": compute_cid(b"c")}
    )
    assert fields.price_wei == price


def test_model_card_checks() -> None:
    cid = compute_cid(b"model")
    good = {
        "kind": "fedmarket/model-card",
        "task_id": 3,
        "model_cid": cid,
        "model_hash": "0x" + "ab" * 32,
        "metrics": {"accuracy": 0.9},
        "extra": [1],
    }
    assert ModelCard.model_validate(good).metrics == {"accuracy": 0.9}
    for bad in (
        {"task_id": True},
        {"task_id": 3.0},
        {"model_hash": "ab" * 32},
        {"metrics": {"auc": float("nan")}},
        {"kind": "model-card"},
    ):
        with pytest.raises(ValidationError):
            ModelCard.model_validate({**good, **bad})


def test_wei_serialises_as_strings() -> None:
    reward = RewardPublic(participant=OWNER.lower(), allocated_wei=2**200, claimed_wei=3 * 10**18)
    assert reward.model_dump(mode="json") == {
        "participant": OWNER,
        "allocated_wei": str(2**200),
        "claimed_wei": str(3 * 10**18),
    }
    unverified = RewardPublic(participant=OWNER, allocated_wei=None, claimed_wei=0)
    assert unverified.model_dump(mode="json")["allocated_wei"] is None
    schema = TaskPublic.model_json_schema(mode="serialization")
    assert schema["properties"]["pool_wei"]["type"] == "string"
    assert set(schema["properties"]["status"]["enum"]) == {
        "none",
        "joining",
        "training",
        "completed",
        "cancelled",
        "aborted",
    }
