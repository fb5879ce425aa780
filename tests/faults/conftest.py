"""Fixtures of the fault-injection suite: a test network, its services, the hospitals' files.

``scripts/faults`` runs every test here (``FEDMARKET_FAULTS=all``); ``scripts/test`` runs only
those also marked ``smoke``, so that the suite's short form stays in every CI run. Each test gets
a network of its own and removes it, with every process on it, whatever its outcome.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.consortium import Consortium
from tests.faults.netns import NetnsUnavailableError, TestNetwork, netns_available
from tests.support.ipfs import jsipfs_available
from tests.support.services import unavailable

ALL_FAULTS = os.environ.get("FEDMARKET_FAULTS") == "all"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Outside ``scripts/faults``, keep only the suite's smoke tests."""
    if ALL_FAULTS:
        return
    dropped = [
        i for i in items if i.get_closest_marker("faults") and not i.get_closest_marker("smoke")
    ]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = [i for i in items if i not in dropped]


@pytest.fixture(scope="module")
def hospitals(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo's four hospital files, validation and test files."""
    out = tmp_path_factory.mktemp("hospitals")
    subprocess.run(
        [sys.executable, "-m", "fedmarket", "data", "split-hospitals", "--out", str(out)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    return out


@pytest.fixture
def consortium(tmp_path: Path) -> Iterator[Consortium]:
    """A test network with the chain node and the IPFS daemon each on its own host."""
    if not netns_available() or not jsipfs_available():
        unavailable("network namespaces (root, iproute2) and js-ipfs are needed")
    try:
        net = TestNetwork()
    except NetnsUnavailableError as exc:
        unavailable(str(exc))
    c = Consortium(net=net, root=tmp_path)
    try:
        c.start_chain()
        c.start_ipfs()
        yield c
    finally:
        for proc in c.procs:  # shown with a failure: what each process logged last
            print(f"\n--- {proc.name} (exit {proc.popen.poll()}) ---\n{proc.tail(1500)}")  # noqa: T201
        c.close()
    assert not net.leftovers(), net.leftovers()
