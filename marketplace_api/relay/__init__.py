"""Relayer economics: who may make the relayer pay gas, how much, and while it can.

The API relays listings signed by their owners and pays their gas. Without limits, anonymous
fresh keys made it pay for about 15 listings a second (177,550 gas each): a 1 ETH relayer was
empty in about six minutes, and honest listers queued behind the flood. Four things now stand
between a request and the relayer's money:

1. **rate limits** (token buckets, in memory per process): relayed writes per client IP and per
   signer address, and sign-in nonces per client IP (so sessions cannot be farmed);
2. a **gas budget** per owner over a rolling window, in the database every worker shares:
   reserved before relaying (an estimate), charged with the receipt's ``gasUsed``; a fresh key's
   budget is small, an owner with listings on record gets more;
3. the **relayer's balance**, watched: below a floor nothing is relayed (503), and
   ``GET /health`` says so;
4. every refusal is a 429 (or that 503) with ``Retry-After`` and a body naming the limit.

Listing without gas stays possible for honest owners: a fresh key's budget fits a listing, the
rate limits count per client, so a flood from elsewhere does not block them. And an owner can
always list directly on-chain, paying their own gas (``DatasetRegistry.listDataset``): the
indexer picks such listings up like relayed ones.

Public surface::

    RelayPolicy                     # the limits (from settings, or unlimited for embedders)
    RelayGuard                      # the runtime: services.relay
    RateLimit, Limiter, take        # token buckets (pure maths + an in-memory table)
    GasBudgetPolicy, Charge, decide # the budget maths
    BalanceWatch, BalanceStatus     # the relayer's balance
    client_key                      # the client a request counts against
    RateLimitedError, GasBudgetExceededError, RelayerBalanceLowError, RETRY_LATER_ERRORS
    GasCharge                       # the ledger's table (migration 0005_relay_gas)
"""

from marketplace_api.relay.balance import BalanceStatus, BalanceWatch
from marketplace_api.relay.budget import (
    LISTING_GAS_ESTIMATE,
    BudgetDecision,
    Charge,
    GasBudgetPolicy,
    decide,
)
from marketplace_api.relay.clients import client_key, parse_networks
from marketplace_api.relay.errors import (
    RETRY_LATER_ERRORS,
    GasBudgetExceededError,
    RateLimitedError,
    RelayerBalanceLowError,
    RetryLater,
)
from marketplace_api.relay.guard import Charger, Mined, RelayGuard
from marketplace_api.relay.ledger import GasCharge
from marketplace_api.relay.policy import RelayPolicy
from marketplace_api.relay.ratelimit import Bucket, Decision, Limiter, RateLimit, take

__all__ = [
    "LISTING_GAS_ESTIMATE",
    "RETRY_LATER_ERRORS",
    "BalanceStatus",
    "BalanceWatch",
    "Bucket",
    "BudgetDecision",
    "Charge",
    "Charger",
    "Decision",
    "GasBudgetExceededError",
    "GasBudgetPolicy",
    "GasCharge",
    "Limiter",
    "Mined",
    "RateLimit",
    "RateLimitedError",
    "RelayGuard",
    "RelayPolicy",
    "RelayerBalanceLowError",
    "RetryLater",
    "client_key",
    "decide",
    "parse_networks",
    "take",
]
