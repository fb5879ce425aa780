"""The token bucket, the client a request counts against, and the balance watch, on a fake clock."""

from __future__ import annotations

import math

import pytest

from kernel.errors import ConfigurationError, RefusedError, ServiceUnavailableError
from marketplace_api import Settings
from marketplace_api.relay import (
    BalanceWatch,
    Bucket,
    GasBudgetExceededError,
    Limiter,
    RateLimit,
    RateLimitedError,
    RelayerBalanceLowError,
    RelayPolicy,
    client_key,
    parse_networks,
    take,
)
from marketplace_api.relay.ratelimit import refill

LIMIT = RateLimit.per_minute("test", 6, 3)  # one token every 10 s, three at once


def test_a_new_key_has_a_full_bucket_then_is_refused_with_the_wait_for_one_token() -> None:
    bucket = None
    for _ in range(3):
        decision = take(bucket, LIMIT, now=100.0)
        assert decision.allowed
        bucket = decision.bucket
    refused = take(bucket, LIMIT, now=100.0)
    assert not refused.allowed
    assert refused.retry_after == pytest.approx(10.0)
    assert refused.retry_after_s == 10


def test_retry_after_counts_the_refill_already_made_and_rounds_up() -> None:
    empty = Bucket(tokens=0.0, updated=100.0)
    refused = take(empty, LIMIT, now=103.5)  # 0.35 of a token back
    assert refused.retry_after == pytest.approx(6.5)
    assert refused.retry_after_s == 7
    assert take(refused.bucket, LIMIT, now=109.9).allowed is False
    assert take(refused.bucket, LIMIT, now=110.0).allowed is True


def test_refill_never_exceeds_the_burst_and_ignores_a_clock_going_back() -> None:
    assert refill(Bucket(0.0, 0.0), LIMIT, now=10_000.0).tokens == 3.0
    back = refill(Bucket(1.0, 100.0), LIMIT, now=50.0)
    assert back == Bucket(1.0, 100.0)


def test_the_bucket_admits_exactly_rate_times_time_plus_burst() -> None:
    """Against the obvious count: over 10 minutes at one request a second, 3 + 60 pass."""
    bucket, allowed = None, 0
    for second in range(600):
        decision = take(bucket, LIMIT, now=float(second))
        bucket = decision.bucket
        allowed += decision.allowed
    assert allowed == 3 + math.floor(599 / 10)


def test_the_limiter_keeps_one_bucket_per_key_and_forgets_the_oldest() -> None:
    limiter = Limiter(LIMIT, max_keys=2)
    for _ in range(3):
        assert limiter.take("a", 0.0).allowed
    assert not limiter.take("a", 0.0).allowed
    assert limiter.take("b", 0.0).allowed
    assert limiter.take("c", 0.0).allowed  # "a" is forgotten
    assert len(limiter) == 2
    assert limiter.take("a", 0.0).allowed


@pytest.mark.parametrize(("rate", "burst"), [(0.0, 1), (-1.0, 1), (math.inf, 1), (1.0, 0)])
def test_a_limit_that_cannot_work_is_refused(rate: float, burst: int) -> None:
    with pytest.raises(ConfigurationError):
        RateLimit("bad", rate, burst)


PROXIES = parse_networks(["10.0.0.0/8", "::1"])


