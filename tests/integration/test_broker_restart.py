"""The broker restarts while orders stream in: the worker reconnects by itself, every POST answered
201 reaches exactly one terminal state, and what the broker could not take is answered 5xx.

This test runs its own broker, so the other tests never see the outage.
"""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict

from app.broker import LocalBroker, free_port_pair
from app.settings import Settings
from tests.integration.api import new_customer, new_product, outcome, place, set_stock
from tests.integration.conftest import (
    Kafka, OrdersApp, assert_views_consistent, eventually, start_in_background, unique,
)

ORDERS = 160
RATE_PER_S = 10
STOP_AT, START_AT = 40, 70


async def test_a_worker_rides_out_a_broker_restart_and_loses_no_accepted_order(
    registry, tmp_path, http
):
    broker = LocalBroker(
        port=free_port_pair(), data_dir=tmp_path / "kafka",
        cache_dir=Settings.from_env().kafka_cache_dir,
    )
    with broker:
        app = OrdersApp(Kafka(broker.bootstrap_servers, broker), registry, tmp_path)
        try:
            await _stream_orders_through_a_restart(app, broker, http)
        finally:
            app.stop()


async def _stream_orders_through_a_restart(app: OrdersApp, broker: LocalBroker, http) -> None:
    worker = app.add_worker()
    url = worker.url
    product, customer = new_product(), new_customer()
    await set_stock(http, url, product, 10_000)

    answers: dict[str, int] = {}

    async def place_one() -> None:
        body = {"id": unique("restart"), "customerId": customer, "product": product,
                "quantity": 1, "price": 5.0}
        try:
            async with http.post(f"{url}/v1/orders", json=body, params={"timeout": 5000}) as r:
                answers[body["id"]] = r.status
        except asyncio.TimeoutError:
            answers[body["id"]] = 0  # no answer at all: counted as not accepted

    loop = asyncio.get_running_loop()
    placing, outage = [], []
    for n in range(ORDERS):
        if n == STOP_AT:
            outage.append(loop.run_in_executor(None, broker.stop))
        if n == START_AT:
            await outage.pop()
            outage.append(start_in_background(broker))
        placing.append(asyncio.create_task(place_one()))
        await asyncio.sleep(1 / RATE_PER_S)
    await asyncio.gather(*placing, *outage)

    statuses = set(answers.values())
    assert statuses <= {201, 503, 504}, statuses  # never a 500, never a silent drop
    accepted = [order_id for order_id, status in answers.items() if status == 201]
    assert len(accepted) >= STOP_AT  # the orders before the outage at least
    assert any(status != 201 for status in answers.values())  # the outage was felt

    # The same worker process, reconnected without help.
    assert worker.process is not None and worker.process.poll() is None
    worker.wait_healthy(120)

    async def outcomes() -> dict[str, list[str]] | None:
        states = defaultdict(list)
        for key, value in await app.read_topic("orders"):
            states[key.decode()].append(json.loads(value)["state"])
        done = all(len(states[i]) > 1 for i in accepted)
        return states if done else None

    states = await eventually(outcomes, timeout=120, interval=1)
    for order_id in accepted:
        terminal = [s for s in states[order_id] if s in ("VALIDATED", "FAILED")]
        assert terminal == ["VALIDATED"], (order_id, states[order_id])
    # Whatever got through without a 201 still ends once.
    for order_id, history in states.items():
        assert len([s for s in history if s != "CREATED"]) == 1, (order_id, history)

    late = await place(http, url, product=product, customer=customer)
    assert (await outcome(http, url, late))["state"] == "VALIDATED"
    await assert_views_consistent(worker)  # every view equals what its source topic says
