"""Settings: required secrets, environment parsing, production checks, no secret in errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from eth_account import Account

from chain import new_account
from kernel.errors import ConfigurationError
from marketplace_api import Settings
from marketplace_api.content import open_access_log
from marketplace_api.core.config import DEV_ADDRESSES

DEV_MNEMONIC = "test test test test test test test test test test test junk"
ANVIL_KEY_0 = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("FEDMARKET_API_"):
            monkeypatch.delenv(name)


def own_key() -> str:
    return "0x" + bytes(new_account().key).hex()


def test_relayer_key_is_required() -> None:
    with pytest.raises(ConfigurationError, match="FEDMARKET_API_RELAYER_KEY"):
        Settings.from_env()


def test_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    key = own_key()
    monkeypatch.setenv("FEDMARKET_API_RELAYER_KEY", key[2:].upper())
    monkeypatch.setenv("FEDMARKET_API_DATABASE_URL", "postgresql+psycopg://u:pw@db/market")
    monkeypatch.setenv("FEDMARKET_API_CHAIN_URL", "https://rpc.example/v3/SECRETAPIKEY")
    monkeypatch.setenv("FEDMARKET_API_CORS_ORIGINS", "https://a.example, https://b.example")
    settings = Settings.from_env()
    assert settings.relayer_key.get_secret_value() == key
    assert settings.cors_origins == ["https://a.example", "https://b.example"]
    assert settings.environment == "development"
    shown = repr(settings) + str(settings.redacted())
    assert key[2:] not in shown.lower()
    assert "pw" not in str(settings.redacted()["database_url"])
    assert "SECRETAPIKEY" not in str(settings.redacted())
    assert settings.redacted()["relayer"] == Account.from_key(key).address


@pytest.mark.parametrize("bad", ["changethis", "0x1234", "zz" * 32, "00" * 32])
def test_malformed_keys_are_refused_without_echo(bad: str) -> None:
    with pytest.raises(ConfigurationError) as exc:
        Settings.from_env(relayer_key=bad)
    assert "relayer_key".upper() in str(exc.value)
    assert bad not in str(exc.value)


def test_development_accepts_dev_keys() -> None:
    assert Settings(relayer_key=ANVIL_KEY_0).environment == "development"


@pytest.mark.parametrize("key", [ANVIL_KEY_0, "0x" + "00" * 31 + "01"])
def test_production_refuses_well_known_keys(key: str) -> None:
    with pytest.raises(ConfigurationError, match="well-known development key") as exc:
        Settings.from_env(
            relayer_key=key, environment="production", chain_url="https://rpc.example"
        )
    assert key[2:] not in str(exc.value)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"database_url": "postgresql+psycopg://u:changethis@db/m"}, "placeholder password"),
        ({"cors_origins": "*"}, "may not be"),
        ({"chain_url": None}, "chain_url is required"),
        ({"database_url": "not a url"}, "database URL"),
    ],
)
def test_production_refuses_placeholders(overrides: dict[str, object], message: str) -> None:
    values: dict[str, object] = {
        "relayer_key": own_key(),
        "environment": "production",
        "chain_url": "https://rpc.example",
    }
    values.update(overrides)
    with pytest.raises(ConfigurationError, match=message):
        Settings.from_env(**values)


def test_production_refuses_sqlite() -> None:
    with pytest.raises(ConfigurationError, match="must be PostgreSQL in production"):
        Settings.from_env(
            relayer_key=own_key(),
            environment="production",
            chain_url="https://rpc.example",
            database_url="sqlite:///./market.db",
            public_url="https://market.example",
            content_master_key=own_key(),
        )


def test_production_accepts_a_real_configuration() -> None:
    settings = Settings.from_env(
        relayer_key=own_key(),
        environment="production",
        chain_url="https://rpc.example",
        database_url="postgresql+psycopg://market:s3cr3t-Long@db/market",
        cors_origins="https://shop.example",
        public_url="https://market.example",
        content_master_key=own_key(),
    )
    assert settings.is_production


def test_dev_addresses_are_the_public_mnemonic() -> None:
    Account.enable_unaudited_hdwallet_features()
    derived = {
        Account.from_mnemonic(DEV_MNEMONIC, account_path=f"m/44'/60'/0'/0/{i}").address
        for i in range(20)
    }
    assert derived == DEV_ADDRESSES


def test_services_need_a_chain_url() -> None:
    from marketplace_api import create_app

    with pytest.raises(ConfigurationError, match="CHAIN_URL"):
        create_app(Settings(relayer_key=own_key()))
    with pytest.raises(ConfigurationError, match="DEPLOYMENT_FILE"):
        create_app(Settings(relayer_key=own_key(), chain_url="http://127.0.0.1:1"))


def test_the_access_log_is_opened_where_the_environment_says(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("FEDMARKET_API_RELAYER_KEY", own_key())
    assert open_access_log(Settings.from_env()) is None  # unset: downloads are not logged
    monkeypatch.setenv("FEDMARKET_API_ACCESS_LOG_DIR", str(tmp_path / "log"))
    monkeypatch.setenv("FEDMARKET_API_ACCESS_LOG_DAYS", "200")
    opened = open_access_log(Settings.from_env())
    assert opened is not None and opened.retention_days == 200
    opened.append("0xbuyer", "get", "bafy", "model:1")
    assert [e.actor for e in opened.entries()] == ["0xbuyer"]
    monkeypatch.setenv("FEDMARKET_API_ACCESS_LOG_DAYS", "0")
    with pytest.raises(ConfigurationError, match="FEDMARKET_API_ACCESS_LOG_DAYS"):
        Settings.from_env()
