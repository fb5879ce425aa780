"""Chain client: deployment, typed contract wrappers, event reading, keys and backends.

The same code runs over an in-process chain (the embedded default) and any JSON-RPC node; each
party signs with its own key; reverts surface as :class:`ChainRevertError` with the custom error's
name and arguments, whichever backend raised them.
"""

from chain.artifacts import CONTRACT_NAMES, Artifact, load_artifact
from chain.backends import ChainBackend, InProcessBackend, RpcBackend, connect
from chain.deployment import Deployment, deploy
from chain.devnode import DevNode
from chain.errors import (
    ChainConnectionError,
    ChainError,
    ChainRevertError,
    DeploymentError,
    FundingError,
    TransactionFailedError,
)
from chain.fed_task import (
    FedTaskClient,
    RewardRecord,
    RoundOpening,
    RoundRecord,
    TaskInfo,
    TaskStatus,
    UpdateAnchor,
)
from chain.keys import account_from_env, demo_account, load_keystore, new_account, save_keystore
from chain.parties import DEPLOYER, GAS_FUNDING_WEI, Parties, provision
from chain.registry import (
    DatasetRegistryClient,
    Listing,
    ListingRequest,
    recover_listing_signer,
    sign_listing,
)
from chain.signer import Signer, TxResult, fund, signer_for
from chain.token import RewardTokenClient

__all__ = [
    "DEPLOYER",
    "GAS_FUNDING_WEI",
    "Parties",
    "demo_account",
    "provision",
    "CONTRACT_NAMES",
    "Artifact",
    "ChainBackend",
    "ChainConnectionError",
    "ChainError",
    "ChainRevertError",
    "DatasetRegistryClient",
    "Deployment",
    "DeploymentError",
    "DevNode",
    "FedTaskClient",
    "FundingError",
    "InProcessBackend",
    "Listing",
    "ListingRequest",
    "RewardRecord",
    "RewardTokenClient",
    "RoundOpening",
    "RoundRecord",
    "RpcBackend",
    "Signer",
    "TaskInfo",
    "TaskStatus",
    "TransactionFailedError",
    "TxResult",
    "UpdateAnchor",
    "account_from_env",
    "connect",
    "deploy",
    "fund",
    "load_artifact",
    "load_keystore",
    "new_account",
    "recover_listing_signer",
    "save_keystore",
    "sign_listing",
    "signer_for",
]
