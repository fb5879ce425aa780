"""Updates and models as safetensors: round trips and every rejection path."""

import json
import struct

import pytest
import torch
from safetensors.torch import save as st_save

from fl_node.errors import ModelIntegrityError, UpdateRejectedError
from fl_node.models import ModelSpec, build_model, trainable_state
from fl_node.serialization import (
    UpdateMeta,
    decode_model,
    decode_update,
    encode_model,
    encode_update,
)

SPEC = ModelSpec(
    n_features=3, feature_mean=(0.0, 1.0, 2.0), feature_std=(1.0, 2.0, 3.0), hidden=(4,)
)
META = UpdateMeta(
    task_id=1,
    round=2,
    participant="0xabc",
    base_model_hash="0x00",
    samples=9,
    train_loss=0.25,
    strategy="fedavg",
)


def shapes():
    return {k: tuple(v.shape) for k, v in trainable_state(build_model(SPEC)).items()}


def delta():
    return {k: torch.randn(s) for k, s in shapes().items()}


def test_update_round_trip():
    d = delta()
    out, meta = decode_update(encode_update(d, META), shapes())
    assert meta == META
    assert all(torch.equal(out[k], d[k]) for k in d)


def test_update_with_wrong_shape_is_rejected():
    d = delta()
    d["body.0.weight"] = torch.zeros(2, 2)
    with pytest.raises(UpdateRejectedError) as err:
        decode_update(encode_update(d, META), shapes())
    assert err.value.reason == "shape_mismatch"


def test_update_with_nan_is_rejected():
    d = delta()
    d["body.0.bias"][0] = float("nan")
    with pytest.raises(UpdateRejectedError) as err:
        decode_update(encode_update(d, META), shapes())
    assert err.value.reason == "non_finite"


@pytest.mark.parametrize(
    "blob",
    [
        b"",
        b"garbage",
        struct.pack("<Q", 10**9) + b"{}",
        st_save({k: v.double() for k, v in delta().items()}, metadata=META.to_metadata()),
        st_save(delta(), metadata={"fedmarket.kind": "model"}),
    ],
    ids=["empty", "garbage", "huge-header", "float64", "not-an-update"],
)
def test_malformed_updates_are_rejected(blob):
    with pytest.raises(UpdateRejectedError) as err:
        decode_update(blob, shapes())
    assert err.value.reason in ("malformed", "shape_mismatch")


def test_header_offsets_must_match_shapes():
    blob = bytearray(encode_update(delta(), META))
    (size,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8 : 8 + size])
    first = next(k for k in header if k != "__metadata__")
    header[first]["data_offsets"][1] += 4  # claims more bytes than the shape holds
    raw = json.dumps(header).encode().ljust(size)
    with pytest.raises(UpdateRejectedError):
        decode_update(bytes(blob[:8]) + raw[:size] + bytes(blob[8 + size :]), shapes())


def test_model_round_trip_rebuilds_identical_outputs():
    model = build_model(SPEC)
    loaded = decode_model(encode_model(model, SPEC, round=3, task_id=7))
    assert (loaded.round, loaded.task_id, loaded.spec) == (3, 7, SPEC)
    x = torch.randn(5, 3)
    assert torch.allclose(model(x), loaded.module(x))


def test_model_that_does_not_fit_its_spec_is_rejected():
    model = build_model(SPEC)
    other = ModelSpec(n_features=3, feature_mean=(0.0,) * 3, feature_std=(1.0,) * 3, hidden=(5,))
    blob = st_save(
        {k: v.contiguous() for k, v in model.state_dict().items()},
        metadata={
            "fedmarket.format": "fedmarket/1",
            "fedmarket.kind": "model",
            "spec": json.dumps(other.to_dict()),
            "round": "0",
            "task_id": "1",
        },
    )
    with pytest.raises(ModelIntegrityError):
        decode_model(blob)
    with pytest.raises(ModelIntegrityError):
        decode_model(b"\x00" * 16)


def test_initial_weights_are_deterministic():
    a, b = build_model(SPEC), build_model(SPEC)
    assert all(torch.equal(x, y) for x, y in zip(a.parameters(), b.parameters(), strict=True))


def test_encoding_is_byte_identical_across_processes():
    """Same model, same bytes, same CID: even in another interpreter (hash seeds differ)."""
    import os
    import subprocess
    import sys

    from storage import compute_cid

    code = (
        "from fl_node.models import ModelSpec, build_model;"
        "from fl_node.serialization import encode_model;"
        "from storage import compute_cid;"
        "s = ModelSpec(n_features=3, feature_mean=(0.0, 1.0, 2.0), feature_std=(1.0, 2.0, 3.0),"
        " hidden=(4,));"
        "print(compute_cid(encode_model(build_model(s), s, round=3, task_id=7)))"
    )
    mine = compute_cid(encode_model(build_model(SPEC), SPEC, round=3, task_id=7))
    others = {
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": str(seed)},
        ).stdout.strip()
        for seed in (1, 2)
    }
    assert others == {mine}


def test_files_are_standard_safetensors():
    from safetensors.torch import load

    d = delta()
    loaded = load(encode_update(d, META))
    assert set(loaded) == set(d)
    assert all(torch.equal(loaded[k], d[k]) for k in d)
