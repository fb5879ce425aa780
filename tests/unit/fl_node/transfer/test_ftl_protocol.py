"""The federated protocol is the centralised pooled training, step for step."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from fl_node.transfer import (
    Coordinator,
    Domain,
    DomainParty,
    MFConfig,
    ProtocolRun,
    TargetParty,
    TransferProtocolError,
    Wire,
    fit,
    pooled_problem,
    pooled_view,
    run_protocol,
    split_target,
)
from fl_node.transfer.central import evaluate
from fl_node.transfer.experiment import parties
from fl_node.transfer.messages import MaskedGradient, SharedShape

MakeDomains = Callable[..., tuple[Domain, Domain]]


def _roles(make_domains: MakeDomains, config: MFConfig, seed: int = 0) -> tuple:
    target, source = make_domains(seed)
    split = split_target(target.ratings, seed)
    shared = np.intersect1d(target.user_ids, source.user_ids)
    t, s = parties(target, split, source, shared, config, seed)
    return target, source, split, t, s, Coordinator(config, seed + 2)


def _start(t: TargetParty, s: DomainParty, config: MFConfig, seed: int, ids: tuple) -> tuple:
    """The pooled initial parameters the three roles will start from."""
    probe = Coordinator(config, seed + 2)
    rows = len(t.shared_index)
    probe.setup(
        SharedShape("target", rows, config.rank + 1), SharedShape("source", rows, config.rank + 1)
    )
    t.shared = s.shared = probe.shared
    return pooled_view(ProtocolRun(t, s, probe, Wire()), *ids)


@pytest.mark.parametrize("patience", [0, 4])
def test_federated_equals_centralised_pooled(make_domains: MakeDomains, patience: int) -> None:
    config = MFConfig(rank=3, lr=0.05, reg=0.5, epochs=40, patience=patience)
    target, source, split, t, s, c = _roles(make_domains, config)
    ids = (target.user_ids, source.user_ids)
    start = _start(t, s, config, 0, ids)
    run = run_protocol(t, s, c)
    problem = pooled_problem(target, split, source)
    central = fit(problem, config, start)
    assert run.steps == len(central.losses)
    assert (run.steps < config.epochs) == bool(patience)  # the patience case does stop early
    assert t.stopping.best_step == central.best_step
    np.testing.assert_allclose(c.objectives, central.losses, rtol=1e-9)
    np.testing.assert_allclose(t.stopping.scores, central.valid_rmse, rtol=1e-8)
    users, items = pooled_view(run, *ids, best=True)
    np.testing.assert_allclose(users.stacked(), central.users.stacked(), atol=1e-7)
    np.testing.assert_allclose(items.stacked(), central.items.stacked(), atol=1e-7)
    fed = t.scores(split.test)
    assert fed == pytest.approx(
        evaluate(central.users, central.items, problem.mu, problem.test), abs=1e-8
    )


def test_a_step_changes_the_parameters(make_domains: MakeDomains) -> None:
    # guards the equivalence test against a protocol that never moves
    config = MFConfig(rank=3, lr=0.05, reg=0.5, epochs=5, patience=0)
    *_, t, s, c = _roles(make_domains, config)
    items_before = t.items.copy()
    run = run_protocol(t, s, c)
    assert run.steps == 5 and not np.allclose(items_before, t.items)
    assert c.objectives[-1] < c.objectives[0]


def test_the_coordinator_refuses_bad_messages(make_domains: MakeDomains) -> None:
    config = MFConfig(rank=2, epochs=3)
    *_, t, s, c = _roles(make_domains, config)
    t.agree(s.public_key()), s.agree(t.public_key())
    with pytest.raises(TransferProtocolError):
        c.setup(SharedShape("target", 3, 3), SharedShape("source", 4, 3))
    c.setup(t.shape(), s.shape())
    words = np.zeros(c.shared.size + 1, dtype=np.uint64)
    with pytest.raises(TransferProtocolError):
        c.aggregate(MaskedGradient("target", 0, words), MaskedGradient("target", 0, words))
    with pytest.raises(TransferProtocolError):
        c.aggregate(MaskedGradient("target", 1, words), MaskedGradient("source", 1, words))
    with pytest.raises(TransferProtocolError):
        c.aggregate(MaskedGradient("target", 0, words[:-1]), MaskedGradient("source", 0, words))
