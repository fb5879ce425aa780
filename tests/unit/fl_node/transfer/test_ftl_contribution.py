"""Two-party Shapley on the validation-RMSE utility, and the saved model parts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fl_node.transfer.experiment import MethodResult, recovered
from fl_node.transfer.runner import contributions
from fl_node.transfer.runner.parts import save_array_part


def _m(name: str, valid: float) -> MethodResult:
    return MethodResult(name, 0.0, 0.0, valid)


def test_shapley_by_hand() -> None:
    methods = {
        "global_mean": _m("global_mean", 0.62),
        "target_only": _m("target_only", 0.50),
        "federated": _m("federated", 0.48),
        "centralised": _m("centralised", 0.48),
    }
    c = contributions(methods)
    v_t, v_ts = 0.62 - 0.50, 0.62 - 0.48
    assert c.target == pytest.approx(0.5 * v_t + 0.5 * v_ts)
    assert c.source == pytest.approx(0.5 * (v_ts - v_t))
    assert c.target + c.source == pytest.approx(v_ts)  # efficiency


def test_gain_recovered() -> None:
    assert recovered(0.50, 0.49, 0.48) == pytest.approx(0.5)
    assert recovered(0.50, 0.48, 0.48) == pytest.approx(1.0)
    assert np.isnan(recovered(0.5, 0.5, 0.5))


def test_a_saved_part_is_hashed_and_stored(tmp_path: Path) -> None:
    from storage import LocalCidStore, content_hash

    arrays = {"items": np.ones((3, 4)), "mu": np.array([3.5])}
    part = save_array_part(tmp_path / "target", "model_target.npz", arrays, samples=42)
    data = Path(part.file).read_bytes()
    assert part.hash == "0x" + bytes(content_hash(data)).hex() and part.bytes == len(data)
    assert LocalCidStore(tmp_path / "target" / "store").get(part.cid) == data
    with np.load(part.file) as loaded:
        assert np.array_equal(loaded["items"], arrays["items"])
    assert part.samples == 42 and part.features == 4
