"""Settings of sign-in and paid content: the public URL, the master key, the store backend."""

from __future__ import annotations

import os

import pytest

from chain import new_account
from kernel.errors import ConfigurationError
from marketplace_api import Settings
from marketplace_api.content import KeyVault, open_store
from marketplace_api.core.config import DEVELOPMENT_MASTER_KEY
from storage import IpfsStore, LocalCidStore


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("FEDMARKET_API_"):
            monkeypatch.delenv(name)


def own_key() -> str:
    return "0x" + bytes(new_account().key).hex()


def production(**overrides: object) -> dict[str, object]:
    values: dict[str, object] = {
        "relayer_key": own_key(),
        "environment": "production",
        "chain_url": "https://rpc.example",
        "public_url": "https://market.example",
        "content_master_key": own_key(),
        "database_url": "postgresql+psycopg://market:s3cr3t-Long@db/market",
    }
    values.update(overrides)
    return values


def test_production_takes_a_public_https_url_and_a_master_key() -> None:
    settings = Settings.from_env(**production())
    assert settings.public_url == "https://market.example"
    assert len(settings.master_key) == 32


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"public_url": None}, "public_url is required"),
        ({"public_url": "http://market.example"}, "public_url must be https"),
        ({"content_master_key": None}, "content_master_key is required"),
        ({"content_master_key": DEVELOPMENT_MASTER_KEY}, "public development key"),
    ],
)
def test_production_refuses_missing_or_public_access_settings(
    overrides: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        Settings.from_env(**production(**overrides))


def test_development_falls_back_to_the_development_master_key() -> None:
    settings = Settings.from_env(relayer_key=own_key())
    assert settings.master_key == bytes.fromhex(DEVELOPMENT_MASTER_KEY)
    assert KeyVault(settings.master_key).key_id == KeyVault.development().key_id


@pytest.mark.parametrize("bad", ["changethis", "00" * 32, "ab" * 31, "zz" * 32])
def test_a_malformed_master_key_is_refused_without_echo(bad: str) -> None:
    with pytest.raises(ConfigurationError, match="CONTENT_MASTER_KEY") as exc:
        Settings.from_env(relayer_key=own_key(), content_master_key=bad)
    assert bad not in str(exc.value)


def test_the_master_key_never_shows(monkeypatch: pytest.MonkeyPatch) -> None:
    key = own_key()
    monkeypatch.setenv("FEDMARKET_API_RELAYER_KEY", own_key())
    monkeypatch.setenv("FEDMARKET_API_CONTENT_MASTER_KEY", key.upper().replace("0X", "0x"))
    settings = Settings.from_env()
    assert settings.master_key == bytes.fromhex(key[2:])
    shown = (repr(settings) + str(settings.redacted())).lower()
    assert key[2:] not in shown
    assert settings.redacted()["content_master_key"] == "set"
    assert key[2:] not in repr(KeyVault(settings.master_key)).lower()


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("https://market.example", "https://market.example"),
        ("https://market.example/", "https://market.example"),
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000"),
    ],
)
def test_the_public_url_is_an_origin(url: str, origin: str) -> None:
    assert Settings.from_env(relayer_key=own_key(), public_url=url).public_url == origin


@pytest.mark.parametrize(
    "url", ["market.example", "ftp://market.example", "https://market.example/api", "https://"]
)
def test_a_public_url_that_is_not_an_origin_is_refused(url: str) -> None:
    with pytest.raises(ConfigurationError, match="PUBLIC_URL"):
        Settings.from_env(relayer_key=own_key(), public_url=url)


def test_the_store_backend_is_a_folder_or_an_ipfs_daemon(tmp_path: object) -> None:
    local = Settings.from_env(relayer_key=own_key(), store_dir=str(tmp_path))
    assert isinstance(open_store(local), LocalCidStore)
    ipfs = Settings.from_env(
        relayer_key=own_key(), store_backend="ipfs", ipfs_api_url="http://127.0.0.1:5999"
    )
    store = open_store(ipfs)
    try:
        assert isinstance(store, IpfsStore)
    finally:
        store.close()
    assert ipfs.redacted()["ipfs_api_url"] == "http://127.0.0.1:5999"
    with pytest.raises(ConfigurationError, match="STORE_BACKEND"):
        Settings.from_env(relayer_key=own_key(), store_backend="s3")
