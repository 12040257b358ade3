"""The order-burst query through the real broker: orders placed over HTTP with their event
times, the alerts on `order-bursts` and from `GET /v1/order-bursts`, across a restart."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from tests.integration.api import new_customer, new_product, place
from tests.integration.conftest import eventually

WINDOW_S = 30


def window_start(minutes_ago: int) -> datetime:
    """The start of a burst window (30 s of event time) that began about `minutes_ago`."""
    moment = datetime.now(timezone.utc) - timedelta(minutes=minutes_ago)
    return moment.replace(second=moment.second - moment.second % WINDOW_S, microsecond=0)


async def bursts(http, url, **query) -> list[dict]:
    async with http.get(f"{url}/v1/order-bursts", params=query) as answer:
        assert answer.status == 200, await answer.text()
        return (await answer.json())["bursts"]


async def test_a_burst_is_alerted_on_its_topic_and_served_and_a_late_order_is_counted(
    new_app, http, tmp_path
):
    app = new_app()
    worker = app.add_worker(data_dir=tmp_path / "worker")
    url, customer, product = worker.url, new_customer(), new_product()
    start = window_start(minutes_ago=5)
    for seconds in (1, 2):
        await place(http, url, product=product, customer=customer, price=2.0,
                    created_at=start + timedelta(seconds=seconds))

    worker.stop()  # a restart in the middle of the window: its count is in the table
    worker = app.add_worker(data_dir=tmp_path / "worker")
    url = worker.url
    await place(http, url, product=product, customer=customer, price=3.0,
                created_at=start + timedelta(seconds=29))

    expected = {"customerId": customer, "windowStart": start.isoformat().replace("+00:00", "Z"),
                "windowEnd": (start + timedelta(seconds=WINDOW_S)).isoformat().replace("+00:00", "Z"),
                "orders": 3, "total": 7.0}

    async def served():
        return await bursts(http, url, customerId=customer) == [expected]

    await eventually(served)
    assert expected in await bursts(http, url)  # every owner's bursts
    assert await bursts(http, url, customerId=customer,
                        since=(start + timedelta(minutes=1)).isoformat()) == []
    on_topic = [json.loads(value) for key, value in await app.read_topic("order-bursts")
                if key == str(customer).encode()]
    assert on_topic == [expected]

    # The customer's event time moves a minute on; an order in the first window is late now.
    await place(http, url, product=product, customer=customer,
                created_at=start + timedelta(minutes=1))
    await place(http, url, product=product, customer=customer,
                created_at=start + timedelta(seconds=10))

    async def late_counted():
        async with http.get(f"{url}/metrics") as answer:
            return "order_burst_late_orders_total 1.0" in await answer.text()

    await eventually(late_counted)
    assert await bursts(http, url, customerId=customer) == [expected]
