"""Revert data decoding, independent of any node."""

from eth_abi.abi import encode
from eth_utils.abi import function_signature_to_4byte_selector

from chain.artifacts import error_decoder, load_artifact
from chain.backends import _revert_data_from_message


def selector(signature: str) -> bytes:
    return function_signature_to_4byte_selector(signature)


def test_every_custom_error_of_the_contracts_is_known():
    decoder = error_decoder()
    for name in ("FedTask", "DatasetRegistry"):
        for item in load_artifact(name).abi:
            if item["type"] == "error":
                types = ",".join(i["type"] for i in item["inputs"])
                data = selector(f"{item['name']}({types})") + b"\x00" * 32 * len(item["inputs"])
                assert decoder.decode(data).error_name == item["name"]


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
