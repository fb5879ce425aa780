"""The ModelMarket from the command line: ``buy`` a model, see and claim ``proceeds``.

``fedmarket buy MODEL_ID`` does a whole purchase with the buyer's own key (from an environment
variable, never argv): it reads the listing and the final model's hash from the chain, checks the
price against ``--max-price`` and the marketplace API's copy against the chain, signs in to the
API (EIP-4361), pays on-chain (approve, then ``buy`` capped at the price it read), fetches the
content key wrapped to its key and the sealed envelope, decrypts locally, checks the bytes
against the on-chain hash, and writes the file. Nothing is paid before every check that can be
made beforehand has passed; a buyer who already holds a licence pays nothing and downloads again.

``fedmarket proceeds`` shows what an account can pull from the chain: its shares of the model
sales of the tasks it contributed to; with ``--store``, the task rewards due to it now (rebuilt
from the stored evidence, claimed by proof as ``fedmarket claim`` does); and what the registry,
the market and the court hold for it (dataset sales, sponsor cuts, fees, bonds and validator
rewards). ``--claim`` pulls them all.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from fedmarket.cli._checks import address as check_address
from fedmarket.cli._checks import int_range
from fedmarket.cli._common import DeploymentOpt, KeyEnvOpt, RpcOpt, connect_deployment, out
from kernel.errors import IntegrityError, InvalidInputError, NotFoundError, RefusedError

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount

    from chain import ChainBackend, Deployment
    from chain.market import ModelListing, ModelMarketClient
    from fl_node.status import ModelShare, PullBalances, TaskRewards
    from marketplace_api import MarketplaceClient

ApiOpt = Annotated[str, typer.Option("--api", metavar="URL", help="The marketplace API.")]


@dataclass(frozen=True)
class Purchase:
    """What ``buy`` paid, or found already paid.

    Attributes
    ----------
    paid_wei : int
        The amount the licence cost.
    tx_hash : str or None
        The purchase's transaction; ``None`` when the licence was bought before.
    block : int
        The block of the licence.
    """

    paid_wei: int
    tx_hash: str | None
    block: int


def _out_path(out_file: Path | None, model_id: int, force: bool) -> Path:
    """Where the model goes: refused before anything is paid if it cannot be written there."""
    target = out_file if out_file is not None else Path(f"model-{model_id}.bin")
    if target.exists() and not force:
        raise InvalidInputError(f"--out {target} exists: give --force to overwrite it")
    if not target.parent.resolve().is_dir():
        raise InvalidInputError(f"--out {target}: no folder {target.parent}")
    return target


def _listing(market: ModelMarketClient, model_id: int) -> ModelListing:
    """The on-chain listing, or :class:`NotFoundError` for an id never listed."""
    if model_id > market.model_count():
        raise NotFoundError(f"model {model_id} is not listed on the ModelMarket {market.address}")
    return market.model(model_id)


def _check_price(listing: ModelListing, max_price: int) -> None:
    """Refuse an inactive listing or a price above what the buyer agreed to pay."""
    if not listing.active:
        raise RefusedError(f"model {listing.model_id} is not for sale (its lister deactivated it)")
    if listing.price > max_price:
        raise RefusedError(
            f"model {listing.model_id} costs {listing.price} wei, above --max-price {max_price}: "
            "nothing was paid"
        )


def _check_offer(
    detail: dict[str, Any], dep: Deployment, chain_id: int, model_id: int, model_hash: bytes
) -> None:
    """Refuse before paying when the API is for another market or holds no matching content."""
    if (int(detail["chain_id"]), str(detail["market"])) != (chain_id, dep.market):
        raise InvalidInputError(
            f"--api serves the market {detail['market']} on chain {detail['chain_id']}, not "
            f"{dep.market} on chain {chain_id} of --deployment"
        )
    content = detail.get("content")
    if content is None:
        raise NotFoundError(
            f"model {model_id}'s seller has not uploaded its content yet: nothing was paid"
        )
    if str(content["content_hash"]).lower() != "0x" + model_hash.hex():
        raise IntegrityError(
            f"the API's copy of model {model_id} hashes to {content['content_hash']}, not to the "
            f"final model hash 0x{model_hash.hex()} on-chain: nothing was paid"
        )


def _pay(backend: ChainBackend, dep: Deployment, account: LocalAccount, listing: ModelListing
         ) -> Purchase:  # fmt: skip
    """Approve the market for the price and buy, capped at the price read (a raise reverts)."""
    from chain import signer_for

    signer = signer_for(backend, account)
    token = dep.token_client(backend, signer)
    balance = token.balance_of(account.address)
    if balance < listing.price:
        raise RefusedError(
            f"{account.address} holds {balance} token wei, less than model {listing.model_id}'s "
            f"price {listing.price}: nothing was paid"
        )
    if token.allowance(account.address, dep.market) < listing.price:
        token.approve(dep.market, listing.price)
    bought, tx = dep.market_client(backend, signer).buy(listing.model_id, listing.price)
    return Purchase(paid_wei=int(bought.paid), tx_hash=tx.tx_hash, block=tx.block_number)


def _download(
    api: MarketplaceClient, account: LocalAccount, dep: Deployment, chain_id: int,
    model_id: int, model_hash: bytes,
) -> bytes:  # fmt: skip
    """The grant and the envelope, opened with the buyer's key and checked against the chain."""
    from marketplace_api.content import ArtifactRef, open_grant

    grant = api.content_grant("model", model_id)
    envelope = api.content_envelope("model", model_id)
    ref = ArtifactRef(kind="model", chain_id=chain_id, contract=dep.market, item_id=model_id)
    return open_grant(
        grant, envelope, bytes(account.key), expected=ref, recipient=account.address,
        expected_hash=model_hash,
    )  # fmt: skip


