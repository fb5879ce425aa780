"""Request and response bodies of the marketplace API (pydantic v2).

Schemas form a ladder: ``DatasetBase`` (the listing metadata, exactly what the owner signs) ->
``DatasetCreate`` (plus the signature) -> ``DatasetPublic`` (plus where it landed on-chain).
Request bodies reject unknown fields (``extra="forbid"``): raw rows can never slip in.

Wire conventions:

- token amounts (``*_wei``) and on-chain scores are **decimal strings**: they are ``uint256`` and
  exceed 2^53, the largest integer a JSON number keeps exactly in most parsers;
- addresses are EIP-55 checksummed (mixed case must carry a valid checksum; all-lower or all-upper
  case input is checksummed for you);
- hashes and signatures are ``0x``-prefixed hex; CIDs are CIDv1 base32 (``bafk...``/``bafy...``);
- access modes are ``federated_only`` and ``downloadable`` (``AccessMode`` on-chain: 0 and 1);
- times are unix seconds of the chain's clock.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from eth_utils.address import is_checksum_address, to_checksum_address
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    StrictInt,
    StringConstraints,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from kernel.errors import InvalidInputError
from marketplace_api.statistics import FeatureStatistics, is_none, schema_faults
from marketplace_api.text import Name, Text
from storage import validate_cid

MAX_COLUMNS = 4096
UINT256_MAX = 2**256 - 1
INT64_MAX = 2**63 - 1
INT32_MAX = 2**31 - 1


# ---- field types ---------------------------------------------------------------------------------
def _checksum(value: str) -> str:
    body = value[2:]
    if body != body.lower() and body != body.upper() and not is_checksum_address(value):
        raise InvalidInputError("address checksum (EIP-55) does not match")
    return to_checksum_address(value)


AddressStr = Annotated[
    str,
    StringConstraints(pattern=r"^0x[0-9a-fA-F]{40}$"),
    AfterValidator(_checksum),
]
"""An Ethereum address, returned checksummed."""


def _cid(value: str) -> str:
    return str(validate_cid(value))


CidStr = Annotated[str, StringConstraints(min_length=2, max_length=128), AfterValidator(_cid)]
"""An IPFS CIDv1 (base32, sha2-256)."""

Hash32Hex = Annotated[str, StringConstraints(pattern=r"^0x[0-9a-f]{64}$")]
"""A 32-byte hash as ``0x`` + 64 lower-case hex digits."""

SignatureHex = Annotated[
    str, StringConstraints(pattern=r"^0x[0-9a-fA-F]{130}$"), AfterValidator(str.lower)
]
"""A 65-byte ECDSA signature (r, s, v) as ``0x`` + 130 hex digits."""


def _wei_string(value: str) -> str:
    if int(value) > UINT256_MAX:
        raise InvalidInputError("does not fit in uint256")
    return value


WeiString = Annotated[
    str,
    StringConstraints(pattern=r"^(0|[1-9][0-9]{0,77})$"),
    AfterValidator(_wei_string),
]
"""A non-negative ``uint256`` amount as a decimal string without leading zeros (request side)."""

Wei = Annotated[
    int,
    Field(ge=0),
    PlainSerializer(str, return_type=str),
    WithJsonSchema({"type": "string", "pattern": "^[0-9]+$", "description": "decimal uint256"}),
]
"""A ``uint256`` amount, serialised as a decimal string (response side)."""

BigUint = Wei
"""Any ``uint256`` that may exceed 2^53 (on-chain scores), serialised as a decimal string."""

Tag = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9._+-]{0,39}$")]
"""A tag: lower case, 1 to 40 characters of ``a-z 0-9 . _ + -``."""

FigureName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


UtcDatetime = Annotated[datetime, AfterValidator(_utc)]
"""A timestamp, always with its UTC offset (SQLite hands them back naive)."""


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


# ---- datasets ------------------------------------------------------------------------------------
class ColumnSpec(_Request):
    """One column of a dataset's schema; a numeric one may declare the range of its values."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, serialize_by_alias=True)

    name: Name
    dtype: Literal["float", "int", "bool", "category", "string"]
    minimum: FiniteFloat | None = Field(
        default=None,
        alias="min",
        description="Smallest valid value (numeric columns).",
        exclude_if=is_none,
    )
    maximum: FiniteFloat | None = Field(
        default=None,
        alias="max",
        description="Largest valid value (numeric columns).",
        exclude_if=is_none,
    )

    @model_validator(mode="after")
    def _range(self) -> ColumnSpec:
        declared = self.minimum is not None or self.maximum is not None
        if declared and self.dtype not in NUMERIC_DTYPES:
            raise InvalidInputError(f"only float and int columns take a range, not {self.dtype}")
        if self.minimum is not None and self.maximum is not None and self.minimum > self.maximum:
            raise InvalidInputError(f"min {self.minimum} exceeds max {self.maximum}")
        return self


