"""Compiled contracts (ABI + bytecode) committed under ``chain/artifacts``.

They are exported from the Hardhat build by ``scripts/export-artifacts.mjs``; a Hardhat test fails
when they differ from what the Solidity sources compile to, so the Python side never needs Node at
run time and never runs stale bytecode.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from chain.errors import DeploymentError, ErrorDecoder

CONTRACT_NAMES = ("RewardToken", "DatasetRegistry", "FedTask", "ChallengeCourt", "ModelMarket")


@dataclass(frozen=True)
class Artifact:
    """One compiled contract."""

    name: str
    abi: list[dict[str, Any]]
    bytecode: str
    compiler_version: str


@cache
def load_artifact(name: str) -> Artifact:
    """Load the committed artifact of contract ``name``.

    Raises
    ------
    DeploymentError
        When no artifact of that name is committed.
    """
    try:
        text = resources.files("chain").joinpath("artifacts", f"{name}.json").read_text("utf-8")
    except FileNotFoundError:
        raise DeploymentError(f"load_artifact: no compiled artifact for {name!r}") from None
    raw = json.loads(text)
    return Artifact(
        name=name,
        abi=raw["abi"],
        bytecode=raw["bytecode"],
        compiler_version=str(raw.get("compiler", {}).get("version", "")),
    )


@cache
def error_decoder() -> ErrorDecoder:
    """An :class:`ErrorDecoder` that knows every error of every fedmarket contract."""
    return ErrorDecoder(load_artifact(n).abi for n in CONTRACT_NAMES)
