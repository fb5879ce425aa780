"""Settings of the marketplace API: one pydantic-settings class, read from ``FEDMARKET_API_*``.

=================================  ================================================================
``FEDMARKET_API_ENVIRONMENT``      ``development`` (default) or ``production``
``FEDMARKET_API_DATABASE_URL``     SQLAlchemy URL (default ``sqlite:///./fedmarket.db``; PostgreSQL,
                                   required in production: ``postgresql+psycopg://user:pass@host/db``)
``FEDMARKET_API_CHAIN_URL``        JSON-RPC URL of the chain node (unset: the API must be given its
                                   services, e.g. an in-process chain, by the embedding program)
``FEDMARKET_API_DEPLOYMENT_FILE``  deployment JSON written by ``fedmarket chain deploy``
                                   (protocol v2: token, registry, FedTask, court and market; the
                                   API reads the market and court from it; a v1 file is refused)
``FEDMARKET_API_RELAYER_KEY``      hex private key that pays gas to relay signed listings
                                   (**required**, no default; never logged)
``FEDMARKET_API_STORE_BACKEND``    ``local`` (default: a folder) or ``ipfs`` (an IPFS daemon)
``FEDMARKET_API_STORE_DIR``        folder of the local content store (default ``./fedmarket-store``)
``FEDMARKET_API_IPFS_API_URL``     RPC API of the IPFS daemon (default ``http://127.0.0.1:5001``)
``FEDMARKET_API_CORS_ORIGINS``     comma-separated origins allowed by CORS (default none)
``FEDMARKET_API_MAX_BODY_BYTES``   largest request body accepted (default 1 MiB)
``FEDMARKET_API_MAX_CONTENT_BYTES`` largest model or dataset upload accepted (default 64 MiB)
``FEDMARKET_API_PUBLIC_URL``       the API's public origin, e.g. ``https://market.example.org``:
                                   the domain and URI sign-in messages must name (**required** in
                                   production; in development the request's own host is used)
``FEDMARKET_API_CONTENT_MASTER_KEY`` hex 32-byte key that encrypts the content keys at rest
                                   (**required** in production; never logged)
``FEDMARKET_API_SESSION_TTL``      seconds a sign-in session lasts (default 3600)
``FEDMARKET_API_NONCE_TTL``        seconds a sign-in nonce stays usable (default 300)
``FEDMARKET_API_RELAY_*``,         relayer economics: rate limits per address and per client IP,
``..._SIGN_IN_IP_*``,              the per-owner gas budget, the relayer's balance floor, the
``..._RELAYER_*``,                 proxies whose ``X-Forwarded-For`` is believed; the table is in
``..._TRUSTED_PROXIES``            :mod:`marketplace_api.relay.policy`
``FEDMARKET_API_DB_POOL_SIZE``     PostgreSQL connections kept open per process (default 10)
``FEDMARKET_API_DB_MAX_OVERFLOW``  extra connections opened under load, closed after (default 20)
``FEDMARKET_API_DB_POOL_TIMEOUT``  seconds a request waits for a free connection (default 10)
``FEDMARKET_API_DB_POOL_RECYCLE``  seconds after which a pooled connection is replaced (1800)
``FEDMARKET_API_RESPONSE_CACHE``   pages of the index kept per process (default 1024; 0: off)
``FEDMARKET_API_ACCESS_LOG_DIR``   folder of the hash-chained access log of content key grants and
                                   downloads (unset: not logged; :mod:`storage.access_log`)
``FEDMARKET_API_ACCESS_LOG_DAYS``  days a closed access-log segment is kept (default 183: 6 months)
=================================  ================================================================

Outside development the well-known development keys (anvil/Hardhat's mnemonic, eth-tester's
genesis keys, the development content master key) and placeholder passwords are rejected, and
the public URL must be ``https``. Secrets are ``SecretStr`` and validation errors never echo the
value given.
"""

from __future__ import annotations

import ipaddress
import logging
from pathlib import Path
from typing import Annotated, Any, Literal, Self
from urllib.parse import urlsplit

