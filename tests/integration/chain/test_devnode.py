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


# ---- ``fedmarket chain node``: signals and the state file ----------------------------------------


def _parent_of(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[1])  # the name may hold spaces and parentheses


def _alive(pid: int) -> bool:
    """Running: its /proc entry exists and it is not a zombie waiting to be reaped."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _descendants(root: int) -> set[int]:
    """Every process under ``root`` (children, grandchildren...), from /proc."""
    parents = {
        int(entry.name): _parent_of(int(entry.name))
        for entry in Path("/proc").iterdir()
        if entry.name.isdigit()
    }
    found: set[int] = set()
    frontier = {root}
    while frontier:
        frontier = {pid for pid, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _answers(url: str) -> bool:
    from chain import RpcBackend

    try:
        RpcBackend(url)
    except ChainConnectionError:
        return False
    return True


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _chain_node(port: int, *extra: str, ignore_sigint: bool = False) -> subprocess.Popen[str]:
    """``fedmarket chain node`` in its own process, once it answers; SIGINT ignored if asked.

    A process started in the background by a shell inherits SIGINT ignored: Python then never
    raises KeyboardInterrupt, so only the command's own handlers can stop it.
    """
    import signal
    import time

    def ignore() -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)

    proc = subprocess.Popen(  # noqa: S603 - fixed argv
        [sys.executable, "-m", "fedmarket", "chain", "node", "--port", str(port), *extra],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=ignore if ignore_sigint else None,  # noqa: PLW1509 - one signal() call
    )
    deadline = time.monotonic() + 60
    while not _answers(f"http://127.0.0.1:{port}"):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"chain node never answered: {proc.communicate()[1]}")
        time.sleep(0.2)
    return proc


def _stop(proc: subprocess.Popen[str], signum: int) -> tuple[int, str]:
    proc.send_signal(signum)
    try:
        _, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail("chain node did not exit on its signal")
    return proc.returncode, err


def _gone(pids: set[int], within: float = 10.0) -> bool:
    import time

    deadline = time.monotonic() + within
    while any(_alive(p) for p in pids):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


@pytest.mark.slow
@pytest.mark.parametrize(
    ("signal_name", "ignore_sigint"),
    [("SIGTERM", False), ("SIGINT", True), ("SIGINT", False)],
    ids=["sigterm", "sigint-inherited-ignored", "sigint"],
)
def test_chain_node_stops_and_leaves_no_anvil_behind(signal_name: str, ignore_sigint: bool) -> None:
    import signal

    port = _free_port()
    proc = _chain_node(port, ignore_sigint=ignore_sigint)
    tree = _descendants(proc.pid)
    names = {Path(f"/proc/{p}/cmdline").read_bytes().split(b"\0")[0] for p in tree}
    assert any(b"anvil" in n for n in names), names  # the node (and anvil's own launcher)
    code, err = _stop(proc, getattr(signal, signal_name))
    assert code == 0, err
    assert "anvil stopped" in err
    assert _gone(tree), [p for p in tree if _alive(p)]
    assert not _answers(f"http://127.0.0.1:{port}")


@pytest.mark.slow
def test_a_killed_chain_node_takes_anvil_with_it() -> None:
    import signal

    proc = _chain_node(_free_port())
    tree = _descendants(proc.pid)
    code, _ = _stop(proc, signal.SIGKILL)  # no handler runs: the kernel's parent-death signal
    assert code == -signal.SIGKILL
    assert _gone(tree), [p for p in tree if _alive(p)]


@pytest.mark.slow
def test_chain_node_state_file_keeps_deployed_contracts_across_a_restart(tmp_path: Path) -> None:
    import signal

    from chain import RpcBackend, deploy, new_account, signer_for

    state, port = tmp_path / "chain-state.json", _free_port()
    url = f"http://127.0.0.1:{port}"
    proc = _chain_node(port, "--state", str(state))
    backend = RpcBackend(url)
    faucet = backend.faucet_account()
    assert faucet is not None
    deployer = signer_for(backend, faucet)
    deployment = deploy(deployer)
    holder = new_account().address
    deployment.token_client(backend, deployer).mint(holder, 12345)
    head = backend.head()[0]
    code, err = _stop(proc, signal.SIGTERM)
    assert code == 0, err
    assert state.stat().st_size > 0

    again = _chain_node(port, "--state", str(state))
    try:
        restarted = RpcBackend(url)
        deployment.check(restarted)  # the code is at every address again
        assert deployment.token_client(restarted).balance_of(holder) == 12345
        assert restarted.head()[0] >= head
    finally:
        _stop(again, signal.SIGTERM)