@pytest.mark.parametrize(
    ("peer", "forwarded", "expected"),
    [
        ("203.0.113.7", None, "203.0.113.7"),
        ("203.0.113.7", "198.51.100.1", "203.0.113.7"),  # untrusted peer: header ignored
        ("10.0.0.2", "198.51.100.1", "198.51.100.1"),
        ("10.0.0.2", "1.1.1.1, 198.51.100.1, 10.0.0.9", "198.51.100.1"),  # rightmost untrusted
        ("10.0.0.2", "10.0.0.8, 10.0.0.9", "10.0.0.8"),  # all proxies: the first hop
        ("10.0.0.2", "junk, 10.0.0.9", "10.0.0.9"),  # malformed hop: stop at the last proxy
        ("::1", "2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("2001:db8::1", None, "2001:db8::/64"),
        ("::ffff:203.0.113.7", None, "203.0.113.7"),
        ("testclient", "198.51.100.1", "testclient"),
        (None, "198.51.100.1", "unknown"),
    ],
)
def test_the_client_key(peer: str | None, forwarded: str | None, expected: str) -> None:
    assert client_key(peer, forwarded, PROXIES) == expected


def test_without_trusted_proxies_the_header_is_never_believed() -> None:
    assert client_key("10.0.0.2", "198.51.100.1", ()) == "10.0.0.2"


def test_a_trusted_proxy_that_is_not_an_address_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="proxy.example"):
        parse_networks(["proxy.example"])


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_the_balance_is_cached_until_stale_or_invalidated() -> None:
    reads: list[int] = []
    balances = iter([5 * 10**16, 4 * 10**16, 10**15])

    def read() -> int:
        reads.append(1)
        return next(balances)

    clock = Clock()
    watch = BalanceWatch("0xrelayer", read, floor_wei=10**16, refresh=15.0, clock=clock)
    assert watch.status().balance_wei == 5 * 10**16
    clock.now += 14.9
    assert watch.status().balance_wei == 5 * 10**16 and len(reads) == 1
    clock.now += 0.1
    assert watch.status().balance_wei == 4 * 10**16 and len(reads) == 2
    watch.invalidate()
    status = watch.status()
    assert (status.balance_wei, status.low, len(reads)) == (10**15, True, 3)


def test_the_refusals_carry_their_limit_status_and_family() -> None:
    rate = RateLimitedError("x", limit="relay per IP", retry_after=0)
    budget = GasBudgetExceededError("x", limit="gas budget", retry_after=86_300)
    low = RelayerBalanceLowError("x", retry_after=300)
    assert (rate.status_code, rate.retry_after, rate.limit) == (429, 1, "relay per IP")
    assert (budget.status_code, budget.retry_after) == (429, 86_300)
    assert (low.status_code, low.retry_after, low.limit) == (503, 300, "relayer balance")
    assert isinstance(rate, RefusedError) and isinstance(budget, RefusedError)
    assert isinstance(low, ServiceUnavailableError)


def test_the_policy_from_the_settings() -> None:
    settings = Settings.from_env(
        relayer_key="0x" + "11" * 32,
        relay_ip_per_minute=3,
        relay_ip_burst=2,
        relay_fresh_gas=500_000,
        relayer_balance_floor_wei=5,
        trusted_proxies="10.0.0.0/8, ::1",
    )
    policy = RelayPolicy.from_settings(settings)
    assert (policy.ip.rate, policy.ip.burst) == (3 / 60, 2)
    assert (policy.budget.fresh_gas, policy.balance_floor_wei) == (500_000, 5)
    assert client_key("10.1.2.3", "198.51.100.1", policy.trusted_proxies) == "198.51.100.1"
    defaults = RelayPolicy.from_settings(Settings.from_env(relayer_key="0x" + "11" * 32))
    assert defaults == RelayPolicy()  # the settings' defaults are the policy's


@pytest.mark.parametrize(
    ("overrides", "fault"),
    [
        ({"trusted_proxies": "proxy.example"}, "TRUSTED_PROXIES"),
        ({"relay_ip_burst": 0}, "RELAY_IP_BURST"),
        ({"relay_gas_estimate": 10}, "RELAY_GAS_ESTIMATE"),
    ],
)
def test_settings_that_cannot_work_are_refused(overrides: dict[str, object], fault: str) -> None:
    with pytest.raises(ConfigurationError, match=fault):
        Settings.from_env(relayer_key="0x" + "11" * 32, **overrides)


def test_an_allowance_below_one_listing_is_refused_when_the_policy_is_built() -> None:
    settings = Settings.from_env(relayer_key="0x" + "11" * 32, relay_fresh_gas=100_000)
    with pytest.raises(ConfigurationError, match="honest owners could never list"):
        RelayPolicy.from_settings(settings)