from eth_account import Account
from eth_utils.crypto import keccak
from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from kernel.errors import ConfigurationError

log = logging.getLogger(__name__)

DEFAULT_IPFS_API_URL = "http://127.0.0.1:5001"
"""Where a Kubo daemon serves its RPC API by default."""

DEVELOPMENT_MASTER_KEY = keccak(b"fedmarket development content master key").hex()
"""The content master key used in development when none is set: public, so refused in
production (anyone could open the content keys sealed under it)."""

ENV_PREFIX = "FEDMARKET_API_"

# Addresses of the 20 accounts of the public development mnemonic ("test test ... junk") that anvil
# and Hardhat fund at start. Their keys are published; a relayer using one would be drained on any
# public chain. (Addresses, not keys, are kept here: nothing secret, and enough to recognise one.)
DEV_ADDRESSES = frozenset(
    {
        "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
        "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
        "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC",
        "0x90F79bf6EB2c4f870365E785982E1f101E93b906",
        "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65",
        "0x9965507D1a55bcC2695C58ba16FB37d819B0A4dc",
        "0x976EA74026E726554dB657fA54763abd0C3a0aa9",
        "0x14dC79964da2C08b23698B3D3cc7Ca32193d9955",
        "0x23618e81E3f5cdF7f54C3d65f7FBc0aBf5B21E8f",
        "0xa0Ee7A142d267C1f36714E4a8F75612F20a79720",
        "0xBcd4042DE499D14e55001CcbB24a551F3b954096",
        "0x71bE63f3384f5fb98995898A86B02Fb2426c5788",
        "0xFABB0ac9d68B0B445fB7357272Ff202C5651694a",
        "0x1CBd3b2770909D4e10f157cABC84C7264073C9Ec",
        "0xdF3e18d64BC6A983f673Ab319CCaE4f1a57C7097",
        "0xcd3B766CCDd6AE721141F452C550Ca635964ce71",
        "0x2546BcD3c84621e976D8185a91A922aE77ECEc30",
        "0xbDA5747bFD65F08deb54cb465eB87D40e51B197E",
        "0xdD2FD4581271e230360230F9337D5c0430Bf44C0",
        "0x8626f6940E2eb28930eFb4CeF49B2d1F2C9C1199",
    }
)

_SMALL_KEY_LIMIT = 2**64
"""Keys below this are guessable (eth-tester's genesis keys are 1..10)."""

_PLACEHOLDERS = frozenset({"changethis", "changeme", "password", "secret", "postgres", "example"})


