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
