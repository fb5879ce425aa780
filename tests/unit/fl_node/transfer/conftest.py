"""Small random two-domain problems for the transfer-learning tests."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from fl_node.transfer import Domain, Ratings

MakeDomains = Callable[..., tuple[Domain, Domain]]


def random_domain(
    rng: np.random.Generator, name: str, user_ids: np.ndarray, n_items: int, n: int
) -> Domain:
    """``n`` distinct random half-star ratings of ``user_ids`` on ``n_items`` items."""
    cells = rng.choice(len(user_ids) * n_items, size=n, replace=False)
    users, items = np.divmod(cells, n_items)
    values = rng.integers(2, 11, size=n) / 2.0
    item_ids = np.arange(n_items) + (0 if name == "target" else 10_000)
    return Domain(name, user_ids, item_ids, Ratings(users, items, values))


@pytest.fixture
def make_domains() -> MakeDomains:
    """A factory: target users 0..n_t-1, source users overlapping on ``shared`` ids."""

    def make(
        seed: int = 0, n_t: int = 40, n_s: int = 45, shared: int = 15, ratings: int = 400
    ) -> tuple[Domain, Domain]:
        rng = np.random.default_rng(seed)
        t_ids = np.arange(n_t, dtype=np.int64) * 7
        s_ids = np.concatenate([t_ids[-shared:], 1_000 + np.arange(n_s - shared, dtype=np.int64)])
        target = random_domain(rng, "target", t_ids, 15, ratings)
        source = random_domain(rng, "source", np.sort(s_ids), 20, int(ratings * 1.5))
        return target, source

    return make
