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
from typing import Any, Literal

import httpx
from eth_account.signers.local import LocalAccount
from pydantic import ValidationError

from chain import sign_listing
from marketplace_api.errors import MarketplaceApiError, MarketplaceConnectionError
from marketplace_api.listing import metadata_document, sign_model_listing
from marketplace_api.schemas import DatasetBase, ModelBase

log = logging.getLogger(__name__)


def _local_errors(exc: ValidationError) -> MarketplaceApiError:
    """A 422 in the server's shape for input that fails validation before it is sent."""
    detail = [
        {"loc": ["body", *e["loc"]], "msg": e["msg"], "type": e["type"]}
        for e in exc.errors(include_input=False, include_url=False)
    ]
    return MarketplaceApiError.for_status(422, detail)


class MarketplaceClient:
    """Talks to one marketplace API.

    Parameters
    ----------
    base_url : str
        ``http://host:port`` of the API.
    timeout : float, default 30
        Seconds per request.
    http : httpx.Client or None, default None
        A client to send through instead of a new one (e.g. FastAPI's ``TestClient``); the caller
        keeps ownership of it.

    Raises
    ------
    MarketplaceApiError
        From every method, on a 4xx/5xx answer, with the server's status and ``detail``.
    MarketplaceConnectionError
        When the API cannot be reached.
    """

    def __init__(
        self, base_url: str, *, timeout: float = 30, http: httpx.Client | None = None
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._owned = http is None
        self._http = http if http is not None else httpx.Client(timeout=timeout)

    def close(self) -> None:
        """Close the connection pool (when this client created it)."""
        if self._owned:
            self._http.close()

    def __enter__(self) -> MarketplaceClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- plumbing ------------------------------------------------------------------------------
    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        url = f"{self.base_url}{path}"
        try:
            response = self._http.request(method, url, **kwargs)
        except httpx.TransportError as exc:
            raise MarketplaceConnectionError(
                f"cannot reach the marketplace API at {self.base_url} ({type(exc).__name__})"
            ) from exc
        if response.status_code >= 400:
            try:
                detail = response.json().get("detail", response.text)
            except (ValueError, AttributeError):
                detail = response.text
            raise MarketplaceApiError.for_status(response.status_code, detail)
        return response.json()

    def _get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        clean = {k: v for k, v in (params or {}).items() if v is not None}
        return self._request("GET", path, params=clean)

    # ---- endpoints -----------------------------------------------------------------------------
    def health(self) -> dict[str, Any]:
        """``GET /health`` (raises with status 503 when a dependency is down)."""
        result: dict[str, Any] = self._get("/health")
        return result

    def signing_params(self, owner: str) -> dict[str, Any]:
        """``GET /datasets/signing-params``: domain, nonce and suggested deadline for ``owner``."""
        result: dict[str, Any] = self._get("/datasets/signing-params", {"owner": owner})
        return result

    def list_dataset(
        self,
        account: LocalAccount,
        metadata: dict[str, Any],
        *,
        deadline: int | None = None,
        access_mode: Literal["federated_only", "downloadable"] = "federated_only",
        price_wei: int | str = 0,
    ) -> dict[str, Any]:
        """Sign a listing of ``metadata`` with ``account`` and ``POST /datasets`` it.

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

        Returns
        -------
        dict
            The recorded listing (``id`` is the on-chain dataset id).
        """
        fields = {
            "owner": account.address,
            "downloadable": access_mode == "downloadable",
            **metadata,
        }
        try:
            base = DatasetBase.model_validate(fields)
        except ValidationError as exc:
            raise _local_errors(exc) from None
        params = self.signing_params(base.owner)
        doc = metadata_document(base)
        chosen = int(params["deadline"]) if deadline is None else deadline
        nonce = int(params["nonce"])
        request = doc.request(
            base.owner, nonce=nonce, deadline=chosen, access_mode=access_mode, price=int(price_wei)
        )
        signature = sign_listing(account, int(params["chain_id"]), params["registry"], request)
        body = {
            **base.document_fields(),
            "access_mode": access_mode,
            "price_wei": str(price_wei),
            "nonce": nonce,
            "deadline": chosen,
            "signature": "0x" + signature.hex(),
        }
        result: dict[str, Any] = self._request("POST", "/datasets", json=body)
        log.debug("list_dataset: %s listed as dataset %s", doc.cid, result.get("id"))
        return result

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


__all__ = ["MarketplaceClient"]
