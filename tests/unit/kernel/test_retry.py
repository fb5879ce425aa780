"""Backoff with jitter and the outage clock: waits stay under their ceiling, an outage ends."""

from __future__ import annotations

import pytest

from kernel.errors import ConfigurationError, ServiceUnavailableError
from kernel.retry import Backoff, Outage, OutageError


def test_backoff_grows_to_its_cap_and_jitter_stays_below_each_ceiling():
    backoff = Backoff(initial=0.5, max_delay=4.0, multiplier=2.0, jitter=0.5)
    assert [backoff.ceiling(n) for n in range(6)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert backoff.ceiling(10**6) == 4.0  # no overflow after a very long outage
    assert backoff.delay(2, draw=lambda: 0.0) == 2.0
    assert backoff.delay(2, draw=lambda: 0.999999) == pytest.approx(1.0, abs=1e-5)
    spread = {round(backoff.delay(3), 3) for _ in range(100)}
    assert len(spread) > 10 and all(2.0 <= d <= 4.0 for d in spread)


@pytest.mark.parametrize(
    "bad", [{"initial": -1}, {"max_delay": -1}, {"multiplier": 0.5}, {"jitter": 1.5}]
)
def test_backoff_refuses_nonsense(bad):
    with pytest.raises(ConfigurationError):
        Backoff(**bad)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds

    def outage(self, limit: float) -> Outage:
        return Outage(limit=limit, backoff=Backoff(jitter=0), sleep=self.sleep, clock=self.read)

    def read(self) -> float:
        return self.now


def test_an_outage_waits_with_backoff_then_ends_in_a_clear_error_at_its_bound():
    clock = Clock()
    outage = Outage(
        limit=10.0, backoff=Backoff(jitter=0), sleep=clock.sleep, clock=lambda: clock.now
    )
    cause = ConnectionError("connection refused")
    with pytest.raises(OutageError) as raised:
        for _ in range(100):
            outage.wait(cause, "the chain node")
    assert isinstance(raised.value, ServiceUnavailableError)  # exit 3 on the command line
    assert "the chain node unreachable for 10 s" in str(raised.value)
    assert raised.value.__cause__ is cause
    assert clock.slept[:4] == [0.5, 1.0, 2.0, 4.0]
    assert sum(clock.slept) == pytest.approx(10.0)  # the last wait is cut to the bound


def test_a_success_closes_the_outage_and_the_next_one_starts_afresh():
    clock = Clock()
    outage = Outage(
        limit=5.0, backoff=Backoff(jitter=0), sleep=clock.sleep, clock=lambda: clock.now
    )
    assert outage.end() == 0.0
    outage.wait(OSError("down"))
    outage.wait(OSError("down"))
    assert outage.end() == pytest.approx(1.5)
    clock.now += 100  # long after
    outage.wait(OSError("down again"))
    assert clock.slept[-1] == 0.5  # the backoff starts again from the first delay
