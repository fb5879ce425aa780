"""A Python client of the marketplace API over HTTP (httpx), used by the demo and the tests.

It signs on the caller's side: the key given to :meth:`MarketplaceClient.list_dataset` or
:meth:`MarketplaceClient.list_model` never leaves the process; only signatures are sent. The
metadata document is computed with the same function the server uses
(:func:`marketplace_api.listing.metadata_document`).

    client = MarketplaceClient("http://127.0.0.1:8000")
    listing = client.list_dataset(account, {"name": ..., "schema": [...], ...})
    paid = client.list_dataset(account, metadata, access_mode="downloadable", price_wei=10**18)

A model is listed on-chain by its task's sponsor first (``ModelMarketClient.list_model``, once the
task is final); :meth:`MarketplaceClient.list_model` then describes that listing here.
"""

from __future__ import annotations

import logging
import ssl
import time
from typing import Any, Literal

import httpx
from eth_account.signers.local import LocalAccount
from pydantic import ValidationError

from chain import (
    AccessMode,
    ListingActiveRequest,
    ListingUpdateRequest,
    sign_listing,
    sign_listing_active,
    sign_listing_update,
)
from kernel.tls import TlsConfig, tls_failure, warn_if_unencrypted
from marketplace_api.auth.messages import sign_challenge
from marketplace_api.content.vault import ArtifactKind
from marketplace_api.errors import MarketplaceApiError, MarketplaceConnectionError
from marketplace_api.listing import metadata_document, sign_model_listing
from marketplace_api.schemas import ACCESS_MODE_VALUES, DatasetBase, ModelBase

log = logging.getLogger(__name__)


def _local_errors(exc: ValidationError) -> MarketplaceApiError:
    """A 422 in the server's shape for input that fails validation before it is sent."""
    detail = [
        {"loc": ["body", *e["loc"]], "msg": e["msg"], "type": e["type"]}
        for e in exc.errors(include_input=False, include_url=False)
    ]
    return MarketplaceApiError.for_status(422, detail)


def _dataset_base(account: LocalAccount, metadata: dict[str, Any], access_mode: str) -> DatasetBase:
    """The listing's fields, validated here as the server will (a 422 before anything is sent)."""
    fields = {"owner": account.address, "downloadable": access_mode == "downloadable", **metadata}
    try:
        return DatasetBase.model_validate(fields)
    except ValidationError as exc:
        raise _local_errors(exc) from None


def _signed_listing(
    account: LocalAccount,
    base: DatasetBase,
    params: dict[str, Any],
    deadline: int | None,
    access_mode: Literal["federated_only", "downloadable"],
    price_wei: int | str,
) -> dict[str, Any]:
    """The ``POST /datasets`` body: the document's fields and the owner's EIP-712 signature."""
    chosen = int(params["deadline"]) if deadline is None else deadline
    nonce = int(params["nonce"])
    request = metadata_document(base).request(
        base.owner, nonce=nonce, deadline=chosen, access_mode=access_mode, price=int(price_wei)
    )
    signature = sign_listing(account, int(params["chain_id"]), params["registry"], request)
    return {
        **base.document_fields(),
        "access_mode": access_mode,
        "price_wei": str(price_wei),
        "nonce": nonce,
        "deadline": chosen,
        "signature": "0x" + signature.hex(),
    }


def _http_client(base_url: str, timeout: float, tls: TlsConfig | None) -> httpx.Client:
    """An httpx client for ``base_url``: with the configured certificates over https."""
    if not base_url.startswith("https://"):
        warn_if_unencrypted("marketplace API", base_url)
        return httpx.Client(timeout=timeout)
    context = (TlsConfig.from_env() if tls is None else tls).client_context()
    return httpx.Client(timeout=timeout, verify=context)