NUMERIC_DTYPES = frozenset({"float", "int"})


class DatasetBase(_Request):
    """A dataset listing's metadata: the document the owner signs (never the rows).

    The server serialises exactly these fields with :func:`~storage.canonical_json` to
    obtain the metadata document whose CID and keccak hash are recorded on-chain.
    """

    model_config = ConfigDict(extra="forbid", serialize_by_alias=True)

    name: Name
    description: Text = Field(default="", max_length=5000)
    owner: AddressStr
    columns: list[ColumnSpec] = Field(alias="schema", min_length=1, max_length=MAX_COLUMNS)
    row_count: StrictInt = Field(ge=1, le=INT64_MAX)
    statistics: FeatureStatistics | None = Field(
        default=None,
        description="Per numeric column (float and int, in schema order): count, mean, std, min, "
        "max (as fl_node.data.FeatureStats.to_dict() produces them), optionally missing and "
        "columns; null when the owner publishes none.",
    )
    quality: dict[FigureName, FiniteFloat] = Field(
        default_factory=dict,
        max_length=64,
        description="Named quality figures; names ending in _rate must lie in [0, 1].",
    )
    license: Text = Field(min_length=1, max_length=100)
    tags: list[Tag] = Field(default_factory=list, max_length=20)
    downloadable: bool = False

    @field_validator("columns")
    @classmethod
    def _unique_columns(cls, value: list[ColumnSpec]) -> list[ColumnSpec]:
        names = [c.name for c in value]
        if len(set(names)) != len(names):
            raise InvalidInputError("column names must be unique")
        return value

    @field_validator("statistics")
    @classmethod
    def _statistics_valid(
        cls, value: FeatureStatistics | None, info: ValidationInfo
    ) -> FeatureStatistics | None:
        columns: list[ColumnSpec] | None = info.data.get("columns")
        if value is None or columns is None:  # None: the schema was invalid (reported there)
            return value
        why = schema_faults(value, columns, info.data.get("row_count"))
        if why is not None:
            raise InvalidInputError(why)
        return value

    @field_validator("quality")
    @classmethod
    def _rates_in_range(cls, value: dict[str, float]) -> dict[str, float]:
        for name, figure in value.items():
            if name.endswith("_rate") and not 0.0 <= figure <= 1.0:
                raise InvalidInputError(f"{name} must lie in [0, 1]")
        return value

    @field_validator("tags")
    @classmethod
    def _unique_tags(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise InvalidInputError("tags must be unique")
        return value

    def document_fields(self) -> dict[str, Any]:
        """The JSON form of exactly the :class:`DatasetBase` fields (what is signed).

        Optional parts left out are absent, not null (a column's range, the statistics' missing
        counts and column names: ``exclude_if=is_none``), so
        documents signed before they existed keep their bytes.
        """
        return self.model_dump(mode="json", by_alias=True, include=set(DatasetBase.model_fields))


AccessModeName = Literal["federated_only", "downloadable"]
"""A dataset's access mode on the wire (``AccessMode`` on-chain: 0 and 1)."""

ACCESS_MODE_VALUES: dict[str, int] = {"federated_only": 0, "downloadable": 1}
"""The ``uint8 accessMode`` each access mode is signed and recorded as."""


class DatasetDraft(DatasetBase):
    """A listing before its signature.

    ``POST /datasets/typed-data`` turns it into the EIP-712 message the owner's wallet signs.
    """

    access_mode: AccessModeName = Field(
        default="federated_only",
        description="federated_only (metadata only, joined through tasks; price 0) or "
        "downloadable (a licence is sold for price_wei).",
    )
    price_wei: WeiString = Field(default="0", description="Price of a licence in token wei.")
    nonce: StrictInt | None = Field(
        default=None,
        ge=0,
        le=UINT256_MAX,
        description="The registry nonce signed (the owner's current one when omitted).",
    )
    deadline: StrictInt = Field(ge=0, le=2**64 - 1, description="Unix time after which it is void.")

    @field_validator("price_wei")
    @classmethod
    def _federated_only_is_free(cls, value: str, info: ValidationInfo) -> str:
        if info.data.get("access_mode") == "federated_only" and value != "0":
            raise InvalidInputError("a federated_only listing has price 0")
        return value


class DatasetCreate(DatasetDraft):
    """A listing request: the metadata plus the owner's EIP-712 ``ListDataset`` signature.

    The owner signs the metadata document's hash and CID together with ``access_mode``,
    ``price_wei``, its registry nonce and ``deadline`` (see ``GET /datasets/signing-params``).
    """

    signature: SignatureHex


class DatasetPublic(DatasetBase):
    """A recorded listing."""

    model_config = ConfigDict(extra="ignore", serialize_by_alias=True)

    id: int = Field(description="The on-chain dataset id (DatasetRegistry).")
    chain_id: int
    registry: AddressStr
    access_mode: AccessModeName = Field(description="The access mode recorded at listing.")
    price_wei: Wei = Field(description="The price recorded at listing.")
    metadata_cid: str
    metadata_hash: Hash32Hex
    tx_hash: Hash32Hex
    block: int
    created_at: UtcDatetime


class DatasetPage(BaseModel):
    """A page of listings, oldest first."""

    items: list[DatasetPublic]
    total: int
    limit: int
    offset: int


class SigningDomain(BaseModel):
    """The EIP-712 domain of the DatasetRegistry."""

    name: str
    version: str
    chain_id: int
    verifying_contract: AddressStr


class SigningParams(BaseModel):
    """Everything an owner needs to sign a listing (besides the metadata itself)."""

    owner: AddressStr
    chain_id: int
    registry: AddressStr
    domain: SigningDomain
    primary_type: str = "ListDataset"
    types: dict[str, list[dict[str, str]]]
    access_modes: dict[str, int] = Field(
        default_factory=lambda: dict(ACCESS_MODE_VALUES),
        description="The uint8 accessMode signed for each access mode.",
    )
    nonce: int
    deadline: int = Field(description="A suggested deadline (unix time).")


# ---- tasks ---------------------------------------------------------------------------------------
TaskStatusName = Literal["none", "joining", "training", "completed", "cancelled", "aborted"]
"""A task's status (``TaskStatus`` on-chain, lower case)."""

EvidenceStatus = Literal["verified", "mismatch", "unavailable", "no_rewards", "not_finalized"]
"""What a round's evidence document says about its rewards, checked against the chain.

``verified``: its per-participant amounts rebuild the round's on-chain rewards root and budget;
``mismatch``: they do not (e.g. a dispute replaced the root), so they are not shown;
``unavailable``: the document cannot be read or is not round evidence of this round;
``no_rewards``: the round's budget is 0; ``not_finalized``: the round is still open.
"""


class SchedulePublic(BaseModel):
    """A task's timetable in seconds (``IFedTask.Schedule``)."""

    join_period: int
    commit_period: int
    inclusion_period: int
    reveal_period: int
    finalize_period: int
    challenge_period: int
    open_period: int
    abort_grace: int
    stake_cooldown: int


class BatchPublic(BaseModel):
    """A batch of signed commitments the coordinator anchored (``CommitBatchPosted``)."""

    root: Hash32Hex
    count: int
    batch_cid: str
    block: int
    tx_hash: Hash32Hex


class CommitmentPublic(BaseModel):
    """A participant's direct commitment to its update (``UpdateCommitted``)."""

    participant: AddressStr
    update_hash: Hash32Hex
    samples: int
    update_cid: str
    block: int
    tx_hash: Hash32Hex


class RewardPublic(BaseModel):
    """One participant's reward of one round.

    ``claimed_wei`` is what it claimed on-chain (``RewardsClaimed``); ``allocated_wei`` what the
    round's evidence gives it, shown only when that evidence rebuilds the on-chain rewards root
    (null otherwise).
    """

    participant: AddressStr
    allocated_wei: Wei | None
    claimed_wei: Wei


class RoundPublic(BaseModel):
    """One round as the chain records it; finalisation fields are null while it is open."""

    round: int
    opened_model_cid: str | None
    opened_model_hash: Hash32Hex | None
    commit_deadline: int
    reveal_start: int
    reveal_deadline: int
    finalize_deadline: int
    commitments: int = Field(description="Commitments counted for the quorum.")
    batches: list[BatchPublic]
    direct_commitments: list[CommitmentPublic]
    finalized: bool
    model_cid: str | None
    model_hash: Hash32Hex | None
    evidence_cid: str | None
    rewards_root: Hash32Hex | None = Field(
        description="The current root (a dispute may replace it)."
    )
    budget_wei: Wei | None
    claimed_wei: Wei
    accepted: int
    flagged: list[AddressStr]
    claimable_at: int | None = Field(description="End of the challenge window.")
    claimable: bool = Field(description="The window passed and the round is not disputed.")
    disputed: bool
    evidence_status: EvidenceStatus
    rewards: list[RewardPublic] = Field(description="One per participant, in join order.")


class TaskPublic(BaseModel):
    """A task read from the chain (authoritative, never cached); times are chain unix seconds."""

    task_id: int
    sponsor: AddressStr
    coordinator: AddressStr
    status: TaskStatusName
    final: bool = Field(description="Completed and its last window passed undisputed.")
    created_at: int
    ended_at: int | None
    schedule: SchedulePublic
    open_by: int | None = Field(
        description="While no round is open: the next round must open before this time."
    )
    total_rounds: int
    current_round: int
    round_open: bool
    max_participants: int
    quorum: int
    permissioned: bool
    slash_bps: int
    pool_wei: Wei
    unallocated_wei: Wei
    slashed_in_wei: Wei
    refunded_wei: Wei
    participant_stake_wei: Wei
    coordinator_stake_wei: Wei
    coordinator_staked: bool
    stakes: dict[str, Wei] = Field(
        description="Stake held now by each participant and coordinator."
    )
    open_disputes: int
    pending_coordinator: AddressStr | None
    replacement_not_before: int | None
    spec_cid: str
    spec_hash: Hash32Hex
    model_cid: str | None = Field(
        description="The latest finalised model (the final one at the end)."
    )
    model_hash: Hash32Hex | None
    participants: list[AddressStr]
    shares_bps: list[int] = Field(description="Final shares in join order (empty before the end).")
    rounds: list[RoundPublic]
    allocated: dict[str, Wei] | None = Field(
        description="Wei allocated per participant over the finalised rounds, from evidence that "
        "matches the chain; null when a paying round's evidence does not."
    )
    claimed: dict[str, Wei] = Field(description="Wei claimed per participant (RewardsClaimed).")


# ---- models --------------------------------------------------------------------------------------
class ModelBase(_Request):
    """What a model listing says about itself: the part its lister signs."""

    task_id: int = Field(ge=1, le=INT64_MAX)
    name: Name
    description: Text = Field(default="", max_length=5000)
    price_wei: WeiString | None = Field(
        default=None,
        description="The price the lister expects; when given it must be the market's price.",
    )
    card_cid: CidStr

    def message_fields(self) -> dict[str, Any]:
        """The JSON form of exactly the signed fields."""
        return self.model_dump(mode="json", include=set(ModelBase.model_fields))


class ModelCreate(ModelBase):
    """A model listing request, signed by the lister of the task's ModelMarket listing.

    The signature is EIP-191 ``personal_sign`` over ``canonical_json({task_id, name, description,
    price_wei, card_cid, chain_id, fed_task, market})`` (the last three from
    ``GET /models/signing-params``).
    """

    signer: AddressStr
    signature: SignatureHex


class ModelSigningParams(BaseModel):
    """What a lister binds its signature to: the chain id, FedTask and ModelMarket addresses."""

    chain_id: int
    fed_task: str
    market: str


class ModelCard(BaseModel):
    """The parts of a model card (``fedmarket/model-card``) the marketplace checks and shows."""

    model_config = ConfigDict(extra="allow", protected_namespaces=())

    kind: Literal["fedmarket/model-card"]
    task_id: StrictInt
    model_cid: CidStr
    model_hash: Annotated[str, StringConstraints(pattern=r"^0x[0-9a-fA-F]{64}$")]
    metrics: dict[Annotated[str, StringConstraints(max_length=64)], FiniteFloat] = Field(
        default_factory=dict, max_length=64
    )


class ContributorPublic(BaseModel):
    """A contributor's share of a model's sales in basis points, as FedTask fixed it."""

    address: AddressStr
    share_bps: int = Field(ge=0, le=10_000)


class ModelPublic(BaseModel):
    """A model listing: what was recorded, and the market's live price and proceeds."""

    model_config = ConfigDict(protected_namespaces=())

    id: int = Field(description="The ModelMarket listing id.")
    chain_id: int
    fed_task: AddressStr
    market: AddressStr
    task_id: int
    name: str
    description: str
    price_wei: Wei = Field(description="The market's current price.")
    active: bool = Field(description="Whether the market sells it now.")
    sponsor_bps: int = Field(description="The sponsor's cut of each sale.")
    proceeds_wei: Wei = Field(description="The contributors' part of every sale so far.")
    model_cid: str
    model_hash: Hash32Hex
    card_cid: str
    card_hash: Hash32Hex
    metrics: dict[str, float]
    contributors: list[ContributorPublic] = Field(description="Non-zero shares, in join order.")
    listed_by: AddressStr
    created_at: UtcDatetime


class ModelPage(BaseModel):
    """A page of model listings, by ModelMarket id."""

    items: list[ModelPublic]
    total: int
    limit: int
    offset: int


# ---- health --------------------------------------------------------------------------------------
class ChainHealth(BaseModel):
    """What the API sees of the chain."""

    backend: str
    chain_id: int | None
    block: int | None
    error: str | None = None


class IndexHealth(BaseModel):
    """How far the chain index goes: every block up to ``block`` is indexed."""

    block: int | None = Field(description="The last indexed block (null before the first run).")
    block_hash: Hash32Hex | None = None
    lag_blocks: int | None = Field(
        default=None, description="Blocks the chain is ahead of the index (null if unknown)."
    )


class RelayerHealth(BaseModel):
    """The relayer that pays the gas of relayed writes, and whether it still can."""

    address: AddressStr
    balance_wei: Wei | None = Field(description="Its balance (null when it could not be read).")
    floor_wei: Wei = Field(description="Below this balance nothing is relayed (503).")
    low: bool = Field(
        description="Balance below the floor: relayed writes answer 503; owners can list "
        "directly on-chain (DatasetRegistry.listDataset), which the index picks up."
    )


class Health(BaseModel):
    """Liveness of the API and its dependencies, and the contracts it talks to.

    ``status`` is ``degraded`` when the chain or the database is down (HTTP 503) or when the
    relayer's balance is below its floor (HTTP 200: reads and direct on-chain listings work).
    """

    status: Literal["ok", "degraded"]
    chain: ChainHealth
    database: Literal["ok", "unavailable"]
    index: IndexHealth = Field(default_factory=lambda: IndexHealth(block=None))
    relayer: RelayerHealth | None = None
    contracts: dict[str, AddressStr] = Field(
        description="token, registry, fed_task, court and market addresses of the deployment."
    )


__all__ = [
    "ACCESS_MODE_VALUES",
    "NUMERIC_DTYPES",
    "AccessModeName",
    "AddressStr",
    "BatchPublic",
    "CidStr",
    "ColumnSpec",
    "CommitmentPublic",
    "ContributorPublic",
    "DatasetBase",
    "DatasetCreate",
    "DatasetDraft",
    "DatasetPage",
    "DatasetPublic",
    "EvidenceStatus",
    "Hash32Hex",
    "Health",
    "IndexHealth",
    "ModelBase",
    "ModelCard",
    "ModelCreate",
    "ModelPage",
    "ModelPublic",
    "ModelSigningParams",
    "RelayerHealth",
    "RewardPublic",
    "RoundPublic",
    "SchedulePublic",
    "SignatureHex",
    "SigningDomain",
    "SigningParams",
    "TaskPublic",
    "TaskStatusName",
    "Wei",
    "WeiString",
]