class Settings(BaseSettings):
    """Configuration of one marketplace API process.

    Parameters
    ----------
    environment : {"development", "production"}, default "development"
        ``production`` turns on the checks against development keys and placeholders.
    database_url : str, default "sqlite:///./fedmarket.db"
        SQLAlchemy URL of the marketplace database (PostgreSQL in production).
    chain_url : str or None, default None
        JSON-RPC URL of the chain. ``None`` is only valid when the embedding program injects the
        services (see :meth:`marketplace_api.Services.embedded`).
    deployment_file : Path or None, default None
        Deployment JSON of the contracts (all five of protocol v2, the ModelMarket and the
        ChallengeCourt included); required with ``chain_url``.
    relayer_key : SecretStr
        Hex private key (32 bytes) of the account that relays signed listings and pays their gas.
        Required, no default.
    store_backend : {"local", "ipfs"}, default "local"
        Where content goes: the folder ``store_dir``, or the IPFS daemon at ``ipfs_api_url``.
    store_dir : Path, default Path("./fedmarket-store")
        Folder of the local content-addressed store.
    ipfs_api_url : str, default "http://127.0.0.1:5001"
        Base URL of the IPFS daemon's RPC API (``store_backend="ipfs"``).
    cors_origins : list of str, default []
        Origins allowed by CORS; comma-separated in the environment. ``*`` is refused in
        production.
    max_body_bytes : int, default 1048576
        Largest request body accepted (HTTP 413 above).
    max_content_bytes : int, default 67108864
        Largest model or dataset upload accepted (HTTP 413 above).
    public_url : str or None, default None
        The API's public origin (``scheme://host[:port]``): sign-in messages must name its host
        as their domain and a URI on it. Required in production, where it must be ``https``;
        in development ``None`` takes the request's own host.
    content_master_key : SecretStr or None, default None
        Hex 32-byte key sealing the content keys at rest. Required in production;
        :data:`DEVELOPMENT_MASTER_KEY` in development when ``None``.
    session_ttl : int, default 3600
        Seconds a sign-in session lasts (60 to 7 days).
    nonce_ttl : int, default 300
        Seconds a sign-in nonce stays usable (30 to 3600).
    relay_address_per_minute, relay_address_burst : float, int, default 6.0, 3
        Relayed writes a signer address may make a minute, and back to back.
    relay_ip_per_minute, relay_ip_burst : float, int, default 12.0, 6
        Relayed writes a client (IP, IPv6 /64) may make a minute, and back to back.
    sign_in_ip_per_minute, sign_in_ip_burst : float, int, default 30.0, 10
        Sign-in nonces a client may ask for a minute, and back to back.
    relay_gas_window : int, default 86400
        Seconds of the per-owner gas budget's rolling window.
    relay_fresh_gas, relay_established_gas : int, default 600000, 3000000
        Gas the relayer spends per window for an owner without, and with, listings on record.
    relay_established_age : int, default 86400
        Seconds a listing must be on-chain to make its owner established.
    relay_gas_estimate : int, default 250000
        Gas a relayed listing is assumed to need before it is sent.
    relayer_balance_floor_wei : int, default 10**16
        Below this relayer balance nothing is relayed (503) and /health is degraded.
    relayer_balance_refresh : float, default 15.0
        Seconds a reading of the relayer's balance stays fresh.
    relayer_low_retry_after : int, default 300
        ``Retry-After`` of the 503 answered while the balance is low.
    trusted_proxies : list of str, default []
        Addresses or CIDR networks of reverse proxies whose ``X-Forwarded-For`` is believed;
        comma-separated in the environment. Empty: the socket peer is the client.
    db_pool_size : int, default 10
        PostgreSQL connections each process keeps open (SQLite: ignored).
    db_max_overflow : int, default 20
        Connections opened beyond the pool under load (closed when returned).
    db_pool_timeout : float, default 10.0
        Seconds a request waits for a connection before failing (503).
    db_pool_recycle : int, default 1800
        Seconds after which a pooled connection is closed and opened again.
    response_cache : int, default 1024
        Pages of the chain index (``GET /datasets``, ``/datasets/{id}``, ``/tasks``,
        ``/tasks/{id}``) each process keeps, keyed by the query and valid while the index's
        version is unchanged; 0 turns the cache off.
    access_log_dir : Path or None, default None
        Folder of the access log that records every content key grant and envelope download.
    access_log_days : int, default 183
        Days a closed segment of the access log is kept (six months).
    """

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        extra="ignore",
        hide_input_in_errors=True,
        validate_default=True,
    )

    environment: Literal["development", "production"] = "development"
    database_url: str = "sqlite:///./fedmarket.db"
    chain_url: str | None = None
    deployment_file: Path | None = None
    relayer_key: SecretStr
    store_backend: Literal["local", "ipfs"] = "local"
    store_dir: Path = Path("./fedmarket-store")
    ipfs_api_url: str = DEFAULT_IPFS_API_URL
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024, le=64 * 1024 * 1024)
    max_content_bytes: int = Field(default=64 * 1024 * 1024, ge=1024, le=1024 * 1024 * 1024)
    public_url: str | None = None
    content_master_key: SecretStr | None = None
    session_ttl: int = Field(default=3600, ge=60, le=7 * 24 * 3600)
    nonce_ttl: int = Field(default=300, ge=30, le=3600)
    relay_address_per_minute: float = Field(default=6.0, gt=0, le=1e6)
    relay_address_burst: int = Field(default=3, ge=1, le=10**6)
    relay_ip_per_minute: float = Field(default=12.0, gt=0, le=1e6)
    relay_ip_burst: int = Field(default=6, ge=1, le=10**6)
    sign_in_ip_per_minute: float = Field(default=30.0, gt=0, le=1e6)
    sign_in_ip_burst: int = Field(default=10, ge=1, le=10**6)
    relay_gas_window: int = Field(default=86_400, ge=1, le=365 * 86_400)
    relay_fresh_gas: int = Field(default=600_000, ge=21_000, le=10**15)
    relay_established_gas: int = Field(default=3_000_000, ge=21_000, le=10**15)
    relay_established_age: int = Field(default=86_400, ge=0, le=365 * 86_400)
    relay_gas_estimate: int = Field(default=250_000, ge=21_000, le=30_000_000)
    relayer_balance_floor_wei: int = Field(default=10**16, ge=0, le=10**30)
    relayer_balance_refresh: float = Field(default=15.0, gt=0, le=3600)
    relayer_low_retry_after: int = Field(default=300, ge=1, le=86_400)
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)
    db_pool_size: int = Field(default=10, ge=1, le=1000)
    db_max_overflow: int = Field(default=20, ge=0, le=1000)
    db_pool_timeout: float = Field(default=10.0, gt=0, le=300)
    db_pool_recycle: int = Field(default=1800, ge=1, le=86_400)
    response_cache: int = Field(default=1024, ge=0, le=1_000_000)
    access_log_dir: Path | None = None
    access_log_days: int = Field(default=183, ge=1, le=100 * 366)

    @classmethod
    def from_env(cls, **overrides: Any) -> Self:
        """Read the settings from the environment, raising :class:`ConfigurationError` on faults.

        Parameters
        ----------
        **overrides
            Values that take precedence over the environment.

        Raises
        ------
        ConfigurationError
            Naming every variable at fault (never its value).
        """
        try:
            return cls(**overrides)
        except ValidationError as exc:
            problems = "; ".join(
                f"{ENV_PREFIX}{'.'.join(str(p) for p in e['loc']).upper() or 'SETTINGS'}: "
                f"{e['msg']}"
                for e in exc.errors(include_input=False, include_url=False)
            )
            raise ConfigurationError(f"marketplace API settings: {problems}") from None

    @field_validator("relayer_key")
    @classmethod
    def _key_is_a_key(cls, value: SecretStr) -> SecretStr:
        raw = value.get_secret_value().strip()
        body = raw.removeprefix("0x")
        if len(body) != 64 or not all(c in "0123456789abcdefABCDEF" for c in body):
            raise ConfigurationError(
                "must be a 32-byte hex private key (64 hex digits, optional 0x)"
            )
        if int(body, 16) == 0:
            raise ConfigurationError("must be a non-zero private key")
        return SecretStr("0x" + body.lower())

    @field_validator("content_master_key")
    @classmethod
    def _master_key_is_a_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        body = value.get_secret_value().strip().removeprefix("0x")
        if len(body) != 64 or not all(c in "0123456789abcdefABCDEF" for c in body):
            raise ConfigurationError("must be a 32-byte hex key (64 hex digits, optional 0x)")
        if int(body, 16) == 0:
            raise ConfigurationError("must be a non-zero key")
        return SecretStr(body.lower())

    @field_validator("public_url", "ipfs_api_url")
    @classmethod
    def _url_is_an_origin(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigurationError("must be an http(s) URL with a host")
        if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
            raise ConfigurationError("must be an origin only: scheme://host[:port]")
        try:
            port = f":{parts.port}" if parts.port else ""
        except ValueError:
            raise ConfigurationError("has an invalid port") from None
        return f"{parts.scheme}://{parts.hostname}{port}"

    @field_validator("cors_origins", "trusted_proxies", mode="before")
    @classmethod
    def _split_origins(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [o.strip() for o in value.split(",") if o.strip()]
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies_are_networks(cls, value: list[str]) -> list[str]:
        for entry in value:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ConfigurationError("entries must be IP addresses or CIDR networks") from None
        return value

    @field_validator("database_url")
    @classmethod
    def _url_parses(cls, value: str) -> str:
        try:
            make_url(value)
        except ArgumentError:
            raise ConfigurationError("is not a SQLAlchemy database URL") from None
        return value

    @model_validator(mode="after")
    def _production_checks(self) -> Self:
        if self.environment != "production":
            return self
        key = self.relayer_key.get_secret_value()
        if int(key, 16) < _SMALL_KEY_LIMIT or Account.from_key(key).address in DEV_ADDRESSES:
            raise ConfigurationError(
                "relayer_key is a well-known development key; use a key of your own in production"
            )
        password = make_url(self.database_url).password
        if password is not None and str(password).lower() in _PLACEHOLDERS:
            raise ConfigurationError("database_url uses a placeholder password in production")
        if "*" in self.cors_origins:
            raise ConfigurationError("cors_origins may not be '*' in production")
        if self.chain_url is None:
            raise ConfigurationError("chain_url is required in production")
        self._production_access_checks()
        if make_url(self.database_url).get_backend_name() != "postgresql":
            raise ConfigurationError(
                "database_url must be PostgreSQL in production (SQLite is for development: one "
                "writer at a time, no pooled connections)"
            )
        return self

    def _production_access_checks(self) -> None:
        """Sign-in and paid content: a public https origin and a master key of one's own."""
        if self.public_url is None:
            raise ConfigurationError("public_url is required in production (sign-in domain)")
        if not self.public_url.startswith("https://"):
            raise ConfigurationError("public_url must be https in production")
        if self.content_master_key is None:
            raise ConfigurationError("content_master_key is required in production")
        if self.content_master_key.get_secret_value() == DEVELOPMENT_MASTER_KEY:
            raise ConfigurationError(
                "content_master_key is the public development key; use a key of your own"
            )

    @property
    def master_key(self) -> bytes:
        """The content master key (32 bytes): the configured one, or the development key.

        Never logged; :meth:`redacted` leaves it out.
        """
        if self.content_master_key is None:
            log.warning("master_key: no content master key set; using the development key")
            return bytes.fromhex(DEVELOPMENT_MASTER_KEY)
        return bytes.fromhex(self.content_master_key.get_secret_value())

    @property
    def is_production(self) -> bool:
        """Whether the production checks apply."""
        return self.environment == "production"

    def redacted(self) -> dict[str, Any]:
        """The settings without secrets, for logs (database password masked)."""
        return {
            "environment": self.environment,
            "database_url": make_url(self.database_url).render_as_string(hide_password=True),
            "chain_url": _origin_only(self.chain_url),
            "deployment_file": str(self.deployment_file) if self.deployment_file else None,
            "relayer": Account.from_key(self.relayer_key.get_secret_value()).address,
            "store_backend": self.store_backend,
            "store_dir": str(self.store_dir),
            "ipfs_api_url": _origin_only(self.ipfs_api_url),
            "cors_origins": list(self.cors_origins),
            "public_url": self.public_url,
            "content_master_key": "set" if self.content_master_key is not None else "development",
            "session_ttl": self.session_ttl,
            "nonce_ttl": self.nonce_ttl,
            "trusted_proxies": list(self.trusted_proxies),
            "relayer_balance_floor_wei": self.relayer_balance_floor_wei,
            "db_pool": f"{self.db_pool_size}+{self.db_max_overflow}",
            "response_cache": self.response_cache,
        }


def _origin_only(url: str | None) -> str | None:
    """``scheme://host:port`` of ``url``: RPC URLs often carry an API key in their path or query."""
    if url is None:
        return None
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}"


__all__ = [
    "DEFAULT_IPFS_API_URL",
    "DEVELOPMENT_MASTER_KEY",
    "DEV_ADDRESSES",
    "ENV_PREFIX",
    "Settings",
]
