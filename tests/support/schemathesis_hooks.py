"""schemathesis hooks of :mod:`tests.support.api_fuzz` (loaded through ``SCHEMATHESIS_HOOKS``).

An address's EIP-55 checksum is a rule JSON Schema cannot state: the schema says
``^0x[0-9a-fA-F]{40}$`` and the API refuses a mixed-case address whose checksum is wrong (422,
naming the field), as it should. Generated strings of that pattern are given their checksum
here, so that data valid by the schema is also valid for the API; strings that break the
pattern (the negative cases) are left as they are.
"""

from __future__ import annotations

import re
from typing import Any

import schemathesis
from eth_utils import to_checksum_address

ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")


def checksummed(value: Any) -> Any:
    """``value`` with every address-shaped string checksummed (containers walked)."""
    if isinstance(value, str) and ADDRESS.match(value):
        return to_checksum_address(value)
    if isinstance(value, dict):
        return {k: checksummed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [checksummed(v) for v in value]
    return value


@schemathesis.hook
def map_query(context: Any, query: Any) -> Any:
    return checksummed(query)


@schemathesis.hook
def map_path_parameters(context: Any, path_parameters: Any) -> Any:
    return checksummed(path_parameters)


@schemathesis.hook
def map_body(context: Any, body: Any) -> Any:
    return checksummed(body)