def _write(target: Path, data: bytes) -> None:
    """Write ``data`` to ``target`` atomically (a temporary file beside it, then renamed)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


ModelIdArg = Annotated[
    int,
    typer.Argument(
        metavar="MODEL_ID",
        help="The ModelMarket listing id.",
        callback=int_range("MODEL_ID", 1),
    ),
]
MaxPriceOpt = Annotated[
    int,
    typer.Option(
        "--max-price",
        help="The most you agree to pay, in token wei (a higher price is refused).",
        callback=int_range("--max-price", 0),
    ),
]
OutFileOpt = Annotated[
    Path | None,
    typer.Option("--out", help="Where to write the model (default model-MODEL_ID.bin)."),
]
ForceOpt = Annotated[bool, typer.Option("--force", help="Overwrite --out if it exists.")]


def buy(
    model_id: ModelIdArg,
    rpc: RpcOpt,
    deployment: DeploymentOpt,
    api: ApiOpt,
    max_price: MaxPriceOpt,
    out_file: OutFileOpt = None,
    force: ForceOpt = False,
    key_env: KeyEnvOpt = "FEDMARKET_BUYER_KEY",
) -> None:
    """Buy model MODEL_ID, download it, decrypt it and check it against the on-chain hash.

    Pays only after every check that can be made first (price, listing, the API's copy); if the
    download fails after paying, run it again: a licence already held is never paid twice.
    """
    from chain import account_from_env
    from marketplace_api import MarketplaceClient

    target = _out_path(out_file, model_id, force)
    account = account_from_env(key_env)
    backend, dep = connect_deployment(rpc, deployment)
    market = dep.market_client(backend)
    listing = _listing(market, model_id)
    model_hash = bytes(dep.fed_task_client(backend).task(int(listing.task_id)).model_hash)
    licence = market.licence_of(model_id, account.address)
    if licence is None:
        _check_price(listing, max_price)
    with MarketplaceClient(api) as client:
        _check_offer(client.model(model_id), dep, backend.chain_id, model_id, model_hash)
        client.sign_in(account)
        if licence is None:
            purchase = _pay(backend, dep, account, listing)
        else:
            purchase = Purchase(int(licence.price_paid), None, licence.at_block)
        data = _download(client, account, dep, backend.chain_id, model_id, model_hash)
    _write(target, data)
    _report(model_id, purchase, data, model_hash, target)


def _report(
    model_id: int, purchase: Purchase, data: bytes, model_hash: bytes, target: Path
) -> None:
    """The one summary line of a purchase."""
    paid = (
        f"paid {purchase.paid_wei} wei (tx {purchase.tx_hash})"
        if purchase.tx_hash
        else f"already licensed (block {purchase.block}), nothing paid"
    )
    out.print(
        f"model {model_id}: {paid}; {len(data)} bytes, keccak 0x{model_hash.hex()} as on-chain; "
        f"written to {target}",
        soft_wrap=True,
        highlight=False,
    )


# ---- proceeds ------------------------------------------------------------------------------------


def _task_rewards(
    backend: ChainBackend, dep: Deployment, account: str, store_dir: Path, key: bytes | None
) -> list[TaskRewards]:
    """The rewards due now in every task ``account`` joined, rebuilt from the stored evidence.

    ``key`` (the account's, when given) opens the evidence of tasks that seal it.
    """
    from fl_node.status import joined_tasks, task_rewards
    from storage import LocalCidStore
    from storage.sealed_store import SealedStore

    fed_task = dep.fed_task_client(backend)
    store = SealedStore(LocalCidStore(store_dir), key=key)
    joined = joined_tasks(fed_task, account)
    return task_rewards(fed_task, dep.court_client(backend), store, account, joined)


def _claim_all(
    backend: ChainBackend, dep: Deployment, account: LocalAccount,
    models: list[ModelShare], balances: PullBalances, rewards: list[TaskRewards],
) -> list[dict[str, Any]]:  # fmt: skip
    """Claim every model's proceeds and due reward, and withdraw every balance not zero."""
    from chain import signer_for
    from fl_node.claims import submit_claims

    signer = signer_for(backend, account)
    market = dep.market_client(backend, signer)
    done: list[dict[str, Any]] = []
    for m in models:
        if m.claimable:
            amount, tx = market.claim_proceeds(m.model_id)
            done.append({"what": f"model {m.model_id}", "wei": str(amount), "tx": tx.tx_hash})
    for t in rewards:
        if t.claims:
            tx = submit_claims(dep.fed_task_client(backend, signer), t.task_id, t.claims)
            done.append({"what": f"task {t.task_id}", "wei": str(t.wei), "tx": tx.tx_hash})
    for name, held in balances.items():
        if not held:
            continue
        if name == "court":
            tx = dep.court_client(backend, signer).withdraw()
        elif name == "market":
            _, tx = market.withdraw()
        else:
            _, tx = dep.registry_client(backend, signer).withdraw()
        done.append({"what": name, "wei": str(held), "tx": tx.tx_hash})
    return done


def _who(account_address: str | None, claim: bool, key_env: str) -> tuple[str, LocalAccount | None]:
    """The account shown, and its key when it is needed (``--claim``) or given."""
    from chain import account_from_env

    if account_address is None:
        account = account_from_env(key_env)
        return account.address, account
    if claim:
        raise InvalidInputError("proceeds: --claim needs the account's key (--key-env)")
    return check_address("--address", account_address), None


def proceeds(
    rpc: RpcOpt,
    deployment: DeploymentOpt,
    claim: Annotated[
        bool, typer.Option("--claim", help="Claim everything shown, and withdraw the balances.")
    ] = False,
    store: Annotated[
        Path | None,
        typer.Option("--store", help="The shared content store: include task rewards, by proof."),
    ] = None,
    account_address: Annotated[
        str | None,
        typer.Option("--address", help="Show this account's (no key needed; not with --claim)."),
    ] = None,
    key_env: KeyEnvOpt = "FEDMARKET_PARTICIPANT_KEY",
) -> None:
    """Show sale proceeds, rewards and pull balances on-chain; with --claim, pull them all.

    Prints JSON: per model the account's share, claimed and claimable proceeds; with --store,
    per task the rounds whose rewards it can claim now; the registry's, the market's and the
    court's withdrawable balances (dataset sales, sponsor cuts, fees, bonds, validator rewards);
    with --claim, each transaction sent.
    """
    who, account = _who(account_address, claim, key_env)
    backend, dep = connect_deployment(rpc, deployment)
    from fl_node.status import model_shares, pull_balances

    market = dep.market_client(backend)
    models = model_shares(market, dep.fed_task_client(backend), who)
    key = bytes(account.key) if account is not None else None
    rewards = _task_rewards(backend, dep, who, store, key) if store is not None else []
    balances = pull_balances(dep.registry_client(backend), market, dep.court_client(backend), who)
    claimable = sum(int(m.claimable) for m in models) + sum(t.wei for t in rewards) + balances.total
    report: dict[str, Any] = {
        "account": who,
        "models": [m.to_dict() for m in models],
        "task_rewards": [t.to_dict() for t in rewards] if store is not None else None,
        "balances_wei": balances.to_dict(),
        "claimable_wei": str(claimable),
    }
    if claim and account is not None:
        report["claimed"] = _claim_all(backend, dep, account, models, balances, rewards)
    out.print_json(json.dumps(report))
