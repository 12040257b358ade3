"""The load generator (`python -m bench.load`) against a real worker, both ways in: a smoke run
that keeps it working, asserting nothing about speed."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.integration.api import outcome


def load(*args: str) -> dict:
    run = subprocess.run([sys.executable, "-m", "bench.load", "--json", *args],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr[-3000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


async def test_orders_sent_over_http_are_placed_and_validated(orders_app, http):
    url = orders_app.workers[0].url
    summary = load("--url", url, "--orders", "30", "--customers", "3", "--products", "2",
                   "--rate", "50")
    assert (summary["sent"], summary["accepted"], summary["failures"]) == (30, 30, {})
    assert summary["post_p50_ms"] <= summary["post_p99_ms"]


async def test_orders_sent_straight_to_kafka_are_validated(orders_app, http):
    summary = load("--via", "kafka", "--bootstrap", orders_app.kafka.bootstrap,
                   "--registry", orders_app.registry_url,
                   "--topic-prefix", orders_app.topic_prefix, "--orders", "30",
                   "--customers", "3", "--products", "2", "--rate", "max")
    assert (summary["sent"], summary["accepted"]) == (30, 30)
    ids = {json.loads(value)["order"]["id"]
           for _, value in await orders_app.read_topic("order-requests")}
    assert len(ids) >= 30
    url = orders_app.workers[0].url
    states = {(await outcome(http, url, order_id))["state"] for order_id in ids}
    assert states == {"VALIDATED"}


async def test_a_dashboard_run_names_the_page_and_fails_one_order_in_ten(orders_app, http):
    url = orders_app.workers[0].url
    run = subprocess.run(
        [sys.executable, "-m", "bench.load", "--json", "--dashboard", "--url", url,
         "--orders", "10", "--customers", "2", "--products", "2", "--rate", "50"],
        capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr[-3000:]
    assert f"Watch it on the dashboard: {url}/ (10 orders at 50/s)" in run.stderr
    summary = json.loads(run.stdout.strip().splitlines()[-1])
    assert (summary["accepted"], summary["failures"]) == (10, {})
    async with http.get(f"{url}/") as page:
        assert page.status == 200 and "<title>faust-orders</title>" in await page.text()
    placed = [json.loads(value)["order"] for _, value in await orders_app.read_topic("order-requests")]
    empty = [order["id"] for order in placed if order["quantity"] == 0]
    failed = [(await outcome(http, url, order_id)).get("failedChecks") for order_id in empty]
    assert failed and failed == [["ORDER_DETAILS_CHECK"]] * len(empty)
