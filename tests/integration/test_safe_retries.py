"""The retry contract under a crash (the case that filed issue 18): eight clients POST 600
orders for 300 units while the worker that owns part of them is SIGKILLed and restarted. Each
client sends an order again, with the same body, after a 503, a 504 or a dropped connection.
Every order ends 201 or 200; the topics hold exactly 300 VALIDATED orders and one terminal event
per order."""

from __future__ import annotations

import asyncio
import json
import random
from collections import Counter, defaultdict

import aiohttp

from tests.integration.api import new_product, put_customer, set_stock
from tests.integration.conftest import eventually, unique

CLIENTS, ORDERS, UNITS = 8, 600, 300
#: Answers after which the victim is killed, and how long it stays down.
KILL_AFTER, DOWN_S = 120, 10
TRIES = 30


async def test_retries_with_the_same_body_place_every_order_once_through_a_crash(
    new_app, http, tmp_path
):
    app = new_app()
    steady = app.add_worker(tmp_path / "steady")
    victim = app.add_worker(tmp_path / "victim")
    steady.wait_healthy()
    url = steady.url  # every POST enters here; half the ids are the victim's
    product = new_product()
    await set_stock(http, url, product, UNITS)
    customers = [random.randint(10_000, 10_000_000) for _ in range(CLIENTS)]
    for customer in customers:
        await put_customer(http, url, customer)

    final: dict[str, int] = {}
    retried: Counter[str] = Counter()

    async def place(body: dict) -> None:
        for attempt in range(TRIES):
            try:
                async with http.post(f"{url}/v1/orders", json=body,
                                     params={"timeout": 5000}) as answer:
                    status = answer.status
                    if status in (503, 504):
                        assert (await answer.json())["details"]["retrySafe"] is True
            except (aiohttp.ClientError, asyncio.TimeoutError):
                status = None
            if status not in (None, 503, 504):
                final[body["id"]] = status
                return
            retried[str(status)] += 1
            await asyncio.sleep(min(0.2 * 2 ** attempt, 2.0))
        final[body["id"]] = -1  # gave up

    async def client(n: int) -> None:
        for _ in range(ORDERS // CLIENTS):
            await place({"id": unique("retry"), "customerId": customers[n], "product": product,
                         "quantity": 1, "price": 1.0})

    async def crash() -> None:
        await eventually(lambda: _answered(final, KILL_AFTER), timeout=60, interval=0.05)
        victim.kill()
        await asyncio.sleep(DOWN_S)
        await asyncio.get_running_loop().run_in_executor(
            None, lambda: victim.start().wait_healthy(120))

    crashing = asyncio.create_task(crash())
    await asyncio.gather(*(client(n) for n in range(CLIENTS)))
    await crashing
    print(f"\nretries by what the try got: {dict(retried)}")
    assert len(final) == ORDERS and set(final.values()) <= {200, 201}, Counter(final.values())

    async def terminal_events() -> dict[str, list[str]] | None:
        events = defaultdict(list)
        for key, value in await app.read_topic("orders"):
            events[key.decode()].append(json.loads(value)["state"])
        decided = all(set(states) - {"CREATED"} for states in events.values())
        return events if decided and len(events) == ORDERS else None

    events = await eventually(terminal_events, timeout=120, interval=1)
    assert set(events) == set(final)
    terminal = {order_id: [s for s in states if s != "CREATED"] for order_id, states in events.items()}
    assert all(len(states) == 1 for states in terminal.values()), [
        (order_id, states) for order_id, states in terminal.items() if len(states) != 1][:5]
    assert Counter(states[0] for states in terminal.values()) == {
        "VALIDATED": UNITS, "FAILED": ORDERS - UNITS}


async def _answered(final: dict, count: int) -> bool:
    return len(final) >= count
