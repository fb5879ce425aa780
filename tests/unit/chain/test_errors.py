"""Revert data decoding, independent of any node."""

from eth_abi.abi import encode
from eth_utils.abi import function_signature_to_4byte_selector

from chain.artifacts import CONTRACT_NAMES, error_decoder, load_artifact
from chain.backends import _revert_data_from_message


def selector(signature: str) -> bytes:
    return function_signature_to_4byte_selector(signature)


SAMPLES = {
    "address": "0x5FbDB2315678afecb367f032d93F642f64180aa3",
    "bool": True,
    "bytes": b"\x27\x10",
    "bytes32": b"\x11" * 32,
    "bytes4": b"\xde\xad\xbe\xef",
    "string": "quorum",
}


def sample(typ: str) -> object:
    if typ in SAMPLES:
        return SAMPLES[typ]
    if typ.startswith("uint"):
        return 2 ** int(typ[4:] or 256) - 3
    assert typ.startswith("int"), typ
    return -(2 ** (int(typ[3:] or 256) - 1))


def test_every_custom_error_of_every_contract_decodes_with_its_arguments():
    decoder = error_decoder()
    seen = 0
    for name in CONTRACT_NAMES:
        for item in load_artifact(name).abi:
            if item["type"] != "error":
                continue
            types = [i["type"] for i in item["inputs"]]
            values = [sample(t) for t in types]
            data = selector(f"{item['name']}({','.join(types)})") + encode(types, values)
            err = decoder.decode(data)
            assert err.error_name == item["name"]
            names = [i["name"] for i in item["inputs"]]
            assert err.error_args == dict(zip(names, values, strict=True))
            seen += 1
    assert seen > 100  # FedTask, ChallengeCourt, ModelMarket, DatasetRegistry, RewardToken


def test_v2_errors_of_the_protocol_are_known_by_name():
    decoder = error_decoder()
    for signature in (
        "TaskTooEarly(uint256,uint32,uint64)",
        "TaskInvalidProof(uint256,uint32,address,uint256)",
        "TaskRoleConflict(uint256,address)",
        "TaskNotJoining(uint256,uint8)",
        "CourtChallengeNotOpen(uint256,uint8)",
        "CourtVotingOpen(uint256,uint64)",
    ):
        assert decoder.decode(selector(signature) + bytes(32 * 4)).error_name != "Unknown"


def test_custom_error_arguments_are_decoded_and_named():
    data = selector("TaskRoundNotOpen(uint256,uint32)") + encode(["uint256", "uint32"], [7, 3])
    err = error_decoder().decode(data)
    assert err.error_args == {"taskId": 7, "round": 3}
    assert str(err) == "TaskRoundNotOpen(taskId=7, round=3)"


def test_require_strings_panics_and_unknown_selectors():
    reason = selector("Error(string)") + encode(["string"], ["boom"])
    assert error_decoder().decode(reason).error_args == {"reason": "boom"}
    panic = selector("Panic(uint256)") + encode(["uint256"], [0x11])
    assert error_decoder().decode(panic).error_args == {"code": 0x11}
    assert error_decoder().decode(b"\xde\xad\xbe\xef").error_name == "Unknown"
    assert error_decoder().decode(b"").error_name == "Unknown"


def test_eth_tester_messages_become_revert_data():
    raw = selector("TaskUnknown(uint256)") + encode(["uint256"], [9])
    assert _revert_data_from_message(f"execution reverted: {raw!r}") == raw
    as_error = _revert_data_from_message("execution reverted: not allowed")
    assert error_decoder().decode(as_error).error_args == {"reason": "not allowed"}
    assert _revert_data_from_message("execution reverted") == b""
