"""``/models/{id}/content`` and ``/datasets/{id}/content``: paid content, sealed.

- ``PUT``: the seller, signed in, uploads the plaintext once (a model's sponsor once its task
  is final: the bytes must hash to the final model hash FedTask recorded; a downloadable
  dataset's owner: a CSV with the listing's columns and row count). The service seals it under
  a fresh content key, stores and pins the envelope, and keeps the key sealed under its master
  key. 201 when stored, 200 when the same content was stored before.
- ``GET``: a signed-in buyer whose licence the chain confirms (``hasLicence``) gets the
  envelope's CID and the content key wrapped (ECIES) to the public key it signed in with;
  without a licence, 403 and no key material.
- ``GET .../content/envelope``: the sealed envelope's bytes, for the same buyers (anyone
  holding the CID may also fetch it from IPFS: it is useless without the key).
- ``GET .../content/browser-message`` and ``POST .../content/browser``: the browser path. A
  page makes a WebCrypto P-256 key, has the wallet ``personal_sign`` the text the first answers,
  and posts key, expiry and signature; a licensed buyer gets the key wrapped (P-256) to that
  browser key (:mod:`marketplace_api.content.browser`).
"""

from __future__ import annotations

import logging
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, Path, Query, Request, Response, status

from marketplace_api.api.deps import ContentDep, CurrentUser, ScopeDep, SessionDep
from marketplace_api.api.responses import errors
from marketplace_api.content import (
    MEDIA_TYPES,
    ArtifactKind,
    BrowserContentGrant,
    BrowserKeyMessage,
    BrowserKeyRequest,
    ContentGrant,
    ContentPublic,
)
from marketplace_api.errors import FieldError
from marketplace_api.schemas import INT64_MAX

log = logging.getLogger(__name__)

router = APIRouter(tags=["content"])

ItemId = Annotated[int, Path(ge=1, le=INT64_MAX)]
NO_STORE: Final = {"Cache-Control": "no-store"}

_COMMON = (
    (404, "No such listing, or its content is not uploaded yet."),
    (502, "The chain answered a licence or hash query wrongly."),
    (503, "The chain, the content store or the key vault is unavailable."),
)
_UPLOAD: dict[int | str, dict[str, Any]] = {
    **errors(
        *_COMMON,
        (403, "Not the seller (the model's sponsor, the dataset's owner)."),
        (409, "Task not final, dataset not downloadable, or other content stored."),
        (413, "Larger than the service accepts."),
        (422, "The bytes are not the listing's content (hash, table shape, media type)."),
    ),
    200: {"description": "The same content was uploaded before (nothing changed)."},
}
_DOWNLOAD = errors(*_COMMON, (403, "No licence on-chain: buy first. No key material is sent."))
_BROWSER = errors(
    *_COMMON,
    (403, "No licence on-chain, or the signature is not the signed-in account's over this "
          "key, item and expiry. No key material is sent."),
    (422, "public_key not on P-256, expires past or over an hour ahead, malformed signature."),
)  # fmt: skip
_MESSAGE = errors((422, "public_key not on P-256, or expires past or over an hour ahead."))
BrowserKey = Annotated[
    str,
    Query(
        pattern=r"^0x[0-9a-fA-F]{130}$",
        description="The browser's WebCrypto P-256 public key (raw export, 0x04 || x || y).",
    ),
]
Expires = Annotated[
    int | None,
    Query(ge=0, le=INT64_MAX, description="Unix seconds, at most an hour ahead; default +10 min."),
]


def _binary_body(media_type: str) -> dict[str, Any]:
    """The OpenAPI request body of a raw upload."""
    return {
        "requestBody": {
            "required": True,
            "content": {
                media_type: {"schema": {"type": "string", "format": "binary", "minLength": 1}}
            },
        }
    }


def _envelope_response() -> dict[int | str, dict[str, Any]]:
    return {
        **_DOWNLOAD,
        200: {
            "description": "The sealed envelope (storage.sealing, version 1).",
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
            },
        },
    }


async def _raw_body(request: Request, kind: ArtifactKind) -> bytes:
    """The request's body, sent as the kind's media type and not empty."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != MEDIA_TYPES[kind]:
        raise FieldError(
            ("header", "content-type"),
            f"upload a {kind} as {MEDIA_TYPES[kind]}, not {media_type!r}",
        )
    data = await request.body()
    if not data:
        raise FieldError(("body",), "the body is empty")
    return data


async def model_bytes(request: Request) -> bytes:
    """The uploaded model's bytes."""
    return await _raw_body(request, "model")


async def dataset_bytes(request: Request) -> bytes:
    """The uploaded dataset's bytes (CSV)."""
    return await _raw_body(request, "dataset")


def _upload(
    kind: ArtifactKind, item_id: int, user: CurrentUser, data: bytes, db: SessionDep,
    scope: ScopeDep, content: ContentDep, response: Response,
) -> ContentPublic:  # fmt: skip
    upload = content.upload(db, scope, user, kind, item_id, data)
    db.commit()
    if not upload.created:
        response.status_code = status.HTTP_200_OK
    return upload.content


def _grant(
    kind: ArtifactKind, item_id: int, user: CurrentUser, db: SessionDep, scope: ScopeDep,
    content: ContentDep, response: Response,
) -> ContentGrant:  # fmt: skip
    grant = content.grant(db, scope, user, kind, item_id)
    response.headers.update(NO_STORE)
    return grant


def _browser_message(
    kind: ArtifactKind, item_id: int, user: CurrentUser, scope: ScopeDep, content: ContentDep,
    public_key: str, expires: int | None,
) -> BrowserKeyMessage:  # fmt: skip
    return content.browser_message(scope, user, kind, item_id, public_key, expires)