class MarketplaceClient:
    """Talks to one marketplace API.

    Parameters
    ----------
    base_url : str
        ``http://host:port`` or ``https://host:port`` of the API.
    timeout : float, default 30
        Seconds per request.
    http : httpx.Client or None, default None
        A client to send through instead of a new one (e.g. FastAPI's ``TestClient``); the caller
        keeps ownership of it.
    tls : TlsConfig or None, default None
        Certificates for an ``https://`` URL (the CA that signed the API's certificate, a client
        certificate); ``None`` reads ``FEDMARKET_TLS_*``. Plain ``http://`` to another machine
        logs that the channel is unencrypted.

    Raises
    ------
    MarketplaceApiError
        From every method, on a 4xx/5xx answer, with the server's status and ``detail``.
    MarketplaceConnectionError
        When the API cannot be reached.
    """

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 30,
        http: httpx.Client | None = None,
        tls: TlsConfig | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.token: str | None = None
        """The session token after :meth:`sign_in` (sent as ``Authorization: Bearer``)."""
        self.signed_in_as: str | None = None
        """The address :attr:`token` signs in (writes sign in as their signer first)."""
        self._owned = http is None
        self._http = http if http is not None else _http_client(self.base_url, timeout, tls)

    def close(self) -> None:
        """Close the connection pool (when this client created it)."""
        if self._owned:
            self._http.close()

    def __enter__(self) -> MarketplaceClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- plumbing ------------------------------------------------------------------------------
    def _request(self, method: str, path: str, *, raw: bool = False, **kwargs: Any) -> Any:
        url = f"{self.base_url}{path}"
        if self.token is not None:
            kwargs["headers"] = {
                **kwargs.get("headers", {}),
                "Authorization": f"Bearer {self.token}",
            }
        try:
            response = self._http.request(method, url, **kwargs)
        except (httpx.TransportError, ssl.SSLError) as exc:  # TLS alerts arrive bare
            reason = tls_failure(exc) or type(exc).__name__
            raise MarketplaceConnectionError(
                f"cannot reach the marketplace API at {self.base_url} ({reason})"
            ) from exc
        if response.status_code >= 400:
            try:
                detail = response.json().get("detail", response.text)
            except (ValueError, AttributeError):
                detail = response.text
            raise MarketplaceApiError.for_status(response.status_code, detail)
        if raw:
            return response
        return response.json()

    def _get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        clean = {k: v for k, v in (params or {}).items() if v is not None}
        return self._request("GET", path, params=clean)

    # ---- endpoints -----------------------------------------------------------------------------
    def health(self) -> dict[str, Any]:
        """``GET /health`` (raises with status 503 when a dependency is down)."""
        result: dict[str, Any] = self._get("/health")
        return result

    def signing_params(self, owner: str, kind: str = "listing") -> dict[str, Any]:
        """``GET /datasets/signing-params``: domain, types, nonce and a deadline for ``owner``.

        ``kind`` is ``listing`` (``POST``), ``update`` (mode and price) or ``active``.
        """
        query = {"owner": owner, "kind": kind}
        result: dict[str, Any] = self._get("/datasets/signing-params", query)
        return result

    def list_dataset(
        self,
        account: LocalAccount,
        metadata: dict[str, Any],
        *,
        deadline: int | None = None,
        access_mode: Literal["federated_only", "downloadable"] = "federated_only",
        price_wei: int | str = 0,
        wait: float | None = 30.0,
    ) -> dict[str, Any]:
        """Sign a listing of ``metadata`` with ``account`` and ``POST /datasets`` it.

        The API relays it and answers ``202`` with the dataset id and transaction hash; the
        listing shows once the API's indexer has seen it on-chain, which this waits for.

        Parameters
        ----------
        account : LocalAccount
            The owner's key (it signs here; only the signature is sent).
        metadata : dict
            The :class:`~marketplace_api.schemas.DatasetBase` fields; ``owner`` defaults to the
            account's address and ``downloadable`` to whether ``access_mode`` is.
        deadline : int or None, default None
            Unix time the signature expires; the server's suggestion when ``None``.
        access_mode : {"federated_only", "downloadable"}, default "federated_only"
            How the dataset can be used (signed).
        price_wei : int or str, default 0
            Price of a licence in token wei (signed; 0 for ``federated_only``).
        wait : float or None, default 30.0
            Seconds to wait for the listing to be indexed (:meth:`wait_for_dataset`); ``None``
            returns the ``202`` answer at once.

        Returns
        -------
        dict
            The indexed listing (``id`` is the on-chain dataset id), or with ``wait=None`` the
            relay's answer (``id``, ``tx_hash``, ``block``, ``location``).
        """
        base = _dataset_base(account, metadata, access_mode)
        self._as(account)
        params = self.signing_params(base.owner)
        body = _signed_listing(account, base, params, deadline, access_mode, price_wei)
        result: dict[str, Any] = self._request("POST", "/datasets", json=body)
        log.debug("list_dataset: %s relayed as dataset %s", base.name, result.get("id"))
        if wait is None:
            return result
        return self.wait_for_dataset(int(result["id"]), timeout=wait)

    def update_dataset(
        self,
        account: LocalAccount,
        dataset_id: int,
        *,
        access_mode: Literal["federated_only", "downloadable"],
        price_wei: int | str = 0,
    ) -> dict[str, Any]:
        """Sign a change of a listing's access mode and price; ``PATCH /datasets/{id}`` relays it.

        Returns
        -------
        dict
            The relay's answer (``tx_hash``, ``block``, ``change``); the listing shows the change
            once indexed (:meth:`wait_indexed` with ``block``).
        """
        self._as(account)
        params = self.signing_params(account.address, "update")
        request = ListingUpdateRequest(
            owner=account.address,
            dataset_id=int(dataset_id),
            access_mode=AccessMode(ACCESS_MODE_VALUES[access_mode]),
            price=int(price_wei),
            nonce=int(params["nonce"]),
            deadline=int(params["deadline"]),
        )
        signature = sign_listing_update(
            account, int(params["chain_id"]), params["registry"], request
        )
        body = {
            "access_mode": access_mode,
            "price_wei": str(price_wei),
            "nonce": request.nonce,
            "deadline": request.deadline,
            "signature": "0x" + signature.hex(),
        }
        result: dict[str, Any] = self._request("PATCH", f"/datasets/{int(dataset_id)}", json=body)
        return result

    def set_dataset_active(
        self, account: LocalAccount, dataset_id: int, *, active: bool
    ) -> dict[str, Any]:
        """Sign a delisting (``active=False``: ``DELETE``) or relisting (``PATCH``) and send it."""
        self._as(account)
        params = self.signing_params(account.address, "active")
        request = ListingActiveRequest(
            owner=account.address,
            dataset_id=int(dataset_id),
            active=active,
            nonce=int(params["nonce"]),
            deadline=int(params["deadline"]),
        )
        signature = sign_listing_active(
            account, int(params["chain_id"]), params["registry"], request
        )
        body: dict[str, Any] = {
            "nonce": request.nonce,
            "deadline": request.deadline,
            "signature": "0x" + signature.hex(),
        }
        path = f"/datasets/{int(dataset_id)}"
        if active:
            result: dict[str, Any] = self._request("PATCH", path, json={**body, "active": True})
        else:
            result = self._request("DELETE", path, json=body)
        return result

    def wait_for_dataset(self, dataset_id: int, *, timeout: float = 30.0) -> dict[str, Any]:
        """``GET /datasets/{id}`` until the listing is indexed (404 until then).

        Parameters
        ----------
        dataset_id : int
            The on-chain dataset id.
        timeout : float, default 30.0
            Seconds to wait.

        Raises
        ------
        MarketplaceApiError
            404 when the listing is still not indexed after ``timeout``.
        """
        deadline = time.monotonic() + timeout
        pause = 0.02
        while True:
            try:
                return self.dataset(dataset_id)
            except MarketplaceApiError as exc:
                if exc.status != 404 or time.monotonic() >= deadline:
                    raise
            time.sleep(pause)
            pause = min(pause * 2, 0.5)

    def wait_indexed(self, block: int, *, timeout: float = 30.0) -> int:
        """Wait until the API's index has reached ``block`` (``GET /health``); its block.

        Use it after acting on-chain directly, before reading what the action changed.

        Raises
        ------
        MarketplaceApiError
            408 when the index is still behind ``block`` after ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        pause = 0.02
        while True:
            try:
                indexed = self.health()["index"]["block"]
            except MarketplaceApiError as exc:  # a degraded API answers 503 with the same body
                if exc.status != 503 or time.monotonic() >= deadline:
                    raise
                indexed = None
            if indexed is not None and int(indexed) >= block:
                return int(indexed)
            if time.monotonic() >= deadline:
                raise MarketplaceApiError(408, f"the index is at {indexed}, not yet at {block}")
            time.sleep(pause)
            pause = min(pause * 2, 0.5)

    def datasets(self, **filters: Any) -> list[dict[str, Any]]:
        """``GET /datasets``: the listings matching ``filters`` (owner, tag, access_mode, ...)."""
        page: dict[str, Any] = self._get("/datasets", filters)
        items: list[dict[str, Any]] = page["items"]
        return items

    def datasets_page(self, **filters: Any) -> dict[str, Any]:
        """``GET /datasets`` with its paging fields (items, total, limit, offset).

        Parameters
        ----------
        **filters : Any
            ``owner``, ``tag``, ``access_mode``, ``limit``, ``offset`` (``None`` values left out).
        """
        page: dict[str, Any] = self._get("/datasets", filters)
        return page

    def dataset(self, dataset_id: int) -> dict[str, Any]:
        """``GET /datasets/{id}``."""
        result: dict[str, Any] = self._get(f"/datasets/{int(dataset_id)}")
        return result

    def task(self, task_id: int) -> dict[str, Any]:
        """``GET /tasks/{id}``: the task as the chain records it (wei as decimal strings).

        Parameters
        ----------
        task_id : int
            The task.
        """
        result: dict[str, Any] = self._get(f"/tasks/{int(task_id)}")
        return result

    def tasks_page(self, **filters: Any) -> dict[str, Any]:
        """``GET /tasks``: a page of tasks (items, total, limit, offset).

        Parameters
        ----------
        **filters : Any
            ``status``, ``sponsor``, ``coordinator``, ``participant``, ``limit``, ``offset``
            (``None`` values left out).
        """
        page: dict[str, Any] = self._get("/tasks", filters)
        return page

    def participant(self, address: str) -> dict[str, Any]:
        """``GET /participants/{address}``: earnings, stakes and licences of an account.

        Parameters
        ----------
        address : str
            The account.
        """
        result: dict[str, Any] = self._get(f"/participants/{address}")
        return result

    def model_signing_params(self) -> dict[str, Any]:
        """``GET /models/signing-params``: chain id, FedTask and ModelMarket addresses."""
        result: dict[str, Any] = self._get("/models/signing-params")
        return result

    def list_model(
        self,
        account: LocalAccount,
        *,
        task_id: int,
        name: str,
        card_cid: str,
        description: str = "",
        price_wei: int | str | None = None,
    ) -> dict[str, Any]:
        """Describe a model listed on the ModelMarket: sign with ``account`` and ``POST /models``.

        The task's sponsor lists the model on-chain first (``ModelMarketClient.list_model``, once
        the task is final), with the card's CID and keccak hash; ``account`` is that lister.

        Parameters
        ----------
        account : LocalAccount
            The lister of the on-chain listing (the task's sponsor).
        task_id : int
            The final task.
        name : str
            Shown to buyers.
        card_cid : str
            CID of the model card in the content store (the on-chain listing's).
        description : str, default ""
            Shown to buyers.
        price_wei : int or str or None, default None
            The price expected: when given, the API refuses unless the market sells at it.

        Returns
        -------
        dict
            The recorded listing (``id`` is the ModelMarket listing id).
        """
        try:
            fields = ModelBase.model_validate(
                {
                    "task_id": task_id,
                    "name": name,
                    "description": description,
                    "price_wei": None if price_wei is None else str(price_wei),
                    "card_cid": card_cid,
                }
            )
        except ValidationError as exc:
            raise _local_errors(exc) from None
        self._as(account)
        domain = self.model_signing_params()
        signature = sign_model_listing(
            account,
            fields,
            chain_id=int(domain["chain_id"]),
            fed_task=str(domain["fed_task"]),
            market=str(domain["market"]),
        )
        body = {**fields.message_fields(), "signer": account.address, "signature": signature}
        result: dict[str, Any] = self._request("POST", "/models", json=body)
        return result

    def models(self, **filters: Any) -> list[dict[str, Any]]:
        """``GET /models``: the model listings matching ``filters`` (task_id, contributor...).

        Parameters
        ----------
        **filters : Any
            ``task_id``, ``contributor``, ``limit``, ``offset`` (``None`` values left out).
        """
        page: dict[str, Any] = self._get("/models", filters)
        items: list[dict[str, Any]] = page["items"]
        return items

    def model(self, model_id: int) -> dict[str, Any]:
        """``GET /models/{id}`` (the ModelMarket listing id).

        Parameters
        ----------
        model_id : int
            The ModelMarket listing id.
        """
        result: dict[str, Any] = self._get(f"/models/{int(model_id)}")
        return result

    # ---- sign-in (EIP-4361) and paid content ---------------------------------------------------
    def sign_in(self, account: LocalAccount) -> dict[str, Any]:
        """Sign in with Ethereum: sign the API's challenge with ``account``, keep the token.

        The key signs here; only the message and its signature are sent. Later requests carry
        the session token (:attr:`token`).

        Parameters
        ----------
        account : LocalAccount
            The account to sign in as (its public key receives the content keys bought).

        Returns
        -------
        dict
            The session: ``address``, ``public_key``, ``expires_at``, ``token``.
        """
        challenge = self._request("POST", "/auth/nonce")
        body = sign_challenge(account, challenge, now=time.time())
        session: dict[str, Any] = self._request("POST", "/auth/verify", json=body)
        self.token = str(session["token"])
        self.signed_in_as = str(session["address"])
        return session

    def _as(self, account: LocalAccount) -> None:
        """Sign in as ``account`` unless the session already is its (every write needs one)."""
        if self.token is None or self.signed_in_as != account.address:
            self.sign_in(account)

    def session(self) -> dict[str, Any]:
        """``GET /auth/session``: who the token signs in (raises with status 401 when none)."""
        result: dict[str, Any] = self._request("GET", "/auth/session")
        return result

    def sign_out(self) -> None:
        """``DELETE /auth/session``: end the session; the token is forgotten."""
        self._request("DELETE", "/auth/session", raw=True)
        self.token = None
        self.signed_in_as = None

    def upload_content(self, kind: ArtifactKind, item_id: int, data: bytes) -> dict[str, Any]:
        """``PUT /{models,datasets}/{id}/content``: upload an item's content, as its seller.

        Parameters
        ----------
        kind : {"model", "dataset"}
            A model (its sponsor uploads the final model's bytes) or a downloadable dataset
            (its owner uploads the CSV).
        item_id : int
            The listing's id.
        data : bytes
            The plaintext; the service seals it.
        """
        media = "application/octet-stream" if kind == "model" else "text/csv"
        result: dict[str, Any] = self._request(
            "PUT", f"/{kind}s/{int(item_id)}/content", content=data,
            headers={"Content-Type": media},
        )  # fmt: skip
        return result

    def content_grant(self, kind: ArtifactKind, item_id: int) -> dict[str, Any]:
        """``GET /{models,datasets}/{id}/content``: the CID and the key wrapped to the buyer.

        Parameters
        ----------
        kind : {"model", "dataset"}
            What was bought.
        item_id : int
            The listing's id.
        """
        result: dict[str, Any] = self._request("GET", f"/{kind}s/{int(item_id)}/content")
        return result

    def content_envelope(self, kind: ArtifactKind, item_id: int) -> bytes:
        """``GET /{models,datasets}/{id}/content/envelope``: the sealed bytes.

        Parameters
        ----------
        kind : {"model", "dataset"}
            What was bought.
        item_id : int
            The listing's id.
        """
        response = self._request("GET", f"/{kind}s/{int(item_id)}/content/envelope", raw=True)
        return bytes(response.content)


__all__ = ["MarketplaceClient"]
