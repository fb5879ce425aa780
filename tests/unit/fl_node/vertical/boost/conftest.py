"""Shared fixtures of the SecureBoost tests: small aligned data and a threaded federation."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pytest

from fl_node.vertical.protocol.boost.messages import BOOST_CODEC
from fl_node.vertical.transport import LocalNetwork, Transport

Party = Callable[[Transport], Any]


def small_parties(n: int = 300, seed: int = 0) -> tuple[list[np.ndarray], np.ndarray]:
    """A guest with 2 features and two hosts with 3 and 2, aligned rows, a learnable label."""
    rng = np.random.default_rng(seed)
    guest = np.column_stack([rng.integers(0, 5, n), rng.normal(size=n)])
    host1 = np.column_stack([rng.normal(size=n), rng.integers(0, 3, n), rng.exponential(size=n)])
    host2 = np.column_stack([rng.normal(size=n), rng.uniform(size=n)])
    logit = 0.9 * guest[:, 1] - 1.4 * host1[:, 0] + 0.8 * (host1[:, 1] == 2) + 1.5 * host2[:, 1]
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(float)
    return [guest, host1, host2], y


def run_parties(parties: dict[str, Party], timeout: float = 30.0) -> dict[str, Any]:
    """Run every party in its own thread over one :class:`LocalNetwork`.

    Returns each party's result, or the exception it raised.
    """
    net = LocalNetwork(list(parties), codec=BOOST_CODEC, timeout=timeout)
    with ThreadPoolExecutor(len(parties)) as pool:
        futures = {r: pool.submit(fn, net.transport(r)) for r, fn in parties.items()}
        return {r: f.exception() or f.result() for r, f in futures.items()}


@pytest.fixture(scope="session")
def parties() -> tuple[list[np.ndarray], np.ndarray]:
    """The small three-party data set."""
    return small_parties()