def _browser_grant(
    kind: ArtifactKind, item_id: int, user: CurrentUser, body: BrowserKeyRequest, db: SessionDep,
    scope: ScopeDep, content: ContentDep, response: Response,
) -> BrowserContentGrant:  # fmt: skip
    grant = content.browser_grant(db, scope, user, kind, item_id, body)
    response.headers.update(NO_STORE)
    return grant


def _envelope(
    kind: ArtifactKind, item_id: int, user: CurrentUser, db: SessionDep, scope: ScopeDep,
    content: ContentDep,
) -> Response:  # fmt: skip
    data = content.envelope(db, scope, user, kind, item_id)
    return Response(content=data, media_type="application/octet-stream", headers=NO_STORE)


@router.put(
    "/models/{model_id}/content",
    response_model=ContentPublic,
    status_code=status.HTTP_201_CREATED,
    responses=_UPLOAD,
    openapi_extra=_binary_body(MEDIA_TYPES["model"]),
)
def create_model_content(
    model_id: ItemId,
    user: CurrentUser,
    data: Annotated[bytes, Depends(model_bytes)],
    db: SessionDep,
    scope: ScopeDep,
    content: ContentDep,
    response: Response,
) -> Any:
    """Upload a final task's model (its sponsor): sealed, stored and pinned."""
    return _upload("model", model_id, user, data, db, scope, content, response)


@router.get("/models/{model_id}/content", response_model=ContentGrant, responses=_DOWNLOAD)
def read_model_content(
    model_id: ItemId,
    user: CurrentUser,
    db: SessionDep,
    scope: ScopeDep,
    content: ContentDep,
    response: Response,
) -> Any:
    """A licensed buyer's grant: the envelope's CID and the content key wrapped to it."""
    return _grant("model", model_id, user, db, scope, content, response)


@router.get("/models/{model_id}/content/envelope", responses=_envelope_response())
def read_model_envelope(
    model_id: ItemId, user: CurrentUser, db: SessionDep, scope: ScopeDep, content: ContentDep
) -> Response:
    """The model's sealed envelope, for a licensed buyer."""
    return _envelope("model", model_id, user, db, scope, content)


@router.put(
    "/datasets/{dataset_id}/content",
    response_model=ContentPublic,
    status_code=status.HTTP_201_CREATED,
    responses=_UPLOAD,
    openapi_extra=_binary_body(MEDIA_TYPES["dataset"]),
)
def create_dataset_content(
    dataset_id: ItemId,
    user: CurrentUser,
    data: Annotated[bytes, Depends(dataset_bytes)],
    db: SessionDep,
    scope: ScopeDep,
    content: ContentDep,
    response: Response,
) -> Any:
    """Upload a downloadable dataset (its owner): a CSV as its listing describes it."""
    return _upload("dataset", dataset_id, user, data, db, scope, content, response)


@router.get("/datasets/{dataset_id}/content", response_model=ContentGrant, responses=_DOWNLOAD)
def read_dataset_content(
    dataset_id: ItemId,
    user: CurrentUser,
    db: SessionDep,
    scope: ScopeDep,
    content: ContentDep,
    response: Response,
) -> Any:
    """A licensed buyer's grant: the envelope's CID and the content key wrapped to it."""
    return _grant("dataset", dataset_id, user, db, scope, content, response)


@router.get("/datasets/{dataset_id}/content/envelope", responses=_envelope_response())
def read_dataset_envelope(
    dataset_id: ItemId, user: CurrentUser, db: SessionDep, scope: ScopeDep, content: ContentDep
) -> Response:
    """The dataset's sealed envelope, for a licensed buyer."""
    return _envelope("dataset", dataset_id, user, db, scope, content)


@router.get(
    "/models/{model_id}/content/browser-message",
    response_model=BrowserKeyMessage,
    responses=_MESSAGE,
)
def read_model_browser_message(
    model_id: ItemId,
    user: CurrentUser,
    scope: ScopeDep,
    content: ContentDep,
    public_key: BrowserKey,
    expires: Expires = None,
) -> Any:
    """The text the wallet signs (personal_sign) to let this browser key receive the key."""
    return _browser_message("model", model_id, user, scope, content, public_key, expires)


@router.post(
    "/models/{model_id}/content/browser", response_model=BrowserContentGrant, responses=_BROWSER
)
def create_model_browser_grant(
    model_id: ItemId,
    user: CurrentUser,
    body: BrowserKeyRequest,
    db: SessionDep,
    scope: ScopeDep,
    content: ContentDep,
    response: Response,
) -> Any:
    """A licensed buyer's content key wrapped (P-256) to the browser key its wallet signed for."""
    return _browser_grant("model", model_id, user, body, db, scope, content, response)


@router.get(
    "/datasets/{dataset_id}/content/browser-message",
    response_model=BrowserKeyMessage,
    responses=_MESSAGE,
)
def read_dataset_browser_message(
    dataset_id: ItemId,
    user: CurrentUser,
    scope: ScopeDep,
    content: ContentDep,
    public_key: BrowserKey,
    expires: Expires = None,
) -> Any:
    """The text the wallet signs (personal_sign) to let this browser key receive the key."""
    return _browser_message("dataset", dataset_id, user, scope, content, public_key, expires)


@router.post(
    "/datasets/{dataset_id}/content/browser",
    response_model=BrowserContentGrant,
    responses=_BROWSER,
)
def create_dataset_browser_grant(
    dataset_id: ItemId,
    user: CurrentUser,
    body: BrowserKeyRequest,
    db: SessionDep,
    scope: ScopeDep,
    content: ContentDep,
    response: Response,
) -> Any:
    """A licensed buyer's content key wrapped (P-256) to the browser key its wallet signed for."""
    return _browser_grant("dataset", dataset_id, user, body, db, scope, content, response)
