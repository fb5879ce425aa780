"""A throw-away IPFS daemon for the tests: the library's launcher, plus a look into its blocks.

The daemon is :class:`fedmarket.consortium.ipfs.IpfsDaemon` (js-ipfs from the project's npm
install, offline, its RPC API alone on 127.0.0.1 at a port the daemon picks), the same launcher
``fedmarket up`` runs; the tests add :meth:`IpfsDaemon.block_path` to damage a stored block.

    with IpfsDaemon.start() as daemon:
        store = IpfsStore(daemon.api_url)
"""

from __future__ import annotations

import base64
import os
from pathlib import Path

from fedmarket.consortium.errors import ConsortiumError as IpfsDaemonError
from fedmarket.consortium.ipfs import NODE_BIN, daemon_env, jsipfs_available, jsipfs_path
from fedmarket.consortium.ipfs import IpfsDaemon as _IpfsDaemon
from storage._cid import parse_cid

ROOT = Path(__file__).resolve().parents[2]
JSIPFS = jsipfs_path() or ROOT / "node_modules" / ".bin" / "jsipfs"
"""The js-ipfs command (for tests that run the daemon themselves)."""


def _env(repo: Path) -> dict[str, str]:
    """The environment js-ipfs runs with: ``IPFS_PATH`` and Node 22 first on ``PATH``."""
    return {**os.environ, **daemon_env(repo)}


class IpfsDaemon(_IpfsDaemon):
    """The library's throw-away daemon, and where it keeps each block."""

    def block_path(self, cid: str) -> Path:
        """The file of the daemon's block store (flatfs, ``next-to-last/2``) holding ``cid``."""
        multihash = parse_cid(cid)[2:]  # after the version and codec bytes
        key = base64.b32encode(multihash).decode("ascii").rstrip("=")
        return self.repo / "blocks" / key[-3:-1] / f"{key}.data"


__all__ = ["JSIPFS", "NODE_BIN", "IpfsDaemon", "IpfsDaemonError", "jsipfs_available"]
