"""Server state bytes: deterministic, round-tripping, and refused when they are anything else."""

import pytest
import torch

from fl_node.errors import MalformedArtifactError
from fl_node.serialization import FORMAT, _st_encode
from fl_node.strategies import FedAdam, ServerState


def adam_state():
    params = {"layer.weight": torch.ones(2, 3), "layer.bias": torch.zeros(3)}
    return FedAdam(tau=0.1).initial_state(params)


def test_the_same_state_always_gives_the_same_bytes_whatever_the_insertion_order():
    state = adam_state()
    reordered = ServerState(state.strategy, dict(reversed(list(state.tensors.items()))))
    assert state.to_bytes() == reordered.to_bytes() == adam_state().to_bytes()


def test_round_trip():
    state = adam_state()
    back = ServerState.from_bytes(
        state.to_bytes(),
        strategy="fedadam",
        expected_shapes={k: tuple(v.shape) for k, v in state.tensors.items()},
    )
    assert back == state
    assert back != ServerState("fedyogi", state.tensors)
    empty = ServerState.empty("fedavg")
    assert ServerState.from_bytes(empty.to_bytes(), strategy="fedavg") == empty


def test_values_survive_bit_for_bit():
    values = torch.tensor([1e-38, 3.4e38, -0.0, 0.1, 1 / 3], dtype=torch.float32)
    state = ServerState("fedyogi", {"m/x": values})
    back = ServerState.from_bytes(state.to_bytes())
    assert back.tensors["m/x"].numpy().tobytes() == values.numpy().tobytes()


def test_another_strategys_state_or_other_shapes_are_refused():
    data = adam_state().to_bytes()
    with pytest.raises(MalformedArtifactError, match="expected 'fedyogi'"):
        ServerState.from_bytes(data, strategy="fedyogi")
    with pytest.raises(MalformedArtifactError, match="do not fit"):
        ServerState.from_bytes(data, expected_shapes={"m/layer.bias": (3,)})


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x00" * 7,
        b"\xff" * 16,
        b"not safetensors at all, just text",
        _st_encode({"w": torch.ones(1)}, {"fedmarket.format": FORMAT, "fedmarket.kind": "model"}),
        _st_encode({"w": torch.ones(1)}, {}),
    ],
    ids=["empty", "short", "huge-header", "text", "a-model", "no-metadata"],
)
def test_what_is_not_a_server_state_is_refused(data):
    with pytest.raises(MalformedArtifactError):
        ServerState.from_bytes(data)


def test_truncated_bytes_are_refused():
    data = adam_state().to_bytes()
    with pytest.raises(MalformedArtifactError):
        ServerState.from_bytes(data[:-4])


def test_a_non_finite_state_is_refused():
    meta = {"fedmarket.format": FORMAT, "fedmarket.kind": "server_state", "strategy": "fedadam"}
    data = _st_encode({"v/w": torch.tensor([1.0, float("inf")])}, meta)
    with pytest.raises(MalformedArtifactError, match="not finite"):
        ServerState.from_bytes(data)
