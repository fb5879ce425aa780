"""Key handling: each party signs with its own key, which never leaves its process.

Keys are created from the OS's randomness, stored as encrypted JSON keystores (the format geth and
web3 use) readable by the owner only, or read from an environment variable. Nothing here logs or
prints a key.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils.crypto import keccak

from kernel.errors import ConfigurationError


def new_account() -> LocalAccount:
    """A fresh account from 32 bytes of OS randomness."""
    account: LocalAccount = Account.from_key(os.urandom(32))
    return account


def demo_account(seed: int, role: str) -> LocalAccount:
    """A key derived from ``seed`` and ``role``: the same every run, for demos and tests only.

    Anyone who knows the seed knows the key. It exists so that two runs of the demo with the same
    seed give the same addresses, hence byte-identical updates, evidence and CIDs; a real party
    uses :func:`new_account`, a keystore or :func:`account_from_env`.

    Parameters
    ----------
    seed : int
        The run's seed.
    role : str
        The party's role, e.g. ``"hospital-1"``.
    """
    account: LocalAccount = Account.from_key(keccak(text=f"fedmarket-demo:{seed}:{role}"))
    return account


def save_keystore(
    account: LocalAccount, path: str | Path, password: str, *, iterations: int | None = None
) -> Path:
    """Write ``account`` as an encrypted keystore file with mode 0600.

    Parameters
    ----------
    account : LocalAccount
        The key to store.
    path : str or Path
        Target file; its folder must exist.
    password : str
        Encryption password (not stored).
    iterations : int or None, default None
        scrypt work factor; ``None`` keeps eth-account's secure default.
    """
    if not password:
        raise ConfigurationError("save_keystore: an empty password is not accepted")
    keystore = Account.encrypt(account.key, password, iterations=iterations)
    target = Path(path)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(keystore, fh)
    return target


def load_keystore(path: str | Path, password: str) -> LocalAccount:
    """Decrypt a keystore file.

    Raises
    ------
    ConfigurationError
        When the file is missing, not a keystore, or the password is wrong.
    """
    try:
        keystore = json.loads(Path(path).read_text("utf-8"))
        account: LocalAccount = Account.from_key(Account.decrypt(keystore, password))
        return account
    except FileNotFoundError:
        raise ConfigurationError(f"load_keystore: no keystore at {path}") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigurationError(f"load_keystore: cannot decrypt {path}: {exc}") from None


def account_from_env(variable: str) -> LocalAccount:
    """Read a hex private key from environment variable ``variable``.

    Raises
    ------
    ConfigurationError
        When the variable is unset or does not hold a 32-byte hex key (the value is never echoed).
    """
    raw = os.environ.get(variable, "").strip()
    if not raw:
        raise ConfigurationError(f"account_from_env: environment variable {variable} is not set")
    try:
        account: LocalAccount = Account.from_key(raw)
        return account
    except (ValueError, TypeError):
        raise ConfigurationError(
            f"account_from_env: {variable} does not hold a 32-byte hex private key"
        ) from None
