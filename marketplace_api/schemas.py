"""Request and response bodies of the marketplace API (pydantic v2).

Schemas form a ladder: ``DatasetBase`` (the listing metadata, exactly what the owner signs) ->
``DatasetCreate`` (plus the signature) -> ``DatasetPublic`` (plus where it landed on-chain).
Request bodies reject unknown fields (``extra="forbid"``): raw rows can never slip in.

Wire conventions:

- token amounts (``*_wei``) and on-chain scores are **decimal strings**: they are ``uint256`` and
  exceed 2^53, the largest integer a JSON number keeps exactly in most parsers;
- addresses are EIP-55 checksummed (mixed case must carry a valid checksum; all-lower or all-upper
  case input is checksummed for you);
- hashes and signatures are ``0x``-prefixed hex; CIDs are CIDv1 base32 (``bafk...``/``bafy...``).
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
)

from fl_node.data.stats import FeatureStats
from fl_node.errors import DataError
from kernel.errors import InvalidInputError
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
    """One column of a dataset's schema."""

    name: str = Field(min_length=1, max_length=200)
    dtype: Literal["float", "int", "bool", "category", "string"]


NUMERIC_DTYPES = frozenset({"float", "int"})


class DatasetBase(_Request):
    """A dataset listing's metadata: the document the owner signs (never the rows).

    The server serialises exactly these fields with :func:`~storage.canonical_json` to
    obtain the metadata document whose CID and keccak hash are recorded on-chain.
    """

    model_config = ConfigDict(extra="forbid", serialize_by_alias=True)

    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=5000)
    owner: AddressStr
    columns: list[ColumnSpec] = Field(alias="schema", min_length=1, max_length=MAX_COLUMNS)
    row_count: int = Field(ge=1, le=INT64_MAX)
    statistics: dict[str, Any] | None = Field(
        default=None,
        description="Per numeric column (float and int, in schema order): count, mean, std, min, "
        "max, as produced by fl_node.data.FeatureStats.to_dict().",
    )
    quality: dict[FigureName, FiniteFloat] = Field(
        default_factory=dict,
        max_length=64,
        description="Named quality figures; names ending in _rate must lie in [0, 1].",
    )
    license: str = Field(min_length=1, max_length=100)
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
        cls, value: dict[str, Any] | None, info: ValidationInfo
    ) -> dict[str, Any] | None:
        if value is None:
            return None
        if len(value) > 5:
            raise InvalidInputError("statistics take exactly count, mean, std, min and max")
        try:
            stats = FeatureStats.from_dict(value)
        except DataError as exc:
            raise InvalidInputError(str(exc)) from None
        columns: list[ColumnSpec] | None = info.data.get("columns")
        if columns is not None:  # None: the schema itself was invalid (reported there)
            numeric = sum(1 for c in columns if c.dtype in NUMERIC_DTYPES)
            if len(stats.mean) != numeric:
                raise InvalidInputError(
                    f"statistics cover {len(stats.mean)} columns but the schema has {numeric} "
                    "numeric (float or int) columns"
                )
        row_count: int | None = info.data.get("row_count")
        if row_count is not None and stats.count > row_count:
            raise InvalidInputError("statistics count exceeds row_count")
        return stats.to_dict()

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
        """The JSON form of exactly the :class:`DatasetBase` fields (what is signed)."""
        return self.model_dump(mode="json", by_alias=True, include=set(DatasetBase.model_fields))


class DatasetCreate(DatasetBase):
    """A listing request: the metadata plus the owner's EIP-712 signature of it."""

    deadline: int = Field(ge=0, le=2**64 - 1, description="Unix time after which it is void.")
    signature: SignatureHex


class DatasetPublic(DatasetBase):
    """A recorded listing."""

    model_config = ConfigDict(extra="ignore", serialize_by_alias=True)

    id: int = Field(description="The on-chain dataset id (DatasetRegistry).")
    chain_id: int
    registry: AddressStr
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
    nonce: int
    deadline: int = Field(description="A suggested deadline (unix time).")


