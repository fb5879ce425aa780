"""Key handling: keystores and environment variables, never echoing a key."""

import os
import stat

import pytest

from chain import account_from_env, load_keystore, new_account, save_keystore
from kernel.errors import ConfigurationError


def test_keystore_round_trip_is_private_to_the_owner(tmp_path):
    account = new_account()
    path = save_keystore(account, tmp_path / "key.json", "correct horse", iterations=2)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert account.key.hex()[2:] not in path.read_text()  # encrypted, not the raw key
    assert load_keystore(path, "correct horse").address == account.address


def test_keystore_errors_are_readable(tmp_path):
    account = new_account()
    path = save_keystore(account, tmp_path / "key.json", "pw", iterations=2)
    with pytest.raises(ConfigurationError, match="cannot decrypt"):
        load_keystore(path, "wrong")
    with pytest.raises(ConfigurationError, match="no keystore"):
        load_keystore(tmp_path / "missing.json", "pw")
    with pytest.raises(ConfigurationError):
        save_keystore(account, tmp_path / "k2.json", "")


def test_account_from_env(monkeypatch):
    account = new_account()
    monkeypatch.setenv("FM_TEST_KEY", "0x" + bytes(account.key).hex())
    assert account_from_env("FM_TEST_KEY").address == account.address
    monkeypatch.setenv("FM_TEST_KEY", "0xnotakey-secret")
    with pytest.raises(ConfigurationError) as err:
        account_from_env("FM_TEST_KEY")
    assert "secret" not in str(err.value)  # the value is never echoed
    monkeypatch.delenv("FM_TEST_KEY")
    with pytest.raises(ConfigurationError, match="not set"):
        account_from_env("FM_TEST_KEY")
