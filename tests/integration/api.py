"""Client helpers for the HTTP API, shared by the integration tests."""

from __future__ import annotations

import asyncio
import random

from tests.integration.conftest import eventually, unique


def new_product() -> str:
    return f"SKU-{unique('')[1:9]}"


def new_customer() -> int:
    return random.randint(10_000, 10_000_000)


async def set_stock(http, url, product: str, stock: int) -> None:
    async with http.put(f"{url}/v1/inventory/{product}", json={"stock": stock}) as response:
        assert response.status == 200, await response.text()
    await eventually(lambda: inventory_is(http, url, product, stock=stock))


async def inventory(http, url, product: str) -> dict:
    async with http.get(f"{url}/v1/inventory/{product}") as response:
        assert response.status == 200, await response.text()
        return await response.json()


async def inventory_is(http, url, product: str, **expected) -> bool:
    levels = await inventory(http, url, product)
    return all(levels[key] == value for key, value in expected.items())


async def place(http, url, *, product, customer=1, quantity=1, price=5.0, created_at=None,
                order_id=None) -> str:
    body = {"id": order_id or unique(), "customerId": customer, "product": product,
            "quantity": quantity, "price": price}
    if created_at is not None:
        body["createdAt"] = created_at.isoformat()
    async with http.post(f"{url}/v1/orders", json=body) as response:
        assert response.status == 201, await response.text()
    return body["id"]


async def outcome(http, url, order_id: str) -> dict:
    async with http.get(f"{url}/v1/orders/{order_id}/validated", params={"timeout": 30000}) as r:
        assert r.status == 200, await r.text()
        return await r.json()


async def states(http, url, order_ids) -> list[tuple[str, list | None]]:
    results = await asyncio.gather(*(outcome(http, url, i) for i in order_ids))
    return [(o["state"], o.get("failedChecks")) for o in results]




async def put_customer(http, url, customer_id: int, level: str = "gold") -> dict:
    body = {"firstName": "Test", "lastName": f"Customer{customer_id}", "level": level,
            "email": f"customer-{customer_id}@example.com", "address": "1 Test Road"}
    async with http.put(f"{url}/v1/customers/{customer_id}", json=body) as response:
        assert response.status == 200, await response.text()
        customer = await response.json()

    async def stored():
        async with http.get(f"{url}/v1/customers/{customer_id}") as read:
            return read.status == 200 and await read.json() == customer

    await eventually(stored)
    return customer


async def pay(http, url, order_id: str, amount: float, created_at=None, payment_id=None,
              retry_for_s: float = 60.0) -> dict:
    """POST a payment; after a 503 or 504 (its owner is away: a crash, a rebalance), the same
    body again, as the retry contract says, for up to `retry_for_s`."""
    body = {"id": payment_id or unique("payment"), "orderId": order_id, "ccy": "EUR",
            "amount": amount}
    if created_at is not None:
        body["createdAt"] = created_at.isoformat()
    deadline = asyncio.get_running_loop().time() + retry_for_s
    while True:
        async with http.post(f"{url}/v1/payments", json=body) as response:
            if response.status in (200, 201):
                return await response.json()
            retry = response.status in (503, 504)
            assert retry and asyncio.get_running_loop().time() < deadline, await response.text()
        await asyncio.sleep(0.5)


async def orders_partitions(http, worker, app) -> set[int]:
    """The partitions of the app's `orders` that `worker` owns now (its `/health`)."""
    async with http.get(f"{worker.url}/health") as answer:
        assigned = (await answer.json())["assignment"]
    return {int(name.rsplit("[", 1)[1][:-1]) for name in assigned
            if name.rsplit("[", 1)[0] == app.topic("orders")}


async def split_between(http, app, first, second) -> tuple[set[int], set[int]]:
    """The `orders` partitions of each of two workers, once they share them all between them."""

    async def split():
        mine = await orders_partitions(http, first, app)
        theirs = await orders_partitions(http, second, app)
        whole = mine and theirs and not mine & theirs and (mine | theirs) == set(range(4))
        return (mine, theirs) if whole else None

    return await eventually(split, timeout=60)
