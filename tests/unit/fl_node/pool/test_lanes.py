"""What the coordinator refuses of a pool update, and why (the audit re-runs the same check)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from fl_node.data import LocalDataset
from fl_node.models import ModelSpec
from fl_node.pool.lanes import Lane, LaneUpdate, screen_update, shapes_of, train_on_lane
from fl_node.serialization import UpdateMeta
from fl_node.training import TrainConfig

SPEC = ModelSpec(n_features=3, feature_mean=(0.0,) * 3, feature_std=(1.0,) * 3, hidden=(4,))
ALICE, BOB = "0x" + "a1" * 20, "0x" + "b2" * 20
BASE = bytes(range(32))


def _update(**changes: object) -> tuple[Lane, LaneUpdate]:
    lane = Lane.start(0, SPEC)
    rng = np.random.default_rng(0)
    data = LocalDataset(
        "a", rng.normal(size=(20, 3)).astype(np.float32), (rng.random(20) > 0.5).astype(np.float32)
    )
    meta = UpdateMeta(7, 2, ALICE, "0x" + BASE.hex(), 20, 0.0, "fedavg")
    meta = dataclasses.replace(meta, **changes)  # type: ignore[arg-type]
    return lane, train_on_lane(lane, data, TrainConfig(local_epochs=1), meta)


def _screen(lane: Lane, blob: bytes, participant: str = ALICE) -> str:
    return screen_update(
        blob,
        task_id=7,
        round_=2,
        participant=participant,
        base_hash=BASE,
        shapes=shapes_of(lane.model),
    )[1]


def test_a_sound_update_is_accepted_with_its_delta() -> None:
    lane, update = _update()
    decoded, verdict = screen_update(
        update.blob,
        task_id=7,
        round_=2,
        participant=ALICE,
        base_hash=BASE,
        shapes=shapes_of(lane.model),
    )
    assert verdict == "accepted" and decoded is not None
    assert decoded.samples == 20
    for name, tensor in update.update.delta.items():
        assert bool((decoded.delta[name] == tensor).all())


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"round": 3}, "wrong_task"),
        ({"task_id": 8}, "wrong_task"),
        ({"participant": BOB}, "wrong_author"),
        ({"base_model_hash": "0x" + "ab" * 32}, "wrong_base_model"),
    ],
)
def test_an_update_for_another_round_author_or_base_model_is_refused(
    changes: dict[str, object], reason: str
) -> None:
    lane, update = _update(**changes)
    assert _screen(lane, update.blob) == reason


def test_bytes_that_are_not_an_update_or_do_not_fit_the_model_are_refused() -> None:
    lane, update = _update()
    assert _screen(lane, b"not an update") == "malformed"
    wider = Lane.start(1, dataclasses.replace(SPEC, hidden=(5,)))
    assert (
        screen_update(
            update.blob,
            task_id=7,
            round_=2,
            participant=ALICE,
            base_hash=BASE,
            shapes=shapes_of(wider.model),
        )[1]
        == "shape_mismatch"
    )
