"""The application's shape: routes, OpenAPI document, wire types."""

from __future__ import annotations

from unittest.mock import MagicMock

from marketplace_api import create_app


def test_openapi_document() -> None:
    schema = create_app(services=MagicMock()).openapi()
    assert set(schema["paths"]) >= {
        "/auth/nonce",
        "/auth/verify",
        "/auth/session",
        "/datasets",
        "/datasets/signing-params",
        "/datasets/{dataset_id}",
        "/datasets/{dataset_id}/content",
        "/health",
        "/models",
        "/models/signing-params",
        "/models/{model_id}",
        "/models/{model_id}/content",
        "/participants/{address}",
        "/tasks",
        "/tasks/{task_id}",
    }
    assert set(schema["paths"]["/datasets"]["post"]["responses"]) >= {"202", "409", "422"}
    assert set(schema["paths"]["/models"]["post"]["responses"]) >= {"201", "403", "404", "409"}
    components = schema["components"]["schemas"]
    for model, field in (("IndexedTaskPublic", "pool_wei"), ("ModelPublic", "price_wei")):
        assert components[model]["properties"][field]["type"] == "string"
    create = components["DatasetCreate"]
    assert create["additionalProperties"] is False
    assert "schema" in create["properties"] and "rows" not in create["properties"]
    tags = {op["tags"][0] for path in schema["paths"].values() for op in path.values()}
    assert tags >= {"auth", "content", "datasets", "health", "models", "participants", "tasks"}
