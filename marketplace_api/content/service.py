"""Paid content: sealed uploads by sellers, keys wrapped to licensed buyers.

Upload (:meth:`ContentService.upload`): the seller of an item (a model's sponsor, who listed it
on the ModelMarket; a downloadable dataset's owner) sends the plaintext once. The service checks
it against the chain (a model's keccak hash must be the final model hash FedTask recorded; a
dataset must be the table its listing describes), seals it under a fresh content key
(:func:`storage.sealing.seal_artifact`), stores and pins the envelope, and keeps the content key
sealed under its master key (:class:`~marketplace_api.content.vault.KeyVault`).

Download (:meth:`ContentService.grant`, :meth:`ContentService.envelope`): the signed-in caller's
licence is read from the chain (``hasLicence``) **before** anything about the content is
touched; a caller without one gets :class:`NoLicenceError` (403) and no key material. A licensed
buyer gets the envelope's CID and the content key wrapped (ECIES) to the public key it signed in
with, bound to the item and its address. A browser, whose wallet cannot do that ECDH, gets the
key wrapped (P-256) to a WebCrypto key the account signed for instead
(:meth:`ContentService.browser_grant`, :mod:`marketplace_api.content.browser`).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from chain import DatasetRegistryClient, FedTaskClient
from chain.market import ModelMarketClient
from chain.registry import AccessMode
from kernel.types import Address
from marketplace_api.auth import SignedInUser
from marketplace_api.content.browser import (
    BROWSER_WRAP,
    DEFAULT_EXPIRY_S,
    browser_key_context,
    browser_key_message,
    check_browser_signature,
    check_expires,
    parse_public_key,
)
from marketplace_api.content.errors import ContentNotUploadedError, NoLicenceError
from marketplace_api.content.schemas import (
    BrowserContentGrant,
    BrowserKeyMessage,
    BrowserKeyRequest,
    ContentGrant,
    ContentPublic,
    ContentSummary,
    LicencePublic,
)
from marketplace_api.content.tables import ContentKey
from marketplace_api.content.tabular import check_table, schema_of
from marketplace_api.content.vault import ArtifactKind, ArtifactRef, KeyVault
from marketplace_api.crud import Scope
from marketplace_api.errors import ConflictError, FieldError, ForbiddenError
from storage import ContentStore, content_hash
from storage.access_log import AccessLog
from storage.base import json_too_deep
from storage.sealing import seal_artifact, wrap_key, wrap_key_p256

log = logging.getLogger(__name__)

MEDIA_TYPES: Final[dict[ArtifactKind, str]] = {
    "model": "application/octet-stream",
    "dataset": "text/csv",
}
"""What each kind of item is uploaded as."""

MAX_METADATA_BYTES: Final = 1024 * 1024


def _hex(value: bytes) -> str:
    return "0x" + bytes(value).hex()


@dataclass(frozen=True)
class Upload:
    """An upload's outcome.

    Attributes
    ----------
    content : ContentPublic
        The record.
    created : bool
        False when the same content was uploaded before (nothing changed).
    """

    content: ContentPublic
    created: bool


class ContentService:
    """Seals uploads and grants their keys to licensed buyers.

    Parameters
    ----------
    store : ContentStore
        Where sealed envelopes are stored (and pinned).
    vault : KeyVault
        Seals content keys at rest.
    market : ModelMarketClient
        Model listings and licences (read only).
    fed_task : FedTaskClient
        Tasks' finality and final model hashes (read only).
    registry : DatasetRegistryClient
        Dataset listings and licences (read only here).
    clock : callable, default time.time
        Unix time now.
    access_log : AccessLog or None, default None
        Where every key grant and envelope download is recorded (who, which artifact, why):
        the sponsor contract's access log, hash-chained (:mod:`storage.access_log`).
    """

    def __init__(
        self,
        *,
        store: ContentStore,
        vault: KeyVault,
        market: ModelMarketClient,
        fed_task: FedTaskClient,
        registry: DatasetRegistryClient,
        clock: Any = time.time,
        access_log: AccessLog | None = None,
    ) -> None:
        self.store = store
        self.vault = vault
        self.market = market
        self.fed_task = fed_task
        self.registry = registry
        self.clock = clock
        self.access_log = access_log

    def _log_access(self, user: SignedInUser, action: str, cid: str, ref: ArtifactRef) -> None:
        """Append one access to the access log, when there is one (before anything is handed)."""
        if self.access_log is not None:
            self.access_log.append(user.address, action, cid, ref.purpose)

    def ref(self, scope: Scope, kind: ArtifactKind, item_id: int) -> ArtifactRef:
        """How ``kind`` ``item_id`` of the deployment ``scope`` is named in envelopes and keys."""
        contract = scope.market if kind == "model" else scope.registry
        return ArtifactRef(kind=kind, chain_id=scope.chain_id, contract=contract, item_id=item_id)

    # ---- uploads ---------------------------------------------------------------------------------
    def upload(
        self, db: Session, scope: Scope, user: SignedInUser, kind: ArtifactKind, item_id: int,
        data: bytes,
    ) -> Upload:  # fmt: skip
        """Check ``data`` against the chain, seal it, store and pin it, and keep its key.

        Parameters
        ----------
        db : Session
            The database session: its read transaction is committed before the envelope is
            stored (nothing is written by then); the caller commits the record.
        scope : Scope
            The deployment.
        user : SignedInUser
            The signed-in seller.
        kind : {"model", "dataset"}
            What is uploaded.
        item_id : int
            The listing's id.
        data : bytes
            The plaintext.

        Raises
        ------
        ForbiddenError
            The caller is not the item's seller (403).
        ConflictError
            The task is not final, the dataset is not downloadable, or other content was
            uploaded for the item before, or by a concurrent request (409).
        FieldError
            The bytes are not the item's content (422).
        """
        if kind == "model":
            self._check_model(item_id, user, data)
        else:
            self._check_dataset(item_id, user, data)
        ref = self.ref(scope, kind, item_id)
        digest = _hex(content_hash(data))
        existing = self._record(db, scope, ref)
        if existing is not None:
            if existing.content_hash != digest:
                raise ConflictError(f"other content was uploaded for {kind} {item_id} already")
            return Upload(self._public(existing, ref), created=False)
        # End the read transaction before the slow part: on SQLite (WAL) a transaction that has
        # read cannot write once another connection (the indexer) committed, busy timeout or not.
        db.commit()
        row = self._seal_and_record(db, scope, user, ref, data, digest)
        log.info("upload: %s %s sealed as %s (%d bytes)", kind, item_id, row.cid, len(data))
        return Upload(self._public(row, ref), created=True)

    def _seal_and_record(
        self, db: Session, scope: Scope, user: SignedInUser, ref: ArtifactRef, data: bytes,
        digest: str,
    ) -> ContentKey:  # fmt: skip
        """Seal ``data``, store and pin the envelope, and add the record of its sealed key.

        Raises
        ------
        ConflictError
            Another upload of the item was recorded meanwhile (409).
        """
        sealed = seal_artifact(data, purpose=ref.purpose)
        cid = self.store.put(sealed.envelope)
        self.store.pin(cid)
        row = ContentKey(
            deployment_id=scope.deployment_id,
            kind=ref.kind,
            item_id=ref.item_id,
            cid=str(cid),
            envelope_size=len(sealed.envelope),
            size=len(data),
            content_hash=digest,
            media_type=MEDIA_TYPES[ref.kind],
            sealed_key=self.vault.seal_key(sealed.key, context=ref.vault_context(cid)),
            key_id=self.vault.key_id,
            uploaded_by=user.address,
            uploaded_at=int(self.clock()),
        )
        db.add(row)
        try:
            db.flush()
        except IntegrityError:  # another upload of the item was recorded meanwhile
            db.rollback()
            raise ConflictError(
                f"{ref.kind} {ref.item_id}'s content was uploaded by another request meanwhile"
            ) from None
        return row

    def _check_model(self, model_id: int, user: SignedInUser, data: bytes) -> None:
        """The sponsor who listed the model, a final task, the final model's exact bytes."""
        listing = self.market.model(model_id)
        if listing.lister != user.address:
            raise ForbiddenError(
                f"only {listing.lister}, the sponsor who listed model {model_id}, uploads it"
            )
        task_id = int(listing.task_id)
        if not self.fed_task.is_final(task_id):
            raise ConflictError(f"task {task_id} is not final: its model cannot be sold yet")
        expected = bytes(self.fed_task.task(task_id).model_hash)
        actual = content_hash(data)
        if actual != expected:
            raise FieldError(
                ("body",),
                f"the bytes hash to {_hex(actual)}, not to task {task_id}'s final model hash "
                f"{_hex(expected)} on-chain",
                type="hash_mismatch",
            )

    def _check_dataset(self, dataset_id: int, user: SignedInUser, data: bytes) -> None:
        """The listing's owner, a downloadable listing, the table its metadata describes."""
        listing = self.registry.listing(dataset_id)
        if listing.owner != user.address:
            raise ForbiddenError(
                f"only {listing.owner}, who listed dataset {dataset_id}, uploads it"
            )
        if listing.access_mode != AccessMode.DOWNLOADABLE:
            raise ConflictError(f"dataset {dataset_id} is federated-only: nothing is downloaded")
        raw = self.store.get(listing.metadata_cid, max_bytes=MAX_METADATA_BYTES)
        if content_hash(raw) != bytes(listing.metadata_hash):
            raise ConflictError(
                f"dataset {dataset_id}'s metadata document does not hash to its on-chain hash"
            )
        if json_too_deep(raw):
            raise ConflictError(f"dataset {dataset_id}'s metadata document nests too deep")
        try:
            document = json.loads(raw)
        except ValueError:
            raise ConflictError(f"dataset {dataset_id}'s metadata document is not JSON") from None
        columns, row_count = schema_of(document)
        check_table(data, columns, row_count)

    # ---- downloads -------------------------------------------------------------------------------
    def grant(
        self, db: Session, scope: Scope, user: SignedInUser, kind: ArtifactKind, item_id: int
    ) -> ContentGrant:
        """The content key wrapped to the licensed caller, and where the envelope is.

        Parameters
        ----------
        db : Session
            The database session.
        scope : Scope
            The deployment.
        user : SignedInUser
            The signed-in caller (its session's public key receives the key).
        kind : {"model", "dataset"}
            What is downloaded.
        item_id : int
            The listing's id.

        Raises
        ------
        NoLicenceError
            The caller holds no licence on-chain (403): nothing about the key is read.
        ContentNotUploadedError
            Licensed, but the seller has not uploaded the content yet (404).
        """
        ref = self.ref(scope, kind, item_id)
        row, key, licence = self._content_key(db, scope, ref, user.address)
        context = ref.key_context(user.address)
        wrapped = wrap_key(key, user.public_key, context=context)
        self._log_access(user, "key", row.cid, ref)
        log.info("grant: %s %s key wrapped to %s", kind, item_id, user.address)
        return ContentGrant(
            **self._summary(row, ref).model_dump(),
            chain_id=ref.chain_id,
            contract=ref.contract,
            recipient=user.address,
            public_key="0x" + user.public_key.hex(),
            purpose=ref.purpose,
            key_context=context,
            wrapped_key=_hex(wrapped),
            licence=licence,
        )

    def browser_message(
        self, scope: Scope, user: SignedInUser, kind: ArtifactKind, item_id: int,
        public_key: str, expires: int | None,
    ) -> BrowserKeyMessage:  # fmt: skip
        """The text the signed-in account signs to let a browser key receive the content key.

        Parameters
        ----------
        scope, user, kind, item_id
            As :meth:`grant`.
        public_key : str
            The browser's P-256 point, ``0x04...`` hex.
        expires : int or None
            Unix seconds; None proposes :data:`DEFAULT_EXPIRY_S` from now.

        Raises
        ------
        FieldError
            The point is not on P-256, or the expiry is past or too far ahead (422).
        """
        point = parse_public_key(public_key, ("query", "public_key"))
        now = self.clock()
        when = int(now) + DEFAULT_EXPIRY_S if expires is None else expires
        check_expires(when, now, ("query", "expires"))
        text = browser_key_message(user.address, self.ref(scope, kind, item_id), point, when)
        return BrowserKeyMessage(
            message=text, account=user.address, public_key="0x" + point.hex(), expires=when
        )

    def browser_grant(
        self, db: Session, scope: Scope, user: SignedInUser, kind: ArtifactKind, item_id: int,
        request: BrowserKeyRequest,
    ) -> BrowserContentGrant:  # fmt: skip
        """The content key wrapped (P-256) to a browser key the account's wallet signed for.

        Parameters
        ----------
        db, scope, user, kind, item_id
            As :meth:`grant`.
        request : BrowserKeyRequest
            The browser's public key, the expiry and the account's signature over
            :func:`~marketplace_api.content.browser.browser_key_message`.

        Raises
        ------
        FieldError
            Bad point, expiry or signature encoding (422, naming the field).
        ForbiddenError
            The signature is not the signed-in account's over this key, item and expiry (403).
        NoLicenceError, ContentNotUploadedError
            As :meth:`grant`.
        """
        point = parse_public_key(request.public_key, ("body", "public_key"))
        check_expires(request.expires, self.clock(), ("body", "expires"))
        ref = self.ref(scope, kind, item_id)
        message = browser_key_message(user.address, ref, point, request.expires)
        check_browser_signature(message, request.signature, user.address)
        row, key, licence = self._content_key(db, scope, ref, user.address)
        context = browser_key_context(ref, user.address)
        wrapped = wrap_key_p256(key, point, context=context)
        self._log_access(user, "browser-key", row.cid, ref)
        log.info("browser_grant: %s %s key wrapped to a browser of %s", kind, item_id, user.address)
        return BrowserContentGrant(
            **self._summary(row, ref).model_dump(),
            chain_id=ref.chain_id,
            contract=ref.contract,
            recipient=user.address,
            public_key="0x" + point.hex(),
            purpose=ref.purpose,
            key_context=context,
            wrapped_key=_hex(wrapped),
            wrap=BROWSER_WRAP,
            expires=request.expires,
            licence=licence,
        )

    def _content_key(
        self, db: Session, scope: Scope, ref: ArtifactRef, account: Address
    ) -> tuple[ContentKey, bytes, LicencePublic]:
        """The licence (checked first), the uploaded record and its opened content key."""
        licence = self._licence(ref, account)
        row = self._uploaded(db, scope, ref)
        key = self.vault.open_key(
            row.sealed_key, key_id=row.key_id, context=ref.vault_context(row.cid)
        )
        return row, key, licence

    def envelope(
        self, db: Session, scope: Scope, user: SignedInUser, kind: ArtifactKind, item_id: int
    ) -> bytes:
        """The sealed envelope's bytes, for a licensed caller (checked against its CID).

        Parameters
        ----------
        db : Session
            The database session.
        scope : Scope
            The deployment.
        user : SignedInUser
            The signed-in caller.
        kind : {"model", "dataset"}
            What is downloaded.
        item_id : int
            The listing's id.

        Raises
        ------
        NoLicenceError, ContentNotUploadedError
            As :meth:`grant`.
        """
        ref = self.ref(scope, kind, item_id)
        self._licence(ref, user.address)
        row = self._uploaded(db, scope, ref)
        data = self.store.get(row.cid, max_bytes=row.envelope_size)
        self._log_access(user, "get", row.cid, ref)
        return data

    def summary(
        self, db: Session, scope: Scope, kind: ArtifactKind, item_id: int
    ) -> ContentSummary | None:
        """Whether an item's content was uploaded, and what it is (public facts only)."""
        ref = self.ref(scope, kind, item_id)
        row = self._record(db, scope, ref)
        return None if row is None else self._summary(row, ref)

    def _licence(self, ref: ArtifactRef, account: Address) -> LicencePublic:
        """The caller's on-chain licence; :class:`NoLicenceError` without one.

        An unknown listing is answered by the contract's own revert first (404).
        """
        seller = self.market if ref.kind == "model" else self.registry
        if ref.kind == "model":
            self.market.model(ref.item_id)
        else:
            self.registry.listing(ref.item_id)
        if not seller.has_licence(ref.item_id, account):
            raise NoLicenceError(
                f"{account} holds no licence for {ref.kind} {ref.item_id}: buy it on-chain first"
            )
        licence = seller.licence_of(ref.item_id, account)
        if licence is None:  # bought between the two reads cannot un-buy: defensive only
            raise NoLicenceError(f"{account} holds no licence for {ref.kind} {ref.item_id}")
        return LicencePublic(block=licence.at_block, price_paid_wei=licence.price_paid)

    def _record(self, db: Session, scope: Scope, ref: ArtifactRef) -> ContentKey | None:
        return db.scalars(
            select(ContentKey).where(
                ContentKey.deployment_id == scope.deployment_id,
                ContentKey.kind == ref.kind,
                ContentKey.item_id == ref.item_id,
            )
        ).one_or_none()

    def _uploaded(self, db: Session, scope: Scope, ref: ArtifactRef) -> ContentKey:
        row = self._record(db, scope, ref)
        if row is None:
            raise ContentNotUploadedError(
                f"{ref.kind} {ref.item_id}'s content has not been uploaded by its seller yet"
            )
        return row

    @staticmethod
    def _summary(row: ContentKey, ref: ArtifactRef) -> ContentSummary:
        return ContentSummary(
            kind=ref.kind,
            id=ref.item_id,
            cid=row.cid,
            envelope_bytes=row.envelope_size,
            size=row.size,
            content_hash=row.content_hash,
            media_type=row.media_type,
        )

    def _public(self, row: ContentKey, ref: ArtifactRef) -> ContentPublic:
        return ContentPublic(
            **self._summary(row, ref).model_dump(),
            chain_id=ref.chain_id,
            contract=ref.contract,
            uploaded_by=row.uploaded_by,
            uploaded_at=row.uploaded_at,
        )


__all__ = ["MEDIA_TYPES", "ContentService", "Upload"]