# ---- tasks ---------------------------------------------------------------------------------------
class UpdatePublic(BaseModel):
    """An update anchored by a participant (``UpdateSubmitted``)."""

    participant: AddressStr
    cid: str
    update_hash: Hash32Hex
    samples: int
    block: int
    tx_hash: Hash32Hex


class RewardPublic(BaseModel):
    """A reward allocated when a round was finalised (``RewardAllocated``)."""

    participant: AddressStr
    score: BigUint
    amount_wei: Wei


class RoundPublic(BaseModel):
    """One round as the chain recorded it; finalisation fields are null while it is open."""

    round: int
    opened_model_cid: str | None
    opened_model_hash: Hash32Hex | None
    finalized: bool
    model_cid: str | None
    model_hash: Hash32Hex | None
    evidence_cid: str | None
    budget_wei: Wei | None
    paid_wei: Wei | None
    updates: list[UpdatePublic]
    rewards: list[RewardPublic]


class TaskPublic(BaseModel):
    """A task read from the chain (authoritative, never cached)."""

    task_id: int
    sponsor: AddressStr
    coordinator: AddressStr
    status: Literal["none", "joining", "training", "completed", "cancelled"]
    pool_wei: Wei
    escrow_wei: Wei
    total_rounds: int
    current_round: int
    round_open: bool
    max_participants: int
    spec_cid: str
    spec_hash: Hash32Hex
    model_cid: str | None
    model_hash: Hash32Hex | None
    participants: list[AddressStr]
    rounds: list[RoundPublic]
    totals: dict[str, Wei] = Field(description="Wei allocated per participant over all rounds.")


# ---- models --------------------------------------------------------------------------------------
class ModelBase(_Request):
    """What a model listing says about itself: the part its lister signs."""

    task_id: int = Field(ge=1, le=INT64_MAX)
    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=5000)
    price_wei: WeiString
    card_cid: CidStr

    def message_fields(self) -> dict[str, Any]:
        """The JSON form of exactly the signed fields."""
        return self.model_dump(mode="json", include=set(ModelBase.model_fields))


class ModelCreate(ModelBase):
    """A model listing request, signed by the task's coordinator or sponsor.

    The signature is EIP-191 ``personal_sign`` over
    ``canonical_json({task_id, name, description, price_wei, card_cid, chain_id, fed_task})``
    (the last two from ``GET /models/signing-params``).
    """

    signer: AddressStr
    signature: SignatureHex


class ModelSigningParams(BaseModel):
    """What a lister binds its signature to: the deployment's chain id and FedTask address."""

    chain_id: int
    fed_task: str


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
    """A contributor's share of a model's sales (basis points, summing to 10000)."""

    address: AddressStr
    share_bps: int = Field(ge=0, le=10_000)
    paid_wei: Wei


class ModelPublic(BaseModel):
    """A model listing."""

    model_config = ConfigDict(protected_namespaces=())

    id: int
    chain_id: int
    fed_task: AddressStr
    task_id: int
    name: str
    description: str
    price_wei: Wei
    model_cid: str
    model_hash: Hash32Hex
    card_cid: str
    metrics: dict[str, float]
    contributors: list[ContributorPublic]
    listed_by: AddressStr
    created_at: UtcDatetime


class ModelPage(BaseModel):
    """A page of model listings, oldest first."""

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


class Health(BaseModel):
    """Liveness of the API and its dependencies."""

    status: Literal["ok", "degraded"]
    chain: ChainHealth
    database: Literal["ok", "unavailable"]


__all__ = [
    "NUMERIC_DTYPES",
    "AddressStr",
    "CidStr",
    "ColumnSpec",
    "ContributorPublic",
    "DatasetBase",
    "DatasetCreate",
    "DatasetPage",
    "DatasetPublic",
    "Hash32Hex",
    "Health",
    "ModelBase",
    "ModelCard",
    "ModelCreate",
    "ModelPage",
    "ModelPublic",
    "RewardPublic",
    "RoundPublic",
    "SignatureHex",
    "SigningDomain",
    "SigningParams",
    "TaskPublic",
    "UpdatePublic",
    "Wei",
    "WeiString",
]
