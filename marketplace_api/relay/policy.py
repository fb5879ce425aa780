"""The relay policy: every limit the guard enforces, from the settings or given by the embedder.

=======================================  ==========================================================
setting (``FEDMARKET_API_*``)            meaning (default)
=======================================  ==========================================================
``RELAY_ADDRESS_PER_MINUTE``/``_BURST``  relayed writes per signer address (6 a minute, burst 3)
``RELAY_IP_PER_MINUTE``/``_BURST``       relayed writes per client IP (12 a minute, burst 6)
``SIGN_IN_IP_PER_MINUTE``/``_BURST``     sign-in nonces per client IP (30 a minute, burst 10)
``RELAY_GAS_WINDOW``                     the gas budget's rolling window, seconds (86400)
``RELAY_FRESH_GAS``                      gas per window for an owner without history (600000)
``RELAY_ESTABLISHED_GAS``                gas per window for an established owner (3000000)
``RELAY_ESTABLISHED_AGE``                age in seconds of the listing that establishes (86400)
``RELAY_GAS_ESTIMATE``                   gas a relayed listing is assumed to need (250000)
``RELAYER_BALANCE_FLOOR_WEI``            below this balance nothing is relayed (10**16, 0.01 ETH)
``RELAYER_BALANCE_REFRESH``              seconds a balance reading stays fresh (15)
``RELAYER_LOW_RETRY_AFTER``              ``Retry-After`` of the 503 when the balance is low (300)
``TRUSTED_PROXIES``                      proxies whose ``X-Forwarded-For`` is believed (none)
=======================================  ==========================================================

:meth:`RelayPolicy.unlimited` is what services built by an embedding program get unless told
otherwise (the demo and the tests relay for their own parties); services built from settings
(``fedmarket serve``) always enforce the configured limits.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from marketplace_api.core.config import Settings
from marketplace_api.relay.budget import GasBudgetPolicy
from marketplace_api.relay.clients import Network, parse_networks
from marketplace_api.relay.ratelimit import RateLimit

ADDRESS_LIMIT = "relay per address"
IP_LIMIT = "relay per IP"
SIGN_IN_LIMIT = "sign-in per IP"

_UNLIMITED_RATE = 1e6
_UNLIMITED_GAS = 10**15


@dataclass(frozen=True)
class RelayPolicy:
    """Every limit of the relay guard.

    Parameters
    ----------
    address : RateLimit, default 6 a minute, burst 3
        Relayed writes per signer address.
    ip : RateLimit, default 12 a minute, burst 6
        Relayed writes (and other writes) per client.
    sign_in_ip : RateLimit, default 30 a minute, burst 10
        Sign-in nonces per client.
    budget : GasBudgetPolicy, default GasBudgetPolicy()
        The per-owner gas budget.
    balance_floor_wei : int, default 10**16
        Below this relayer balance nothing is relayed (503).
    balance_refresh : float, default 15.0
        Seconds a balance reading stays fresh.
    low_balance_retry_after : int, default 300
        ``Retry-After`` of the 503 answered when the balance is low.
    trusted_proxies : tuple of networks, default ()
        Peers whose ``X-Forwarded-For`` is believed.
    max_keys : int, default 100000
        Buckets each rate limit keeps in memory.
    """

    address: RateLimit = RateLimit.per_minute(ADDRESS_LIMIT, 6, 3)
    ip: RateLimit = RateLimit.per_minute(IP_LIMIT, 12, 6)
    sign_in_ip: RateLimit = RateLimit.per_minute(SIGN_IN_LIMIT, 30, 10)
    budget: GasBudgetPolicy = field(default_factory=GasBudgetPolicy)
    balance_floor_wei: int = 10**16
    balance_refresh: float = 15.0
    low_balance_retry_after: int = 300
    trusted_proxies: tuple[Network, ...] = ()
    max_keys: int = 100_000

    @classmethod
    def unlimited(cls) -> RelayPolicy:
        """No practical limit and no balance floor (for embedding programs that trust callers)."""
        return cls(
            address=RateLimit(ADDRESS_LIMIT, _UNLIMITED_RATE, 10**6),
            ip=RateLimit(IP_LIMIT, _UNLIMITED_RATE, 10**6),
            sign_in_ip=RateLimit(SIGN_IN_LIMIT, _UNLIMITED_RATE, 10**6),
            budget=GasBudgetPolicy(fresh_gas=_UNLIMITED_GAS, established_gas=_UNLIMITED_GAS),
            balance_floor_wei=0,
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> RelayPolicy:
        """The policy ``settings`` configure.

        Raises
        ------
        ConfigurationError
            When a limit is inconsistent (e.g. an allowance below one transaction's estimate).
        """
        s = settings
        return cls(
            address=RateLimit.per_minute(
                ADDRESS_LIMIT, s.relay_address_per_minute, s.relay_address_burst
            ),
            ip=RateLimit.per_minute(IP_LIMIT, s.relay_ip_per_minute, s.relay_ip_burst),
            sign_in_ip=RateLimit.per_minute(
                SIGN_IN_LIMIT, s.sign_in_ip_per_minute, s.sign_in_ip_burst
            ),
            budget=GasBudgetPolicy(
                window=s.relay_gas_window,
                fresh_gas=s.relay_fresh_gas,
                established_gas=s.relay_established_gas,
                established_age=s.relay_established_age,
                estimate=s.relay_gas_estimate,
            ),
            balance_floor_wei=s.relayer_balance_floor_wei,
            balance_refresh=s.relayer_balance_refresh,
            low_balance_retry_after=s.relayer_low_retry_after,
            trusted_proxies=parse_networks(s.trusted_proxies),
        )


__all__ = ["ADDRESS_LIMIT", "IP_LIMIT", "SIGN_IN_LIMIT", "RelayPolicy"]
