"""Bad input loses nothing and crashes nothing: malformed HTTP requests get 4xx (a fuzz run
against the OpenAPI document finds no 5xx), and a record no agent can decode, on any input topic,
goes to that topic's dead letters while the pipeline goes on."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from app import topics
from tests.integration.api import new_customer, new_product, outcome, place, set_stock
from tests.integration.conftest import OrdersApp, eventually

FUZZ_CONFIG = Path(__file__).with_name("schemathesis.toml")
#: Neither UTF-8 nor JSON nor a number: undecodable for every agent, whatever it parses.
POISON_KEY, POISON_VALUE = b"\xff\xfe", b"\x00{not json"


async def test_the_openapi_document_describes_the_api(orders_app, http):
    async with http.get(f"{orders_app.workers[0].url}/openapi.json") as response:
        assert response.status == 200
        document = await response.json()
    assert document["openapi"].startswith("3.1")
    assert set(document["paths"]) == {
        "/v1/orders", "/v1/orders/{order_id}", "/v1/orders/{order_id}/validated",
        "/v1/orders/{order_id}/timeline", "/v1/payments", "/v1/inventory",
        "/v1/inventory/{product}", "/v1/customers/{customer_id}",
        "/v1/customers/{customer_id}/emails/{order_id}", "/v1/order-bursts",
    }
    new_order = document["components"]["schemas"]["NewOrder"]
    assert {"id", "customerId", "product", "quantity", "price"} <= set(new_order["required"])
    assert new_order["additionalProperties"] is False


def test_a_fuzz_run_against_the_openapi_document_finds_no_server_error(kafka, registry, tmp_path):
    # Valid requests wait up to their `timeout` (504 after it): a worker whose waits are short
    # keeps the run to seconds.
    fuzzed = OrdersApp(kafka, registry, tmp_path, {"HTTP_DEFAULT_TIMEOUT_MS": "200",
                                         "HTTP_MAX_TIMEOUT_MS": "1000"})
    try:
        _fuzz(fuzzed.add_worker().url)
    finally:
        fuzzed.stop()


def _fuzz(url: str) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "schemathesis.cli", "--config-file", str(FUZZ_CONFIG), "run",
         f"{url}/openapi.json", "--checks", "not_a_server_error", "--max-examples", "100",
         "--request-timeout", "30"],
        capture_output=True, text=True, timeout=600,
    )
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    assert "passed" in run.stdout


async def test_a_poison_record_on_every_input_topic_is_dead_lettered_once(orders_app, http):
    inputs = [topic.base_name for topic in topics.INPUTS]
    for name in inputs:
        await orders_app.produce_raw(name, POISON_KEY, POISON_VALUE)

    async def dead_letters() -> dict[str, list]:
        found = {name: await orders_app.read_records(f"{name}-dead-letters") for name in inputs}
        return found if all(found.values()) else {}

    found = await eventually(dead_letters, timeout=30)
    for name, records in found.items():
        [record] = records  # once, though four services read `orders`
        headers = dict(record.headers)
        assert (record.key, record.value) == (POISON_KEY, POISON_VALUE)
        assert headers["source-topic"] == orders_app.topic(name).encode()
        assert headers["error"] and headers["agent"] == f"read-{name}".encode()

    # The agents went on: an order placed after the poison validates.
    url = orders_app.workers[0].url
    product = new_product()
    await set_stock(http, url, product, 5)
    order_id = await place(http, url, product=product, customer=new_customer())
    assert (await outcome(http, url, order_id))["state"] == "VALIDATED"

    async with http.get(f"{url}/metrics") as response:
        assert response.status == 200
        exposition = await response.text()
    for name in inputs:
        assert f'dead_letters_total{{topic="{orders_app.topic(name)}"}} 1.0' in exposition
    assert 'orders_events_total{state="VALIDATED"}' in exposition
    assert 'order_validations_total{check="INVENTORY_CHECK",result="PASS"}' in exposition
    assert f'consumer_lag{{topic="{orders_app.topic("orders")}"}}' in exposition
