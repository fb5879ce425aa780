"""``GET /metrics`` over a real chain and database (SQLite and PostgreSQL): the figures are true."""

from __future__ import annotations

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from chain import fund, new_account
from marketplace_api import Services
from marketplace_api.api.metrics import ApiMetrics
from tests.integration.marketplace_api.market_world import ChainWorld


def gauges(text: str) -> dict[str, float]:
    return {
        s.name + "".join(f"[{v}]" for v in s.labels.values()): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_metrics_report_the_chain_the_index_and_the_relayer(
    api: TestClient, world: ChainWorld
) -> None:
    services: Services = api.app.state.services  # type: ignore[attr-defined]
    got = gauges(api.get("/metrics").text)  # the client brings the index up to the chain first
    w3 = world.backend.w3
    head = int(w3.eth.block_number)
    assert got["fedmarket_chain_block"] == head
    assert got["fedmarket_index_block"] == head
    assert got["fedmarket_index_lag_blocks"] == 0
    assert got["fedmarket_relayer_balance_wei"] == w3.eth.get_balance(world.relayer.address)
    assert got["fedmarket_metrics_source_up[chain]"] == 1
    assert got["fedmarket_metrics_source_up[index]"] == 1

    for _ in range(3):  # blocks the index has not seen yet
        fund(world.backend, new_account().address, 1)
    behind = gauges(ApiMetrics(services).exposition().decode())
    assert behind["fedmarket_chain_block"] == head + 3
    assert behind["fedmarket_index_lag_blocks"] == 3

    api.get("/tasks/1")
    counted = gauges(api.get("/metrics").text)
    assert counted["fedmarket_http_requests_total[GET][/tasks/{task_id}][404]"] == 1
    # a scrape is counted once answered: the second one shows the first
    assert counted["fedmarket_http_requests_total[GET][/metrics][200]"] == 1
