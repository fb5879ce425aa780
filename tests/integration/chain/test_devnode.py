"""The dev node cleans up after itself: anvil's offloaded block states never outlive it.

anvil writes old states to disk (gigabytes over a long session) and leaves the folder behind
when stopped; a full disk once broke a whole CI run. These tests start a real anvil.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from chain.devnode import DevNode, find_tool, sweep_stale_caches
from chain.errors import ChainConnectionError


@pytest.fixture(scope="module", autouse=True)
def _needs_anvil() -> None:
    try:
        find_tool("anvil")
    except ChainConnectionError as exc:
        pytest.skip(str(exc))


def _argv(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")


def test_anvil_gets_a_cache_folder_of_its_own_and_stop_removes_it() -> None:
    node = DevNode("anvil").start()
    try:
        assert node.cache_dir is not None and node.cache_dir.is_dir()
        assert node._proc is not None
        argv = _argv(node._proc.pid)
        assert argv[argv.index("--cache-path") + 1] == str(node.cache_dir)
        (node.cache_dir / "anvil-state-x").mkdir()  # what anvil writes there under load
        folder = node.cache_dir
    finally:
        node.stop()
    assert not folder.exists()
    assert node.cache_dir is None


def test_two_nodes_never_share_a_cache_folder() -> None:
    with DevNode("anvil") as first, DevNode("anvil") as second:
        assert first.cache_dir != second.cache_dir


def test_a_killed_session_s_folders_are_swept_and_live_ones_kept(tmp_path: Path) -> None:
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    dead_folder = tmp_path / f"fedmarket-anvil-{dead.stdout.strip()}-abc"
    live_folder = tmp_path / f"fedmarket-anvil-{os.getpid()}-def"
    other = tmp_path / "anvil-state-unrelated"
    for folder in (dead_folder, live_folder, other):
        (folder / "state").mkdir(parents=True)
    assert sweep_stale_caches(tmp_path) == [dead_folder]
    assert not dead_folder.exists()
    assert live_folder.exists() and other.exists()
